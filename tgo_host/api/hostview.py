"""What the HTTP API needs of the host: the one seam between the api layer and ``tgo_host.host``.

:class:`tgo_host.host.Host` implements it; the api modules take a
:class:`HostView` and never import the host (imports flow wire → model →
plugins → api → cli). Everything is read-only to the api except
``http_binds``, which the HTTP service fills in once it listens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import trio

if TYPE_CHECKING:
    from ..marketplace.installer import Marketplace
    from ..marketplace.toolsync import ToolSync
    from ..plugins.dispatch import Dispatcher
    from ..plugins.registry import Registry
    from ..plugins.session import PluginSession
    from ..plugins.supervisor import Supervisor
    from ..settings import Settings


class HostView(Protocol):
    """The host as the HTTP API sees it."""

    #: ``http://HOST:PORT`` of each address the HTTP API listens on (set by the HTTP service).
    http_binds: list[str]

    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry[PluginSession]: ...

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def supervisor(self) -> Supervisor | None:
        """Launched plugin processes (None: this host launches none)."""

    @property
    def marketplace(self) -> Marketplace | None:
        """Installs by URL and the installed-plugin store (None: ``managed_plugins_dir`` is not set)."""

    @property
    def toolsync(self) -> ToolSync | None:
        """MCP tools announced to the AI service (None: ``ai_service_url`` is not set)."""

    @property
    def stopping(self) -> trio.Event:
        """Set once the graceful stop begins."""

    @property
    def ready(self) -> bool:
        """Listening for plugins and not stopping."""

    @property
    def http_token(self) -> str | None:
        """The bearer token every HTTP request must carry, when set."""

    @property
    def admin_token(self) -> str | None:
        """The token the control-plane routes require, when set."""

    @property
    def connection_count(self) -> int:
        """Live plugin connections, registered or not."""

    def protocol_violations(self) -> int:
        """Protocol violations by plugins since start."""

    def dropped_responses(self) -> int:
        """Responses that matched no request in flight, since start."""
