"""Every tunable of the host in one attrs class, with its documented default.

Pure data: loading from a TOML file, the environment and flags is
:mod:`tgo_host.config`'s job. Durations are seconds.
"""

from __future__ import annotations

import attrs

DEFAULT_SOCKET_PATH = "/var/run/tgo/tgo.sock"
#: Where plugins may be installed from unless ``install_sources`` says otherwise: no local
#: directory, and these URL prefixes (for installs by URL).
DEFAULT_INSTALL_SOURCES = ("https://github.com/", "https://gitee.com/", "https://raw.githubusercontent.com/")


@attrs.define(kw_only=True)
class Settings:
    # plugin socket
    socket_path: str = DEFAULT_SOCKET_PATH
    socket_mode: int = 0o660
    socket_group: str | None = None
    allowed_uids: list[int] = attrs.Factory(list)  # empty: any uid that can open the socket
    allowed_gids: list[int] = attrs.Factory(list)
    # TCP debug listener for dev-mode plugins (dev_token required); None = off
    dev_tcp_addr: str | None = None
    dev_tcp_allow_remote: bool = False  # a non-loopback dev_tcp_addr is refused unless this is set
    secret_file: str | None = None  # HS256 secret for dev tokens; or the TGO_SECRET environment variable
    # HTTP API ("off" disables it)
    http_addr: str = "127.0.0.1:8090"
    max_http_body_bytes: int = 1024 * 1024
    # JSON-UI the HTTP API answers with: "full" (every template) or "tgo-web" (the TGO web app's 7); ?profile= overrides
    web_profile: str = "full"
    http_token_file: str | None = None  # bearer token for the HTTP API; or TGO_HTTP_TOKEN
    # who may call the HTTP API (docs/security.md)
    trusted_networks: list[str] = attrs.Factory(list)  # CIDRs served without a token; off loopback: a token or this
    http_allowed_origins: list[str] = attrs.Factory(list)  # browser origins besides the host's own
    http_allowed_hosts: list[str] = attrs.Factory(list)  # Host names besides loopback ones; "*" turns the check off
    admin_token_file: str | None = None  # control-plane token (install/start/stop/...); or TGO_ADMIN_TOKEN
    install_sources: list[str] = attrs.Factory(lambda: list(DEFAULT_INSTALL_SOURCES))  # local dirs + URL prefixes
    dev_token_max_ttl: float = 30 * 86400.0  # dev tokens living longer than this are refused
    # deadlines per method family
    render_timeout: float = 5.0
    event_timeout: float = 10.0
    call_timeout: float = 30.0  # tool/execute, sidebar_iframe/config, channel_integration/*
    ping_interval: float = 30.0
    ping_timeout: float = 10.0
    register_timeout: float = 10.0
    shutdown_grace: float = 5.0
    # limits
    max_frame_bytes: int = 4 * 1024 * 1024
    partial_frame_timeout: float = 30.0
    max_connections: int = 1024  # registered plugins; lowered at start to what the fd limit leaves room for
    max_in_flight: int = 256
    max_unregistered_frame_bytes: int = 64 * 1024  # the largest frame before `register` succeeds
    max_pending_connections: int = 64  # unregistered connections per listener; the oldest is dropped first
    max_buffered_bytes: int = 256 * 1024 * 1024  # receive buffers + send queues of all connections together
    # launched plugins (supervisor)
    plugin_dirs: list[str] = attrs.Factory(list)
    managed_plugins_dir: str | None = None  # where `install` copies plugin directories
    database_url: str | None = None  # PostgreSQL (pg_installed_plugins) for installed plugins; unset: SQLite
    # installing from URLs (the marketplace flow); every URL fetched must start with one of install_sources
    github_base_url: str = "https://github.com"  # repositories: BASE/O/R(.git); a mirror may replace it
    github_raw_base_url: str = "https://raw.githubusercontent.com"  # raw files: BASE/O/R/REF/PATH
    gitee_base_url: str = "https://gitee.com"  # repositories and raw files (BASE/O/R/raw/REF/PATH)
    fetch_timeout: float = 30.0  # connect/read timeout of one HTTP fetch (manifests, downloads)
    max_manifest_bytes: int = 1024 * 1024  # a plugin.yml larger than this is refused
    max_download_bytes: int = 256 * 1024 * 1024  # a release download larger than this is refused
    max_unpacked_bytes: int = 512 * 1024 * 1024  # an archive unpacking to more than this is refused
    max_archive_files: int = 10000  # an archive with more entries than this is refused
    max_redirects: int = 5  # redirects followed per fetch (each target re-checked against install_sources)
    build_timeout: float = 600.0  # one clone/build step (git clone, pip install, npm install, go build)
    # announcing plugins' MCP tools to the TGO AI service (off when unset)
    ai_service_url: str | None = None  # e.g. http://tgo-ai:8081; or TGO_AI_SERVICE_URL
    ai_service_timeout: float = 10.0  # seconds one call to the AI service may take (AI_SERVICE_TIMEOUT)
    ai_sync_retry_delay: float = 1.0  # first back-off after a failed call; doubles ...
    ai_sync_max_delay: float = 60.0  # ... up to this
    ai_tool_sync_grace: float = 30.0  # a plugin disconnected this long is gone: its tools are removed
    restart_delay: float = 1.0  # first back-off; a manifest's runtime.restart_delay overrides it
    restart_max_delay: float = 60.0
    crash_loop_restarts: int = 5  # this many unexpected exits ...
    crash_loop_window: float = 60.0  # ... within this many seconds → status "error", no more restarts
    healthy_run: float = 30.0  # a run this long resets the back-off
    log_lines: int = 500  # ring buffer of output lines kept per plugin
    # logging
    log_level: str = "info"

    def drain_timeout(self) -> float:
        """How long in-flight HTTP requests may run once shutdown begins: the longest plugin deadline + 2 s."""
        return max(self.render_timeout, self.event_timeout, self.call_timeout) + 2.0

    def timeout_for(self, method: str) -> float:
        """The deadline of a host→plugin request, by method family."""
        if method.endswith("/render"):
            return self.render_timeout
        if method.endswith("/event"):
            return self.event_timeout
        if method == "ping":
            return self.ping_timeout
        if method == "shutdown":
            return self.shutdown_grace
        return self.call_timeout
