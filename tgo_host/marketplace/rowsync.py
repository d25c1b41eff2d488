"""Keep an installed plugin's record at ``running`` with its current ``pid`` once its process has registered.

The upstream runtime writes ``status = 'running'`` and the process id into
its row when a plugin is up; :func:`rowsync_service` (a host service with the
PostgreSQL store, shared with that runtime) does the same, so a row
never keeps a pid of a previous host or a ``starting`` that was reached.
A store that is down only delays this: the record in memory is updated and
written with the next successful save; the failure is logged.
"""

from __future__ import annotations

import logging
import math
from typing import Protocol

import trio

from ..plugins.registry import Registry
from ..plugins.session import PluginSession
from ..plugins.supervisor import Supervisor
from .installer import Marketplace
from .store import StoreError, now_iso

log = logging.getLogger("tgo_host.marketplace.rowsync")


class RowsyncHost(Protocol):
    """What the service needs of the host (``tgo_host.host.Host``, built with a marketplace)."""

    @property
    def registry(self) -> Registry[PluginSession]: ...

    @property
    def stopping(self) -> trio.Event: ...

    @property
    def marketplace(self) -> Marketplace | None: ...

    @property
    def supervisor(self) -> Supervisor | None: ...


async def rowsync_service(host: RowsyncHost, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """A host service: on each registration of a launched installed plugin, record ``running`` and its pid."""
    send, receive = trio.open_memory_channel[str](math.inf)

    def on_registry(event: str, session: PluginSession) -> None:
        if event == "connected" and session.plugin_id:
            send.send_nowait(session.plugin_id)

    unsubscribe = host.registry.subscribe(on_registry)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_record_running, host, receive)
            task_status.started()
            await host.stopping.wait()
            nursery.cancel_scope.cancel()
    finally:
        unsubscribe()


async def _record_running(host: RowsyncHost, receive: trio.MemoryReceiveChannel[str]) -> None:
    marketplace, supervisor = host.marketplace, host.supervisor
    assert marketplace is not None and supervisor is not None  # the service runs only with a marketplace
    async for plugin_id in receive:
        record = marketplace.records.get(plugin_id)
        if record is None or plugin_id not in supervisor or record.status == "stopped":
            continue
        plugin = supervisor.get(plugin_id)
        if not plugin.registered or (record.status == "running" and record.pid == plugin.pid):
            continue
        record.status, record.pid, record.updated_at = "running", plugin.pid, now_iso()
        try:
            await marketplace.store.save(record)
        except StoreError as exc:
            log.warning("cannot record %s as running (pid %s): %s", plugin_id, plugin.pid, exc)

