"""Test support for the HTTP/1.1 server: a raw-socket client, a small ASGI app, a server in the test's nursery.

The client speaks bytes, so tests can send what no HTTP library would
(trickled heads, pipelined requests, broken framing) and read exactly what the
server wrote (interim 100 responses, close-delimited bodies, the FIN).
"""

from __future__ import annotations

import socket
from typing import Any

import attrs
import trio

from tgo_host.api.http1 import ClientGone, HttpLimits, serve_http


@attrs.define
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks: list[bytes] = attrs.Factory(list)  # the chunks of a chunked body, as sent


class RawClient:
    """Bytes over a real TCP connection, with a small HTTP/1.1 response parser."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""
        self.received = b""  # every byte read, parsed or not
        self.eof = False

    @classmethod
    async def connect(cls, port: int) -> "RawClient":
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> None:
        if self.eof:
            raise EOFError("the server closed the connection")
        try:
            data = await self.stream.receive_some(65536)
        except trio.BrokenResourceError:
            data = b""
        if not data:
            self.eof = True
            raise EOFError("the server closed the connection")
        self.buffer += data
        self.received += data

    async def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            await self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    async def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            await self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    async def reply(self, *, head: bool = False, timeout: float = 5.0) -> Reply:
        """The next response (an interim 1xx included); ``head``: no body follows (a HEAD request)."""
        with trio.fail_after(timeout):
            status_line = await self._line()
            status = int(status_line.split(b" ", 2)[1])
            headers: dict[str, str] = {}
            while line := await self._line():
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            reply = Reply(status, headers, b"")
            if head or status < 200 or status in (204, 304):
                return reply
            if headers.get("transfer-encoding") == "chunked":
                while True:
                    size = int((await self._line()).split(b";")[0], 16)
                    chunk = await self._exactly(size)
                    await self._exactly(2)
                    if size == 0:
                        break
                    reply.chunks.append(chunk)
                reply.body = b"".join(reply.chunks)
            elif "content-length" in headers:
                reply.body = await self._exactly(int(headers["content-length"]))
            else:  # close-delimited (HTTP/1.0)
                try:
                    while True:
                        await self._fill()
                except EOFError:
                    pass
                reply.body, self.buffer = self.buffer, b""
            return reply

    async def closed_within(self, seconds: float) -> bool:
        """Whether the server closes the connection within ``seconds`` (bytes before the close are kept)."""
        with trio.move_on_after(seconds):
            try:
                while True:
                    await self._fill()
            except EOFError:
                return True
        return False

    async def aclose(self) -> None:
        await self.stream.aclose()


class ProbeApp:
    """An ASGI app whose paths exercise the server; what it observed is in :attr:`seen`."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.release = trio.Event()  # /stream waits for it between its first and second chunk
        self.started = trio.Event()  # set when a /slow, /stream or /forever request has begun
        self.begun: list[str] = []  # the paths of those, in order

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["method"] == "HEAD":  # marked, so a parser of raw replies knows no body follows
            plain_send = send

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), (b"x-head", b"1")]}
                await plain_send(message)
        path = scope["path"]
        if path in ("/slow", "/stream", "/forever"):
            self.begun.append(path)
        query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
        if path == "/echo":
            body = await read_body(receive)
            info = f"{scope['method']} {scope['http_version']} {scope['raw_path'].decode()} q={scope['query_string'].decode()}"
            await respond(send, 200, body or info.encode(), [(b"x-info", info.encode())])
        elif path == "/ignore-body":
            await respond(send, 200, b"ignored")
        elif path == "/boom":
            raise ValueError("boom before the response")
        elif path == "/boom-midway":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise ValueError("boom after the response began")
        elif path == "/no-answer":
            return
        elif path == "/bad-header":  # a header value that would split the response
            await respond(send, 200, b"x", [(b"x-split", b"a\r\nset-cookie: evil=1")])
        elif path == "/too-long":  # more body than its Content-Length
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"3")]})
            await send({"type": "http.response.body", "body": b"abcdef"})
        elif path == "/slow":
            self.started.set()
            try:
                await trio.sleep(float(query.get("t", "1")))
            except trio.Cancelled:
                self.seen.append("slow cancelled")
                raise
            await respond(send, 200, b"slow done")
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
            self.started.set()
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif path == "/forever":  # streams until the client leaves (watching receive) or the task is cancelled
            await send({"type": "http.response.start", "status": 200, "headers": []})
            self.started.set()
            outcome = "cancelled"  # unless the client leaves first
            try:
                async with trio.open_nursery() as nursery:
                    async def watch() -> None:
                        while (await receive())["type"] != "http.disconnect":
                            pass
                        nonlocal outcome
                        outcome = "http.disconnect"
                        nursery.cancel_scope.cancel()
                    nursery.start_soon(watch)
                    while True:
                        await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                        await trio.sleep(0.02)
            finally:
                self.seen.append(("forever", outcome))
        elif path == "/big":  # sends 64 KiB chunks until send fails
            await send({"type": "http.response.start", "status": 200, "headers": []})
            sent = 0
            try:
                while True:
                    await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
                    sent += 65536
            except ClientGone as exc:
                self.seen.append(("big", "ClientGone", sent, str(exc)))
        elif path == "/disconnect":  # reads the body, then waits for the client to leave
            messages = []
            while True:
                message = await receive()
                messages.append(message["type"])
                if message["type"] == "http.disconnect":
                    break
            self.seen.append(("disconnect", messages))
        else:
            await respond(send, 404, b"no such path")


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone("disconnected")
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class RunningServer:
    """``serve_http`` running in a test nursery on 127.0.0.1 with its own stop event."""

    def __init__(self, app: Any, limits: HttpLimits) -> None:
        self.app = app
        self.limits = limits
        self.stopping = trio.Event()
        self.finished = trio.Event()
        self.port = 0

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        try:
            await serve_http(self.app, sock, stopping=self.stopping, limits=self.limits, task_status=task_status)
        finally:
            self.finished.set()

    async def client(self) -> RawClient:
        return await RawClient.connect(self.port)
