"""One JSON-RPC peer on a :class:`FramedTransport`: requests out, responses matched by id.

This replaces ``trio_jsonrpc.JsonRpcConnection`` (see the README for why) and
closes each of its gaps:

* in-flight requests fail at once with :class:`ConnectionLost` when the
  connection ends, whatever the reason;
* a request that times out or is cancelled removes its own entry, so its late
  reply matches nothing and is dropped quietly (never answered);
* ``"result": null`` is a result;
* non-object JSON, batches, invalid UTF-8 and missing ``jsonrpc`` are answered
  with ``-32700``/``-32600`` (``id: null``) and the connection stays up;
* broken framing (an oversized length) closes this connection only;
* every send goes through the transport's single writer task.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
from typing import Any, Callable

import outcome
import trio
from orjson import JSONDecodeError, loads
from trio_jsonrpc.transport import TransportClosed

from .errors import Busy, ConnectionLost, InvalidResponse, RemoteError, RequestTimeout
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
    """The caller's side of one in-flight request.

    The caller parks with ``wait_task_rescheduled`` (no Event, no cancel scope
    per request) and :meth:`resolve` reschedules it with the outcome. Its
    deadline is kept by the connection's timer task (see ``RpcConnection._run_timer``).
    """

    __slots__ = ("deadline", "done", "error", "method", "result", "task", "timeout")

    def __init__(self, method: str, timeout: float) -> None:
        self.method = method
        self.timeout = timeout
        self.deadline = math.inf
        self.done = False
        self.result: Any = None
        self.error: Exception | None = None
        self.task: Any = None  # the parked caller, once it waits

    def resolve(self, result: Any = None, error: Exception | None = None) -> None:
        if not self.done:
            self.done = True
            self.result = result
            self.error = error
            task = self.task
            if task is not None:
                self.task = None
                trio.lowlevel.reschedule(task, outcome.Value(result) if error is None else outcome.Error(error))

    def abort(self, raise_cancel: Any) -> trio.lowlevel.Abort:
        """The caller was cancelled while parked: nothing will wake it any more."""
        self.done = True
        self.task = None
        return trio.lowlevel.Abort.SUCCEEDED


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
        # Request deadlines: one FIFO per timeout value (deadlines only grow within one), one timer task.
        self._deadlines: dict[float, collections.deque[_Pending]] = {}
        self._timer_running = False
        self._timer_target = math.inf
        self._timer_scope: trio.CancelScope | None = None
        self._timer_outer: trio.CancelScope | None = None
        self.closed = trio.Event()

    @property
    def in_flight(self) -> int:
        """Number of requests awaiting an answer."""
        return len(self._pending)

    # -- the caller's API --------------------------------------------------

    async def request(self, method: str, params: Any = None, *, timeout: float) -> Any:
        """Send ``method`` and return its result (``None`` is a valid result).

        Raises :class:`RequestTimeout` after ``timeout`` seconds,
        :class:`RemoteError` for a JSON-RPC error answer, :class:`ConnectionLost`
        when the connection ends first, :class:`InvalidResponse` for a
        malformed answer and :class:`Busy` when ``max_in_flight`` is reached.
        On any exit (including cancellation) the request's entry is removed.
        """
        if self.close_reason is not None:
            raise ConnectionLost(self.name, self.close_reason)
        if len(self._pending) >= self.max_in_flight:
            raise Busy(self.name, self.max_in_flight)
        request_id = next(self._ids)
        pending = _Pending(method, timeout)
        self._pending[request_id] = pending
        try:
            # A lone request goes straight to the socket; with others in flight the writer batches.
            self._send(encode_request(request_id, method, params), direct=len(self._pending) == 1)
            pending.deadline = deadline = trio.current_time() + timeout
            if not self._timer_running:  # run() is not serving this connection (yet): plain cancel scope
                with trio.move_on_at(deadline):
                    return await self._wait(pending)
                raise RequestTimeout(self.name, method, timeout)
            queue = self._deadlines.get(timeout)
            if queue is None:
                queue = self._deadlines[timeout] = collections.deque()
            queue.append(pending)
            if deadline < self._timer_target:
                self._timer_target = deadline
                if self._timer_scope is not None:
                    self._timer_scope.deadline = deadline
            return await self._wait(pending)
        finally:
            pending.done = True
            del self._pending[request_id]
            queue = self._deadlines.get(timeout)
            if queue:
                # Answers mostly come in order: drop finished entries from the head, and
                # compact when an early slow request holds many finished ones behind it.
                while queue and queue[0].done:
                    queue.popleft()
                if len(queue) > 2 * len(self._pending) + 64:
                    self._deadlines[timeout] = collections.deque(p for p in queue if not p.done)

    @staticmethod
    async def _wait(pending: _Pending) -> Any:
        if not pending.done:
            pending.task = trio.lowlevel.current_task()
            return await trio.lowlevel.wait_task_rescheduled(pending.abort)
        if pending.error is not None:  # resolved before the caller could park (connection closed)
            raise pending.error
        return pending.result

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
        if self._timer_outer is not None:
            self._timer_outer.cancel()

    # -- the connection task ----------------------------------------------

    async def run(self, on_request: RequestHandler | None = None) -> None:
        """Read and dispatch frames until the connection ends; then close the stream.

        Never raises for anything the peer does; the reason the connection
        ended is left in :attr:`close_reason`. Cancellation propagates, after
        in-flight requests are failed and the stream is closed.
        """
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._run_writer)
                if self.close_reason is None:
                    self._timer_running = True
                    nursery.start_soon(self._run_timer)
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

    async def _run_timer(self) -> None:
        """Fail each request whose deadline passed with :class:`RequestTimeout`.

        One task per connection instead of one cancel scope per request. It
        sleeps until the earliest deadline it knows of; :meth:`request` moves
        that earlier when needed, a stale (earlier) wake-up just re-arms.
        """
        try:
            with trio.CancelScope() as self._timer_outer:
                if self.close_reason is not None:
                    return
                while True:
                    with trio.CancelScope(deadline=self._expire(trio.current_time())) as self._timer_scope:
                        await trio.sleep_forever()
        finally:
            self._timer_running = False
            self._timer_scope = None

    def _expire(self, now: float) -> float:
        """Time out every request due by ``now``; return the next deadline (or inf)."""
        target = math.inf
        for queue in self._deadlines.values():
            while queue:
                head = queue[0]
                if not head.done:
                    if head.deadline > now:
                        break
                    head.resolve(error=RequestTimeout(self.name, head.method, head.timeout))
                queue.popleft()
            if queue and queue[0].deadline < target:
                target = queue[0].deadline
        self._timer_target = target
        return target

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
                kind = type(message)
                if not self._seen_first:
                    self._seen_first = True
                    if self.first_method is not None and (kind is not Request or message.method != self.first_method):
                        request_id = message.id if kind is Request else None
                        self._violation(
                            ErrorObject(INVALID_REQUEST, f"Invalid Request: first message must be {self.first_method}"),
                            request_id,
                        )
                        return f"protocol violation: first message was not {self.first_method}"
                if kind is Response:
                    self._on_response(message)
                elif kind is Request:
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
        pending = self._pending.get(response.id)
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


def _worth_logging(count: int) -> bool:
    """Log the first 10 occurrences of a per-connection fault, then every 1,000th.

    A flooding plugin must not decide how much the host logs (nor pay for it
    with the host's CPU); the counters in :class:`ProtocolStats` stay exact.
    """
    return count <= 10 or count % 1000 == 0
