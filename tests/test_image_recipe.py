"""The image recipe, run outside a container: deploy/Dockerfile's install and start commands in a fresh venv,
with its environment and the compose snippet's, then the compose healthcheck command against the result.

Images cannot be built here, so the test reads the recipe itself (COPY, RUN, ENV, CMD of the Dockerfile;
environment and healthcheck of deploy/docker-compose.tgo-host.yml) and substitutes only what must differ
outside a container: paths under a temp dir, loopback, free ports, a throw-away PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from support.paths import ROOT
from pgcluster import pg_cluster  # noqa: F401 - fixture
from support.net import free_port

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SNIPPET = ROOT / "deploy" / "docker-compose.tgo-host.yml"
PREFIX = "/opt/tgo-host"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            if current.strip():
                joined.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for kind, args in instructions():
        if kind == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def test_the_recipe_is_what_the_issue_asks_for():
    steps = instructions()
    base = next(args for kind, args in steps if kind == "FROM")
    assert re.fullmatch(r"python:3\.\d+-slim", base)
    assert ("USER", "tgo") in steps
    volumes = json.loads(next(args for kind, args in steps if kind == "VOLUME"))
    assert volumes == ["/var/run/tgo", "/var/lib/tgo/plugins"]
    env = dockerfile_env()
    assert env["PLUGIN_SOCKET_PATH"] == "/var/run/tgo/tgo.sock" and env["PLUGIN_BASE_PATH"] == "/var/lib/tgo/plugins"
    chown = next(args for kind, args in steps if kind == "RUN" and "chown" in args)
    assert "/var/run/tgo" in chown and "/var/lib/tgo" in chown  # the user can create the socket in the volume
    service = yaml.safe_load(SNIPPET.read_text())["services"]["tgo-plugin-runtime"]
    assert service["healthcheck"]["test"] == ["CMD", "curl", "-f", "http://127.0.0.1:8090/health"]
    assert service["ports"] == ["8005:8005"]
    assert {v.split(":")[1] for v in service["volumes"]} == {"/var/run/tgo", "/var/lib/tgo/plugins"}


@pytest.mark.timeout(900)
def test_install_start_and_healthcheck_as_the_recipe_says(pg_cluster, tmp_path, short_dir):  # noqa: F811
    steps = instructions()
    work = tmp_path
    src = work / "src"
    # COPY: the same files into the build's source directory
    for kind, args in steps:
        if kind == "COPY":
            *sources, target = args.split()
            for source in sources:
                relative = target.removeprefix("/src").strip("/")
                dest = src / relative / os.path.basename(source) if target.endswith("/") else src / relative
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / source, dest)
    prefix = work / "opt"
    # RUN: the install command, with the image's paths mapped into the temp dir
    install = next(args for kind, args in steps if kind == "RUN" and "install.sh" in args)
    command = install.split("&&")[0].strip().replace(PREFIX, str(prefix)).replace("/src", str(src))
    out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=800, cwd=work,
                         env={**os.environ, "PYTHON": sys.executable}, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"{command}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert "tgo-host" in out.stdout

    # ENV of the image, then the compose snippet's environment (what the container would see)
    service = yaml.safe_load(SNIPPET.read_text())["services"]["tgo-plugin-runtime"]
    env = {**dockerfile_env(), **{k: str(v) for k, v in service["environment"].items()}}
    port, tcp_port = free_port(), free_port()
    substitutes = {
        "HOST": "127.0.0.1", "PORT": str(port), "PLUGIN_TCP_PORT": str(tcp_port),
        "PLUGIN_SOCKET_PATH": os.path.join(short_dir, "tgo.sock"), "PLUGIN_BASE_PATH": str(work / "plugins"),
        "AI_SERVICE_URL": f"http://127.0.0.1:{free_port()}", "SECRET_KEY": "recipe-secret-key-of-at-least-32-bytes",
        "DATABASE_URL": pg_cluster.url(),
    }
    assert set(substitutes) <= set(env), "the recipe's environment lost an upstream variable"
    env.update(substitutes)
    argv = json.loads(next(args for kind, args in steps if kind == "CMD"))
    argv[0] = argv[0].replace(PREFIX, str(prefix))
    log = open(work / "host.log", "w")
    base_env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    host = subprocess.Popen(argv, env={**base_env, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        health = [part.replace(":8090/", f":{port}/") for part in service["healthcheck"]["test"][1:]]
        deadline = time.monotonic() + 60
        while True:
            assert host.poll() is None, (work / "host.log").read_text()
            probe = subprocess.run(health, capture_output=True, text=True, timeout=30)
            if probe.returncode == 0:
                break
            assert time.monotonic() < deadline, f"healthcheck never passed: {probe.stderr}\n{(work / 'host.log').read_text()}"
            time.sleep(0.5)
        assert json.loads(probe.stdout) == {"status": "healthy"}
        assert os.path.exists(substitutes["PLUGIN_SOCKET_PATH"])
        tables = pg_cluster.psql("SELECT count(*) FROM pg_installed_plugins")
        assert tables == "0"  # created by the image's tgo-host on the deployment's database
    finally:
        host.send_signal(signal.SIGTERM)
        try:
            host.wait(30)
        finally:
            if host.poll() is None:
                host.kill()
                host.wait(10)
            log.close()
    assert host.returncode == 0, (work / "host.log").read_text()
    assert subprocess.run(health, capture_output=True, timeout=30).returncode != 0  # a stopped host fails the check
