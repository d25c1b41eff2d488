"""The host: one nursery tree that owns every long-lived task and the shutdown order.

::

    Host.serve                           root nursery (force_stop cancels it)
    ├─ signal watcher                    SIGTERM/SIGINT → graceful stop; second signal → hard stop
    ├─ memory trimmer                    free memory back after a burst of connections (memory.py)
    ├─ process supervisor                (with a supervisor_factory) launched plugins: spawn → wait → back off → respawn
    └─ sessions nursery                  the handler nursery: one PluginSession.run per connection
       ├─ services nursery               ``services``: the HTTP API, marketplace row sync, AI tool sync
       │  └─ accepting nursery           one accept loop per listener: the Unix socket (+ the TCP debug listener)
       └─ cascade nursery                after the services: ``shutdown`` to every session, while the
                                         supervisor waits for its processes (then SIGTERM, then SIGKILL)

The nesting is the shutdown order, as in hypercorn's ``worker_serve``: the
accept loops start their connections in the sessions nursery (like trio's
``serve_listeners(handler_nursery=…)``), so cancelling the accepting
nursery stops only *new* connections. Graceful stop, in order: cancel the
accepting nursery (the HTTP server stops accepting on the same
:attr:`Host.stopping` event); give the services a drain deadline
(in-flight HTTP requests finish or hit it); then the cascade sends
``shutdown`` to every plugin concurrently under one grace deadline while
the supervisor waits for launched processes to exit; then every session is
closed, the root nursery cancelled, and the listening socket closed and its
file removed.

A session is one task (its body reads frames) with two children, the
writer and the registration watch, which becomes the heartbeat once the
plugin registers (:mod:`.plugins.session`); requests to plugins run in the
callers' tasks, in no task of this tree (:mod:`.wire.connection`).

A listener whose ``accept`` fails for a reason other than running out of
fds or memory ends its loop with
:class:`~tgo_host.plugins.listener.ListenerFailed`, which stops the host.
"""

from __future__ import annotations

import logging
import signal
from functools import partial
from typing import Any, Awaitable, Callable

import trio

from . import notify
from .marketplace.installer import Marketplace
from .marketplace.store import InstalledRecord
from .marketplace.toolsync import ToolSync, toolsync_service
from .memory import return_memory_after_bursts
from .plugins.dispatch import Dispatcher
from .model import RegisterParams
from .plugins.auth import (
    PERMISSION_DENIED,
    Applicant,
    Grant,
    RegistrationCheck,
    RegistrationPolicy,
    RegistrationRefused,
    peer_allowed,
)
from .plugins.listener import (
    bind_unix_listener,
    open_dev_tcp_listener,
    refuse_connection,
    remove_socket_file,
    serve_listener,
)
from .plugins.identity import ReservedIds
from .plugins.fds import connection_budget, raise_fd_limit
from .plugins.pending import PendingPool
from .plugins.peer import PeerInfo
from .plugins.registry import Registry
from .plugins.session import PluginSession
from .plugins.supervisor import Supervisor
from .wire.budget import BufferBudget
from .wire.messages import SERVER_ERROR
from .settings import Settings

log = logging.getLogger("tgo_host")

TRIM_AFTER_CLOSED = 100  # this many connections closed, or ...
TRIM_AFTER_BYTES = 8 * 1024 * 1024  # ... buffered bytes this far below their peak: return free memory

Service = Callable[["Host", trio.TaskStatus[Any]], Awaitable[None]]


SupervisorFactory = Callable[[Registry[PluginSession]], Supervisor]
MarketplaceFactory = Callable[[Supervisor], Marketplace]
ToolSyncFactory = Callable[[Registry[PluginSession]], ToolSync]


class Host:
    """Owns the registry, the dispatcher and the task tree built by :meth:`serve`.

    Everything the host is made of is given to the constructor; nothing is
    attached afterwards:

    - ``services`` are extra long-running tasks (the HTTP API) started in the
      services nursery with ``nursery.start``; each must return promptly
      once :attr:`stopping` is set.
    - ``supervisor_factory`` builds the supervisor of launched plugin
      processes from the host's registry (``partial(Supervisor, settings)``);
      it runs in the root nursery and is stopped by the cascade, alongside
      the sessions. None: the host launches nothing.
    - ``marketplace_factory`` builds the marketplace from that supervisor
      (``partial(open_marketplace, settings)``): it restores its records
      before the supervisor launches anything, and binds a plugin that
      registers with an installed plugin's id to that plugin's project.
    - ``toolsync_factory`` builds the announcer of plugins' MCP tools to the
      AI service from the registry (``partial(ToolSync, settings)``); its
      service runs first among the services, and an uninstall through the
      marketplace removes that plugin's tools at once.
    - ``check_registration`` replaces the dev-token policy built from
      ``secret`` (who may register); the ids reserved for launched plugins,
      the connection limit and the marketplace's binding still apply.
    - ``http_token`` / ``admin_token``: the bearer tokens the HTTP API and its
      control-plane routes require, when set.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        services: list[Service] | None = None,
        check_registration: RegistrationCheck | None = None,
        secret: str | None = None,
        supervisor_factory: SupervisorFactory | None = None,
        marketplace_factory: MarketplaceFactory | None = None,
        toolsync_factory: ToolSyncFactory | None = None,
        http_token: str | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.settings = settings
        self.registry: Registry[PluginSession] = Registry()
        self.dispatcher = Dispatcher(self.registry)
        self.supervisor = supervisor_factory(self.registry) if supervisor_factory is not None else None
        self.marketplace: Marketplace | None = None
        if marketplace_factory is not None:
            if self.supervisor is None:
                raise ValueError("a marketplace installs launched plugins: it needs a supervisor_factory too")
            self.marketplace = marketplace_factory(self.supervisor)
            self.supervisor.before_launch = self.marketplace.restore
        self.toolsync = toolsync_factory(self.registry) if toolsync_factory is not None else None
        self.services: list[Service] = [toolsync_service] if self.toolsync is not None else []
        self.services += services or []
        if self.toolsync is not None and self.marketplace is not None:
            self.marketplace.listeners.append(self._forget_tools)
        self.registration_policy: RegistrationCheck = check_registration or RegistrationPolicy(
            secret, max_ttl=settings.dev_token_max_ttl
        )
        self.reserved_ids = ReservedIds(self.supervisor, self.registry)
        self.stopping = trio.Event()
        self.http_binds: list[str] = []
        self.http_token = http_token  # bearer token required by the HTTP API, when set
        self.admin_token = admin_token  # token required by the control-plane routes, when set
        self.dev_tcp_address: tuple[str, int] | None = None
        self.listeners: list[trio.socket.SocketType] = []  # the listening sockets, once serve() has opened them
        self.ready = False
        self.forced = False
        self._connections: set[PluginSession] = set()
        self._closed_violations = 0
        self._closed_dropped = 0
        self._root: trio.CancelScope | None = None  # the root nursery's scope while serving (force_stop)
        self.max_connections = settings.max_connections  # registered plugins; sized to the fd limit by serve()
        self.buffers = BufferBudget(settings.max_buffered_bytes)  # receive buffers + send queues of all connections
        self._closed_since_check = 0  # connections closed since the last memory check (memory.py)
        self._pools: dict[Any, PendingPool] = {}  # listener -> its unregistered connections
        self._pending_in: dict[PluginSession, PendingPool] = {}
        self.registry.subscribe(self._on_registry_event)

    @property
    def connection_count(self) -> int:
        """Live plugin connections, registered or not."""
        return len(self._connections)

    def protocol_violations(self) -> int:
        """Protocol violations by plugins since start (live and closed connections)."""
        return self._closed_violations + sum(s.conn.stats.violations for s in self._connections)

    def dropped_responses(self) -> int:
        """Responses that matched no request in flight, since start."""
        return self._closed_dropped + sum(s.conn.stats.dropped_responses for s in self._connections)

    def request_stop(self) -> None:
        """Begin the graceful shutdown cascade (idempotent)."""
        if not self.stopping.is_set():
            log.info("shutting down: %d plugin connection(s)", len(self._connections))
            notify.stopping("shutting down")
            self.stopping.set()

    def force_stop(self) -> None:
        """Cancel everything now: no ``shutdown`` requests, sessions dropped."""
        log.warning("forced stop")
        self.forced = True
        self.stopping.set()
        if self._root is not None:
            self._root.cancel()

    async def serve(self, *, handle_signals: bool = False, task_status: trio.TaskStatus["Host"] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the host until stopped. Reports itself via ``task_status`` once accepting.

        Raises :class:`~tgo_host.plugins.listener.SocketPathError` before
        starting anything if the socket cannot be created.
        """
        settings = self.settings
        listener = bind_unix_listener(settings.socket_path, mode=settings.socket_mode, group=settings.socket_group)
        log.info("listening for plugins on %s (mode %o)", settings.socket_path, settings.socket_mode)
        self.listeners = listeners = [listener]
        try:
            if settings.dev_tcp_addr:
                listeners.append(await open_dev_tcp_listener(settings.dev_tcp_addr, settings.dev_tcp_allow_remote))
                self.dev_tcp_address = listeners[-1].getsockname()[:2]
            self._size_limits(listeners)
            async with trio.open_nursery() as root:
                self._root = root.cancel_scope
                if handle_signals:
                    root.start_soon(self._watch_signals)
                root.start_soon(return_memory_after_bursts, self._burst_drained)
                if self.supervisor is not None:
                    await root.start(self.supervisor.run)
                async with trio.open_nursery() as sessions:  # the handler nursery: sessions outlive accepting
                    async with trio.open_nursery() as services:
                        async with trio.open_nursery() as accepting:  # one accept loop per listener
                            for sock in listeners:
                                pool = self._pools[sock]
                                await accepting.start(partial(
                                    serve_listener, sock, partial(self._run_session, pool=pool), sessions,
                                    max_connections=self.max_connections, active=lambda: len(self.registry),
                                    name=self._listener_name(sock),
                                ))
                            for service in self.services:
                                await services.start(service, self)
                            self.ready = True
                            notify.ready(f"listening on {settings.socket_path}")
                            task_status.started(self)
                            await self.stopping.wait()
                            self.ready = False
                            accepting.cancel_scope.cancel()
                        # Other services (HTTP) finish their in-flight work, within the longest plugin deadline.
                        services.cancel_scope.deadline = trio.current_time() + settings.drain_timeout()
                    async with trio.open_nursery() as cascade:
                        cascade.start_soon(self._shutdown_sessions)
                        if self.supervisor is not None:
                            # the sessions get `shutdown` above; the supervisor waits, then escalates
                            cascade.start_soon(
                                partial(self.supervisor.stop_all, settings.shutdown_grace, send_shutdown=False)
                            )
                    sessions.cancel_scope.cancel()
                root.cancel_scope.cancel()
        finally:
            for sock in listeners[1:]:
                sock.close()
            remove_socket_file(settings.socket_path, listener)
            log.info("socket %s closed and removed; host stopped", settings.socket_path)

    def _listener_name(self, sock: trio.socket.SocketType) -> str:
        """The listener as the log and a :class:`ListenerFailed` name it: what it is and its address."""
        if sock.family == trio.socket.AF_UNIX:
            return f"the plugin socket {self.settings.socket_path}"
        host, port = sock.getsockname()[:2]
        return f"the TCP debug listener {host}:{port}"

    def _size_limits(self, listeners: list[Any]) -> None:
        """Raise the fd limit; one pending pool per listener; ``max_connections`` that fits the fds."""
        settings = self.settings
        fd_limit = raise_fd_limit()
        self._pools = {}
        for sock in listeners:
            name = "the plugin socket" if sock.family == trio.socket.AF_UNIX else "the TCP debug listener"
            self._pools[sock] = PendingPool(name, settings.max_pending_connections)
        launched = len(self.supervisor.plugins()) if self.supervisor is not None else 0
        pending = sum(pool.limit for pool in self._pools.values())
        self.max_connections = connection_budget(settings.max_connections, fd_limit, pending=pending, launched=launched)
        log.info("plugin connections: at most %d registered, %d waiting to register per listener (open file limit %d)",
                 self.max_connections, settings.max_pending_connections, fd_limit)

    def check_registration(self, applicant: Applicant, params: RegisterParams) -> Grant:
        """Who may register: the registration policy (dev tokens: what it grants), the ids reserved
        for launched plugins, the limit. A plugin let in with an installed plugin's id joins that
        plugin's project (the marketplace's binding)."""
        grant = self.registration_policy(applicant, params)
        self.reserved_ids(applicant, params)
        if len(self.registry) >= self.max_connections and not any(
            s.plugin_id == params.id for s in self.registry.all_sessions()
        ):
            raise RegistrationRefused(SERVER_ERROR, f"host is at its limit of {self.max_connections} plugin connections")
        if self.marketplace is not None:
            return self.marketplace.bind_registration(grant, params)
        return grant

    def _forget_tools(self, event: str, record: InstalledRecord) -> None:
        """An uninstalled plugin's tools leave the AI service at once (not at its next sync)."""
        if event == "removed" and self.toolsync is not None:
            self.toolsync.forget(record.plugin_id)

    def _burst_drained(self) -> bool:
        """Whether many connections closed, or buffered bytes fell far from their peak, since the last check."""
        budget = self.buffers
        drained = self._closed_since_check >= TRIM_AFTER_CLOSED or budget.peak - budget.total >= TRIM_AFTER_BYTES
        self._closed_since_check = 0
        budget.peak = budget.total
        return drained

    def _on_registry_event(self, event: str, session: PluginSession) -> None:
        if event == "connected":
            pool = self._pending_in.pop(session, None)
            if pool is not None:
                pool.discard(session)

    async def _run_session(self, stream: trio.SocketStream, peer: PeerInfo, pool: PendingPool) -> None:
        settings = self.settings
        if not peer_allowed(peer, settings.allowed_uids, settings.allowed_gids):
            log.warning("refused connection from %s: uid/gid not in the allow-lists", peer)
            await refuse_connection(stream, PERMISSION_DENIED, f"Permission denied: uid {peer.uid} gid {peer.gid} may not connect")
            return
        session = PluginSession(
            stream, peer, self.settings, self.registry, check_registration=self.check_registration, budget=self.buffers
        )
        if self.stopping.is_set():
            session.close("host is shutting down")
        else:
            pool.admit(session)
            self._pending_in[session] = pool
        self._connections.add(session)
        try:
            await session.run()
        finally:
            self._connections.discard(session)
            self._closed_since_check += 1
            if self._pending_in.pop(session, None) is not None:
                pool.discard(session)
            self._closed_violations += session.conn.stats.violations
            self._closed_dropped += session.conn.stats.dropped_responses

    async def _shutdown_sessions(self) -> None:
        """Send ``shutdown`` to every connection concurrently, under one grace deadline."""
        sessions = list(self._connections)
        if not sessions:
            return
        grace = self.settings.shutdown_grace
        log.info("sending shutdown to %d plugin(s), grace %g s", len(sessions), grace)
        async with trio.open_nursery() as nursery:
            for session in sessions:
                if session.is_registered:
                    nursery.start_soon(session.shutdown, grace)
                else:
                    session.close("host shutdown")
        acknowledged = sum(1 for s in sessions if s.shutdown_acknowledged)
        log.info("shutdown acknowledged by %d of %d plugin(s)", acknowledged, len(sessions))

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                if not self.stopping.is_set():
                    log.info("received %s", signal.Signals(signum).name)
                    self.request_stop()
                else:
                    log.warning("received %s again", signal.Signals(signum).name)
                    self.force_stop()
                    return
