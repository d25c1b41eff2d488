"""Prometheus metrics of one host, on a registry of its own (no process-global state)."""

from __future__ import annotations

import bisect
import math
import time
from typing import Any, Callable, Iterator, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .hostview import HostView

_go_float = cast(Callable[[float], str], floatToGoString)  # untyped in prometheus_client

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


class _Series:
    """One labelled series of request counts and latencies, as plain numbers."""

    __slots__ = ("count", "created", "buckets", "total")

    def __init__(self, bucket_count: int) -> None:
        self.count = 0.0
        self.created = time.time()
        self.buckets = [0.0] * bucket_count
        self.total = 0.0


class _RequestStats(Collector):
    """``tgo_plugin_requests`` (counter by method and outcome), ``tgo_plugin_request_seconds``
    (histogram by method) and ``tgo_plugin_timeouts`` (counter), kept as plain numbers.

    An observation is a few additions, no lock: prometheus_client's ``Counter``
    and ``Histogram`` take a lock per value and check the metric on every call,
    and a fan-out observes once per plugin (bench/README.md, "Request path").
    The scrape yields exactly the samples those classes would (``_total``,
    ``_bucket`` with cumulative counts, ``_count``, ``_sum``, ``_created`` when
    prometheus_client exports created series); ``tests/test_request_path.py``
    compares the exposition with theirs. Observed from the event loop only.
    """

    def __init__(self) -> None:
        self.bounds = [float(b) for b in LATENCY_BUCKETS] + [math.inf]
        self.le = [_go_float(b) for b in self.bounds]  # the ``le`` labels, as prometheus_client writes them
        self.requests: dict[tuple[str, str], _Series] = {}  # counts only
        self.latency: dict[str, _Series] = {}
        self.timeouts = 0.0
        self.timeouts_created = time.time()

    def observe(self, method: str, outcome: str, seconds: float) -> None:
        series = self.requests.get((method, outcome))
        if series is None:
            series = self.requests[method, outcome] = _Series(0)
            if method not in self.latency:
                self.latency[method] = _Series(len(self.bounds))
        series.count += 1.0
        latency = self.latency[method]
        latency.buckets[bisect.bisect_left(self.bounds, seconds)] += 1.0
        latency.total += seconds
        if outcome == "timeout":
            self.timeouts += 1.0

    def collect(self) -> Iterator[Metric]:
        created = prometheus_metrics._use_created  # prometheus_client's switch (PROMETHEUS_DISABLE_CREATED_SERIES)
        requests = Metric("tgo_plugin_requests", "Host→plugin requests by method and outcome", "counter")
        for (method, outcome), series in list(self.requests.items()):
            labels = {"method": method, "outcome": outcome}
            requests.add_sample("tgo_plugin_requests_total", labels, series.count)
            if created:
                requests.add_sample("tgo_plugin_requests_created", labels, series.created)
        yield requests
        latency = Metric("tgo_plugin_request_seconds", "Host→plugin request latency by method", "histogram")
        for method, series in list(self.latency.items()):
            acc = 0.0
            for le, count in zip(self.le, series.buckets):
                acc += count
                latency.add_sample("tgo_plugin_request_seconds_bucket", {"method": method, "le": le}, acc)
            latency.add_sample("tgo_plugin_request_seconds_count", {"method": method}, acc)
            latency.add_sample("tgo_plugin_request_seconds_sum", {"method": method}, series.total)
            if created:
                latency.add_sample("tgo_plugin_request_seconds_created", {"method": method}, series.created)
        yield latency
        timeouts = Metric("tgo_plugin_timeouts", "Host→plugin requests that hit their deadline", "counter")
        timeouts.add_sample("tgo_plugin_timeouts_total", {}, self.timeouts)
        if created:
            timeouts.add_sample("tgo_plugin_timeouts_created", {}, self.timeouts_created)
        yield timeouts


class HostMetrics:
    """Request counters and latency histograms fed by the dispatcher's ``observe`` hook, and the
    host's own gauges, on a registry of their own."""

    def __init__(self, host: HostView) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.stats = _RequestStats()
        self.registry.register(self.stats)
        self.registry.register(_HostCollector(host))

    def observe(self, plugin_id: str, method: str, outcome: str, seconds: float) -> None:
        self.stats.observe(method, outcome, seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
