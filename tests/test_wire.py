"""The wire layer on real socket pairs: framing, and each trio-jsonrpc gap closed.

Each test names the gap of trio-jsonrpc/sansio-jsonrpc (design.md) it guards.
"""

from __future__ import annotations

import struct

import pytest
import trio

from support.rawclient import RawClient
from tgo_host.wire.connection import RpcConnection, request_each
from tgo_host.wire.errors import Busy, ConnectionLost, InvalidResponse, RemoteError, RequestTimeout
from tgo_host.wire.framing import FrameDecoder, FrameTooLarge, encode_frame
from tgo_host.wire.transport import FramedTransport


# -- framing (sans-IO) ------------------------------------------------------

def test_decoder_splits_and_joins_frames():
    data = encode_frame(b'{"a":1}') + encode_frame(b"[]") + encode_frame(b"x" * 10)
    decoder = FrameDecoder(100)
    frames = []
    for i in range(len(data)):  # one byte at a time
        frames += decoder.feed(data[i : i + 1])
    assert frames == [b'{"a":1}', b"[]", b"x" * 10]
    assert decoder.buffered == 0


def test_decoder_rejects_oversized_length_before_buffering_the_body():
    decoder = FrameDecoder(1024)
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed(struct.pack(">I", 0xFFFFFFFF))  # 4 GiB announced, nothing allocated
    assert info.value.limit == 1024 and "1024" in str(info.value)


def test_decoder_accepts_trailing_whitespace_inside_frame_as_part_of_json():
    assert FrameDecoder().feed(encode_frame(b'{"a":1}\n')) == [b'{"a":1}\n']


# -- a connection against a raw peer on a real socketpair ---------------------

async def connected(nursery, name="test-plugin", **conn_args):
    """An RpcConnection already running (started with ``nursery.start``, as sessions run it) and its raw peer."""
    a, b = trio.socket.socketpair()
    conn = RpcConnection(
        FramedTransport(trio.SocketStream(a), max_frame_bytes=4096, partial_frame_timeout=0.5), name=name, **conn_args
    )
    await nursery.start(conn.run)
    return conn, RawClient(trio.SocketStream(b))


@pytest.fixture
async def pair(nursery):
    """(RpcConnection under test, RawClient playing the plugin)."""
    conn, peer = await connected(nursery)
    yield conn, peer
    conn.close("test over")


async def answer(peer, request, **fields):
    await peer.send({"jsonrpc": "2.0", "id": request["id"], **fields})


async def expect_silence(peer, seconds=0.3):
    with trio.move_on_after(seconds):
        frame = await peer.recv(timeout=seconds + 1)
        raise AssertionError(f"expected no frame, got {frame}")


async def test_request_roundtrip_and_null_result(pair, nursery):
    """Gap: sansio-jsonrpc rejects ``"result": null``."""
    conn, peer = pair
    results = []

    async def call():
        results.append(await conn.request("visitor_panel/render", {"visitor_id": "v1"}, timeout=2))
        results.append(await conn.request("noop", None, timeout=2))

    nursery.start_soon(call)
    req = await peer.recv()
    assert req == {"jsonrpc": "2.0", "id": req["id"], "method": "visitor_panel/render", "params": {"visitor_id": "v1"}}
    await answer(peer, req, result={"template": "text", "data": {"text": "hi"}})
    req2 = await peer.recv()
    assert "params" not in req2
    await answer(peer, req2, result=None)
    await wait_until(lambda: len(results) == 2)
    assert results == [{"template": "text", "data": {"text": "hi"}}, None]
    assert conn.in_flight == 0


async def wait_until(predicate, timeout=5.0):
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_in_flight_requests_fail_at_once_when_connection_drops(pair, nursery):
    """Gap: trio-jsonrpc never wakes requests in flight when the connection closes."""
    conn, peer = pair
    errors = []

    async def call(i):
        try:
            await conn.request("visitor_panel/render", {"i": i}, timeout=30)
        except ConnectionLost as exc:
            errors.append((exc, trio.current_time()))

    for i in range(5):
        nursery.start_soon(call, i)
    for _ in range(5):
        await peer.recv()
    dropped_at = trio.current_time()
    await peer.aclose()
    await wait_until(lambda: len(errors) == 5)
    for exc, when in errors:
        assert "test-plugin" in str(exc)
        assert when - dropped_at < 1.0  # immediately, not after the 30 s deadline
    assert conn.in_flight == 0
    with pytest.raises(ConnectionLost):
        await conn.request("ping", timeout=1)


async def test_timed_out_request_leaves_nothing_and_late_reply_is_dropped_silently(pair):
    """Gap: a timed-out request's entry stays behind and its late reply is answered with an error."""
    conn, peer = pair
    start = trio.current_time()
    with trio.fail_after(5):  # a deadline that never fires fails here instead of hanging the suite
        with pytest.raises(RequestTimeout) as info:
            await conn.request("visitor_panel/render", {}, timeout=0.2)
    assert trio.current_time() - start >= 0.2
    assert "test-plugin" in str(info.value) and "visitor_panel/render" in str(info.value)
    assert conn.in_flight == 0
    req = await peer.recv()
    await answer(peer, req, result={"late": True})
    await expect_silence(peer)  # never answered
    assert conn.stats.dropped_responses == 1
    # the connection is still usable
    with trio.fail_after(3):
        async with trio.open_nursery() as n:
            n.start_soon(lambda: conn.request("ping", timeout=2))
            ping = await peer.recv()
            await answer(peer, ping, result={"pong": True})


async def test_cancelled_request_leaves_nothing_behind(pair):
    conn, peer = pair
    with trio.move_on_after(0.2):
        await conn.request("visitor_panel/render", {}, timeout=30)
    assert conn.in_flight == 0
    req = await peer.recv()
    await answer(peer, req, result=None)
    await expect_silence(peer)
    assert conn.stats.dropped_responses == 1


# -- deadlines: each request waits inside its own cancel scope -----------------
# On trio's autojump clock time is logical: a deadline fires exactly when due, so these
# tests pin the deadline itself (not "roughly"), and a deadline that never fires fails
# the surrounding fail_after at once instead of hanging.

async def test_each_request_times_out_exactly_at_its_own_deadline(pair, autojump_clock):
    """Three requests on one connection, the shortest sent last: each fires at send time + its own timeout."""
    conn, peer = pair
    ended = []

    async def call(name, timeout):
        start = trio.current_time()
        with pytest.raises(RequestTimeout) as info:
            await conn.request("visitor_panel/render", {"name": name}, timeout=timeout)
        ended.append((name, trio.current_time() - start, info.value.timeout))

    with trio.fail_after(60):
        async with trio.open_nursery() as n:
            n.start_soon(call, "long", 10.0)
            await trio.sleep(1.0)
            n.start_soon(call, "short", 2.0)
            await trio.sleep(0.5)
            n.start_soon(call, "mid", 5.0)
    assert [name for name, _, _ in ended] == ["short", "mid", "long"]
    for name, elapsed, timeout in ended:
        assert elapsed == pytest.approx(timeout, abs=1e-6), name
    assert conn.in_flight == 0


async def test_outside_cancellation_ends_the_wait_through_the_same_scope(pair, autojump_clock):
    """A caller's own scope (an HTTP client gone, shutdown) cancels the wait: Cancelled, not a timeout."""
    conn, peer = pair
    start = trio.current_time()
    with trio.move_on_after(1.5) as outer:
        await conn.request("visitor_panel/render", {}, timeout=30)
    assert outer.cancelled_caught
    assert trio.current_time() - start == pytest.approx(1.5, abs=1e-6)
    assert conn.in_flight == 0


async def test_max_in_flight_answers_busy_at_once_and_sends_nothing(nursery):
    conn, peer = await connected(nursery, max_in_flight=2)
    results = []

    async def call(i):
        results.append(await conn.request("render", {"i": i}, timeout=30))

    nursery.start_soon(call, 0)
    nursery.start_soon(call, 1)
    first = [await peer.recv(), await peer.recv()]
    assert conn.in_flight == 2
    with pytest.raises(Busy) as info:
        await conn.request("render", {"i": 2}, timeout=30)  # raised before any checkpoint: no wait at all
    assert "test-plugin" in str(info.value) and info.value.limit == 2
    await expect_silence(peer)  # the refused request was never sent
    for req in first:
        await answer(peer, req, result=req["params"]["i"])
    await wait_until(lambda: sorted(results) == [0, 1])
    assert conn.in_flight == 0
    conn.close("test over")


# -- the fan-out: every request written, one wait under one cancel scope ------

async def test_request_each_ends_at_one_deadline_with_each_outcome_its_own(nursery, autojump_clock):
    """Gap-free fan-out: two hung peers, a slow failing one, two quick ones, a closed and a busy connection.

    The call takes exactly one deadline (not one per hung peer), and every request
    is settled on its own, with how long it took.
    """
    pairs = [await connected(nursery, name=f"p{i}") for i in range(6)]
    pairs.append(await connected(nursery, name="p6", max_in_flight=0))
    conns = [conn for conn, _ in pairs]
    peers = [peer for _, peer in pairs]

    async def answering(peer, delay, **fields):
        req = await peer.recv(timeout=60)
        await trio.sleep(delay)
        await answer(peer, req, **fields)

    nursery.start_soon(lambda: answering(peers[0], 0.1, result={"i": 0}))
    nursery.start_soon(lambda: answering(peers[1], 0.4, result=None))
    nursery.start_soon(lambda: answering(peers[2], 1.5, error={"code": -32000, "message": "CRM down"}))
    conns[5].close("gone")
    start = trio.current_time()
    with trio.fail_after(60):
        answers = await request_each([(conn, "visitor_panel/render", {"i": i}) for i, conn in enumerate(conns)], timeout=2.0)
    assert trio.current_time() - start == pytest.approx(2.0, abs=1e-6)
    (a0, s0), (a1, s1), (a2, s2), (a3, s3), (a4, s4), (a5, s5), (a6, s6) = answers
    assert a0.unwrap() == {"i": 0} and s0 == pytest.approx(0.1, abs=1e-6)
    assert a1.unwrap() is None and s1 == pytest.approx(0.4, abs=1e-6)
    with pytest.raises(RemoteError) as info:
        a2.unwrap()
    assert info.value.peer == "p2" and info.value.code == -32000 and s2 == pytest.approx(1.5, abs=1e-6)
    for hung, seconds, name in ((a3, s3, "p3"), (a4, s4, "p4")):
        with pytest.raises(RequestTimeout) as info:
            hung.unwrap()
        assert info.value.peer == name and info.value.timeout == 2.0 and seconds == pytest.approx(2.0, abs=1e-6)
    with pytest.raises(ConnectionLost):
        a5.unwrap()
    with pytest.raises(Busy):
        a6.unwrap()
    assert s5 == 0 and s6 == 0
    assert all(conn.in_flight == 0 for conn in conns)
    # a hung peer's late answer matches nothing: dropped, counted, never answered
    req = await peers[3].recv()
    await answer(peers[3], req, result={"late": True})
    await wait_until(lambda: conns[3].stats.dropped_responses == 1)
    await expect_silence(peers[3])
    for conn in conns:
        conn.close("test over")


async def test_request_each_wakes_when_the_last_answer_is_in(nursery, autojump_clock):
    """No hung peer: the wait ends with the last answer, not at the deadline; a dropped connection
    fails its own request at once and the others keep waiting."""
    pairs = [await connected(nursery, name=f"q{i}") for i in range(3)]
    conns = [conn for conn, _ in pairs]

    async def answering(peer, delay):
        req = await peer.recv(timeout=60)
        await trio.sleep(delay)
        await answer(peer, req, result=req["params"])

    async def dropping(peer, delay):
        await peer.recv(timeout=60)
        await trio.sleep(delay)
        await peer.aclose()

    nursery.start_soon(answering, pairs[0][1], 0.7)
    nursery.start_soon(dropping, pairs[1][1], 0.2)
    nursery.start_soon(answering, pairs[2][1], 0.3)
    start = trio.current_time()
    with trio.fail_after(60):
        answers = await request_each([(conn, "render", {"n": i}) for i, conn in enumerate(conns)], timeout=5.0)
    assert trio.current_time() - start == pytest.approx(0.7, abs=1e-6)
    assert answers[0][0].unwrap() == {"n": 0} and answers[2][0].unwrap() == {"n": 2}
    with pytest.raises(ConnectionLost) as info:
        answers[1][0].unwrap()
    assert info.value.peer == "q1"
    assert [seconds for _, seconds in answers] == pytest.approx([0.7, 0.2, 0.3], abs=1e-6)
    assert all(conn.in_flight == 0 for conn in conns)
    for conn in conns:
        conn.close("test over")


async def test_request_each_cancelled_from_outside_leaves_nothing_behind(nursery, autojump_clock):
    pairs = [await connected(nursery, name=f"c{i}") for i in range(3)]
    conns = [conn for conn, _ in pairs]
    with trio.move_on_after(1.0) as outer:
        await request_each([(conn, "render", None) for conn in conns], timeout=30)
    assert outer.cancelled_caught
    assert all(conn.in_flight == 0 for conn in conns)
    for conn, peer in pairs:
        await answer(peer, await peer.recv(), result=1)
    await wait_until(lambda: all(conn.stats.dropped_responses == 1 for conn in conns))
    for conn in conns:
        conn.close("test over")


@pytest.mark.parametrize(
    "payload, code, fragment",
    [
        (b"{not json", -32700, "invalid JSON"),
        (b'{"a": "\xff\xfe"}', -32700, "UTF-8"),
        (b"42", -32600, "number"),
        (b'"text"', -32600, "string"),
        (b"null", -32600, "null"),
        (b'[{"jsonrpc":"2.0","id":1,"method":"x"}]', -32600, "batch"),
        (b'{"id": 5, "result": {}}', -32600, "jsonrpc"),
        (b'{"jsonrpc":"2.0","id":1}', -32600, "neither"),
        (b'{"jsonrpc":"1.0","id":7,"method":"x"}', -32600, "jsonrpc"),
        (b'{"jsonrpc":"2.0","id":7,"result":1,"error":{"code":1,"message":"x"}}', -32600, "both"),
        (b'{"jsonrpc":"2.0","id":7,"error":"bad"}', -32600, "error"),
    ],
)
async def test_bad_messages_get_json_rpc_errors_and_connection_survives(pair, nursery, payload, code, fragment):
    """Gap: non-object JSON raises TypeError/KeyError inside trio-jsonrpc's task and is dropped."""
    conn, peer = pair
    await peer.send_frame(payload)
    reply = await peer.recv()
    assert reply["jsonrpc"] == "2.0"
    assert reply["error"]["code"] == code
    assert fragment in reply["error"]["message"]
    if code == -32700 or reply.get("id") is None:
        assert reply["id"] is None
    # still alive
    results = []

    async def call():
        results.append(await conn.request("ping", timeout=2))

    nursery.start_soon(call)
    ping = await peer.recv()
    await answer(peer, ping, result={"pong": True})
    await wait_until(lambda: results == [{"pong": True}])


async def test_unknown_response_ids_are_dropped_without_answer(pair):
    conn, peer = pair
    for i in range(50):
        await peer.send({"jsonrpc": "2.0", "id": 10_000 + i, "result": {"x": i}})
    await expect_silence(peer)
    assert conn.stats.dropped_responses == 50


async def test_malformed_response_to_in_flight_request_fails_that_request_at_once(pair, nursery):
    conn, peer = pair
    failures = []

    async def call():
        with pytest.raises(InvalidResponse) as info:
            await conn.request("visitor_panel/render", {}, timeout=30)
        failures.append(info.value)

    nursery.start_soon(call)
    req = await peer.recv()
    await peer.send({"id": req["id"], "result": {}})  # missing "jsonrpc"
    reply = await peer.recv()
    assert reply["error"]["code"] == -32600
    await wait_until(lambda: failures)
    assert "jsonrpc" in str(failures[0]) and conn.in_flight == 0


async def test_remote_error_carries_code_message_data(pair, nursery):
    conn, peer = pair
    failures = []

    async def call():
        with pytest.raises(RemoteError) as info:
            await conn.request("tool/execute", {}, timeout=5)
        failures.append(info.value)

    nursery.start_soon(call)
    req = await peer.recv()
    await answer(peer, req, error={"code": -32003, "message": "no such order", "data": {"order": 9}})
    await wait_until(lambda: failures)
    exc = failures[0]
    assert (exc.code, exc.error_message, exc.data) == (-32003, "no such order", {"order": 9})


async def test_many_concurrent_requests_answered_out_of_order(pair, nursery):
    """Gap: concurrent sends on one trio stream raise BusyResourceError unless serialised."""
    conn, peer = pair
    results = {}

    async def call(i):
        results[i] = await conn.request("render", {"i": i}, timeout=10)

    for i in range(200):
        nursery.start_soon(call, i)
    requests = [await peer.recv() for _ in range(200)]
    for req in reversed(requests):
        await answer(peer, req, result=req["params"]["i"] * 2)
    await wait_until(lambda: len(results) == 200)
    assert all(results[i] == i * 2 for i in range(200))
    assert conn.in_flight == 0


async def test_oversized_frame_closes_only_that_connection(nursery):
    conns = []
    peers = []
    for name in ("bad", "good"):
        a, b = trio.socket.socketpair()
        conn = RpcConnection(FramedTransport(trio.SocketStream(a), max_frame_bytes=1024), name=name)
        await nursery.start(conn.run)
        conns.append(conn)
        peers.append(RawClient(trio.SocketStream(b)))
    await peers[0].send_raw(struct.pack(">I", 50_000_000))
    reply = await peers[0].recv()
    assert reply["error"]["code"] == -32600 and "1024" in reply["error"]["message"]
    assert await peers[0].recv() is None  # closed
    await wait_until(lambda: conns[0].closed.is_set())
    assert "exceeds the limit" in conns[0].close_reason
    # the other connection is untouched
    results = []

    async def call():
        results.append(await conns[1].request("ping", timeout=2))

    nursery.start_soon(call)
    ping = await peers[1].recv()
    await answer(peers[1], ping, result={"pong": True})
    await wait_until(lambda: results)
    conns[1].close("done")


async def test_stalled_partial_frame_disconnects(pair):
    conn, peer = pair
    await peer.send_raw(struct.pack(">I", 100) + b'{"jsonrpc"')
    with trio.fail_after(3):
        await conn.closed.wait()
    assert "stalled" in conn.close_reason


async def test_first_message_must_be_register(nursery):
    a, b = trio.socket.socketpair()
    conn = RpcConnection(FramedTransport(trio.SocketStream(a)), name="p", first_method="register")
    await nursery.start(conn.run)
    peer = RawClient(trio.SocketStream(b))
    await peer.send({"jsonrpc": "2.0", "id": 3, "method": "hello"})
    reply = await peer.recv()
    assert reply == {"jsonrpc": "2.0", "id": 3, "error": {"code": -32600, "message": "Invalid Request: first message must be register"}}
    assert await peer.recv() is None


async def test_peer_that_never_reads_is_disconnected_not_blocking(nursery):
    a, b = trio.socket.socketpair()
    a.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_SNDBUF, 4096)
    conn = RpcConnection(FramedTransport(trio.SocketStream(a), max_frame_bytes=1024, max_send_buffer=64 * 1024), name="deaf")
    await nursery.start(conn.run)
    payload = {"blob": "x" * 900}
    with trio.fail_after(5):
        with pytest.raises(ConnectionLost) as info:
            for _ in range(10_000):
                with trio.move_on_after(0):
                    await conn.request("render", payload, timeout=10)
                await trio.sleep(0)
    assert "not reading" in str(info.value)
    b.close()
