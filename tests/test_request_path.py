"""The fan-out request path's shortcuts give exactly what the long way gave.

* ``fanout_params`` reads a validated body's fields straight from the JSON:
  the same params as the attrs round trip (``with_raw_visitor(unstructure(body), raw)``);
* ``HostMetrics.observe`` adds to plain numbers: the exposition is exactly what
  prometheus_client's ``Counter``/``Histogram`` give for the same observations;
* ``collecting`` (a class now) nests and restores the outer collection.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgo_host.api.metrics import HostMetrics
from tgo_host.api.rendering import fanout_params, with_raw_visitor
from tgo_host.model import ValidationError, VisitorPanelRenderRequest, parse_body, render_params, unstructure
from tgo_host.model.fixups import COERCED, collecting, current, note

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=4))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                          max_leaves=6)
visitor = st.one_of(
    json_value,
    st.fixed_dictionaries({}, optional={
        "id": st.one_of(st.none(), st.text(max_size=3), st.integers()),
        "name": st.one_of(st.none(), st.text(max_size=3)),
        "email": st.one_of(st.none(), st.text(max_size=3)),
        "first_seen_at": json_leaf,
        "metadata": json_value,
        "vip": json_value,  # a field the model does not document: forwarded as sent
    }),
)
body = st.fixed_dictionaries({}, optional={
    "visitor_id": st.one_of(st.text(max_size=5), st.none(), st.integers()),
    "session_id": st.one_of(st.text(max_size=5), st.none(), st.integers()),
    "visitor": visitor,
    "language": st.one_of(st.text(max_size=3), st.none(), st.booleans()),
    "context": st.one_of(json_value, st.dictionaries(st.text(max_size=4), json_value, max_size=3)),
    "extension_type": st.text(max_size=3),  # not a field of this body: never forwarded
    "agent_id": st.text(max_size=3),
})


@settings(max_examples=400, deadline=None)
@given(body)
def test_fanout_params_equal_the_attrs_round_trip(raw):
    try:
        validated = parse_body(raw, VisitorPanelRenderRequest)
    except ValidationError:
        return  # a 422 before params are built, on both paths
    expected = with_raw_visitor(unstructure(validated), raw)
    assert fanout_params(raw) == expected
    assert render_params("visitor_panel", fanout_params(raw)) == render_params("visitor_panel", expected)


def test_fanout_params_of_a_full_body():
    raw = {"visitor_id": "v1", "session_id": None, "visitor": {"name": "Ada", "vip": True}, "language": "en",
           "context": {"page": "/"}, "extension_type": "chat_toolbar"}
    assert fanout_params(raw) == {"visitor_id": "v1", "visitor": {"name": "Ada", "vip": True}, "language": "en",
                                  "context": {"page": "/"}}


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    assert match, f"{name}{{{wanted}}} not in the exposition"
    return float(match.group(1))


def test_metrics_count_every_observation_under_its_labels(tmp_path):
    from tgo_host.host import Host
    from tgo_host.settings import Settings

    metrics = HostMetrics(Host(Settings(socket_path=str(tmp_path / "s.sock"), http_addr="127.0.0.1:0")))
    for _ in range(3):
        metrics.observe("a", "visitor_panel/render", "ok", 0.002)
    metrics.observe("b", "visitor_panel/render", "timeout", 5.0)
    metrics.observe("a", "chat_toolbar/event", "ok", 0.0004)
    text = metrics.render().decode()
    assert _sample(text, "tgo_plugin_requests_total", method="visitor_panel/render", outcome="ok") == 3
    assert _sample(text, "tgo_plugin_requests_total", method="visitor_panel/render", outcome="timeout") == 1
    assert _sample(text, "tgo_plugin_requests_total", method="chat_toolbar/event", outcome="ok") == 1
    assert _sample(text, "tgo_plugin_request_seconds_count", method="visitor_panel/render") == 4
    assert _sample(text, "tgo_plugin_request_seconds_bucket", le="0.0025", method="visitor_panel/render") == 3
    assert _sample(text, "tgo_plugin_request_seconds_bucket", le="0.0005", method="chat_toolbar/event") == 1
    assert _sample(text, "tgo_plugin_request_seconds_sum", method="visitor_panel/render") == 5.006
    assert re.search(r"^tgo_plugin_timeouts_total 1\.0$", text, re.M)


def test_collecting_nests_and_restores_the_outer_collection():
    assert current() is None
    with collecting() as outer:
        note(COERCED, "outer")
        with collecting() as inner:
            note(COERCED, "inner")
        note(COERCED, "outer again")
    assert current() is None
    assert [f.message for f in outer] == ["outer", "outer again"]
    assert [f.message for f in inner] == ["inner"]


OBSERVATIONS = [
    ("visitor_panel/render", "ok", 0.002), ("visitor_panel/render", "ok", 0.0005), ("visitor_panel/render", "timeout", 5.0),
    ("chat_toolbar/event", "ok", 0.0004), ("visitor_panel/render", "plugin_error", 0.1), ("tool/execute", "ok", 31.0),
    ("visitor_panel/render", "ok", 0.0025), ("chat_toolbar/event", "invalid_result", 0.03), ("visitor_panel/render", "ok", 1e-7),
]


def _prometheus_reference(observations) -> bytes:
    """The exposition prometheus_client's own classes give for ``observations`` (what HostMetrics used)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from tgo_host.api.metrics import LATENCY_BUCKETS

    registry = CollectorRegistry(auto_describe=True)
    requests = Counter("tgo_plugin_requests", "Host→plugin requests by method and outcome", ["method", "outcome"],
                       registry=registry)
    latency = Histogram("tgo_plugin_request_seconds", "Host→plugin request latency by method", ["method"],
                        buckets=LATENCY_BUCKETS, registry=registry)
    timeouts = Counter("tgo_plugin_timeouts", "Host→plugin requests that hit their deadline", registry=registry)
    for method, outcome, seconds in observations:
        requests.labels(method, outcome).inc()
        latency.labels(method).observe(seconds)
        if outcome == "timeout":
            timeouts.inc()
    return generate_latest(registry)


def _without_created_values(text: bytes) -> str:
    return re.sub(r"^(\S+_created(?:\{[^}]*\})?) \S+$", r"\1 T", text.decode(), flags=re.M)


@pytest.mark.parametrize("count", [0, 1, 4, len(OBSERVATIONS)])
def test_request_stats_expose_what_prometheus_clients_classes_do(count):
    from prometheus_client import CollectorRegistry, generate_latest

    from tgo_host.api.metrics import _RequestStats

    stats = _RequestStats()
    registry = CollectorRegistry(auto_describe=True)
    registry.register(stats)
    for method, outcome, seconds in OBSERVATIONS[:count]:
        stats.observe(method, outcome, seconds)
    ours, theirs = generate_latest(registry), _prometheus_reference(OBSERVATIONS[:count])
    assert _without_created_values(ours) == _without_created_values(theirs)
    assert ours.count(b"_created") == theirs.count(b"_created")
