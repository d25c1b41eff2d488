"""One JSON-RPC peer on a :class:`FramedTransport`: requests out, responses matched by id.

This replaces ``trio_jsonrpc.JsonRpcConnection`` (see the README for why) and
closes each of its gaps:

* every request waits inside its own cancel scope, in the caller's task: the
  scope's deadline *is* the request's deadline, and cancellation from outside
  (a client gone, shutdown) ends the wait through the same scope;
* in-flight requests fail at once with :class:`ConnectionLost` when the
  connection ends, whatever the reason;
* a request that times out or is cancelled removes its own entry, so its late
  reply matches nothing and is dropped quietly (never answered);
* ``"result": null`` is a result;
* non-object JSON, batches, invalid UTF-8 and missing ``jsonrpc`` are answered
  with ``-32700``/``-32600`` (``id: null``) and the connection stays up;
* broken framing (an oversized length) closes this connection only;
* sends never race: frames are queued for the transport's single writer
  task; only a lone request finding the writer idle is first offered to
  the socket without blocking (what the kernel does not take is queued).

Who waits where::

    caller's task                         RpcConnection.run (in the session's task)
    ─────────────                         ──────────────────────────────────────
    request(method, params, timeout)      ├─ writer task     queued frames → one send_all
      send frame  ───────────────────────►│
      with trio.move_on_after(timeout):   └─ read loop       (run's own body) frame → entry by id → resolve
          await answered.wait()  ◄──────────── answered.set() (or close(): every entry at once)
      finally: remove the entry

    request_each([(conn, method, params), …], timeout)      the fan-out: one caller, N connections
      send every frame
      with trio.move_on_after(timeout):   each connection's reader resolves its entry
          await all_answered.wait()  ◄──── and counts down; the last one sets the event
      finally: remove every entry; unanswered → RequestTimeout each

Nothing here runs a timer: trio's own deadline machinery wakes a caller whose
scope expires, exactly as for any ``move_on_after`` block.
"""

from __future__ import annotations

import functools
import itertools
import logging
from typing import Any, Callable, Sequence

import outcome
import trio
from orjson import JSONDecodeError, loads
from trio_jsonrpc.transport import TransportClosed

from .errors import Busy, ConnectionLost, InvalidResponse, RemoteError, RequestTimeout, RpcFailure
from .framing import FrameTooLarge
from .messages import (
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    ErrorObject,
    Request,
    Response,
    Violation,
    classify,
    encode_error,
    encode_request,
    encode_result,
    is_plain_result,
    parse_error,
)
from .transport import FramedTransport, PartialFrameStalled, SendBufferFull

log = logging.getLogger("tgo_host.wire")

RequestHandler = Callable[["RpcConnection", Request], None]


class _Pending:
    """One request in flight: its answer once it comes, and whom to tell.

    ``notify`` is called once, by whatever settles the request first (the
    reader with the answer, or :meth:`RpcConnection.close` with
    :class:`ConnectionLost`): a lone request's ``Event.set``, or a fan-out's
    countdown. It only wakes a waiter; the deadline is the waiter's cancel scope.
    """

    __slots__ = ("done", "error", "id", "method", "notify", "result")

    def __init__(self, request_id: int, method: str, notify: Callable[[], None]) -> None:
        self.id = request_id
        self.method = method
        self.notify = notify
        self.done = False
        self.result: Any = None
        self.error: RpcFailure | None = None

    def resolve(self, result: Any = None, error: RpcFailure | None = None) -> None:
        if not self.done:
            self.done = True
            self.result = result
            self.error = error
            self.notify()

    def unwrap(self, peer: str, timeout: float) -> Any:
        """The result; raises the failure, or :class:`RequestTimeout` if nothing settled it."""
        if not self.done:
            raise RequestTimeout(peer, self.method, timeout)
        if self.error is not None:
            raise self.error
        return self.result


class _Countdown:
    """``all_answered`` is set once ``arrive()`` has been called ``count`` times.

    The fan-out's waiter: each connection's reader calls ``arrive`` for its
    request, so the caller wakes once, when the last answer is in.
    ``answered_at[i]`` is when request ``i`` was settled (for per-plugin latency).
    """

    __slots__ = ("all_answered", "answered_at", "remaining")

    def __init__(self, count: int) -> None:
        self.remaining = count
        self.all_answered = trio.Event()
        self.answered_at: list[float | None] = [None] * count
        if count == 0:
            self.all_answered.set()

    def arrive(self, index: int) -> None:
        self.answered_at[index] = trio.current_time()
        self.remaining -= 1
        if self.remaining == 0:
            self.all_answered.set()


class ProtocolStats:
    """Counters of what the peer did wrong; read by metrics and tests."""

    __slots__ = ("dropped_responses", "violations")

    def __init__(self) -> None:
        self.violations = 0
        self.dropped_responses = 0


class RpcConnection:
    """A JSON-RPC connection to one peer.

    ``name`` is how errors and logs refer to the peer (the peer address until
    the plugin registers, then its plugin id). ``first_method``, when set, is
    the only request accepted as the first message; anything else is answered
    ``-32600`` and the connection closes. Incoming requests are passed to the
    ``on_request`` callback given to :meth:`run`, which must not block.
    """

    def __init__(
        self,
        transport: FramedTransport,
        *,
        name: str,
        first_method: str | None = None,
        max_in_flight: int = 1024,
        flush_timeout: float = 1.0,
    ) -> None:
        self.transport = transport
        self.name = name
        self.first_method = first_method
        self.max_in_flight = max_in_flight
        self.stats = ProtocolStats()
        self.close_reason: str | None = None
        self._flush_timeout = flush_timeout
        self._ids = itertools.count(1)
        self._pending: dict[int | str, _Pending] = {}
        self._seen_first = False
        self._read_scope: trio.CancelScope | None = None
        self.closed = trio.Event()

    @property
    def in_flight(self) -> int:
        """Number of requests awaiting an answer."""
        return len(self._pending)

    # -- the caller's API --------------------------------------------------

    async def request(self, method: str, params: Any = None, *, timeout: float) -> Any:
        """Send ``method`` and return its result (``None`` is a valid result).

        The wait runs in the caller's task inside ``trio.move_on_after(timeout)``:
        that cancel scope is the request's deadline. Raises
        :class:`RequestTimeout` when it expires, :class:`RemoteError` for a
        JSON-RPC error answer, :class:`ConnectionLost` when the connection
        ends first, :class:`InvalidResponse` for a malformed answer and
        :class:`Busy` (at once, nothing sent) when ``max_in_flight`` is
        reached. Cancellation from outside propagates as usual. On any exit the
        request's entry is removed, so a late answer is dropped and counted.
        """
        answered = trio.Event()
        pending = self._start(method, params, answered.set)
        try:
            with trio.move_on_after(timeout):
                await answered.wait()
            return pending.unwrap(self.name, timeout)
        finally:
            self._finish(pending)

    def _start(self, method: str, params: Any, notify: Callable[[], None]) -> _Pending:
        """Send one request now and enter it in flight; raises :class:`ConnectionLost`/:class:`Busy`.

        The frame is sent before the entry exists, so a send that closes the
        connection (the peer stopped reading) cannot settle it behind the caller's back.
        """
        if self.close_reason is not None:
            raise ConnectionLost(self.name, self.close_reason)
        pending = self._pending
        if len(pending) >= self.max_in_flight:
            raise Busy(self.name, self.max_in_flight)
        request_id = next(self._ids)
        # A lone request goes straight to the socket; with others in flight the writer batches.
        self._send(encode_request(request_id, method, params), direct=not pending)
        entry = pending[request_id] = _Pending(request_id, method, notify)
        return entry

    def _finish(self, entry: _Pending) -> None:
        """Take ``entry`` out of flight, whatever ended its wait: from now on nothing can settle it."""
        self._pending.pop(entry.id, None)

    def respond(self, request_id: int | str | None, result: Any) -> None:
        """Answer a peer's request with ``result``."""
        self._send(encode_result(request_id, result))

    def respond_error(self, request_id: int | str | None, code: int, message: str, data: Any = None) -> None:
        """Answer a peer's request (or a bad frame, ``request_id=None``) with an error."""
        self._send(encode_error(request_id, ErrorObject(code, message, data)))

    def close(self, reason: str) -> None:
        """End the connection: fail every in-flight request now, flush queued frames, close."""
        if self.close_reason is None:
            self.close_reason = reason
            self._fail_pending(reason)
        self.transport.close()
        if self._read_scope is not None:
            self._read_scope.cancel()

    # -- the connection task ----------------------------------------------

    async def run(
        self, on_request: RequestHandler | None = None, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Read and dispatch frames until the connection ends; then close the stream.

        Reports readiness (``nursery.start``) once the writer and reader are
        running. Never raises for anything the peer does; the reason the
        connection ended is left in :attr:`close_reason`. Cancellation
        propagates, after in-flight requests are failed and the stream is closed.
        """
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._run_writer)
                task_status.started()
                with trio.CancelScope() as self._read_scope:
                    reason = await self._read_loop(on_request)
                    self.close(reason)
                self.close(self.close_reason or "closed")
                # Give the writer a bounded moment to flush the final frames.
                nursery.cancel_scope.deadline = trio.current_time() + self._flush_timeout
        finally:
            self.close(self.close_reason or "cancelled")
            await trio.aclose_forcefully(self.transport.stream)
            self.closed.set()

    async def _run_writer(self) -> None:
        try:
            await self.transport.run_writer()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.close(f"send failed: {exc or type(exc).__name__}")

    def _send(self, data: bytes, direct: bool = False) -> None:
        try:
            self.transport.send_nowait(data, direct=direct)
        except SendBufferFull as exc:
            self.close(str(exc))
            raise ConnectionLost(self.name, str(exc)) from None
        except TransportClosed:
            raise ConnectionLost(self.name, self.close_reason or "closing") from None

    def _fail_pending(self, reason: str) -> None:
        for pending in self._pending.values():
            pending.resolve(error=ConnectionLost(self.name, reason))

    async def _read_loop(self, on_request: RequestHandler | None) -> str:
        """Dispatch frames, every frame of each receive in one pass; return why the connection should end."""
        recv_batch = self.transport.recv_batch
        while True:
            try:
                frames = await recv_batch()
            except TransportClosed as exc:
                return str(exc) or "connection closed"
            except FrameTooLarge as exc:
                self._violation(ErrorObject(INVALID_REQUEST, f"Invalid Request: {exc}"))
                return f"protocol violation: {exc}"
            except PartialFrameStalled as exc:
                return f"protocol violation: {exc}"
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                return f"receive failed: {exc or type(exc).__name__}"
            for frame in frames:
                if self.close_reason is not None:  # closed while handling an earlier frame of this batch
                    return self.close_reason
                try:
                    obj = loads(frame)
                except JSONDecodeError as exc:
                    message: Request | Response | Violation = parse_error(frame, exc)
                else:
                    if self._seen_first and is_plain_result(obj):
                        self._on_result(obj["id"], obj["result"])
                        continue
                    message = classify(obj)
                if not self._seen_first:
                    self._seen_first = True
                    first = message.method if isinstance(message, Request) else None
                    if self.first_method is not None and first != self.first_method:
                        request_id = message.id if isinstance(message, Request) else None
                        self._violation(
                            ErrorObject(INVALID_REQUEST, f"Invalid Request: first message must be {self.first_method}"),
                            request_id,
                        )
                        return f"protocol violation: first message was not {self.first_method}"
                if isinstance(message, Response):
                    self._on_response(message)
                elif isinstance(message, Request):
                    if on_request is not None:
                        on_request(self, message)
                    elif not message.is_notification:
                        self.respond_error(message.id, METHOD_NOT_FOUND, f"Method not found: {message.method}")
                else:
                    self._on_violation(message)

    def _on_result(self, request_id: int, result: Any) -> None:
        """A success response (the hot path of :meth:`_on_response`)."""
        pending = self._pending.get(request_id)
        if pending is None:
            self.stats.dropped_responses += 1
            self._log_dropped(request_id)
            return
        pending.resolve(result)

    def _log_dropped(self, request_id: Any) -> None:
        if _worth_logging(self.stats.dropped_responses):
            log.warning(
                "%s: dropped response #%d: id %r matches no request in flight",
                self.name, self.stats.dropped_responses, request_id,
            )

    def _on_response(self, response: Response) -> None:
        pending = self._pending.get(response.id) if response.id is not None else None
        if pending is None:
            self.stats.dropped_responses += 1
            self._log_dropped(response.id)
            return
        if response.error is None:
            pending.resolve(response.result)
        else:
            error = response.error
            pending.resolve(error=RemoteError(self.name, pending.method, error.code, error.message, error.data))

    def _on_violation(self, violation: Violation) -> None:
        self._violation(violation.error, violation.id)
        pending = self._pending.get(violation.response_id) if violation.response_id is not None else None
        if pending is not None:
            pending.resolve(
                error=InvalidResponse(
                    self.name, f"{self.name} answered {pending.method!r} with {violation.error.message}"
                )
            )

    def _violation(self, error: ErrorObject, request_id: int | str | None = None) -> None:
        self.stats.violations += 1
        if _worth_logging(self.stats.violations):
            log.warning("%s: protocol violation #%d: %s", self.name, self.stats.violations, error.message)
        try:
            self.respond_error(request_id, error.code, error.message)
        except ConnectionLost:
            pass


async def request_each(
    requests: Sequence[tuple[RpcConnection, str, Any]], *, timeout: float
) -> list[tuple[outcome.Outcome[Any], float]]:
    """Send every ``(connection, method, params)`` from this task, then wait once for all answers.

    The fan-out's shape: one render under one deadline. The requests share
    it, so the single ``trio.move_on_after(timeout)`` around the wait *is*
    each request's deadline, and no task or cancel scope is spent per
    request; each connection's reader settles its own entry and counts down.

    Returns, in order, one ``(outcome, seconds)`` per request: ``Value(result)``
    or ``Error(RpcFailure)`` — :class:`RequestTimeout` for each one still
    unanswered at the deadline, :class:`Busy`/:class:`ConnectionLost` for one
    that could not be sent — and how long it took to settle. One request's
    failure never affects the others. Cancellation from outside propagates;
    whatever ends the wait, every entry is removed, so late answers are dropped.
    """
    countdown = _Countdown(len(requests))
    started: list[tuple[RpcConnection, _Pending] | RpcFailure] = []
    begin = trio.current_time()
    try:
        for index, (conn, method, params) in enumerate(requests):
            try:
                started.append((conn, conn._start(method, params, functools.partial(countdown.arrive, index))))
            except RpcFailure as exc:
                started.append(exc)
                countdown.arrive(index)
        with trio.move_on_after(timeout):
            await countdown.all_answered.wait()
    finally:
        for entry in started:
            if not isinstance(entry, RpcFailure):
                entry[0]._finish(entry[1])
    now = trio.current_time()
    answers: list[tuple[outcome.Outcome[Any], float]] = []
    for entry, answered_at in zip(started, countdown.answered_at):
        seconds = (now if answered_at is None else answered_at) - begin
        if isinstance(entry, RpcFailure):
            answers.append((outcome.Error(entry), seconds))
        else:
            answers.append((outcome.capture(entry[1].unwrap, entry[0].name, timeout), seconds))
    return answers


def _worth_logging(count: int) -> bool:
    """Log the first 10 occurrences of a per-connection fault, then every 1,000th.

    A flooding plugin must not decide how much the host logs (nor pay for it
    with the host's CPU); the counters in :class:`ProtocolStats` stay exact.
    """
    return count <= 10 or count % 1000 == 0
