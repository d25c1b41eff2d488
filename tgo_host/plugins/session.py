"""One connected plugin, from accept to close.

:meth:`PluginSession.run` is the connection's supervised task::

    PluginSession.run         its own body runs RpcConnection.run: the read loop (frames → responses/requests)
    ├─ writer task            (RpcConnection's nursery) every queued frame in one send_all
    └─ registration watch     no ``register`` within the deadline → close; once registered the
                              same task is the heartbeat: ``ping`` every N s, no answer → close

The heartbeat's ``ping`` is an ordinary request (:meth:`PluginSession.call`)
waiting in the heartbeat task, under the ``ping_timeout`` deadline.

Requests to the plugin run in no task of this tree: :meth:`PluginSession.call`
waits in the caller's task, in a cancel scope whose deadline is the method
family's timeout, and :func:`call_each` (the fan-out) writes to many sessions
and waits once under one such scope.

Every way out (peer closed, protocol violation, missed heartbeat, host
shutdown, cancellation) fails the session's in-flight requests at once,
removes it from the registry and logs one line with the reason. Nothing a
plugin does escapes this task.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timezone
from typing import Any, Sequence

import outcome
import trio

from .. import __version__
from ..model import Capability, FixUp, RegisterParams, ValidationError, collecting, parse_register
from ..model.depth import check_depth
from ..settings import Settings
from ..wire.connection import RpcConnection, request_each
from ..wire.errors import ConnectionLost, RemoteError, RequestTimeout, RpcFailure
from ..wire.messages import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, SERVER_ERROR, Request
from ..wire.budget import BufferBudget
from ..wire.transport import FramedTransport
from .auth import GLOBAL, Grant, RegistrationCheck, RegistrationRefused
from .peer import PeerInfo
from .printable import loggable, unprintable_reason
from .registry import DuplicatePlugin, Registry

log = logging.getLogger("tgo_host.session")


class PluginSession:
    """The host's side of one plugin connection.

    After registration: ``plugin_id``, ``registration`` (the typed register
    params), ``capabilities``, ``connected_at``; ``project_id`` and
    ``is_dev_mode`` are what the registration check granted (a dev token's
    project, an installed plugin's), else global. :meth:`call` is how
    everything else talks to the plugin.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        peer: PeerInfo,
        settings: Settings,
        registry: Registry[PluginSession],
        *,
        check_registration: RegistrationCheck | None = None,
        budget: BufferBudget | None = None,
    ) -> None:
        self.peer = peer
        self.settings = settings
        self.registry = registry
        self._check_registration = check_registration
        # Until `register` succeeds the peer may send only small frames (and gets little queued).
        transport = FramedTransport(
            stream,
            max_frame_bytes=min(settings.max_unregistered_frame_bytes, settings.max_frame_bytes),
            partial_frame_timeout=settings.partial_frame_timeout,
            budget=budget,
        )
        self.conn = RpcConnection(
            transport, name=f"peer({peer})", first_method="register", max_in_flight=settings.max_in_flight
        )
        transport.on_shed = self.close
        self.plugin_id: str | None = None
        self.registration: RegisterParams | None = None
        self.capabilities: list[Capability] = []
        #: What validation filled in or changed in the register params (shown on the console).
        self.registration_fixups: list[FixUp] = []
        self.project_id: str | None = None
        self.is_dev_mode = False
        self.connected_at = datetime.now(timezone.utc)
        self.registered = trio.Event()
        self.shutdown_acknowledged = False
        self.end_reason: str | None = None

    @property
    def is_registered(self) -> bool:
        return self.registered.is_set()

    # -- talking to the plugin -------------------------------------------

    async def call(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        """Send ``method`` to the plugin under its family's deadline; see :meth:`RpcConnection.request`."""
        if timeout is None:
            timeout = self.settings.timeout_for(method)
        return await self.conn.request(method, params, timeout=timeout)

    async def shutdown(self, grace: float) -> None:
        """Ask the plugin to shut down; close the session once it acknowledges or ``grace`` passes."""
        with trio.move_on_after(grace):
            try:
                await self.conn.request("shutdown", None, timeout=grace)
                self.shutdown_acknowledged = True
            except RemoteError:
                self.shutdown_acknowledged = True
            except RpcFailure as exc:
                log.info("%s: shutdown not acknowledged: %s", self.conn.name, exc.message)
        self.close("host shutdown" if self.shutdown_acknowledged else "host shutdown (not acknowledged)")
        with trio.move_on_after(1.0):
            await self.conn.closed.wait()

    def close(self, reason: str) -> None:
        """End the session (idempotent)."""
        self.conn.close(reason)

    # -- the session task -------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it ends; unregister and log why."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_registration)
                await self.conn.run(self._on_request)
                nursery.cancel_scope.cancel()
        finally:
            self.conn.transport.release_budget()
            self.end_reason = self.conn.close_reason or "cancelled"
            if self.registry.remove(self):
                log.info("unregistered plugin %s (%s): %s", self.plugin_id, self.peer, self.end_reason)
            else:
                log.info("closed connection %s before registration: %s", self.peer, self.end_reason)

    async def _watch_registration(self) -> None:
        deadline = self.settings.register_timeout
        with trio.move_on_after(deadline):
            await self.registered.wait()
        if not self.registered.is_set():
            self._refuse(None, INVALID_REQUEST, f"Invalid Request: no register within {deadline:g} s")
            return
        await self._heartbeat()

    async def _heartbeat(self) -> None:
        interval = self.settings.ping_interval
        while True:
            await trio.sleep(interval)
            try:
                await self.call("ping")
            except RemoteError:
                continue  # it answered: alive
            except RequestTimeout as exc:
                self.close(f"missed heartbeat ({exc.message})")
                return
            except ConnectionLost:
                return

    # -- requests from the plugin ------------------------------------------

    def _on_request(self, conn: RpcConnection, request: Request) -> None:
        if request.method == "register":
            if self.is_registered:
                self._reply_error(request, INVALID_REQUEST, "Invalid Request: already registered")
            else:
                self._register(request)
        elif not request.is_notification:
            self._reply_error(request, METHOD_NOT_FOUND, f"Method not found: {request.method}")
        else:
            log.debug("%s: ignored notification %r", conn.name, request.method)

    def _register(self, request: Request) -> None:
        try:
            check_depth(request.params)
            with collecting() as fixups:
                params = parse_register(request.params if request.params is not None else {})
        except ValidationError as exc:
            self._refuse(request.id, INVALID_PARAMS, f"Invalid params: {exc}")
            return
        plugin_id = params.id or f"plugin_{secrets.token_hex(4)}"
        grant: Grant = GLOBAL
        try:
            _check_printable(params)
            if self._check_registration is not None:
                grant = self._check_registration(self, params)
        except RegistrationRefused as exc:
            self._refuse(request.id, exc.code, exc.message)
            return
        self.project_id = grant.project_id
        self.is_dev_mode = grant.dev_mode
        self.plugin_id = plugin_id
        self.registration = params
        self.registration_fixups = fixups  # counted and logged by the dispatcher's fix-up report
        self.capabilities = list(params.capabilities)
        try:
            self.registry.add(self)
        except DuplicatePlugin as exc:
            self.plugin_id = None
            self._refuse(request.id, SERVER_ERROR, str(exc))
            return
        self.conn.name = plugin_id
        self.conn.transport.set_limits(max_frame_bytes=self.settings.max_frame_bytes)
        self.registered.set()
        try:
            self.conn.respond(request.id, {"success": True, "plugin_id": plugin_id, "host_version": __version__})
        except ConnectionLost:
            return  # the session is ending; run() unregisters it
        log.info(
            "registered plugin %s (%s %s) peer=%s capabilities=%s%s",
            plugin_id,
            params.name,
            loggable(str(params.version)),
            self.peer,
            ",".join(c.type for c in self.capabilities) or "-",
            f" project={self.project_id}" if self.project_id else "",
        )

    def refuse(self, message: str) -> None:
        """Send one ``-32000`` error frame (``id: null``) and close: the host sheds this connection.

        Not logged here: the caller logs shedding at a rate an attacker does not decide.
        """
        try:
            self.conn.respond_error(None, SERVER_ERROR, message)
        except ConnectionLost:
            pass
        self.close(f"dropped: {message}")

    def _refuse(self, request_id: Any, code: int, message: str) -> None:
        log.warning("refused %s: %s", self.conn.name, message)
        try:
            self.conn.respond_error(request_id, code, message)
        except ConnectionLost:
            pass
        self.close(f"registration refused: {message}")

    def _reply_error(self, request: Request, code: int, message: str) -> None:
        if request.is_notification:
            return
        try:
            self.conn.respond_error(request.id, code, message)
        except ConnectionLost:
            pass


def _check_printable(params: RegisterParams) -> None:
    """Refuse (``-32602``, naming the field) an ``id`` or ``name`` holding unprintable characters."""
    for field in ("id", "name"):
        value = getattr(params, field, None)
        reason = unprintable_reason(value) if isinstance(value, str) else None
        if reason is not None:
            raise RegistrationRefused(INVALID_PARAMS, f"Invalid params: {field}: {reason}")


async def call_each(sessions: Sequence[PluginSession], method: str, params: Any = None) -> list[tuple[outcome.Outcome[Any], float]]:
    """Send ``method`` to every session at once and wait once, under the family's one deadline.

    See :func:`~tgo_host.wire.connection.request_each`: one ``(outcome, seconds)``
    per session, in order; a late or failed plugin is its own ``Error``.
    """
    if not sessions:
        return []
    timeout = sessions[0].settings.timeout_for(method)
    return await request_each([(session.conn, method, params) for session in sessions], timeout=timeout)
