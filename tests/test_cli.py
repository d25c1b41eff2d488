"""The host as operators run it: a real process, signals, flags, config file, environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from support.cli import CLI, run_cli
from support.paths import PLUGINS, ROOT

def test_help_explains_every_option():
    out = run_cli("run", "--help").stdout
    for flag in ("--socket", "--config", "--render-timeout", "--event-timeout", "--ping-interval",
                 "--shutdown-grace", "--max-frame-bytes", "--http", "--log-level"):
        assert flag in out


def test_settings_precedence_file_env_flags(short_dir):
    config = os.path.join(short_dir, "host.toml")
    with open(config, "w") as fh:
        fh.write('render_timeout = 7.5\nevent_timeout = 4\nsocket_path = "/tmp/from-file.sock"\nsocket_mode = 0o640\n')
    out = run_cli("check", "--config", config, "--event-timeout", "9", env={"TGO_RENDER_TIMEOUT": "8", "TGO_SOCKET_PATH": ""})
    assert out.returncode == 0, out.stderr
    lines = set(out.stdout.splitlines())
    assert "render_timeout = 8.0" in lines  # env beats file
    assert "event_timeout = 9.0" in lines  # flag beats file
    assert "socket_path = '/tmp/from-file.sock'" in lines
    assert "socket_mode = 0640" in lines  # octal, as the docs and config files write it


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("render_timeout = 'soon'\n", "render_timeout: expected a number"),
        ("colour = 1\n", "colour: unknown setting"),
        ("socket_mode = 0o666\n", "world-accessible"),
        ("render_timeout = \n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(short_dir, content, fragment):
    config = os.path.join(short_dir, "bad.toml")
    with open(config, "w") as fh:
        fh.write(content)
    out = run_cli("check", "--config", config)
    assert out.returncode == 2
    assert fragment in out.stderr and config in out.stderr


def test_bad_env_value_is_a_clear_error():
    out = run_cli("check", env={"TGO_PING_INTERVAL": "often"})
    assert out.returncode == 2 and "TGO_PING_INTERVAL" in out.stderr


def wait_for_path(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def start_host(socket_path, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([*CLI, "run", "--socket", socket_path, "--http", "off", *extra],
                            env=env, stderr=subprocess.PIPE, text=True)


def test_sigterm_cascade_with_ten_plugins(short_dir):
    sock = os.path.join(short_dir, "h.sock")
    host = start_host(sock, "--shutdown-grace", "5")
    procs = []
    try:
        wait_for_path(sock)
        env = dict(os.environ, TGO_SOCKET_PATH=sock)
        for i in range(12):
            record = os.path.join(short_dir, f"p{i}.log")
            procs.append(subprocess.Popen([sys.executable, str(PLUGINS / "scripted.py"), "--id", f"p{i}", "--record", record], env=env))
        deadline = time.monotonic() + 15
        while not all(os.path.exists(os.path.join(short_dir, f"p{i}.log")) for i in range(12)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        host.send_signal(signal.SIGTERM)
        assert host.wait(timeout=15) == 0
        stderr = host.stderr.read()
        assert "shutdown acknowledged by 12 of 12" in stderr
        assert not os.path.exists(sock)
        for i, proc in enumerate(procs):
            assert proc.wait(timeout=5) == 0
            lines = open(os.path.join(short_dir, f"p{i}.log")).read().splitlines()
            assert lines[0].startswith("registered")
            assert "shutdown" in lines  # received shutdown before its socket closed
    finally:
        for proc in [host, *procs]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_second_signal_forces_exit(short_dir):
    sock = os.path.join(short_dir, "h.sock")
    host = start_host(sock, "--shutdown-grace", "30")
    env = dict(os.environ, TGO_SOCKET_PATH=sock)
    plugin = None
    try:
        wait_for_path(sock)
        record = os.path.join(short_dir, "s.log")
        plugin = subprocess.Popen([sys.executable, str(PLUGINS / "scripted.py"), "--id", "s", "--ignore-shutdown", "--record", record], env=env)
        deadline = time.monotonic() + 10
        while not os.path.exists(record):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        host.send_signal(signal.SIGTERM)
        while "shutdown" not in open(record).read():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        start = time.monotonic()
        host.send_signal(signal.SIGINT)
        assert host.wait(timeout=5) == 1
        assert time.monotonic() - start < 3
        assert not os.path.exists(sock)
    finally:
        for proc in (host, plugin):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_refuses_to_start_on_a_live_socket(short_dir):
    sock = os.path.join(short_dir, "h.sock")
    first = start_host(sock)
    try:
        wait_for_path(sock)
        second = run_cli("run", "--socket", sock, "--http", "off")
        assert second.returncode == 2 and "already listening" in second.stderr
        assert second.stderr.strip().splitlines()[-1].startswith(f"tgo-host: cannot start: socket_path {sock}: ")
        assert os.path.exists(sock)
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0


def test_example_config_is_valid_and_complete():
    """deploy/tgo-host.example.toml names every setting and passes `check`."""
    import attrs
    import tomllib

    from tgo_host.settings import Settings

    path = ROOT / "deploy" / "tgo-host.example.toml"
    text = path.read_text()
    documented = set(tomllib.loads(text)) | {line.split("=")[0].strip("# ").strip() for line in text.splitlines() if line.startswith("# ") and "=" in line}
    assert {f.name for f in attrs.fields(Settings)} <= documented
    out = run_cli("check", "--config", str(path), env={"TGO_SOCKET_PATH": ""})
    assert out.returncode == 0, out.stderr + out.stdout
    assert "render_timeout = 5.0" in out.stdout
