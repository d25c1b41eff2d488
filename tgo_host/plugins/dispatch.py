"""Calls into plugins on behalf of callers, with every result validated.

The :class:`Dispatcher` is the host's Python API (the HTTP layer is a thin
shell over it). Each call looks the plugin up (honouring project scoping),
sends one request under its family's deadline, and validates the answer
against the models: a render must be JSON-UI, an event must be JSON-ACTION.
Render and event params always carry every key of their method
(:func:`~tgo_host.model.render_params`), as the upstream runtime sends them.
Failures are raised as :class:`~tgo_host.wire.errors.RpcFailure` subclasses
that name the plugin; the visitor-panel fan-out reports them per plugin.
What validation fixed up in a result (`tgo_host.model.FixUp`) is recorded in
``Dispatcher.fixups`` and handed to callers that ask for it (``warnings=``;
the fan-out puts them on each panel).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import attrs
import outcome
import trio

from ..errors import HostError
from ..model import (
    Capability,
    FixUp,
    Template,
    ValidationError,
    VisitorPanelCapability,
    action_to_json,
    collecting,
    converter,
    parse_action,
    parse_channel_manifest,
    parse_iframe_config,
    parse_send_result,
    parse_tool_result,
    parse_ui,
    render_params,
    event_params,
    tool_params,
    ui_to_json,
    unstructure,
)
from ..model.depth import check_depth, check_size
from ..model.errors import join_path
from ..wire.bulk import run_bulk
from ..wire.errors import InvalidResponse, RemoteError, RpcFailure
from .fixup_report import FixUpReport
from .registry import Registry
from .session import PluginSession, call_each

log = logging.getLogger("tgo_host.dispatch")

EXTENSION_POINTS = ("visitor_panel", "chat_toolbar")
# Results with more JSON nodes than this are validated in a worker thread, so a large (legal)
# result never holds the event loop for more than a few milliseconds (docs/reliability.md).
INLINE_VALIDATION_NODES = 2000
#: Which extension a render/event without ``extension_type`` goes to: the first of these
#: the plugin declares (upstream prefers the toolbar).
DEFAULT_EXTENSION_ORDER = ("chat_toolbar", "visitor_panel")


class PluginNotFound(HostError):
    """No registered plugin with this id is visible to the caller."""

    kind = "plugin_not_found"
    status_hint = 404

    def __init__(self, plugin_id: str) -> None:
        super().__init__(f"plugin {plugin_id!r} is not connected")
        self.plugin_id = plugin_id

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        return {"plugin_id": self.plugin_id}


class CapabilityMissing(HostError):
    """The plugin did not register the capability this call needs."""

    kind = "capability_not_found"
    status_hint = 404

    def __init__(self, plugin_id: str, capability: str) -> None:
        super().__init__(f"plugin {plugin_id!r} has no {capability} capability")
        self.plugin_id = plugin_id
        self.capability = capability

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        return {"plugin_id": self.plugin_id}


class InvalidResult(InvalidResponse):
    """The plugin's result failed validation (not JSON-UI, not JSON-ACTION, …)."""

    def __init__(self, peer: str, method: str, error: ValidationError) -> None:
        super().__init__(peer, f"{peer} returned an invalid result for {method!r}: {error}")
        self.method = method
        self.validation = str(error)

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        return {"plugin_id": plugin_id, "validation": self.validation}


@attrs.define
class Panel:
    plugin_id: str
    title: str
    icon: str | None
    priority: int
    ui: dict[str, Any]
    warnings: list[FixUp] = attrs.Factory(list)


@attrs.define
class PanelError:
    plugin_id: str
    title: str
    error: str  # the failure's RpcFailure.outcome: "timeout" | "plugin_error" | "invalid_result" | "disconnected" | "busy"
    message: str
    code: int | None = None
    data: Any = None


@attrs.define
class FanOut:
    panels: list[Panel]
    errors: list[PanelError]


Observer = Callable[[str, str, str, float], None]
#: Validates a plugin's result into the JSON the caller gets; raises ValidationError.
Parse = Callable[[Any], dict[str, Any]]


class Dispatcher:
    """Render/event/config/tool calls to plugins in ``registry``.

    ``observe(plugin_id, method, outcome, seconds)`` is called after every
    call (for metrics); ``outcome`` is ``"ok"`` or the failure's
    :attr:`~tgo_host.wire.errors.RpcFailure.outcome`.
    """

    def __init__(
        self, registry: Registry[PluginSession], *, observe: Observer | None = None, fixups: FixUpReport | None = None
    ) -> None:
        self.registry = registry
        self.observe = observe
        self.fixups = fixups if fixups is not None else FixUpReport()
        registry.subscribe(self._on_registry_event)

    def _on_registry_event(self, event: str, session: PluginSession) -> None:
        """Count what validation filled in or changed in a plugin's ``register`` params."""
        if event == "connected" and session.registration_fixups:
            self.fixups.record(session.plugin_id or "?", "register", session.registration_fixups)

    def session(self, plugin_id: str, project_id: str | None = None, capability: str | None = None) -> PluginSession:
        """The visible session for ``plugin_id``; raises :class:`PluginNotFound`/:class:`CapabilityMissing`."""
        session = self.registry.get(plugin_id, project_id)
        if session is None:
            raise PluginNotFound(plugin_id)
        if capability is not None:
            for declared in session.capabilities:
                if declared.type == capability:
                    return session
            raise CapabilityMissing(plugin_id, capability)
        return session

    async def _call(
        self,
        session: PluginSession,
        method: str,
        params: Any,
        parse: Parse,
        warnings: list[FixUp] | None = None,
    ) -> dict[str, Any]:
        """Send ``method`` and `_settle` the answer; fix-ups are added to ``warnings``."""
        start = trio.current_time() if self.observe is not None else 0.0
        try:
            answer: outcome.Outcome[Any] = outcome.Value(await session.call(method, params))
        except RpcFailure as exc:
            answer = outcome.Error(exc)
        seconds = trio.current_time() - start if self.observe is not None else 0.0
        return await self._settle(session, method, answer, seconds, parse, warnings)

    async def _settle(
        self,
        session: PluginSession,
        method: str,
        answer: outcome.Outcome[Any],
        seconds: float,
        parse: Parse,
        warnings: list[FixUp] | None = None,
    ) -> dict[str, Any]:
        """``parse`` the result of a settled request; log and observe how it went; raise its :class:`RpcFailure`.

        What validation fixed up is recorded in ``self.fixups`` and added to ``warnings``;
        a refused result is recorded there too. A result of more than
        ``INLINE_VALIDATION_NODES`` nodes is validated in a worker thread; any
        other answer is settled at once by :meth:`_conclude`.
        """
        validated = _size_verdict(answer)
        if validated is _LARGE and isinstance(answer, outcome.Value):  # _LARGE is only for a Value
            validated = await outcome.acapture(_validate_in_thread, parse, answer.value)
        return self._conclude(session, method, answer, seconds, parse, warnings, validated)

    def _conclude(
        self,
        session: PluginSession,
        method: str,
        answer: outcome.Outcome[Any],
        seconds: float,
        parse: Parse,
        warnings: list[FixUp] | None,
        validated: outcome.Outcome[Any] | None = None,
    ) -> dict[str, Any]:
        """`_settle` without waiting: ``validated`` is the outcome of validating the result already
        (the worker thread's ``(value, fixups)``, or the size check's refusal), or None to validate
        it here (a result small enough for the loop; see :func:`_size_verdict`)."""
        kind = "ok"
        try:
            try:
                result = answer.unwrap()
            except RemoteError as exc:
                _check_error_data(exc)
                raise
            try:
                checked: tuple[dict[str, Any], list[FixUp]] = (
                    _collected(parse, result) if validated is None else validated.unwrap()
                )
                value, fixups = checked
            except ValidationError as exc:
                self.fixups.record_rejection(session.plugin_id or "?", method, str(exc))
                raise InvalidResult(session.conn.name, method, exc) from None
            if fixups:
                self.fixups.record(session.plugin_id or "?", method, fixups)
                if warnings is not None:
                    warnings.extend(fixups)
            return value
        except RpcFailure as exc:
            kind = exc.outcome
            log.warning("%s failed (%s): %s", method, kind, exc.message)
            raise
        finally:
            if self.observe is not None:
                self.observe(session.plugin_id or "?", method, kind, seconds)

    def default_extension(self, plugin_id: str, project_id: str | None = None) -> str:
        """The extension a render/event without ``extension_type`` goes to: ``chat_toolbar``
        if the plugin declares one, else ``visitor_panel``.

        Raises :class:`PluginNotFound`, or :class:`CapabilityMissing` when it declares neither.
        """
        session = self.session(plugin_id, project_id)
        declared = {c.type for c in session.capabilities}
        for extension in DEFAULT_EXTENSION_ORDER:
            if extension in declared:
                return extension
        raise CapabilityMissing(plugin_id, " or ".join(DEFAULT_EXTENSION_ORDER))

    async def render(
        self, plugin_id: str, extension: str, params: dict[str, Any], project_id: str | None = None,
        *, warnings: list[FixUp] | None = None,
    ) -> dict[str, Any]:
        """``<extension>/render`` with complete params → validated JSON-UI ``{template, data}``;
        fix-ups go to ``warnings``."""
        session = self.session(plugin_id, project_id, extension)
        return await self._call(session, f"{extension}/render", render_params(extension, params), _ui, warnings)

    async def event(
        self, plugin_id: str, extension: str, params: dict[str, Any], project_id: str | None = None,
        *, warnings: list[FixUp] | None = None,
    ) -> dict[str, Any]:
        """``<extension>/event`` with complete params → validated JSON-ACTION ``{action, data}``;
        fix-ups go to ``warnings``."""
        session = self.session(plugin_id, project_id, extension)
        return await self._call(session, f"{extension}/event", event_params(params), _action, warnings)

    async def iframe_config(self, plugin_id: str, project_id: str | None = None) -> dict[str, Any]:
        session = self.session(plugin_id, project_id, "sidebar_iframe")
        return await self._call(session, "sidebar_iframe/config", {}, lambda r: unstructure(parse_iframe_config(r)))

    async def channel_manifest(self, plugin_id: str, project_id: str | None = None) -> dict[str, Any]:
        session = self.session(plugin_id, project_id, "channel_integration")
        return await self._call(
            session, "channel_integration/manifest", {}, lambda r: unstructure(parse_channel_manifest(r))
        )

    async def channel_send(
        self, plugin_id: str, params: dict[str, Any], project_id: str | None = None
    ) -> dict[str, Any]:
        session = self.session(plugin_id, project_id, "channel_integration")
        return await self._call(
            session, "channel_integration/send_message", params, lambda r: unstructure(parse_send_result(r))
        )

    async def tool_execute(self, plugin_id: str, params: dict[str, Any], project_id: str | None = None) -> dict[str, Any]:
        """``tool/execute`` with complete params → validated ``{success, content, data, error}``."""
        session = self.session(plugin_id, project_id, "mcp_tools")
        return await self._call(
            session, "tool/execute", tool_params(params), lambda r: unstructure(parse_tool_result(r))
        )

    async def render_visitor_panels(self, params: dict[str, Any], project_id: str | None = None) -> FanOut:
        """Render every visible visitor panel concurrently, all under the one render deadline.

        One render and one panel per plugin, even when it declares several
        ``visitor_panel`` capabilities: title, icon and priority come from its
        first one (the web app keys panels by ``plugin_id``). Every plugin gets
        the same complete params (:func:`~tgo_host.model.render_params`).
        Returns the panels that rendered, in priority order, and one
        :class:`PanelError` per plugin that did not (never dropped silently).
        The whole call takes at most the render deadline (plus scheduling):
        one cancel scope around one wait (:func:`~tgo_host.plugins.session.call_each`).
        """
        entries = _one_per_plugin(self.registry.with_capability("visitor_panel", project_id))
        params = render_params("visitor_panel", params)
        outcomes: list[Panel | PanelError | None] = [None] * len(entries)

        method = "visitor_panel/render"
        # One render under one deadline: every request is written now, the wait is one cancel scope.
        answers = await call_each([session for _, session in entries], method, params)
        for index, ((capability, session), (answer, seconds)) in enumerate(zip(entries, answers)):
            plugin_id = session.plugin_id or "?"
            title = capability.display_title
            warnings: list[FixUp] = []
            try:
                verdict = _size_verdict(answer)
                if verdict is _LARGE:
                    ui = await self._settle(session, method, answer, seconds, _ui, warnings)
                else:  # the usual case: settled without an await per panel
                    ui = self._conclude(session, method, answer, seconds, _ui, warnings, verdict)
            except RpcFailure as exc:
                code = exc.code if isinstance(exc, RemoteError) else None
                data = exc.data if isinstance(exc, RemoteError) else None
                outcomes[index] = PanelError(plugin_id, title, exc.outcome, exc.message, code, data)
            else:
                assert isinstance(capability, VisitorPanelCapability)  # the index is by type
                outcomes[index] = Panel(plugin_id, title, capability.icon, capability.priority, ui, warnings)
        return FanOut(
            panels=[o for o in outcomes if isinstance(o, Panel)],
            errors=[o for o in outcomes if isinstance(o, PanelError)],
        )


#: `_size_verdict` of a result too large to validate in the event loop.
_LARGE = outcome.Value(None)


def _size_verdict(answer: outcome.Outcome[Any]) -> outcome.Outcome[Any] | None:
    """How ``answer`` gets validated: None in the event loop (an error answer, or a result of at most
    ``INLINE_VALIDATION_NODES`` nodes), `_LARGE` in a worker thread, or ``Error(ValidationError)``
    not at all (nested deeper than the host allows). Reads ``answer`` without unwrapping it."""
    if not isinstance(answer, outcome.Value):
        return None
    try:
        return None if check_size(answer.value, max_nodes=INLINE_VALIDATION_NODES) else _LARGE
    except ValidationError as exc:
        return outcome.Error(exc)


async def _validate_in_thread(parse: Parse, result: Any) -> tuple[dict[str, Any], list[FixUp]]:
    """`_validate` in a worker thread (:func:`~tgo_host.wire.bulk.run_bulk`)."""
    return await run_bulk(_validate, parse, result)


def _validate(parse: Parse, result: Any) -> tuple[dict[str, Any], list[FixUp]]:
    """`_collected` after the full depth check (for large results, in a worker thread)."""
    check_depth(result)
    return _collected(parse, result)


def _collected(parse: Parse, result: Any) -> tuple[dict[str, Any], list[FixUp]]:
    """``parse(result)`` and the fix-ups it noted."""
    with collecting() as fixups:
        return parse(result), fixups


def _check_error_data(exc: RemoteError) -> None:
    """Raise :class:`InvalidResult` when a plugin's error ``data`` nests deeper than the host allows."""
    try:
        check_depth(exc.data)
    except ValidationError as error:
        invalid = ValidationError(join_path("error.data", error.path), error.reason)
        raise InvalidResult(exc.peer, exc.method, invalid) from None


def _one_per_plugin(entries: list[tuple[Capability, PluginSession]]) -> list[tuple[Capability, PluginSession]]:
    """``entries`` (priority order) with each plugin once, under its first declared capability of the kind."""
    if len({id(session) for _, session in entries}) == len(entries):
        return entries  # the usual case: one capability of the kind per plugin
    first: dict[int, Capability] = {}
    for capability, session in entries:
        if id(session) not in first:
            first[id(session)] = next(c for c in session.capabilities if c.type == capability.type)
    kept = [(first[id(session)], session) for capability, session in entries if capability is first[id(session)]]
    return kept


# The converter's hooks for JSON-UI, looked up once: parse_ui()/ui_to_json() look them up on
# every call, and hashing the 18-member Template union costs ~1 µs each time (bench/README.md).
_STRUCTURE_TEMPLATE = converter.get_structure_hook(Template)
_UNSTRUCTURE_TEMPLATE: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _ui(result: Any) -> dict[str, Any]:
    """``ui_to_json(parse_ui(result))``, with the hooks called directly on the hot path."""
    try:
        template = _STRUCTURE_TEMPLATE(result, Template)
    except Exception:
        return ui_to_json(parse_ui(result))  # parse_ui raises the ValidationError with its path
    cls = template.__class__
    unstructure_hook = _UNSTRUCTURE_TEMPLATE.get(cls)
    if unstructure_hook is None:
        unstructure_hook = _UNSTRUCTURE_TEMPLATE[cls] = converter.get_unstructure_hook(cls)
    return unstructure_hook(template)


def _action(result: Any) -> dict[str, Any]:
    return action_to_json(parse_action(result))
