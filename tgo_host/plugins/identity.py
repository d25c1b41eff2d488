"""Plugin identity: printable ids and names, and ids reserved for the plugins the host launches.

- ``register`` params whose ``id`` or ``name`` hold a control (or otherwise
  unprintable) character are refused by the session with ``-32602`` naming
  the field (:mod:`.printable`), so no plugin can forge lines in the host log.
- :class:`ReservedIds` refuses with ``-32000`` a connection that claims the id
  of a plugin in ``plugin_dirs`` or installed (the supervisor's plugins: the
  manifest id, and the id its process registered under) unless it comes from that plugin's own launched process; when the launched
  process registers while an unlaunched connection holds its id (it
  connected before the plugin was installed), that connection is closed and
  the launched plugin takes the id. A launched plugin is never locked out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..model import RegisterParams
from ..wire.messages import SERVER_ERROR
from .auth import GLOBAL, Applicant, Grant, RegistrationRefused
from .printable import loggable
from .processes import same_process_group
from .registry import Registry

if TYPE_CHECKING:
    from .session import PluginSession
    from .managed import ManagedPlugin
    from .supervisor import Supervisor

log = logging.getLogger("tgo_host.identity")

RESERVED_MESSAGE = "id reserved by an installed plugin"


class ReservedIds:
    """Registration check: an id owned by a launched plugin may be taken only by that plugin's process.

    ``supervisor`` is the host's supervisor; None (the host launches nothing)
    reserves no id. Grants nothing itself.
    """

    def __init__(self, supervisor: Supervisor | None, registry: Registry[PluginSession]) -> None:
        self._supervisor = supervisor
        self._registry = registry

    def __call__(self, applicant: Applicant, params: RegisterParams) -> Grant:
        supervisor = self._supervisor
        plugin_id = params.id
        owner = owner_of(supervisor, plugin_id) if supervisor is not None and plugin_id else None
        if owner is None or plugin_id is None:
            return GLOBAL
        if not _launched_by(owner, applicant):
            log.warning("refused %s: claims the id %s of a launched plugin", applicant.peer, loggable(plugin_id))
            raise RegistrationRefused(SERVER_ERROR, f"plugin id {plugin_id!r}: {RESERVED_MESSAGE}")
        squatter = self._registry.get(plugin_id)
        if squatter is not None and squatter is not applicant and not _launched_by(owner, squatter):
            log.warning(
                "plugin %s: closing the earlier connection %s that held its id; the launched plugin takes it",
                loggable(plugin_id), squatter.peer,
            )
            self._registry.remove(squatter)
            squatter.close(f"id {plugin_id!r} taken over by the launched plugin")
        return GLOBAL


def owner_of(supervisor: Supervisor, plugin_id: str) -> ManagedPlugin | None:
    """The launched plugin that owns ``plugin_id``: its manifest id, or the id its process registered under."""
    if plugin_id in supervisor:
        return supervisor.get(plugin_id)
    for plugin in supervisor.plugins():
        if plugin.session_plugin_id == plugin_id:
            return plugin
    return None


def _launched_by(plugin: ManagedPlugin, applicant: Applicant) -> bool:
    """Whether ``applicant`` comes from ``plugin``'s running (or just spawned) process or its process group, over the Unix socket."""
    proc = plugin.process
    leader = plugin.leader_pid
    peer = applicant.peer
    if leader is None or (proc is not None and proc.returncode is not None) or peer.transport != "unix" or not peer.pid:
        return False
    return same_process_group(peer.pid, leader)
