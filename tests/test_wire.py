"""The wire layer on real socket pairs: framing, and each trio-jsonrpc gap closed.

Each test names the gap of trio-jsonrpc/sansio-jsonrpc (design.md) it guards.
"""

from __future__ import annotations

import struct

import pytest
import trio

from conftest import RawClient
from tgo_host.wire.connection import RpcConnection
from tgo_host.wire.errors import ConnectionLost, InvalidResponse, RemoteError, RequestTimeout
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

@pytest.fixture
async def pair(nursery):
    """(RpcConnection under test, RawClient playing the plugin)."""
    a, b = trio.socket.socketpair()
    conn = RpcConnection(
        FramedTransport(trio.SocketStream(a), max_frame_bytes=4096, partial_frame_timeout=0.5), name="test-plugin"
    )
    nursery.start_soon(conn.run)
    peer = RawClient(trio.SocketStream(b))
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
    with pytest.raises(RequestTimeout) as info:
        await conn.request("visitor_panel/render", {}, timeout=0.2)
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
        nursery.start_soon(conn.run)
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
    nursery.start_soon(conn.run)
    peer = RawClient(trio.SocketStream(b))
    await peer.send({"jsonrpc": "2.0", "id": 3, "method": "hello"})
    reply = await peer.recv()
    assert reply == {"jsonrpc": "2.0", "id": 3, "error": {"code": -32600, "message": "Invalid Request: first message must be register"}}
    assert await peer.recv() is None


async def test_peer_that_never_reads_is_disconnected_not_blocking(nursery):
    a, b = trio.socket.socketpair()
    a.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_SNDBUF, 4096)
    conn = RpcConnection(FramedTransport(trio.SocketStream(a), max_frame_bytes=1024, max_send_buffer=64 * 1024), name="deaf")
    nursery.start_soon(conn.run)
    payload = {"blob": "x" * 900}
    with trio.fail_after(5):
        with pytest.raises(ConnectionLost) as info:
            for _ in range(10_000):
                with trio.move_on_after(0):
                    await conn.request("render", payload, timeout=10)
                await trio.sleep(0)
    assert "not reading" in str(info.value)
    b.close()
