"""A wheel of tgo-host installs and runs on its own, with only its runtime dependencies.

Builds the wheel from a copy of the sources (so the tree is not touched),
installs it into a fresh virtualenv with the versions of requirements.lock
(no test tools), then runs the installed ``tgo-host``: ``--help``, ``check``,
``dev-token`` and a short ``run`` that serves ``/healthz`` and the console's
pages and static files. Needs pip to reach the package index (or its cache),
like ``make install``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from support.net import free_port
from support.paths import ROOT

PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]
# Building the wheel and installing it with its dependencies takes 1-3 minutes on a loaded machine.
pytestmark = pytest.mark.timeout(900)


def lock_names(path: Path) -> set[str]:
    """Canonical names pinned in a lock file (``-r`` includes followed)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            names |= lock_names(path.parent / line[3:].strip())
        elif line:
            names.add(re.sub(r"[-_.]+", "-", line.split("==")[0]).lower())
    return names


def run(argv, timeout=600, **kw):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    assert proc.returncode == 0, f"{argv} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding the wheel and the runtime lock only: (venv bin dir, work dir)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("tgo_host", "tgo_plugin"):
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    wheels = base / "wheels"
    run([sys.executable, *PIP, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source)])
    (wheel,) = wheels.glob("tgo_host-*.whl")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    bin_dir = venv / "bin"
    run([str(bin_dir / "python"), *PIP, "install", "--quiet", "-c", str(ROOT / "requirements.lock"), str(wheel)])
    work = base / "work"
    work.mkdir()
    return bin_dir, work


def test_the_wheel_pulls_in_exactly_the_runtime_lock(installed):
    bin_dir, work = installed
    listing = run([str(bin_dir / "python"), *PIP, "list", "--format", "json"], cwd=work)
    names = {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in json.loads(listing.stdout)}
    names -= {"pip", "setuptools", "wheel", "tgo-host"}
    runtime = lock_names(ROOT / "requirements.lock")
    dev_only = lock_names(ROOT / "requirements-dev.lock") - runtime
    assert names == runtime, (
        f"installed but not in requirements.lock: {sorted(names - runtime)}; "
        f"in requirements.lock but not needed: {sorted(runtime - names)}"
    )
    assert not names & dev_only
    assert {"pytest", "playwright", "schemathesis", "hypothesis"} <= dev_only


def test_the_installed_command_helps_checks_and_mints_tokens(installed, short_dir):
    bin_dir, work = installed
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(work), "TGO_SOCKET_PATH": os.path.join(short_dir, "h.sock")}
    helped = run([str(bin_dir / "tgo-host"), "--help"], cwd=work, env=env)
    assert "run" in helped.stdout and "check" in helped.stdout and "dev-token" in helped.stdout
    checked = run([str(bin_dir / "tgo-host"), "check"], cwd=work, env=env)
    assert "socket_mode = 0660" in checked.stdout.splitlines()
    token = run([str(bin_dir / "tgo-host"), "dev-token", "--project", "p1", "--user", "u1", "--ttl", "1h"],
                cwd=work, env={**env, "TGO_SECRET": "s3cret-for-the-wheel-test"}).stdout.strip()
    claims = run([str(bin_dir / "python"), "-c",
                  "import json, sys, jwt; "
                  "print(json.dumps(jwt.decode(sys.argv[1], 's3cret-for-the-wheel-test', algorithms=['HS256'])))",
                  token],
                 cwd=work, env=env)
    decoded = json.loads(claims.stdout)
    assert decoded["project_id"] == "p1" and decoded["user_id"] == "u1" and decoded["type"] == "plugin_dev"
    where = run([str(bin_dir / "python"), "-c", "import tgo_host, tgo_plugin; print(tgo_host.__file__, tgo_plugin.__file__)"],
                cwd=work, env=env).stdout
    assert str(ROOT) not in where and "site-packages" in where  # the wheel, not this checkout


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


def test_the_installed_host_serves_health_and_the_console(installed, short_dir):
    bin_dir, work = installed
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(work)}
    proc = subprocess.Popen(
        [str(bin_dir / "tgo-host"), "run", "--socket", os.path.join(short_dir, "h.sock"), "--http", f"127.0.0.1:{port}"],
        cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"tgo-host exited with {proc.returncode}:\n{proc.stdout.read()}"
            try:
                status, _, body = fetch(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the installed host never answered /healthz"
                time.sleep(0.2)
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, kind, page = fetch(base + "/console")
        assert status == 200 and kind.startswith("text/html")
        assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page.decode())
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
        for asset in assets:
            status, _, content = fetch(base + asset)
            assert status == 200 and content, asset
        status, _, _ = fetch(base + "/console/gallery")
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
