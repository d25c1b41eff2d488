"""The plugin socket: safe creation of the socket file, and the accept loop.

:func:`bind_unix_listener` owns the socket file's hygiene (parent directory,
stale files, a live host already there, path length, mode and group).
:func:`serve_listener` accepts until cancelled and starts one supervised
task per connection in the nursery it is given, so connections outlive the
accept loop: cancelling the accept loop only stops *new* connections. Like
trio's ``serve_listeners``, only running out of fds or memory is retried
(after a pause); any other ``accept`` error ends the loop with
:class:`ListenerFailed`, because a broken listening socket stays broken.
"""

from __future__ import annotations

import errno
import grp
import logging
import os
import socket as stdlib_socket
import stat
from typing import Awaitable, Callable

import trio

from ..errors import HostError
from ..netaddr import is_loopback, parse_addr
from ..wire.framing import encode_frame
from ..wire.messages import SERVER_ERROR, ErrorObject, encode_error
from .peer import PeerInfo, tcp_peer, unix_peer

log = logging.getLogger("tgo_host.listener")

MAX_UNIX_PATH_BYTES = 107
# Like trio's serve_listeners: out of resources -> wait and retry; anything else is a real error.
ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_SKIP_ERRNOS = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})  # that one peer is gone/blocked
ACCEPT_BACKOFF = 0.1
ConnectionHandler = Callable[[trio.SocketStream, PeerInfo], Awaitable[None]]


class SocketPathError(HostError):
    """The plugin socket cannot be created at the configured path (the message says why)."""

    kind = "socket_path_unusable"

    #: The setting at fault, for the one-line start-up error.
    setting = "socket_path"


class DevListenerError(SocketPathError):
    """The TCP debug listener cannot be opened (the message says why)."""

    kind = "dev_listener_unusable"

    setting = "dev_tcp_addr"


class ListenerFailed(HostError, OSError):
    """``accept`` failed with an error retrying cannot fix: the listener is broken.

    Keeps the ``errno`` of the failure; the message names the listener.
    """

    kind = "listener_failed"


def _check_existing(path: str) -> None:
    """Remove a stale socket file at ``path``; refuse a live one or a non-socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketPathError(f"{path} exists and is not a socket; refusing to replace it")
    probe = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("removing stale socket file %s (nobody is listening)", path)
        os.unlink(path)
        return
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            os.unlink(path)
            return
        raise SocketPathError(f"cannot probe existing socket {path}: {exc}") from exc
    finally:
        probe.close()
    raise SocketPathError(f"another process is already listening on {path}; refusing to take it over")


def socket_path_problem(path: str) -> str | None:
    """Why the plugin socket could not be served at ``path`` (None if it looks servable).

    Changes nothing: a stale socket file is fine (binding removes it); a live
    listener, a file that is not a socket, a path over the AF_UNIX limit or a
    directory that cannot be created or written are problems. A check, not a
    guarantee: :func:`bind_unix_listener` still reports what goes wrong later.
    """
    if len(os.fsencode(path)) > MAX_UNIX_PATH_BYTES:
        return f"the path is longer than the {MAX_UNIX_PATH_BYTES} bytes AF_UNIX allows"
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        return f"cannot inspect it: {exc.strerror}"
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            return "it exists and is not a socket"
        probe = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
            return "another process is listening on it"
        except OSError:
            pass  # stale: nobody listens
        finally:
            probe.close()
    directory = os.path.dirname(os.path.abspath(path))
    existing = directory
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user" if existing == directory else (
            f"{directory} does not exist and {existing} is not writable by this user")
    return None


def bind_unix_listener(path: str, *, mode: int = 0o660, group: str | None = None, backlog: int = 512) -> trio.socket.SocketType:
    """Create, bind and listen on the plugin socket at ``path``.

    Raises :class:`SocketPathError` for a path that is too long, occupied by
    a live host or a non-socket file, or that cannot be created.
    """
    encoded = os.fsencode(path)
    if len(encoded) > MAX_UNIX_PATH_BYTES:
        raise SocketPathError(
            f"socket path is {len(encoded)} bytes; AF_UNIX allows at most {MAX_UNIX_PATH_BYTES}: {path}"
        )
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise SocketPathError(f"cannot create directory {parent} for the plugin socket: {exc}") from exc
    _check_existing(path)
    sock = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # never world-accessible, not even between bind and chmod
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise SocketPathError(f"cannot bind {path}: {exc}") from exc
    finally:
        os.umask(old_umask)
    try:
        if group is not None:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        os.chmod(path, mode)
        sock.listen(backlog)
    except (OSError, KeyError) as exc:
        sock.close()
        os.unlink(path)
        raise SocketPathError(f"cannot set up {path} (mode {mode:o}, group {group}): {exc}") from exc
    return trio.socket.from_stdlib_socket(sock)


def remove_socket_file(path: str, sock: trio.socket.SocketType) -> None:
    """Close ``sock`` and unlink ``path`` if it is still our socket file."""
    sock.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def serve_listener(
    sock: trio.socket.SocketType,
    handler: ConnectionHandler,
    connections: trio.Nursery,
    *,
    max_connections: int,
    active: Callable[[], int],
    name: str = "the plugin listener",
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept connections on ``sock`` until cancelled; each runs ``handler`` in ``connections``.

    The shape of trio's ``serve_listeners``: the connections live in a nursery
    the caller owns (cancelling this loop stops only *new* connections), and
    readiness is reported through ``task_status``.

    When ``active()`` (registered plugins) has reached ``max_connections``, a
    newcomer gets one JSON-RPC error frame and is closed. ``accept`` errors
    that mean "out of fds or memory" (EMFILE, ENFILE, ENOMEM, ENOBUFS) are
    logged at a bounded rate and retried after a pause, so the loop never
    spins; a peer that gave up before being accepted is skipped; any other
    error ends the loop with :class:`ListenerFailed` naming ``name`` (the
    listener is broken and retrying would log forever: the host stops).
    """
    is_unix = sock.family == trio.socket.AF_UNIX
    task_status.started()
    failures = 0
    while True:
        try:
            conn, _ = await sock.accept()
        except OSError as exc:
            if exc.errno in ACCEPT_SKIP_ERRNOS:
                continue
            if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                log.critical("accept on %s failed: %s; the listener is broken", name, exc)
                raise ListenerFailed(
                    exc.errno, f"accept on {name} failed: {exc.strerror or exc}; the listener is broken"
                ) from exc
            failures += 1
            if failures <= 10 or failures % 1000 == 0:
                log.error("accept on %s failed (#%d): %s; retrying in %g s", name, failures, exc, ACCEPT_BACKOFF)
            await trio.sleep(ACCEPT_BACKOFF)
            continue
        stream = trio.SocketStream(conn)
        peer = unix_peer(conn) if is_unix else tcp_peer(conn)
        if active() >= max_connections:
            log.warning("refused connection from %s: %d connections is the limit", peer, max_connections)
            connections.start_soon(
                refuse_connection, stream, SERVER_ERROR, f"host is at its limit of {max_connections} plugin connections"
            )
            continue
        connections.start_soon(handler, stream, peer)


async def refuse_connection(stream: trio.SocketStream, code: int, message: str) -> None:
    """Send one JSON-RPC error frame (``id: null``) and close; bounded to one second."""
    with trio.move_on_after(1.0):
        try:
            await stream.send_all(encode_frame(encode_error(None, ErrorObject(code, message))))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
    await trio.aclose_forcefully(stream)


async def open_dev_tcp_listener(addr: str, allow_remote: bool) -> trio.socket.SocketType:
    """Bind the TCP debug listener; a non-loopback address needs ``allow_remote``."""
    try:
        host, port = parse_addr(addr)
    except ValueError as exc:
        raise DevListenerError(f"dev TCP listener: {exc}") from None
    if not is_loopback(host) and not allow_remote:
        raise DevListenerError(
            f"dev TCP listener {addr} is not on loopback; set dev_tcp_allow_remote = true to allow it"
        )
    family = trio.socket.AF_INET6 if ":" in host else trio.socket.AF_INET
    sock = trio.socket.socket(family, trio.socket.SOCK_STREAM)
    sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_REUSEADDR, 1)
    try:
        await sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DevListenerError(f"cannot bind dev TCP listener {addr}: {exc.strerror or exc}") from exc
    sock.listen(128)
    log.info("dev TCP listener on %s:%s (dev_token required)", host, sock.getsockname()[1])
    return sock
