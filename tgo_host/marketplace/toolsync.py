"""Announcing plugins' MCP tools to the TGO AI service, so its agents can call them.

When a plugin bound to a project registers with an ``mcp_tools``
capability, each tool is announced with one
``POST {ai_service_url}/api/v1/tools/plugin`` (200/201 = synced)::

    {"name": "plugin:<plugin_id>:<tool>", "description": <description or title>,
     "tool_type": "MCP", "transport_type": "plugin", "endpoint": "plugin://<plugin_id>",
     "project_id": ..., "config": {"plugin_id", "tool_name", "parameters": [...]}}

When it goes for good — disconnected and not back within
``ai_tool_sync_grace`` (a brief reconnect keeps its tools), or uninstalled
(at once) — one ``DELETE …/api/v1/tools/plugin/by-prefix?prefix=plugin:<plugin_id>:``
(200/204 = removed). Global plugins are skipped.

:class:`ToolSync` keeps the wanted state and one worker task reconciles
the AI service with it: failed calls are retried with a doubling back-off
capped at ``ai_sync_max_delay``; when the service answers again after
failures, every plugin synced before the outage is announced again (the
service may have lost them). Registration and rendering never wait for
any of this. Counters: :attr:`tools_synced`, :attr:`failures`,
:attr:`removals`.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

import httpx
import trio

from ..model import McpToolsCapability, unstructure
from ..plugins.registry import Registrant, Registry
from ..plugins.session import PluginSession
from ..settings import Settings

log = logging.getLogger("tgo_host.toolsync")

CALL_TIMEOUT = 10.0


def tool_bodies(plugin_id: str, project_id: str, session: Registrant) -> list[dict[str, Any]]:
    """The POST bodies for every tool of ``session``'s ``mcp_tools`` capabilities."""
    bodies = []
    for capability in session.capabilities:
        if not isinstance(capability, McpToolsCapability):
            continue
        for tool in capability.tools:
            bodies.append({
                "name": f"plugin:{plugin_id}:{tool.name}",
                "description": tool.description or tool.title or tool.name,
                "tool_type": "MCP",
                "transport_type": "plugin",
                "endpoint": f"plugin://{plugin_id}",
                "project_id": project_id,
                "config": {"plugin_id": plugin_id, "tool_name": tool.name,
                           "parameters": [unstructure(p) for p in tool.parameters]},
            })
    return bodies


class ToolSync:
    """The AI service's view of the registered plugins' tools, kept in step by :meth:`run`."""

    def __init__(self, settings: Settings, registry: Registry[PluginSession], transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not settings.ai_service_url:
            raise ValueError("ai_service_url is not set")
        self.settings = settings
        self.registry = registry
        self.base = settings.ai_service_url.rstrip("/")
        self._transport = transport
        self.wanted: dict[str, list[dict[str, Any]]] = {}  # plugin id → tool bodies to have announced
        self.synced: dict[str, set[str]] = {}  # plugin id → tool names the service has (as far as we know)
        self._synced_epoch: dict[str, int] = {}
        self._epoch = 0  # +1 per outage
        self._dirty: set[str] = set()
        self._removals: dict[str, float] = {}  # plugin id → trio time to remove its tools at
        self._replace: set[str] = set()  # plugin ids whose announced tools changed: delete, then announce
        self._announced: dict[str, list[dict[str, Any]]] = {}  # plugin id → the bodies last fully announced
        self._wake = trio.Event()
        self._down = False
        self.tools_synced = 0
        self.failures = 0
        self.removals = 0

    # -- what the host tells it (synchronous, never blocks) -------------------------

    def on_registry(self, event: str, session: PluginSession) -> None:
        plugin_id = session.plugin_id
        if plugin_id is None:  # the registry holds registered sessions only
            return
        if event == "connected":
            project_id = session.project_id
            bodies = tool_bodies(plugin_id, project_id, session) if project_id else []
            self._removals.pop(plugin_id, None)
            if bodies:
                before = self._announced.get(plugin_id)
                if before is not None and before != bodies:
                    self._replace.add(plugin_id)  # tools changed (an upgrade): remove the old set, announce the new
                self.wanted[plugin_id] = bodies
                self._dirty.add(plugin_id)
            elif plugin_id in self.synced:  # re-registered without tools (or without a project)
                self.wanted.pop(plugin_id, None)
                self._dirty.discard(plugin_id)
                self._removals[plugin_id] = trio.current_time()
        elif event == "disconnected" and plugin_id in self.wanted:
            self.wanted.pop(plugin_id)
            self._dirty.discard(plugin_id)
            self._removals[plugin_id] = trio.current_time() + self.settings.ai_tool_sync_grace
        self._wake.set()

    def forget(self, plugin_id: str) -> None:
        """The plugin is gone for good (uninstalled): remove its tools now."""
        self.wanted.pop(plugin_id, None)
        self._dirty.discard(plugin_id)
        self._replace.discard(plugin_id)
        self._removals[plugin_id] = trio.current_time()
        self._wake.set()

    # -- the worker -------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reconcile until cancelled; also picks up plugins registered before it started."""
        unsubscribe = self.registry.subscribe(self.on_registry)
        try:
            for session in self.registry.all_sessions():
                self.on_registry("connected", session)
            task_status.started()
            timeout = httpx.Timeout(self.settings.ai_service_timeout)
            async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
                delay = self.settings.ai_sync_retry_delay
                while True:
                    ok = await self._pass(client)
                    if ok:
                        delay = self.settings.ai_sync_retry_delay
                        await self._idle()
                    else:
                        with trio.move_on_after(delay):
                            await trio.sleep_forever()  # back off; new events wait too
                        delay = min(delay * 2, self.settings.ai_sync_max_delay)
        finally:
            unsubscribe()

    async def _idle(self) -> None:
        now = trio.current_time()
        due = min(self._removals.values(), default=math.inf)
        if self._dirty or due <= now:
            return
        self._wake = trio.Event()
        with trio.move_on_at(due):
            await self._wake.wait()

    async def _pass(self, client: httpx.AsyncClient) -> bool:
        """One round over what is due; False at the first failed call."""
        now = trio.current_time()
        for plugin_id in sorted(self._replace) + [p for p, at in self._removals.items() if at <= now]:
            if plugin_id in self.wanted and plugin_id not in self._replace:
                self._removals.pop(plugin_id, None)
                continue
            if not await self._call(client, "DELETE", f"{self.base}/api/v1/tools/plugin/by-prefix",
                                    params={"prefix": f"plugin:{plugin_id}:"}, ok=(200, 204), what=f"removing the tools of {plugin_id}"):
                return False
            self._removals.pop(plugin_id, None)
            self._replace.discard(plugin_id)
            self.synced.pop(plugin_id, None)
            self._announced.pop(plugin_id, None)
            self.removals += 1
            log.info("AI service: removed the tools of %s", plugin_id)
        for plugin_id in sorted(self._dirty):
            bodies = self.wanted.get(plugin_id, [])
            have = self.synced.setdefault(plugin_id, set())
            for body in bodies:
                if body["name"] in have:
                    continue
                if not await self._call(client, "POST", f"{self.base}/api/v1/tools/plugin", json=body, ok=(200, 201),
                                        what=f"announcing {body['name']}"):
                    return False
                have.add(body["name"])
                self.tools_synced += 1
            self._synced_epoch[plugin_id] = self._epoch
            self._announced[plugin_id] = bodies
            self._dirty.discard(plugin_id)
            log.info("AI service: %d tool(s) of %s synced", len(bodies), plugin_id)
        return True

    async def _call(self, client: httpx.AsyncClient, method: str, url: str, *, ok: tuple[int, ...], what: str,
                    **kwargs: Any) -> bool:
        try:
            response = await client.request(method, url, **kwargs)
            problem = None if response.status_code in ok else f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            if self._down:
                self._recovered()
            return True
        self.failures += 1
        if not self._down:
            self._down = True
            self._epoch += 1
        log.warning("AI service %s: %s failed: %s (retrying with back-off)", self.base, what, problem)
        return False

    def _recovered(self) -> None:
        """The service answers again: announce again whatever was synced before the outage."""
        self._down = False
        log.info("AI service %s answers again: resyncing", self.base)
        for plugin_id in self.wanted:
            if self._synced_epoch.get(plugin_id, self._epoch) < self._epoch:
                self.synced.pop(plugin_id, None)
                self._dirty.add(plugin_id)


class SyncedHost(Protocol):
    """What the service needs of the host (``tgo_host.host.Host``, built with a tool sync)."""

    @property
    def toolsync(self) -> ToolSync | None: ...

    @property
    def stopping(self) -> trio.Event: ...


async def toolsync_service(host: SyncedHost, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """A host service running ``host.toolsync`` until the host begins stopping."""
    sync = host.toolsync
    assert sync is not None  # the host adds this service only with a tool sync
    async with trio.open_nursery() as nursery:
        await nursery.start(sync.run)
        task_status.started()
        await host.stopping.wait()
        nursery.cancel_scope.cancel()

