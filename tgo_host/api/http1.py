"""A lean HTTP/1.1 server for one ASGI app, on h11, inside the caller's nursery tree.

::

    serve_http(app, sock, limits, stopping)
    ├─ accept loop                 one task per accepted connection; capacity errnos retried, others raised
    └─ connections nursery         outlives accepting: in-flight requests drain after ``stopping``
       └─ HttpConnection.serve     one per TCP connection: h11 parses → app(scope, receive, send) → next request

The app runs in the connection's own task (no task per request); its
``receive`` reads the socket only when the app asks. h11 parses the requests
(its strict grammar is the request-smuggling defence); the responses are
framed here, which is a third of h11's cost per request. Reads and writes
that can complete at once do, without a trio checkpoint; only a wait does.
What the server guarantees, each with a test in ``tests/test_http_server.py``:

* a request head larger than ``max_header_bytes`` → 431, a malformed request → 400,
  a declared body larger than ``max_body_bytes`` → 413 (the body is never read);
  each answered with ``Connection: close`` and the connection closed;
* an app response that would break the framing (a header with CR/LF, a body
  longer than its ``Content-Length``) is refused before a byte of it is sent: 500;
* a chunked body is handed to the app as it arrives; past ``max_body_bytes``
  the app gets ``http.disconnect`` and the connection closes after the response;
* slowloris: a request head must arrive within ``header_timeout`` of its first
  byte (408, closed), each body read within ``read_timeout``; every write must
  finish within ``write_timeout`` (a client that stops reading is dropped and
  the app's ``send`` raises :class:`ClientGone`, an ``OSError``);
* an idle keep-alive connection closes after ``keep_alive_timeout``;
* keep-alive and pipelining (requests answered in order), ``Expect:
  100-continue`` (``100 Continue`` sent when the app first reads the body),
  HEAD (no body bytes), HTTP/1.0 (close-delimited), ``Connection: close``;
* a body the app did not read is discarded (up to ``max_body_bytes``) so the
  connection can be reused, or the connection is closed;
* the app raising before its response → 500; after starting it → the
  connection is closed (a half-sent response cannot be completed);
* a client leaving mid-request: the app's next ``receive`` returns ``http.disconnect``;
* on ``stopping``: the listener closes at once, idle connections close at
  once, a request in flight finishes (its response says ``Connection: close``)
  until ``drain_timeout``, then its task is cancelled.

Errors: a failing connection is logged and closed, never the server; the
accept loop retries EMFILE/ENFILE/ENOMEM/ENOBUFS after ``ACCEPT_RETRY`` s and
re-raises any other ``OSError`` (a broken listening socket ends the server).
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Awaitable, Callable, MutableMapping
from urllib.parse import unquote

import attrs
import h11
import trio

from ..errors import HostError

log = logging.getLogger("tgo_host.api.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: ``(status, message) -> (content_type, body)``: the body of the server's own error answers.
ErrorBody = Callable[[int, str], tuple[bytes, bytes]]

#: accept() errors that mean "out of a resource for now": retried; any other ends the server.
CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_RETRY = 0.1  # seconds between accept attempts while out of file descriptors or memory
BACKLOG = 1024
RECEIVE_SIZE = 64 * 1024
LINGER = 1.0  # seconds to wait for the client's FIN after ours, so it reads our last answer, not a reset
LINGER_BYTES = 64 * 1024 * 1024  # ... reading (and dropping) at most this much meanwhile
DISCONNECT: Message = {"type": "http.disconnect"}
ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}  # 2.4: send() to a gone client raises OSError
REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}


@attrs.frozen(kw_only=True)
class HttpLimits:
    """The server's limits and timeouts (seconds, bytes)."""

    max_header_bytes: int = 64 * 1024  # request line + headers; larger → 431
    max_body_bytes: int = 1024 * 1024  # a request body; larger → 413 (declared) or closed (chunked)
    keep_alive_timeout: float = 5.0  # an idle connection (no request begun) is closed after this
    header_timeout: float = 10.0  # a request head must be complete this long after its first byte (408)
    read_timeout: float = 10.0  # each read of a request body must bring data within this
    write_timeout: float = 10.0  # each write must complete within this (a client that stops reading)
    drain_timeout: float = 10.0  # in-flight requests may run this long after ``stopping``


class ClientGone(HostError, OSError):
    """Raised by ``send`` when the client is gone (closed, reset, or not reading within ``write_timeout``)."""

    kind = "client_gone"


def plain_error_body(status: int, message: str) -> tuple[bytes, bytes]:
    """The default body of the server's own error answers: the message as text."""
    return b"text/plain; charset=utf-8", message.encode() + b"\n"


_date_cache: list[Any] = [0, b""]


def http_date() -> bytes:
    """The ``Date`` header value, formatted once per second."""
    now = int(time.time())
    if now != _date_cache[0]:
        _date_cache[0], _date_cache[1] = now, formatdate(now, usegmt=True).encode()
    return _date_cache[1]  # type: ignore[no-any-return]


def binds_of(sock: socket.socket) -> list[str]:
    """``["http://HOST:PORT"]`` for a bound socket (IPv6 in brackets)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return [f"http://{shown}:{port}"]


async def serve_http(
    app: AsgiApp,
    sock: socket.socket,
    *,
    stopping: trio.Event,
    limits: HttpLimits = HttpLimits(),
    error_body: ErrorBody = plain_error_body,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on the bound socket ``sock`` (this function listens on and closes it) until ``stopping``.

    Reports ``["http://HOST:PORT"]`` via ``task_status`` once listening. After
    ``stopping`` is set it stops accepting, closes idle connections and lets
    requests in flight finish within ``limits.drain_timeout``, then returns.
    Raises the ``OSError`` of a listening socket that fails other than by a
    lack of resources.
    """
    binds = binds_of(sock)
    sock.listen(BACKLOG)
    listener = trio.socket.from_stdlib_socket(sock)
    server = HttpServer(app, limits, error_body)
    try:
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as accepting:
                accepting.start_soon(accept_loop, listener, server.serve_connection, connections)
                task_status.started(binds)
                await stopping.wait()
                accepting.cancel_scope.cancel()
            listener.close()
            server.drain()
            connections.cancel_scope.deadline = trio.current_time() + limits.drain_timeout
    finally:
        listener.close()


async def accept_loop(
    listener: trio.socket.SocketType,
    handler: Callable[[trio.socket.SocketType, Any], Awaitable[None]],
    nursery: trio.Nursery,
) -> None:
    """Accept connections forever, starting ``handler(sock, address)`` in ``nursery`` for each.

    Like trio's ``serve_listeners``: EMFILE, ENFILE, ENOMEM and ENOBUFS are
    logged and retried every ``ACCEPT_RETRY`` s (the connections already open
    keep being served); any other ``OSError`` propagates.
    """
    starved = False
    while True:
        try:
            sock, address = await listener.accept()
        except OSError as exc:
            if exc.errno not in CAPACITY_ERRNOS:
                raise
            if not starved:
                log.error("HTTP accept failed: %s; retrying every %g s until it succeeds", exc, ACCEPT_RETRY)
                starved = True
            await trio.sleep(ACCEPT_RETRY)
            continue
        if starved:
            log.warning("HTTP accept works again")
            starved = False
        nursery.start_soon(handler, sock, address)


class HttpServer:
    """What every connection of one server shares: the app, the limits, the draining flag, the live connections."""

    def __init__(self, app: AsgiApp, limits: HttpLimits, error_body: ErrorBody) -> None:
        self.app = app
        self.limits = limits
        self.error_body = error_body
        self.draining = False
        self.live: set[HttpConnection] = set()

    def drain(self) -> None:
        """Stop serving new requests: idle connections close now, busy ones after their response."""
        self.draining = True
        for connection in list(self.live):
            connection.close_if_idle()

    async def serve_connection(self, accepted: trio.socket.SocketType, address: Any) -> None:
        """Serve one accepted connection until it closes; its failures are logged, never raised."""
        sock = socket.socket(fileno=accepted.detach())  # plain non-blocking I/O (see HttpConnection)
        connection: HttpConnection | None = None
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = HttpConnection(self, sock, address)
            self.live.add(connection)
            await connection.serve()
        except Exception:  # noqa: BLE001 - one connection's failure must not end the server
            log.exception("HTTP connection from %s failed", connection.peer if connection else address)
        finally:
            if connection is not None:
                self.live.discard(connection)
            trio.lowlevel.notify_closing(sock)
            sock.close()


class HttpConnection:
    """One HTTP/1.1 connection: h11 parsing the requests, the current request's ASGI state, the socket.

    :meth:`receive` and :meth:`send` are the ASGI callables handed to the app.
    h11 reads the requests (one ``h11.Connection`` per request, handed the
    bytes that followed the previous one); responses are framed here
    (``Content-Length`` as the app gave it, else chunked, close-delimited for
    HTTP/1.0). The socket is a plain non-blocking one: a read or write that
    can complete at once does, and only one that cannot waits (``trio.lowlevel.
    wait_readable`` / ``wait_writable``), under the timeouts of :class:`HttpLimits`.
    """

    def __init__(self, server: HttpServer, sock: socket.socket, address: Any) -> None:
        self.server = server
        self.limits = server.limits
        self.sock = sock
        self.conn = self._parser()
        self.client = (address[0], address[1]) if isinstance(address, tuple) else None
        try:
            local = sock.getsockname()
            self.server_addr: tuple[str, int] | None = (local[0], local[1])
        except OSError:  # the client already reset the connection
            self.server_addr = None
        self.peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        self.broken = False  # the client is gone or misbehaved: no more reads or writes
        self._peer_closed = False  # the client's end of stream (or a reset) was read
        self._pipelined = False  # the next request's first bytes are already buffered
        self._idle: trio.CancelScope | None = None
        self._reset()

    def _parser(self) -> h11.Connection:
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)

    def _reset(self) -> None:
        """Forget the previous request's ASGI state."""
        self._method = b""
        self._http10 = False
        self._body_done = False
        self._body_size = 0
        self._overflow = False
        self._peeked: Any = None
        self._continue_sent = False
        self._status = 0
        self._headers: Any = ()
        self._started = False  # http.response.start received
        self._head_sent = False  # the status line and headers are written (or being written)
        self._complete = False
        self._no_body = False  # HEAD, 204, 304: body bytes of the app are dropped
        self._chunked = False
        self._length: int | None = None  # the response's Content-Length
        self._sent = 0  # response body bytes sent
        self._close = False  # answer with Connection: close, then close

    def close_if_idle(self) -> None:
        """Close now if waiting for a next request (called when the server drains)."""
        if self._idle is not None:
            self._idle.cancel()

    # -- the connection loop --------------------------------------------------------------

    async def serve(self) -> None:
        """Answer requests until the client or the server ends the connection."""
        while True:
            request = await self._next_request()
            if request is None:
                return
            if not await self._answer(request):
                await self._close_gracefully()
                return
            leftover, closed = self.conn.trailing_data
            self.conn = self._parser()
            if leftover:
                self.conn.receive_data(leftover)
            if closed:
                self.conn.receive_data(b"")
            self._pipelined = bool(leftover)
            self._reset()
            if self._pipelined:
                await trio.lowlevel.checkpoint()  # answering from the buffer: let other tasks run

    async def _next_request(self) -> h11.Request | None:
        """The next request's head (from the buffer or the socket); None when the connection should close."""
        limits = self.limits
        head_deadline = trio.current_time() + limits.header_timeout if self._pipelined else None
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                reason = (f"request head too large (limit {limits.max_header_bytes} bytes)" if status == 431
                          else f"malformed HTTP request: {exc}")
                await self._error_and_close(status, reason)
                return None
            if event is h11.NEED_DATA:
                data = self._recv_now()
                if data is not None and head_deadline is None:
                    # The next request came before we had to wait for it (the client answers fast):
                    # let the other connections' tasks run first, or one busy client starves them.
                    await trio.lowlevel.checkpoint()
                if data is None and head_deadline is None:  # idle: wait for the first byte of a request
                    if self.server.draining:
                        return None
                    with trio.CancelScope(deadline=trio.current_time() + limits.keep_alive_timeout) as self._idle:
                        data = await self._recv()
                    self._idle = None
                    if data is None:  # idle too long, or the server is draining
                        return None
                elif data is None:
                    assert head_deadline is not None
                    with trio.move_on_at(head_deadline):
                        data = await self._recv()
                    if data is None:
                        await self._error_and_close(
                            408, f"request head not received within {limits.header_timeout:g} s")
                        return None
                if head_deadline is None:
                    head_deadline = trio.current_time() + limits.header_timeout
                self.conn.receive_data(data)
                continue
            if type(event) is h11.Request:
                return event
            return None  # ConnectionClosed: the client closed between requests

    # -- the socket ------------------------------------------------------------------------

    def _recv_now(self) -> bytes | None:
        """Bytes the socket has now (``b""`` at end of stream or on a reset); None if it has none yet."""
        if self._peer_closed:
            return b""
        try:
            data = self.sock.recv(RECEIVE_SIZE)
        except BlockingIOError:
            return None
        except OSError:  # reset
            data = b""
        if not data:
            self._peer_closed = True
        return data

    async def _recv(self) -> bytes:
        """The next bytes from the socket, waiting for them (a checkpoint); ``b""`` when the client is gone."""
        while True:
            try:
                await trio.lowlevel.wait_readable(self.sock)
            except (trio.ClosedResourceError, OSError):
                return b""
            data = self._recv_now()
            if data is not None:
                return data

    async def _write(self, data: bytes) -> None:
        """Send ``data`` within ``write_timeout``; raises :class:`ClientGone` (and breaks the connection) if not."""
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self.broken = True
            raise ClientGone(f"the client {self.peer} is gone") from exc
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        with trio.move_on_after(self.limits.write_timeout):
            while view:
                try:
                    await trio.lowlevel.wait_writable(self.sock)
                    view = view[self.sock.send(view):]
                except BlockingIOError:
                    continue
                except (OSError, trio.ClosedResourceError) as exc:
                    self.broken = True
                    raise ClientGone(f"the client {self.peer} is gone") from exc
            return
        self.broken = True
        log.info("client %s did not read for %g s: dropping the connection", self.peer, self.limits.write_timeout)
        raise ClientGone(f"the client {self.peer} stopped reading")

    # -- one request -----------------------------------------------------------------------

    async def _answer(self, request: h11.Request) -> bool:
        """Run the app for ``request``; whether the connection can carry another request."""
        limits = self.limits
        self._method = request.method
        headers = list(request.headers)
        head_size = len(request.target)
        length = None
        for name, value in headers:
            head_size += len(name) + len(value) + 4
            if name == b"content-length":
                length = int(value)  # h11 checked it is digits
            elif name == b"connection" and b"close" in value.lower():
                self._close = True
        if request.http_version != b"1.1":
            if request.http_version != b"1.0":
                await self._error(505, f"HTTP/{request.http_version.decode()} is not supported: use HTTP/1.1")
                return False
            self._http10 = self._close = True  # no keep-alive for HTTP/1.0 (as h11)
        if head_size > limits.max_header_bytes:
            await self._error(431, f"request head too large (limit {limits.max_header_bytes} bytes)")
            return False
        if length is not None and length > limits.max_body_bytes:
            await self._error(413, f"request body of {length} bytes exceeds the limit of {limits.max_body_bytes} bytes")
            return False
        if self.server.draining:
            self._close = True
        scope = self._scope(request, headers)
        failed = False
        try:
            await self.server.app(scope, self.receive, self.send)
        except Exception as exc:  # noqa: BLE001 - the app's failure is this request's, not the server's
            failed = True
            if self.broken or isinstance(exc, ClientGone):
                log.debug("%s %s from %s: the client went away (%r)", scope["method"], scope["path"], self.peer, exc)
            elif self._complete:  # the app answered (its 500) and re-raised, as Starlette does
                log.debug("%s %s: the app raised after its response: %r", scope["method"], scope["path"], exc)
            else:
                log.error("%s %s from %s: the app failed", scope["method"], scope["path"], self.peer, exc_info=exc)
        if self.broken:
            return False
        if not self._complete:
            if self._head_sent:
                return False  # a half-sent response cannot be completed
            if self._overflow:
                await self._error(413, f"request body exceeds the limit of {limits.max_body_bytes} bytes")
                return False
            if not failed:
                log.error("%s %s: the app %s", scope["method"], scope["path"],
                          "ended without a complete response" if self._started else "returned without answering")
            if not await self._body_finished():
                self._close = True
            await self._error(500, "internal error: the request handler failed")
            return not self._close
        if not await self._body_finished():
            return False
        return not self._close and not self.server.draining

    async def _body_finished(self) -> bool:
        """Whether the request body is read to its end, reading and dropping what the app left unread."""
        state = self.conn.their_state
        if state is not h11.SEND_BODY:
            return state is h11.DONE or state is h11.MUST_CLOSE
        if self._close or self._overflow or self._awaiting_continue():
            return False  # the client may or may not send the body it announced: do not wait for it
        return await self._discard_body()

    def _awaiting_continue(self) -> bool:
        """The client announced ``Expect: 100-continue`` and has neither sent its body nor been told to."""
        return self.conn.they_are_waiting_for_100_continue and not self._continue_sent

    def _scope(self, request: h11.Request, headers: list[tuple[bytes, bytes]]) -> Scope:
        target = request.target
        if target[:1] != b"/" and b"://" in target:  # absolute form: keep the path
            target = b"/" + target.split(b"://", 1)[1].partition(b"/")[2]
        raw_path, _, query = target.partition(b"?")
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        return {
            "type": "http",
            "asgi": ASGI_VERSION,
            "http_version": "1.0" if self._http10 else "1.1",
            "method": request.method.decode("ascii"),
            "scheme": "http",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": self.client,
            "server": self.server_addr,
        }

    # -- ASGI receive ----------------------------------------------------------------------

    async def receive(self) -> Message:
        """ASGI ``receive``: the next piece of the request body, then (waiting) ``http.disconnect``."""
        if self._peeked is not None:
            event, self._peeked = self._peeked, None
            return self._body_message(event)
        if self._body_done or self.broken or self._overflow:
            if not self.broken and not self._overflow:
                await self._until_disconnect()
            return DISCONNECT
        if self._awaiting_continue() and not self._head_sent:
            await self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._continue_sent = True
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:  # a broken chunked encoding, or the client closed mid-body
                if not self._peer_closed:
                    log.info("HTTP 400 for %s: malformed request body: %s", self.peer, exc)
                    await self._error(400, f"malformed request body: {exc}")
                self.broken = True
                return DISCONNECT
            if event is h11.NEED_DATA:
                data = self._recv_now()
                if data is None:
                    with trio.move_on_after(self.limits.read_timeout):
                        data = await self._recv()
                if data is None:
                    log.info("request body from %s stalled for %g s: dropping the connection",
                             self.peer, self.limits.read_timeout)
                    self.broken = True
                    return DISCONNECT
                self.conn.receive_data(data)
                continue
            return self._body_message(event)

    def _body_message(self, event: Any) -> Message:
        if type(event) is h11.Data:
            data = bytes(event.data)
            self._body_size += len(data)
            if self._body_size > self.limits.max_body_bytes:
                self._overflow = self._close = True
                log.info("request body from %s passed the limit of %d bytes", self.peer, self.limits.max_body_bytes)
                return {"type": "http.request", "body": data, "more_body": True}
            more = True
            if self.conn.their_state is h11.SEND_BODY:
                try:
                    following = self.conn.next_event()
                except h11.RemoteProtocolError:
                    following = None
                if type(following) is h11.EndOfMessage:
                    self._body_done = True
                    more = False
                elif following is not h11.NEED_DATA:
                    self._peeked = following if following is not None else h11.ConnectionClosed()
            return {"type": "http.request", "body": data, "more_body": more}
        if type(event) is h11.EndOfMessage:
            self._body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        self.broken = True  # ConnectionClosed mid-body
        return DISCONNECT

    async def _until_disconnect(self) -> None:
        """Wait until the client closes; bytes it sends meanwhile (a pipelined request) stay buffered."""
        buffered = 0
        while True:
            if buffered > self.limits.max_header_bytes:
                await trio.sleep_forever()  # enough pipelined input: read no more until this request ends
            data = await self._recv()
            self.conn.receive_data(data)
            if not data:
                return
            buffered += len(data)

    # -- ASGI send -------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """ASGI ``send``: ``http.response.start`` then ``http.response.body`` messages."""
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("http.response.start sent twice")
            self._started = True
            self._status = message["status"]
            self._headers = message.get("headers", ())
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if not self._started or self._complete:
            raise RuntimeError("http.response.body " + ("before http.response.start" if not self._started
                                                        else "after the response was complete"))
        if self.broken:
            raise ClientGone(f"the client {self.peer} is gone")
        body = message.get("body", b"")
        more = message.get("more_body", False)
        out = b"" if self._head_sent else self._head()
        if body and not self._no_body:
            if self._chunked:
                out += b"%x\r\n%s\r\n" % (len(body), body)
            else:
                self._sent += len(body)
                if self._length is not None and self._sent > self._length:
                    self._close = True
                    raise RuntimeError(f"response body longer than its Content-Length of {self._length} bytes")
                out += body
        if not more:
            self._complete = True
            if self._chunked:
                out += b"0\r\n\r\n"
            elif self._length is not None and self._sent < self._length and not self._no_body:
                self._close = True  # shorter than announced: the client knows something is wrong once we close
        self._head_sent = True
        if out:
            await self._write(out)

    def _head(self) -> bytes:
        """The status line and headers of ``http.response.start``, framed for this request."""
        status = self._status
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise RuntimeError(f"invalid HTTP status {status!r}")
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b""))]
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length":
                try:
                    self._length = int(value)
                except ValueError:
                    raise RuntimeError(f"invalid Content-Length {value!r}") from None
            elif lowered == b"transfer-encoding":
                continue  # the framing is this server's
            elif lowered == b"connection":
                if b"close" in value.lower():
                    self._close = True
                continue
            if not _HEADER_NAME.fullmatch(name) or b"\r" in value or b"\n" in value or b"\0" in value:
                raise RuntimeError(f"invalid response header {name!r}: {value!r}")
            lines.append(b"%s: %s\r\n" % (name, value))
        lines.append(b"date: %s\r\n" % http_date())
        self._no_body = self._method == b"HEAD" or status in (204, 304) or status < 200
        if self._length is None and status not in (204, 304) and status >= 200:
            if self._http10:
                self._close = True  # the body ends where the connection does
            else:
                self._chunked = self._method != b"HEAD"
                lines.append(b"transfer-encoding: chunked\r\n")
        if self._close or self.server.draining or self._awaiting_continue():
            self._close = True  # (a client still awaiting 100 may or may not send its body: do not guess)
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    # -- errors and closing ----------------------------------------------------------------

    async def _error(self, status: int, message: str) -> None:
        """Answer with the server's own error response (``Connection: close`` unless the cycle is clean)."""
        if self._head_sent or self.broken:
            return
        content_type, body = self.server.error_body(status, message)
        if self._method == b"HEAD":
            body = b""  # no body follows a HEAD answer; an empty length keeps the framing unambiguous
        if status != 500 or self._close:
            self._close = True
        data = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\ndate: %s\r\n%s\r\n%s" % (
            status, REASONS.get(status, b""), content_type, len(body), http_date(),
            b"connection: close\r\n" if self._close else b"", body)
        self._head_sent = self._complete = True
        try:
            await self._write(data)
        except ClientGone:
            pass

    async def _error_and_close(self, status: int, message: str) -> None:
        log.info("HTTP %d for %s: %s", status, self.peer, message)
        await self._error(status, message)
        await self._close_gracefully()

    async def _discard_body(self) -> bool:
        """Read and drop the rest of a body the app did not read; False if it is too long, slow or broken."""
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is h11.NEED_DATA:
                data = self._recv_now()
                if data is None:
                    with trio.move_on_after(self.limits.read_timeout):
                        data = await self._recv()
                if not data:
                    return False
                self.conn.receive_data(data)
            elif type(event) is h11.Data:
                self._body_size += len(event.data)
                if self._body_size > self.limits.max_body_bytes:
                    return False
            else:
                return type(event) is h11.EndOfMessage

    async def _close_gracefully(self) -> None:
        """Send our FIN, then read (and drop) until the client's or ``LINGER`` s, so it sees our answer, not a reset."""
        if self.broken:
            return
        with trio.move_on_after(LINGER):
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                return
            received = 0
            while received < LINGER_BYTES:
                data = await self._recv()
                if not data:
                    return
                received += len(data)


#: A response header name: an HTTP token.
_HEADER_NAME = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
