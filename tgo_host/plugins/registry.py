"""The live plugins: who is registered, what each can show, who may see it.

The registry is plain synchronous state owned by the host; sessions add and
remove themselves. It needs of a session only what :class:`Registrant` names
(id, project, capabilities), so it imports nothing of ``session.py``; the host's
is a ``Registry[PluginSession]``. Capabilities are indexed by type and kept sorted by
``priority`` (smaller first, ties by plugin id) so fan-out needs no sorting.
Project scoping (the upstream runtime's rule, which the TGO gateway relies on):
a caller without a project sees every plugin; a caller scoped to project P sees
the global plugins (no ``project_id``) plus those bound to P.
"""

from __future__ import annotations

import bisect
import logging
from typing import Callable, Generic, Protocol, Sequence, TypeVar

from ..errors import HostError
from ..model import Capability

log = logging.getLogger("tgo_host.registry")


class Registrant(Protocol):
    """What the registry needs of a registered connection (a :class:`~.session.PluginSession`)."""

    @property
    def plugin_id(self) -> str | None: ...

    @property
    def project_id(self) -> str | None: ...

    @property
    def capabilities(self) -> Sequence[Capability]: ...


S = TypeVar("S", bound=Registrant)


class DuplicatePlugin(HostError):
    """A plugin id is already registered by a live connection."""

    kind = "duplicate_plugin"

    def __init__(self, plugin_id: str, existing: Registrant) -> None:
        super().__init__(
            f"plugin id {plugin_id!r} is already registered by a live connection; stop that instance first"
        )
        self.plugin_id = plugin_id


def visible_to(session: Registrant, project_id: str | None) -> bool:
    """Whether ``session`` may be seen by a caller scoped to ``project_id``.

    ``None`` (no ``?project_id=``) sees everything: the gateway omits it on AI
    tool calls and trusts itself to have checked the user's project.
    """
    return project_id is None or session.project_id is None or session.project_id == project_id


class Registry(Generic[S]):
    """Registered sessions (any :class:`Registrant`) by plugin id, with a per-capability index."""

    def __init__(self) -> None:
        self._sessions: dict[str, S] = {}
        self._by_capability: dict[str, list[tuple[Capability, S]]] = {}
        self._listeners: list[Callable[[str, S], None]] = []

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: S) -> None:
        """Register ``session`` under its plugin id; raises :class:`DuplicatePlugin`."""
        plugin_id = session.plugin_id
        assert plugin_id is not None
        existing = self._sessions.get(plugin_id)
        if existing is not None:
            raise DuplicatePlugin(plugin_id, existing)
        self._sessions[plugin_id] = session
        for cap in session.capabilities:
            bisect.insort(self._by_capability.setdefault(cap.type, []), (cap, session), key=_priority_key)
        self._emit("connected", session)

    def remove(self, session: S) -> bool:
        """Unregister ``session`` if it is the registered one for its id."""
        plugin_id = session.plugin_id
        if plugin_id is None or self._sessions.get(plugin_id) is not session:
            return False
        del self._sessions[plugin_id]
        for kind in {cap.type for cap in session.capabilities}:
            self._by_capability[kind] = [e for e in self._by_capability[kind] if e[1] is not session]
        self._emit("disconnected", session)
        return True

    def get(self, plugin_id: str, project_id: str | None = None) -> S | None:
        """The session for ``plugin_id`` if it exists and is visible to ``project_id``."""
        session = self._sessions.get(plugin_id)
        if session is None or not visible_to(session, project_id):
            return None
        return session

    def sessions(self, project_id: str | None = None) -> list[S]:
        """Visible sessions, ordered by plugin id."""
        return [s for _, s in sorted(self._sessions.items()) if visible_to(s, project_id)]

    def all_sessions(self) -> list[S]:
        """Every registered session regardless of project (for shutdown and metrics)."""
        return list(self._sessions.values())

    def with_capability(self, kind: str, project_id: str | None = None) -> list[tuple[Capability, S]]:
        """``(capability, session)`` pairs of type ``kind``, by priority, visible to ``project_id``."""
        entries = self._by_capability.get(kind, ())
        return [(cap, s) for cap, s in entries if visible_to(s, project_id)]

    def subscribe(self, listener: Callable[[str, S], None]) -> Callable[[], None]:
        """Call ``listener(event, session)`` on connect/disconnect; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: str, session: S) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, session)
            except Exception:  # a listener's bug must not break registration
                log.exception("registry listener failed on %s of %s", event, session.plugin_id)


def _priority_key(entry: tuple[Capability, Registrant]) -> tuple[int, str]:
    """Index order: smaller ``priority`` first, then plugin id."""
    cap, session = entry
    return (cap.priority, session.plugin_id or "")
