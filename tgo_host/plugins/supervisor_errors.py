"""What the supervisor and plugin installing raise: one base, :class:`SupervisorError` (a ``HostError``).

::

    SupervisorError                an operation on launched plugins that cannot be done now
    ├─ UnknownPlugin (LookupError) no launched plugin has this id
    └─ InstallError                a directory could not be installed (or a plugin uninstalled)
       └─ InstallSourceError       the directory to install is missing or holds no manifest
"""

from __future__ import annotations

from ..errors import HostError


class SupervisorError(HostError):
    """An operation on launched plugins that cannot be done (the message says why)."""

    kind = "supervisor_unavailable"
    status_hint = 503


class UnknownPlugin(SupervisorError, LookupError):
    """No launched plugin has this id."""

    kind = "plugin_not_managed"
    status_hint = 404

    def __init__(self, plugin_id: str) -> None:
        super().__init__(f"unknown plugin {plugin_id!r}: not a plugin the host launches")
        self.plugin_id = plugin_id

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


class InstallError(SupervisorError):
    """A directory could not be installed (or a plugin uninstalled)."""

    kind = "install_failed"
    status_hint = 409


class InstallSourceError(InstallError):
    """The directory to install does not exist, or holds no plugin manifest (the caller's mistake)."""

    kind = "invalid_request"
    status_hint = 422
