"""Prometheus metrics of one host, on a registry of its own (no process-global state)."""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .hostview import HostView

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _HostCollector(Collector):
    """Gauges and counters read from the host's state at scrape time."""

    def __init__(self, host: HostView) -> None:
        self.host = host

    def collect(self) -> Iterator[Any]:
        host = self.host
        connected = GaugeMetricFamily("tgo_plugins_connected", "Registered plugin connections")
        connected.add_metric([], len(host.registry))
        yield connected
        connections = GaugeMetricFamily("tgo_plugin_connections", "Open plugin connections, registered or not")
        connections.add_metric([], host.connection_count)
        yield connections
        violations = CounterMetricFamily(
            "tgo_protocol_violations", "Frames from plugins answered with -32700/-32600 or closing the connection"
        )
        violations.add_metric([], host.protocol_violations())
        yield violations
        dropped = CounterMetricFamily("tgo_dropped_responses", "Plugin responses matching no request in flight")
        dropped.add_metric([], host.dropped_responses())
        yield dropped
        fixups = CounterMetricFamily(
            "tgo_plugin_fixups",
            "Values in plugin results the host fixed up or refused, by plugin and kind (docs/validation.md)",
            labels=["plugin_id", "kind"],
        )
        for plugin_id, counts in host.dispatcher.fixups.counts().items():
            for kind, count in counts.items():
                fixups.add_metric([plugin_id, kind], count)
        yield fixups
        supervisor = host.supervisor
        if supervisor is not None:
            restarts = CounterMetricFamily("tgo_supervisor_restarts", "Launched plugin processes restarted")
            restarts.add_metric([], supervisor.total_restarts())
            yield restarts
        toolsync = host.toolsync
        if toolsync is not None:
            synced = CounterMetricFamily("tgo_ai_tools_synced", "MCP tools announced to the AI service")
            synced.add_metric([], toolsync.tools_synced)
            yield synced
            failures = CounterMetricFamily("tgo_ai_tool_sync_failures", "Failed calls to the AI service (retried)")
            failures.add_metric([], toolsync.failures)
            yield failures
            removals = CounterMetricFamily("tgo_ai_tool_removals", "Plugins whose tools were removed from the AI service")
            removals.add_metric([], toolsync.removals)
            yield removals


class HostMetrics:
    """Request counters and latency histograms fed by the dispatcher's ``observe`` hook.

    The labelled children are looked up once per (method, outcome) and kept:
    ``labels()`` takes a lock and builds its key on every call, and a fan-out
    observes once per plugin (bench/README.md, "Request path").
    """

    def __init__(self, host: HostView) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tgo_plugin_requests", "Host→plugin requests by method and outcome", ["method", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tgo_plugin_request_seconds", "Host→plugin request latency by method", ["method"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.timeouts = Counter("tgo_plugin_timeouts", "Host→plugin requests that hit their deadline", registry=self.registry)
        self.registry.register(_HostCollector(host))
        # (method, outcome) -> (its request counter, its method's latency histogram)
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def observe(self, plugin_id: str, method: str, outcome: str, seconds: float) -> None:
        children = self._children.get((method, outcome))
        if children is None:
            children = self._children[method, outcome] = (
                self.requests.labels(method, outcome), self.latency.labels(method),
            )
        children[0].inc()
        children[1].observe(seconds)
        if outcome == "timeout":
            self.timeouts.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
