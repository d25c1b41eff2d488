"""``TGOPlugin``: the base class and its connection loop.

Threads, no framework: the thread that calls ``run()`` reads frames; ``ping``,
``shutdown`` and unknown methods are answered inline; every other request runs
its handler in its own daemon thread (async handlers run on one shared
asyncio loop in a daemon thread). Writes are serialised by a lock, so replies
may go out in any order, matched by id on the host.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import os
import random
import re
import select
import signal
import socket
import sys
import threading
import time
from typing import Any

from . import protocol as rpc
from .actions import Action
from .context import EventContext, RenderContext, ToolContext
from .validation import check_result

__all__ = ["TGOPlugin", "DEFAULT_SOCKET_PATH", "RegistrationRefused"]

DEFAULT_SOCKET_PATH = "/var/run/tgo/tgo.sock"
_METHOD_RE = re.compile(r"[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*")

# Outcomes of one connection.
_SHUTDOWN, _STOPPED, _LOST, _FAILED, _REJECTED = "shutdown", "stopped", "lost", "failed", "rejected"
_DENIED = "denied"  # authentication/permission refusal: retrying cannot help
#: ``register`` errors that end the plugin: -32001 authentication failed, -32002 permission denied.
_FATAL_REGISTER_CODES = (-32001, -32002)


class RegistrationRefused(SystemExit):
    """The host refused ``register`` for a reason retrying cannot fix (bad dev token, peer not allowed).

    A ``SystemExit``: uncaught, the process exits with status 1 and prints the
    reason. ``code_rpc`` and ``reason`` are the host's JSON-RPC error.
    """

    def __init__(self, plugin: str, code_rpc: Any, reason: str) -> None:
        super().__init__(f"tgo-plugin {plugin}: the host refused registration (code {code_rpc}): {reason}")
        self.code_rpc = code_rpc
        self.reason = reason


class _Signalled(BaseException):
    """SIGTERM/SIGINT arrived: leave whatever the main thread was blocked in."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Waker:
    """A socket pair the signal machinery writes to, so the main thread never sleeps through a signal.

    Python runs signal handlers only in the main thread, and only when it runs
    bytecode; a signal the kernel delivers to another thread would leave a
    main thread blocked in ``recv`` asleep. Every blocking wait of the main
    loop therefore also selects on ``reader``, the ``set_wakeup_fd`` target.
    """

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)

    def wait(self, sock: socket.socket | None, timeout: float | None) -> bool:
        """Block until ``sock`` is readable (True), or woken / ``timeout`` passed (False)."""
        watched = [self.reader] if sock is None else [sock, self.reader]
        ready, _, _ = select.select(watched, [], [], timeout)
        if self.reader in ready:
            self.drain()
        return sock is not None and sock in ready

    def wake(self) -> None:
        try:
            self.writer.send(b"\0")
        except OSError:
            pass

    def drain(self) -> None:
        try:
            while self.reader.recv(512):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class _AsyncRunner:
    """One asyncio loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, awaitable: Any) -> Any:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="tgo-plugin-asyncio",
                                 daemon=True).start()
        if not asyncio.iscoroutine(awaitable):
            awaitable = _await(awaitable)
        return asyncio.run_coroutine_threadsafe(awaitable, self._loop).result()


async def _await(awaitable: Any) -> Any:
    return await awaitable


class TGOPlugin:
    """Subclass, set the metadata and ``capabilities``, define ``on_*`` handlers, ``run()``.

    A request ``a/b`` is routed to ``on_a_b``: ``*/render`` handlers get a
    ``RenderContext``, ``*/event`` handlers an ``EventContext``, ``tool/execute``
    gets ``(ctx, tool_name, arguments)``, anything else the params dict.
    Handlers may be sync or ``async``; they return a builder or a plain dict.
    A method without a handler is answered with -32601; a handler exception
    with -32603 and its message (raise ``RPCError`` for another code).
    """

    id: str | None = None
    name: str = ""
    version: str = "0.0.0"
    description: str = ""
    author: str = ""
    homepage: str | None = None
    capabilities: list[Any] = []

    reconnect_initial: float = 0.5   # first retry delay, doubled per failure
    reconnect_max: float = 10.0      # retry delay cap
    reject_min_delay: float = 5.0    # retry delay after the host refused register (e.g. id taken)
    register_timeout: float = 10.0   # wait for the register answer
    max_frame_size: int = rpc.DEFAULT_MAX_FRAME
    exit_on_shutdown: bool = True    # exit the process (status 0) after shutdown, SIGTERM or SIGINT

    def __init__(self, socket_path: str | None = None, tcp_addr: str | None = None,
                 dev_token: str | None = None) -> None:
        self.socket_path = socket_path
        self.tcp_addr = tcp_addr
        self.dev_token = dev_token
        _setup_logging()
        self.logger = logging.getLogger(f"tgo_plugin.{self.id or type(self).__name__}")
        self.plugin_id: str | None = None      # as confirmed by the host
        self.host_version: str | None = None
        self._async = _AsyncRunner()
        self._stop = threading.Event()
        self._waker = _Waker()
        self._conn: _Connection | None = None

    # -- hooks --------------------------------------------------------------

    def on_shutdown(self) -> None:
        """Called before ``shutdown`` is answered; override to release resources."""

    def register_params(self) -> dict[str, Any]:
        """The ``register`` params this plugin sends."""
        params: dict[str, Any] = {}
        if self.id:
            params["id"] = self.id
        params.update(name=self.name or self.id or type(self).__name__, version=self.version,
                      description=self.description, author=self.author)
        if self.homepage:
            params["homepage"] = self.homepage
        params["capabilities"] = rpc.to_jsonable(list(self.capabilities))
        token = self._dev_token()
        if token:
            params["dev_token"] = token
        return params

    # -- running ------------------------------------------------------------

    def run(self, socket_path: str | None = None, tcp_addr: str | None = None,
            dev_token: str | None = None) -> None:
        """Connect, register and serve until the host sends ``shutdown``.

        Target, first set wins: ``tcp_addr`` (argument or constructor; debug
        mode), ``socket_path`` (likewise), env ``TGO_SOCKET_PATH``, env
        ``TGO_TCP_ADDR``, ``/var/run/tgo/tgo.sock``. ``dev_token`` falls back
        to env ``TGO_DEV_TOKEN``. Reconnects with capped exponential backoff.

        On SIGTERM or SIGINT (main thread only) the plugin calls ``on_shutdown``,
        closes its connection and exits with status 0 at once (when
        ``exit_on_shutdown``; else ``run()`` returns). A refusal that retrying
        cannot fix (-32001 authentication failed, -32002 permission denied)
        raises :class:`RegistrationRefused`: exit status 1 with the host's reason.
        """
        if socket_path is not None:
            self.socket_path = socket_path
        if tcp_addr is not None:
            self.tcp_addr = tcp_addr
        if dev_token is not None:
            self.dev_token = dev_token
        restore = self._install_signal_handlers()
        try:
            self._run_loop()
        except _Signalled as sig:
            self._on_signal(sig.signum)
        except KeyboardInterrupt:  # SIGINT while someone else's handler was installed
            self._on_signal(signal.SIGINT)
        finally:
            restore()

    def _run_loop(self) -> None:
        """Connect, serve, reconnect until shutdown/stop; exits or raises as ``run()`` says."""
        target = self._target()
        where = _describe(target)
        self.logger.info("starting %s %s, host at %s", self.name or self.id, self.version, where)
        delay = self.reconnect_initial
        failures = 0
        outcome = _STOPPED
        try:
            while not self._stop.is_set():
                try:
                    sock = self._connect(target)
                except OSError as exc:
                    failures += 1
                    log = self.logger.warning if failures in (1, 10) or failures % 100 == 0 \
                        else self.logger.debug
                    log("cannot connect to %s: %s (attempt %d); retrying in %.1fs",
                        where, exc, failures, delay)
                    self._sleep(delay)
                    delay = min(delay * 2, self.reconnect_max)
                    continue
                failures = 0
                conn = self._conn = _Connection(self, sock)
                started = time.monotonic()
                try:
                    outcome = conn.serve()
                finally:
                    self._conn = None
                    conn.close()
                if outcome in (_SHUTDOWN, _STOPPED):
                    break
                if outcome == _DENIED:
                    raise RegistrationRefused(self.id or self.name, *conn.refusal)
                if outcome == _LOST and time.monotonic() - started >= 5:
                    delay = self.reconnect_initial  # a healthy session ended: retry soon
                elif outcome == _REJECTED:    # don't hammer a host that said no
                    delay = max(delay, self.reject_min_delay)
                self.logger.info("reconnecting in %.1fs", delay)
                self._sleep(delay)
                delay = min(delay * 2, self.reconnect_max)
        except KeyboardInterrupt:
            self.logger.info("interrupted")
            outcome = _STOPPED
        if outcome == _SHUTDOWN and self.exit_on_shutdown:
            self.logger.info("shut down by host; exiting")
            _exit(0)

    def _on_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT: ``on_shutdown``, close the connection, exit 0 without interpreter teardown."""
        name = signal.Signals(signum).name
        self.logger.info("%s received; exiting", name)
        try:
            self.on_shutdown()
        except Exception:
            self.logger.exception("on_shutdown hook failed")
        conn = self._conn
        if conn is not None:
            conn.close()
        if self.exit_on_shutdown:
            _fast_exit(0)  # a loaded machine spends 100 ms-1 s tearing the interpreter down

    def handle(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Run the handler for ``method`` in this thread and return its JSON-able result.

        Raises ``RPCError`` (-32601 when there is no handler), and
        :class:`~tgo_plugin.validation.InvalidResult` for a result the host
        would refuse, checked by the host's own models when ``tgo_host`` is
        installed. Handy in unit tests.
        """
        handler = self._find_handler(method)
        if handler is None:
            raise rpc.RPCError(rpc.METHOD_NOT_FOUND, f"method not found: {method}")
        result = self._invoke(handler, method, params or {})
        check_result(method, result)
        return result

    def stop(self) -> None:
        """Make ``run()`` return (from another thread); no ``shutdown`` handshake."""
        self._stop.set()
        self._waker.wake()
        conn = self._conn
        if conn is not None:
            conn.close()

    # -- internals ----------------------------------------------------------

    def _dev_token(self) -> str | None:
        return self.dev_token or os.environ.get("TGO_DEV_TOKEN") or None

    def _target(self) -> tuple[str, Any]:
        if self.tcp_addr:
            return ("tcp", _parse_tcp(self.tcp_addr))
        if self.socket_path:
            return ("unix", self.socket_path)
        if os.environ.get("TGO_SOCKET_PATH"):
            return ("unix", os.environ["TGO_SOCKET_PATH"])
        if os.environ.get("TGO_TCP_ADDR"):
            return ("tcp", _parse_tcp(os.environ["TGO_TCP_ADDR"]))
        return ("unix", DEFAULT_SOCKET_PATH)

    @staticmethod
    def _connect(target: tuple[str, Any]) -> socket.socket:
        kind, addr = target
        if kind == "tcp":
            sock = socket.create_connection(addr, timeout=5)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5)
            try:
                sock.connect(addr)
            except OSError:
                sock.close()
                raise
        sock.settimeout(None)
        return sock

    def _sleep(self, delay: float) -> None:
        deadline = time.monotonic() + delay * random.uniform(0.8, 1.0)
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self._waker.wait(None, left)

    def _install_signal_handlers(self) -> Any:
        """On the main thread: SIGTERM and SIGINT (unless the program set its own) end ``run()``
        promptly, and the wake-up fd gets the main thread out of any wait. Returns the undo."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {}
        for signum, default in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.default_int_handler)):
            if signal.getsignal(signum) is default:
                previous[signum] = signal.signal(signum, _raise_signalled)
        try:
            old_fd = signal.set_wakeup_fd(self._waker.writer.fileno(), warn_on_full_buffer=False)
        except ValueError:
            old_fd = None
        if old_fd not in (None, -1):  # someone else's wake-up fd: keep it
            signal.set_wakeup_fd(old_fd)
            old_fd = None

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if old_fd is not None:
                signal.set_wakeup_fd(old_fd)
        return restore

    def _find_handler(self, method: str) -> Any:
        if not _METHOD_RE.fullmatch(method) or method in ("register", "ping", "shutdown"):
            return None
        handler = getattr(self, "on_" + method.replace("/", "_"), None)
        return handler if callable(handler) else None

    def _invoke(self, handler: Any, method: str, params: dict[str, Any]) -> Any:
        if method.endswith("/render"):
            out = handler(RenderContext(params))
        elif method.endswith("/event"):
            out = handler(EventContext(params))
        elif method == "tool/execute":
            ctx = ToolContext(params)
            out = handler(ctx, ctx.tool_name, ctx.arguments)
        else:
            out = handler(params)
        if inspect.isawaitable(out):
            out = self._async.run(out)
        if out is None and method.endswith("/event"):
            out = Action.noop()
        return rpc.to_jsonable(out)


class _Connection:
    """One connected, (to be) registered session with the host."""

    def __init__(self, plugin: TGOPlugin, sock: socket.socket) -> None:
        self.plugin = plugin
        self.log = plugin.logger
        self.sock = sock
        self._wlock = threading.Lock()
        self._ids = itertools.count(1)
        self._register_id: int | None = None
        self.registered = False
        self.refusal: tuple[Any, str] = (None, "")
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def send(self, msg: dict[str, Any]) -> bool:
        try:
            frame = rpc.encode_frame(msg)
        except (TypeError, ValueError) as exc:
            self.log.error("cannot encode reply to %r: %s", msg.get("id"), exc)
            frame = rpc.encode_frame(rpc.error_response(
                msg.get("id"), rpc.INTERNAL_ERROR, f"result is not JSON-serialisable: {exc}"))
        try:
            with self._wlock:
                self.sock.sendall(frame)
            return True
        except OSError as exc:
            self.log.debug("send failed (connection gone?): %s", exc)
            return False

    def serve(self) -> str:
        self._register_id = next(self._ids)
        params = self.plugin.register_params()
        self.sock.settimeout(self.plugin.register_timeout)
        if not self.send(rpc.request(self._register_id, "register", params)):
            return _FAILED
        while True:
            try:
                self._readable()
                payload = rpc.read_frame(self.sock, self.plugin.max_frame_size)
            except TimeoutError:
                self.log.error("host did not answer register within %.0fs",
                               self.plugin.register_timeout)
                return _FAILED
            except (rpc.FrameError, OSError) as exc:
                if self.plugin._stop.is_set():
                    return _STOPPED
                self.log.warning("connection error: %s", exc)
                return _LOST if self.registered else _FAILED
            if payload is None:
                if self.plugin._stop.is_set():
                    return _STOPPED
                self.log.warning("host closed the connection")
                return _LOST if self.registered else _FAILED
            outcome = self._on_frame(payload)
            if outcome == _SHUTDOWN:
                self._drain()
            if outcome:
                return outcome

    def _readable(self) -> None:
        """Wait until a frame starts arriving, staying wakeable by signals and ``stop()``.

        Raises TimeoutError past the socket's timeout (registration), OSError once stopped.
        """
        timeout = self.sock.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.plugin._stop.is_set() or self._closed:
                raise OSError("connection closed")
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError
            try:
                if self.plugin._waker.wait(self.sock, left):
                    return
            except ValueError:  # the socket was closed under us (stop() from another thread)
                raise OSError("connection closed") from None

    def _drain(self, timeout: float = 1.0) -> None:
        """Half-close after the shutdown reply and wait briefly for the host's EOF,
        so a TCP close never resets the reply away."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.sock.recv(65536):
                pass
        except OSError:
            pass

    def _on_frame(self, payload: bytes) -> str | None:
        try:
            msg = rpc.decode(payload)
        except ValueError as exc:
            self.log.warning("unparsable frame from host: %s", exc)
            self.send(rpc.error_response(None, rpc.PARSE_ERROR, f"parse error: {exc}"))
            return None
        kind = rpc.classify(msg)
        if kind == "response":
            return self._on_response(msg)
        if kind == "invalid":
            self.log.warning("invalid message from host: %.200r", msg)
            req_id = msg.get("id") if isinstance(msg, dict) else None
            self.send(rpc.error_response(req_id, rpc.INVALID_REQUEST, "invalid request"))
            return None
        return self._on_request(msg, notify=(kind == "notification"))

    def _on_response(self, msg: dict[str, Any]) -> str | None:
        if msg["id"] != self._register_id or self.registered:
            self.log.debug("ignoring response with unknown id %r", msg.get("id"))
            return None
        error = msg.get("error")
        result = msg.get("result")
        if error is not None or (isinstance(result, dict) and result.get("success") is False):
            err = error if isinstance(error, dict) else (result or {})
            reason = err.get("message") or err.get("error") or str(err)
            if err.get("code") in _FATAL_REGISTER_CODES:
                self.log.error("host refused register: code %s: %s; not retrying", err.get("code"), reason)
                self.refusal = (err.get("code"), str(reason))
                return _DENIED
            self.log.error("host rejected register: code %s: %s", err.get("code"), reason)
            return _REJECTED
        self.registered = True
        self.sock.settimeout(None)
        if isinstance(result, dict):
            self.plugin.plugin_id = result.get("plugin_id") or self.plugin.id
            self.plugin.host_version = result.get("host_version")
        self.log.info("registered as %s (host %s)", self.plugin.plugin_id,
                      self.plugin.host_version)
        return None

    def _on_request(self, msg: dict[str, Any], notify: bool) -> str | None:
        req_id, method = msg.get("id"), msg["method"]
        params = msg.get("params")
        if params is None:
            params = {}
        if method == "ping":
            if not notify:
                self.send(rpc.response(req_id, {"pong": True,
                                                "timestamp": int(time.time() * 1000)}))
            return None
        if method == "shutdown":
            self.log.info("shutdown requested by host")
            try:
                self.plugin.on_shutdown()
            except Exception:
                self.log.exception("on_shutdown hook failed")
            if not notify:
                self.send(rpc.response(req_id, {"success": True}))
            return _SHUTDOWN
        handler = self.plugin._find_handler(method)
        if handler is None:
            if not notify:
                self.send(rpc.error_response(req_id, rpc.METHOD_NOT_FOUND,
                                             f"method not found: {method}"))
            return None
        if not isinstance(params, dict):
            if not notify:
                self.send(rpc.error_response(req_id, rpc.INVALID_PARAMS,
                                             "params must be an object"))
            return None
        threading.Thread(target=self._run_handler, args=(handler, req_id, method, params, notify),
                         name=f"tgo-req-{req_id}", daemon=True).start()
        return None

    def _run_handler(self, handler: Any, req_id: Any, method: str, params: dict[str, Any],
                     notify: bool) -> None:
        try:
            reply = rpc.response(req_id, self.plugin._invoke(handler, method, params))
        except rpc.RPCError as exc:
            reply = rpc.error_response(req_id, exc.code, exc.message, exc.data)
        except Exception as exc:
            self.log.exception("handler for %s failed", method)
            reply = rpc.error_response(req_id, rpc.INTERNAL_ERROR,
                                       str(exc) or type(exc).__name__)
        if not notify:
            self.send(reply)


def _parse_tcp(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"tcp address must be host:port, got {addr!r}")
    return host.strip("[]"), int(port)


def _describe(target: tuple[str, Any]) -> str:
    kind, addr = target
    return f"tcp://{addr[0]}:{addr[1]}" if kind == "tcp" else f"unix:{addr}"


def _raise_signalled(signum: int, frame: Any) -> None:
    raise _Signalled(signum)


def _fast_exit(code: int) -> None:
    """Flush logs and stdio, then end the process now (no interpreter teardown, no atexit)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            stream=sys.stderr,
            level=os.environ.get("TGO_LOG_LEVEL", "INFO").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def _exit(code: int) -> None:
    """Exit the process: SystemExit on the main thread, else a hard exit after flushing."""
    if threading.current_thread() is threading.main_thread():
        raise SystemExit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
