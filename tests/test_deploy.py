"""Running under systemd (sd_notify, the unit file) and supervisord (a real supervisord)."""

from __future__ import annotations

import configparser
import datetime
import os
import secrets
import signal
import socket
import subprocess
import sys

import pytest


from support.launched import gone, stubborn_plugin
from support.paths import PLUGINS, ROOT
from support.waiting import wait_until
from tgo_host import notify
from tgo_host.plugins.supervisor import KILL_WAIT, TERM_WAIT

DEPLOY = ROOT / "deploy"
MANAGED = PLUGINS / "managed"
BIN = os.path.dirname(sys.executable)


def recorded(directory: str, name: str) -> list[str]:
    try:
        with open(os.path.join(directory, f"{name}.log")) as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return []


def recorded_pids(directory: str) -> list[int]:
    pids = []
    for entry in os.listdir(directory):
        if entry.endswith(".log"):
            pids += [int(line.split()[1]) for line in recorded(directory, entry[:-4]) if line.startswith("start ")]
    return pids


def kill_recorded(directory: str) -> None:
    """Kill, by pid, any test plugin carrying this record dir that is still alive."""
    marker = f"TGO_TEST_RECORD_DIR={directory}".encode()
    for pid in recorded_pids(directory):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if marker in fh.read().split(b"\0"):
                    os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass


def logged_at(log: str, fragment: str) -> float:
    """The time (epoch seconds) of the host's first log line containing ``fragment``."""
    for line in log.splitlines():
        if fragment in line:
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp()
    raise AssertionError(f"{fragment!r} not in the host's log:\n{log}")


# -- sd_notify -------------------------------------------------------------------------


def test_notify_is_a_no_op_without_notify_socket():
    assert notify.notify("READY=1", environ={}) is False


def test_notify_sends_to_a_path_and_to_the_abstract_namespace(short_dir):
    path = os.path.join(short_dir, "n.sock")
    name = f"tgo-test-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as by_path, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as abstract:
        by_path.bind(path)
        abstract.bind("\0" + name)
        by_path.settimeout(2)
        abstract.settimeout(2)
        assert notify.notify("READY=1", "STATUS=up", environ={"NOTIFY_SOCKET": path})
        assert by_path.recv(4096) == b"READY=1\nSTATUS=up"
        assert notify.notify("STOPPING=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert abstract.recv(4096) == b"STOPPING=1"
    assert notify.notify("READY=1", environ={"NOTIFY_SOCKET": os.path.join(short_dir, "nobody.sock")}) is False


@pytest.mark.timeout(180)  # a host process with launched plugins
def test_host_notifies_ready_then_stopping_and_leaves_no_plugin(short_dir):
    notify_path = os.path.join(short_dir, "n.sock")
    host_socket = os.path.join(short_dir, "h.sock")
    records = os.path.join(short_dir, "rec")
    os.mkdir(records)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NOTIFY_SOCKET=notify_path, TGO_TEST_RECORD_DIR=records)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(notify_path)
        listener.settimeout(15)
        host = subprocess.Popen(
            [sys.executable, "-m", "tgo_host", "run", "--socket", host_socket, "--http", "off",
             "--plugins-dir", str(MANAGED / "good"), "--shutdown-grace", "2"],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        try:
            ready = listener.recv(4096).decode().split("\n")
            assert ready[0] == "READY=1" and ready[1] == f"STATUS=listening on {host_socket}"
            assert os.path.exists(host_socket)  # ready means accepting
            wait_until(lambda: all("registered" in recorded(records, n) for n in ("echo", "legacy")), 15, "plugins")
            host.send_signal(signal.SIGTERM)
            assert listener.recv(4096).decode().split("\n")[0] == "STOPPING=1"
            assert host.wait(timeout=15) == 0
        finally:
            if host.poll() is None:
                host.kill()
                host.wait()
            kill_recorded(records)
    stderr = host.stderr.read()
    assert "shutdown acknowledged by 2 of 2" in stderr
    pids = recorded_pids(records)
    assert len(pids) == 2 and all(gone(pid) for pid in pids)
    assert not os.path.exists(host_socket)


# -- the unit file -----------------------------------------------------------------------


def unit_settings(path) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_systemd_unit():
    unit = unit_settings(DEPLOY / "tgo-host.service")
    assert unit["Type"] == ["notify"]
    assert unit["RuntimeDirectory"] == ["tgo"]
    assert "TGO_SOCKET_PATH=/run/tgo/tgo.sock" in unit["Environment"]
    assert unit["KillMode"] == ["mixed"] and unit["Restart"] == ["on-failure"]
    assert unit["ExecStart"][0].split()[0].endswith("/.venv/bin/tgo-host") and unit["ExecStart"][0].split()[1] == "run"
    grace = float(next(e.split("=", 1)[1] for e in unit["Environment"] if e.startswith("TGO_SHUTDOWN_GRACE=")))
    drain = 30 + 2  # the longest default plugin deadline (call_timeout) + 2 s for in-flight HTTP requests
    assert int(unit["TimeoutStopSec"][0]) > drain + grace + TERM_WAIT + KILL_WAIT


# -- supervisord ---------------------------------------------------------------------------


def shipped_program() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(DEPLOY / "supervisord.conf")
    return dict(parser["program:tgo-host"])


def test_shipped_supervisord_program_stops_gracefully():
    program = shipped_program()
    assert program["stopsignal"] == "TERM"
    assert program["stopasgroup"] == "false" and program["killasgroup"] == "true"
    grace = 5
    assert int(program["stopwaitsecs"]) > 32 + grace + TERM_WAIT + KILL_WAIT
    assert program["command"].split()[:2] == ["/opt/tgo-host/.venv/bin/tgo-host", "run"]


@pytest.mark.timeout(240)  # supervisord + supervisorctl processes
def test_supervisorctl_stop_runs_the_shutdown_cascade(short_dir):
    records = os.path.join(short_dir, "rec")
    os.mkdir(records)
    extra_plugins = os.path.join(short_dir, "plugins")
    stubborn_plugin(extra_plugins)
    host_socket = os.path.join(short_dir, "h.sock")
    control = os.path.join(short_dir, "sv.sock")
    conf = os.path.join(short_dir, "supervisord.conf")
    host_log = os.path.join(short_dir, "host.log")
    program = shipped_program()
    program.update(
        command=f"{sys.executable} -m tgo_host run --socket {host_socket} --http off --shutdown-grace 1 "
        f"--plugins-dir {MANAGED / 'good'} --plugins-dir {extra_plugins}",
        directory=short_dir,
        environment=f'PYTHONPATH="{ROOT}",TGO_TEST_RECORD_DIR="{records}"',
        stdout_logfile=host_log,
        startsecs="1",
    )
    program.pop("user", None)
    program.pop("stdout_logfile_maxbytes", None)
    program.pop("stdout_logfile_backups", None)
    config = configparser.ConfigParser(interpolation=None)
    config["unix_http_server"] = {"file": control, "chmod": "0700"}
    config["supervisord"] = {
        "logfile": os.path.join(short_dir, "supervisord.log"),
        "pidfile": os.path.join(short_dir, "supervisord.pid"),
        "childlogdir": short_dir,
        "nodaemon": "true",
        "loglevel": "info",
    }
    config["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"}
    config["supervisorctl"] = {"serverurl": f"unix://{control}"}
    config["program:tgo-host"] = program
    with open(conf, "w") as fh:
        config.write(fh)

    def ctl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([os.path.join(BIN, "supervisorctl"), "-c", conf, *args],
                              capture_output=True, text=True, timeout=timeout)

    supervisord = subprocess.Popen([os.path.join(BIN, "supervisord"), "-c", conf],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host_pid = None
    try:
        wait_until(lambda: all("registered" in recorded(records, n) for n in ("echo", "legacy", "stubborn")),
                   20, "plugins launched by the host under supervisord")
        wait_until(lambda: "RUNNING" in ctl("status", "tgo-host").stdout, 10, "supervisord to see the host RUNNING")
        host_pid = int(ctl("pid", "tgo-host").stdout.strip())
        stop = ctl("stop", "tgo-host")
        assert "stopped" in stop.stdout, (stop.stdout, stop.stderr)
        # Timed by the host's own log (supervisorctl's interpreter start-up is not the host's
        # business): from the signal to the socket's removal, the stubborn plugin is killed after
        # grace + TERM_WAIT, not after supervisord's stopwaitsecs.
        with open(host_log) as fh:
            log = fh.read()
        elapsed = logged_at(log, "host stopped") - logged_at(log, "received SIGTERM")
        assert 1 + TERM_WAIT - 0.2 <= elapsed < 1 + TERM_WAIT + 1.5, elapsed
        with open(os.path.join(short_dir, "supervisord.log")) as fh:
            assert "stopped: tgo-host (exit status 0)" in fh.read()  # it exited by itself, not SIGKILLed
        assert "STOPPED" in ctl("status", "tgo-host").stdout
        for name in ("echo", "legacy", "stubborn"):
            assert "shutdown" in recorded(records, name), (name, recorded(records, name))
        pids = recorded_pids(records)
        assert len(pids) == 3 and all(gone(pid) for pid in pids), [p for p in pids if not gone(p)]
        assert gone(host_pid)
        assert not os.path.exists(host_socket)
        assert "shutdown acknowledged by 2 of 3" in log and "SIGKILL" in log
        ctl("shutdown")
        assert supervisord.wait(timeout=15) == 0
    finally:
        if supervisord.poll() is None:
            supervisord.send_signal(signal.SIGTERM)
            try:
                supervisord.wait(timeout=15)
            except subprocess.TimeoutExpired:
                supervisord.kill()
                supervisord.wait()
        if host_pid is not None and not gone(host_pid):
            os.kill(host_pid, signal.SIGKILL)
        kill_recorded(records)
