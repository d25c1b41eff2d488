"""Every way the host can fail to start is one line on stderr naming the setting and the cause, exit status 2.

Real processes against real sockets: a port someone else listens on, an
address this machine does not have, a host name that does not resolve, a
socket path that cannot be created, a secret file that cannot be read, a
taken debug port. No traceback, no exception group, nothing left behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from support.paths import ROOT

CLI = [sys.executable, "-m", "tgo_host", "run"]


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    full_env.update(PYTHONPATH=str(ROOT), TGO_LOG_LEVEL="warning", **(env or {}))
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, timeout=30,
                          stdin=subprocess.DEVNULL)


def assert_one_line_failure(proc: subprocess.CompletedProcess, prefix: str, cause: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "ExceptionGroup" not in proc.stderr, proc.stderr
    failures = [line for line in proc.stderr.splitlines() if line.startswith("tgo-host:")]
    assert len(failures) == 1, proc.stderr
    assert failures[0].startswith(prefix), failures[0]
    assert cause in failures[0], failures[0]


@pytest.fixture
def taken_port():
    """A port on 127.0.0.1 that another socket listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_http_port_taken(short_dir, taken_port):
    sock = os.path.join(short_dir, "h.sock")
    proc = start(["--socket", sock, "--http", f"127.0.0.1:{taken_port}"])
    assert_one_line_failure(proc, f"tgo-host: cannot start: http_addr 127.0.0.1:{taken_port}: ", "already in use")
    assert not os.path.exists(sock)  # what was set up is taken down again


def test_http_address_not_on_this_machine(short_dir):
    # 192.0.2.1 is TEST-NET-1: never assigned to a local interface. Non-loopback needs a token.
    proc = start(["--socket", os.path.join(short_dir, "h.sock"), "--http", "192.0.2.1:8090"],
                 env={"TGO_HTTP_TOKEN": "t0ken"})
    assert_one_line_failure(proc, "tgo-host: cannot start: http_addr 192.0.2.1:8090: ", "no network interface")


def test_http_host_that_does_not_resolve(short_dir):
    proc = start(["--socket", os.path.join(short_dir, "h.sock"), "--http", "no-such-host.invalid:8090"],
                 env={"TGO_HTTP_TOKEN": "t0ken"})
    assert_one_line_failure(proc, "tgo-host: cannot start: http_addr no-such-host.invalid:8090: ", "cannot resolve")


def test_http_address_malformed(short_dir):
    proc = start(["--socket", os.path.join(short_dir, "h.sock"), "--http", "localhost"])
    assert_one_line_failure(proc, "tgo-host: configuration error: ", "http_addr")


def test_socket_directory_cannot_be_created(short_dir):
    blocker = os.path.join(short_dir, "file")
    open(blocker, "w").close()
    sock = os.path.join(blocker, "sub", "h.sock")
    proc = start(["--socket", sock, "--http", "off"])
    assert_one_line_failure(proc, f"tgo-host: cannot start: socket_path {sock}: ", "cannot create directory")


def test_socket_path_too_long(short_dir):
    sock = os.path.join(short_dir, "d" * 120, "h.sock")
    proc = start(["--socket", sock, "--http", "off"])
    assert_one_line_failure(proc, "tgo-host: cannot start: socket_path ", "107")


@pytest.mark.parametrize("content, cause", [(None, "cannot read it"), ("", "is empty")])
def test_secret_file_unreadable_or_empty(short_dir, content, cause):
    secret = os.path.join(short_dir, "secret")
    if content is not None:
        with open(secret, "w") as fh:
            fh.write(content)
    config = os.path.join(short_dir, "host.toml")
    with open(config, "w") as fh:
        fh.write(f'secret_file = "{secret}"\n')
    proc = start(["--config", config, "--socket", os.path.join(short_dir, "h.sock"), "--http", "off"])
    assert_one_line_failure(proc, "tgo-host: configuration error: ", f"secret_file {secret}: {cause}")


def test_dev_tcp_port_taken(short_dir, taken_port):
    sock = os.path.join(short_dir, "h.sock")
    proc = start(["--socket", sock, "--http", "off", "--dev-tcp", f"127.0.0.1:{taken_port}"],
                 env={"TGO_SECRET": "s3cret"})
    assert_one_line_failure(proc, f"tgo-host: cannot start: dev_tcp_addr 127.0.0.1:{taken_port}: ", "in use")
    assert not os.path.exists(sock)
