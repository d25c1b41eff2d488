"""The HTTP/1.1 server (tgo_host/api/http1.py) over real sockets: every protocol edge and protection it promises.

Each test runs ``serve_http`` in the test's nursery with a small ASGI app
(tests/httpraw.py) and short timeouts, and talks raw bytes to it.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import trio

from httpraw import ProbeApp, RawClient, RunningServer
from tgo_host.api.http1 import HttpLimits, accept_loop

FAST = HttpLimits(
    max_header_bytes=8 * 1024, max_body_bytes=64 * 1024, keep_alive_timeout=0.6, header_timeout=0.6,
    read_timeout=0.6, write_timeout=0.6, drain_timeout=1.0,
)


@pytest.fixture
async def server(nursery):
    running = RunningServer(ProbeApp(), FAST)
    await nursery.start(running.run)
    yield running
    running.stopping.set()


def get(path: str, *extra: str, version: str = "1.1", method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: localhost", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(path: str, body: bytes, *extra: str) -> bytes:
    return get(path, f"Content-Length: {len(body)}", *extra, method="POST") + body


# -- keep-alive, pipelining, HEAD, HTTP/1.0, Connection: close ------------------------------------------


async def test_keep_alive_serves_several_requests_on_one_connection(server):
    client = await server.client()
    for i in range(3):
        await client.send(get(f"/echo?i={i}"))
        reply = await client.reply()
        assert reply.status == 200 and reply.body == f"GET 1.1 /echo q=i={i}".encode()
        assert "date" in reply.headers and "connection" not in reply.headers


async def test_pipelined_requests_are_answered_in_order(server):
    client = await server.client()
    await client.send(get("/echo?n=1") + post("/echo", b"second body") + get("/missing") + get("/echo?n=4"))
    replies = [await client.reply() for _ in range(4)]
    assert [r.status for r in replies] == [200, 200, 404, 200]
    assert [r.body for r in replies] == [b"GET 1.1 /echo q=n=1", b"second body", b"no such path", b"GET 1.1 /echo q=n=4"]


async def test_head_answers_headers_without_body(server):
    client = await server.client()
    await client.send(get("/echo", method="HEAD") + get("/echo?after"))
    head = await client.reply(head=True)
    assert head.status == 200 and head.headers["content-length"] == str(len(b"HEAD 1.1 /echo q="))
    after = await client.reply()  # the connection stays in sync: no body bytes were sent for HEAD
    assert after.body == b"GET 1.1 /echo q=after"


async def test_connection_close_is_honoured(server):
    client = await server.client()
    await client.send(get("/echo", "Connection: close"))
    reply = await client.reply()
    assert reply.status == 200 and reply.headers["connection"] == "close"
    assert await client.closed_within(2)


async def test_http10_client_gets_an_answer_and_a_close(server):
    client = await server.client()
    await client.send(get("/echo", version="1.0"))
    reply = await client.reply()
    assert reply.status == 200 and reply.body == b"GET 1.0 /echo q="
    assert await client.closed_within(2)
    # a streamed answer to HTTP/1.0 is close-delimited (no chunked encoding)
    server.app.release.set()
    client = await server.client()
    await client.send(get("/stream", version="1.0"))
    reply = await client.reply()
    assert "transfer-encoding" not in reply.headers and reply.body == b"data: 1\n\ndata: 2\n\n"


# -- request bodies ---------------------------------------------------------------------------------------


async def test_chunked_request_body_reaches_the_app(server):
    client = await server.client()
    chunked = b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"
    await client.send(get("/echo", "Transfer-Encoding: chunked", method="POST") + chunked + get("/echo?next"))
    assert (await client.reply()).body == b"hello world"
    assert (await client.reply()).body == b"GET 1.1 /echo q=next"


async def test_expect_100_continue(server):
    client = await server.client()
    await client.send(get("/echo", "Content-Length: 5", "Expect: 100-continue", method="POST"))
    interim = await client.reply()
    assert interim.status == 100
    await client.send(b"12345")
    assert (await client.reply()).body == b"12345"
    # an app answering without reading the body: no 100, and the connection closes (the body may or may not come)
    await client.send(get("/ignore-body", "Content-Length: 5", "Expect: 100-continue", method="POST"))
    reply = await client.reply()
    assert reply.status == 200 and reply.headers["connection"] == "close"
    assert await client.closed_within(3)


async def test_unread_body_is_discarded_and_the_connection_reused(server):
    client = await server.client()
    await client.send(post("/ignore-body", b"x" * 5000) + get("/echo?next"))
    assert (await client.reply()).body == b"ignored"
    assert (await client.reply()).body == b"GET 1.1 /echo q=next"


async def test_declared_body_over_the_limit_gets_413_unread(server):
    client = await server.client()
    await client.send(get("/echo", f"Content-Length: {FAST.max_body_bytes + 1}", "Expect: 100-continue", method="POST"))
    reply = await client.reply()
    assert reply.status == 413 and reply.headers["connection"] == "close"
    assert b"exceeds the limit of 65536 bytes" in reply.body
    assert await client.closed_within(3)


async def test_chunked_body_over_the_limit_is_cut_off(server):
    client = await server.client()
    await client.send(get("/disconnect", "Transfer-Encoding: chunked", method="POST"))
    chunk = b"x" * 16384
    with trio.move_on_after(5):
        try:
            for _ in range(8):  # 128 KiB > 64 KiB
                await client.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except trio.BrokenResourceError:
            pass
    assert await client.closed_within(5)
    [(name, messages)] = server.app.seen
    assert name == "disconnect" and messages[-1] == "http.disconnect"
    assert messages.count("http.request") <= 5  # the app saw at most the limit and the chunk crossing it


# -- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
])
async def test_malformed_request_gets_400_and_a_close(server, request_bytes, status):
    client = await server.client()
    await client.send(request_bytes)
    reply = await client.reply()
    assert reply.status == status and reply.headers["connection"] == "close"
    assert await client.closed_within(3)


async def test_header_too_large_gets_431(server):
    client = await server.client()  # one big header arriving in pieces (h11's buffer limit)
    await client.send(get("/echo", "X-Big: " + "a" * (FAST.max_header_bytes + 100)))
    reply = await client.reply()
    assert reply.status == 431 and reply.headers["connection"] == "close"
    assert await client.closed_within(3)
    client = await server.client()  # many headers in one complete head just over the limit
    headers = [f"X-H{i}: " + "b" * 100 for i in range(FAST.max_header_bytes // 100)]
    await client.send(get("/echo", *headers))
    assert (await client.reply()).status == 431
    assert await client.closed_within(3)


async def test_app_exception_before_the_response_gives_500_and_a_usable_connection(server):
    client = await server.client()
    await client.send(get("/boom") + get("/no-answer") + get("/echo?after"))
    assert (await client.reply()).status == 500
    assert (await client.reply()).status == 500
    assert (await client.reply()).body == b"GET 1.1 /echo q=after"


async def test_app_exception_after_the_response_began_closes_the_connection(server):
    client = await server.client()
    await client.send(get("/boom-midway"))
    with pytest.raises(EOFError):
        await client.reply()  # the chunked body never ends: the connection is closed instead
    assert b"\r\n7\r\npartial\r\n" in client.received and not client.received.endswith(b"0\r\n\r\n")


async def test_app_response_that_would_break_the_framing_is_refused(server):
    client = await server.client()
    await client.send(get("/bad-header") + get("/echo?after"))
    reply = await client.reply()
    assert reply.status == 500 and "set-cookie" not in reply.headers  # no response splitting
    assert (await client.reply()).body == b"GET 1.1 /echo q=after"
    await client.send(get("/too-long"))
    reply = await client.reply()  # nothing of the broken answer went out: a 500 instead
    assert reply.status == 500 and reply.headers["connection"] == "close"
    assert await client.closed_within(3)


# -- disconnects and timeouts -----------------------------------------------------------------------------


async def test_client_leaving_mid_body_is_http_disconnect(server):
    client = await server.client()
    await client.send(get("/disconnect", "Content-Length: 100", method="POST") + b"only part")
    await trio.sleep(0.1)
    await client.aclose()
    with trio.fail_after(3):
        while not server.app.seen:
            await trio.sleep(0.01)
    assert server.app.seen == [("disconnect", ["http.request", "http.disconnect"])]


async def test_client_leaving_after_its_request_is_http_disconnect(server):
    client = await server.client()
    await client.send(post("/disconnect", b"whole"))
    await trio.sleep(0.2)
    assert server.app.seen == []  # the app waits: no disconnect while the client is there
    await client.aclose()
    with trio.fail_after(3):
        while not server.app.seen:
            await trio.sleep(0.01)
    assert server.app.seen == [("disconnect", ["http.request", "http.disconnect"])]


async def test_slowloris_head_is_cut_off_after_the_header_timeout(server):
    client = await server.client()
    start = trio.current_time()
    request = get("/echo", "X-Slow: " + "z" * 50)
    with trio.move_on_after(5):
        try:
            for byte in request[:-4]:  # never finishes the head
                await client.send(bytes([byte]))
                await trio.sleep(0.05)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
    reply = await client.reply()
    assert reply.status == 408
    assert await client.closed_within(2)
    assert trio.current_time() - start < FAST.header_timeout + 2


async def test_stalled_body_is_dropped_after_the_read_timeout(server):
    client = await server.client()
    await client.send(get("/disconnect", "Content-Length: 10", method="POST") + b"abc")
    assert await client.closed_within(FAST.read_timeout + 3)
    assert server.app.seen == [("disconnect", ["http.request", "http.disconnect"])]


async def test_client_that_stops_reading_is_dropped_after_the_write_timeout(server):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    client = RawClient(trio.SocketStream(trio.socket.from_stdlib_socket(sock)))
    await client.send(get("/big"))
    with trio.fail_after(20):  # the server fills the socket buffers, then gives up within write_timeout
        while not server.app.seen:
            await trio.sleep(0.05)
    [(_, kind, sent, message)] = server.app.seen
    assert kind == "ClientGone" and "stopped reading" in message  # not a reset: a write that did not finish
    await client.aclose()


async def test_idle_keep_alive_connection_closes_after_the_timeout(server):
    client = await server.client()
    await client.send(get("/echo"))
    await client.reply()
    start = trio.current_time()
    assert await client.closed_within(FAST.keep_alive_timeout + 2)
    assert trio.current_time() - start >= FAST.keep_alive_timeout - 0.1
    silent = await server.client()  # a connection that never sends anything
    assert await silent.closed_within(FAST.keep_alive_timeout + 2)
    assert silent.buffer == b""  # closed without an answer


# -- streaming --------------------------------------------------------------------------------------------


async def test_streaming_response_arrives_chunk_by_chunk(server):
    client = await server.client()
    await client.send(get("/stream"))
    with trio.fail_after(3):
        while b"data: 1" not in client.buffer:
            await client._fill()
    assert b"data: 2" not in client.buffer  # the first chunk was sent before the app produced the second
    server.app.release.set()
    assert client.buffer.startswith(b"HTTP/1.1 200 ")
    reply = await client.reply()
    assert reply.headers["transfer-encoding"] == "chunked" and reply.chunks == [b"data: 1\n\n", b"data: 2\n\n"]


# -- graceful drain ---------------------------------------------------------------------------------------


async def test_drain_finishes_in_flight_requests_and_closes_idle_connections(server):
    idle = await server.client()
    await idle.send(get("/echo"))
    await idle.reply()
    busy = await server.client()
    await busy.send(get("/slow?t=0.5"))
    await server.app.started.wait()
    server.stopping.set()
    assert await idle.closed_within(0.3)  # idle keep-alive connection: closed at once
    with pytest.raises(OSError):
        await RawClient.connect(server.port)  # no longer accepting
    reply = await busy.reply()
    assert reply.body == b"slow done" and reply.headers["connection"] == "close"
    assert await busy.closed_within(2)
    with trio.fail_after(2):
        await server.finished.wait()
    assert server.app.seen == []


async def test_drain_cancels_what_outlives_the_drain_timeout(server):
    slow = await server.client()
    await slow.send(get("/slow?t=30"))
    stream = await server.client()
    await stream.send(get("/forever"))
    with trio.fail_after(3):
        while len(server.app.begun) < 2:
            await trio.sleep(0.01)
    start = trio.current_time()
    server.stopping.set()
    with trio.fail_after(FAST.drain_timeout + 2):
        await server.finished.wait()
    assert trio.current_time() - start >= FAST.drain_timeout - 0.1
    assert sorted(map(str, server.app.seen)) == sorted(["slow cancelled", "('forever', 'cancelled')"])
    assert await slow.closed_within(1) and await stream.closed_within(1)


# -- the accept loop --------------------------------------------------------------------------------------


class FailingListener:
    """A real listening socket whose accept() first fails with the given errnos."""

    def __init__(self, sock: trio.socket.SocketType, errnos: list[int]) -> None:
        self.sock = sock
        self.errnos = errnos

    async def accept(self):
        await trio.lowlevel.checkpoint()
        if self.errnos:
            code = self.errnos.pop(0)
            raise OSError(code, os.strerror(code))
        return await self.sock.accept()


async def test_accept_loop_retries_capacity_errors_and_raises_others(nursery):
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    accepted = []

    async def handler(sock, address):
        accepted.append(address)
        sock.close()

    flaky = FailingListener(listener, [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM])
    async with trio.open_nursery() as loops:
        loops.start_soon(accept_loop, flaky, handler, loops)
        client = await trio.open_tcp_stream("127.0.0.1", port)
        with trio.fail_after(3):
            while not accepted:
                await trio.sleep(0.01)
        await client.aclose()
        assert flaky.errnos == []  # every capacity error was retried
        loops.cancel_scope.cancel()
    broken = FailingListener(listener, [errno.EBADF])
    with pytest.raises(OSError) as raised:
        await accept_loop(broken, handler, nursery)
    assert raised.value.errno == errno.EBADF
    listener.close()


EMFILE_SERVER = textwrap.dedent("""
    import resource, socket, sys, trio
    from tgo_host.api.http1 import HttpLimits, serve_http
    sys.path.insert(0, sys.argv[1])
    from httpraw import ProbeApp

    async def main():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        stopping = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: serve_http(ProbeApp(), sock, stopping=stopping,
                                limits=HttpLimits(keep_alive_timeout=30), task_status=task_status))
            # room for 8 more descriptors: the 9th connection cannot be accepted (EMFILE) until one closes
            opened = len(__import__("os").listdir("/proc/self/fd"))
            resource.setrlimit(resource.RLIMIT_NOFILE, (opened + 8, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
            print(sock.getsockname()[1], flush=True)
            await trio.sleep(60)
            stopping.set()

    trio.run(main)
""")


async def test_out_of_file_descriptors_the_server_waits_and_recovers():
    tests_dir = os.path.dirname(__file__)
    proc = subprocess.Popen([sys.executable, "-c", EMFILE_SERVER, tests_dir], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    clients = []
    try:
        port = int(await trio.to_thread.run_sync(proc.stdout.readline))
        for _ in range(12):  # past the limit: the last ones wait in the backlog
            client = await RawClient.connect(port)
            await client.send(get("/echo"))
            clients.append(client)
        answered = []
        for client in clients:
            try:
                await client.reply(timeout=1.0)
            except trio.TooSlowError:
                break
            answered.append(client)
        assert 0 < len(answered) < len(clients)  # some could not be accepted for lack of descriptors
        for client in answered:
            await client.aclose()
        for client in clients[len(answered):]:  # once descriptors are free, the waiting ones are served
            assert (await client.reply(timeout=5)).status == 200
        assert proc.poll() is None  # the server is still up
    finally:
        for client in clients:
            await client.aclose()
        proc.kill()
        _, stderr = proc.communicate(timeout=10)
    assert "HTTP accept failed" in stderr and "Too many open files" in stderr


async def test_streaming_response_ends_when_the_client_leaves(server):
    client = await server.client()
    await client.send(get("/forever"))
    with trio.fail_after(3):
        while client.received.count(b"tick") < 3:
            await client._fill()
    await client.aclose()
    with trio.fail_after(3):
        while not server.app.seen:
            await trio.sleep(0.01)
    assert server.app.seen == [("forever", "http.disconnect")]


# -- fuzzing: mutated and random requests against the real server -----------------------------------------

FUZZ_EXAMPLES = int(os.environ.get("TGO_PROPERTY_EXAMPLES", "200"))
FUZZ_PATHS = ["/echo", "/echo?a=1&b=%20", "/ignore-body", "/boom", "/no-answer", "/missing", "/disconnect",
              "/stream", "/%7e%zz", "*", "http://h/echo"]


def request_strategy():
    from hypothesis import strategies as st

    token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
    header = st.tuples(token, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))

    @st.composite
    def valid(draw):
        method = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]))
        path = draw(st.sampled_from(FUZZ_PATHS))
        version = draw(st.sampled_from(["1.1", "1.1", "1.0"]))
        headers = [("Host", "localhost"), *draw(st.lists(header, max_size=4))]
        body = draw(st.binary(max_size=300))
        framing = draw(st.sampled_from(["length", "chunked", "none", "expect"]))
        if framing == "length" or framing == "expect":
            headers.append(("Content-Length", str(len(body))))
            if framing == "expect":
                headers.append(("Expect", "100-continue"))
        elif framing == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
            pieces = [body[i:i + 50] for i in range(0, len(body), 50)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        else:
            body = b""
        if draw(st.booleans()):
            headers.append(("Connection", draw(st.sampled_from(["close", "keep-alive", "upgrade"]))))
        head = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
        return head.encode() + body

    @st.composite
    def mutated(draw):
        data = bytearray(b"".join(draw(st.lists(valid(), min_size=1, max_size=3))))  # pipelined
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
            at = draw(st.integers(0, max(0, len(data) - 1)))
            if kind == "flip" and data:
                data[at] = draw(st.integers(0, 255))
            elif kind == "insert":
                data[at:at] = draw(st.sampled_from([b"\r\n", b"\n", b":", b" ", b"\x00", b"0\r\n", b"GET / HTTP/1.1\r\n"]))
            elif kind == "delete" and data:
                del data[at:at + draw(st.integers(1, 10))]
            elif kind == "truncate":
                del data[at:]
        return bytes(data)

    return st.one_of(mutated(), valid(), st.binary(max_size=500))


def parse_responses(data: bytes) -> list[int]:
    """The statuses of the complete HTTP/1.1 responses ``data`` holds; AssertionError if it holds anything else."""
    statuses = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {head[:200]!r}"
        lines = head.split(b"\r\n")
        version, status, _ = (lines[0].split(b" ", 2) + [b""])[:3]
        assert version == b"HTTP/1.1" and status.isdigit() and len(status) == 3, lines[0]
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
        statuses.append(int(status))
        if int(status) < 200 or int(status) in (204, 304) or headers.get(b"x-head") == b"1":
            continue
        if headers.get(b"transfer-encoding") == b"chunked":
            while True:
                size_line, sep, data = data.partition(b"\r\n")
                assert sep, "incomplete chunk size line"
                size = int(size_line, 16)
                assert len(data) >= size + 2 and data[size:size + 2] == b"\r\n", "incomplete chunk"
                data = data[size + 2:]
                if size == 0:
                    break
        elif b"content-length" in headers:
            length = int(headers[b"content-length"])
            assert len(data) >= length, "incomplete body"
            data = data[length:]
        else:
            data = b""  # close-delimited
    return statuses


class ServerThread:
    """``serve_http`` in its own thread and trio run, for synchronous (hypothesis) tests."""

    def __init__(self) -> None:
        import threading

        self.ready = threading.Event()
        self.failures: list[str] = []
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        from httpraw import RunningServer

        app = ProbeApp()
        app.release.set()
        self.running = RunningServer(app, FAST)
        self.token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            await nursery.start(self.running.run)
            self.ready.set()

    def __enter__(self) -> "ServerThread":
        import logging

        class Collect(logging.Handler):
            def emit(handler, record):  # noqa: N805
                if record.getMessage().startswith("HTTP connection from"):
                    self.failures.append(record.getMessage())

        self.handler = Collect(logging.ERROR)
        logging.getLogger("tgo_host.api.http").addHandler(self.handler)
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        import logging

        trio.from_thread.run_sync(self.running.stopping.set, trio_token=self.token)
        self.thread.join(10)
        logging.getLogger("tgo_host.api.http").removeHandler(self.handler)
        assert not self.thread.is_alive(), "the server did not stop"


@pytest.mark.timeout(240)
def test_fuzzed_requests_get_responses_or_a_close_never_a_crash_or_a_hang():
    from hypothesis import HealthCheck, given, settings

    with ServerThread() as server:
        port = server.running.port

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(request_strategy())
        def check(data: bytes) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                try:
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # the server may already have answered and closed
                received = b""
                start = time.monotonic()
                while True:
                    try:
                        chunk = sock.recv(65536)
                    except ConnectionResetError:
                        break
                    if not chunk:
                        break
                    received += chunk
                    assert time.monotonic() - start < 8, "the server neither finished nor closed"
            try:
                parse_responses(received)
            except (AssertionError, ValueError) as exc:
                raise AssertionError(f"sent {data!r}, got {received!r}: {exc}") from None
            assert not server.failures, server.failures

        check()
        # still serving after everything it was sent
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(get("/echo", "Connection: close"))
            assert sock.recv(100).startswith(b"HTTP/1.1 200 ")


# -- the host's own API on this server --------------------------------------------------------------------


@pytest.fixture
async def host_api(settings, nursery):
    from tgo_host.api.server import http_service
    from tgo_host.host import Host

    settings.http_addr = "127.0.0.1:0"
    settings.max_http_body_bytes = 4096
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    yield host
    host.request_stop()


async def test_host_api_limits_answer_in_the_api_error_shape(host_api):
    import json

    port = int(host_api.http_binds[0].rsplit(":", 1)[1])
    client = await RawClient.connect(port)
    await client.send(get("/plugins", "X-Big: " + "a" * (70 * 1024)))
    reply = await client.reply()
    assert reply.status == 431 and json.loads(reply.body)["error"]["type"] == "headers_too_large"
    client = await RawClient.connect(port)
    await client.send(get("/plugins/visitor-panel/render", "Content-Type: application/json",
                          "Content-Length: 5000", method="POST"))
    reply = await client.reply()
    body = json.loads(reply.body)
    assert reply.status == 413 and body["error"]["type"] == "body_too_large" and body["detail"]
    assert "limit of 4096 bytes" in body["detail"]
    client = await RawClient.connect(port)  # a chunked body past the limit: the app's own 413 (api/bodies.py)
    await client.send(get("/plugins/visitor-panel/render", "Content-Type: application/json",
                          "Transfer-Encoding: chunked", method="POST") + b"1400\r\n" + b" " * 0x1400 + b"\r\n0\r\n\r\n")
    reply = await client.reply()
    assert reply.status == 413 and json.loads(reply.body)["error"]["type"] == "body_too_large"
    client = await RawClient.connect(port)
    await client.send(get("/healthz", method="HEAD") + get("/healthz"))
    head = await client.reply(head=True)
    assert head.status == 200 and int(head.headers["content-length"]) == len(b'{"status":"ok"}')
    assert (await client.reply()).body == b'{"status":"ok"}'
