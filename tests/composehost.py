"""Start ``tgo-host run`` through its CLI with exactly the upstream docker-compose environment.

Used by the compose tests: loopback addresses and free ports are substituted
for the compose values; no ``TGO_*`` variable is passed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from support.net import free_port
from support.paths import ROOT

SECRET = "compose-test-secret-key-of-32-bytes-or-more"


def compose_environment(directory: str, **extra: str) -> dict[str, str]:
    """The upstream service's variables (compose values, loopback/free ports substituted), plus ``extra``."""
    env = {
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "PLUGIN_SOCKET_PATH": os.path.join(directory, "run", "tgo.sock"),
        "PLUGIN_TCP_PORT": str(free_port()),
        "PLUGIN_REQUEST_TIMEOUT": "30",
        "PLUGIN_PING_INTERVAL": "30",
        "AI_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "AI_SERVICE_TIMEOUT": "30",
        "SECRET_KEY": SECRET,
        "PLUGIN_BASE_PATH": os.path.join(directory, "plugins"),
        "LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


def process_environment(compose: dict[str, str]) -> dict[str, str]:
    """This process's environment without any TGO_* name, plus ``compose``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TGO_") and k not in compose}
    return {**base, "PYTHONPATH": str(ROOT), **compose}


class ComposeHost:
    """One ``python -m tgo_host run`` process with the compose environment; its stderr goes to a file."""

    def __init__(self, compose: dict[str, str], log_path: str) -> None:
        self.compose = compose
        self.base = f"http://127.0.0.1:{compose['PORT']}"
        self.log_path = log_path
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "tgo_host", "run"], env=process_environment(compose),
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=os.path.dirname(log_path))

    def stderr(self) -> str:
        with open(self.log_path) as fh:
            return fh.read()

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"host exited {self.proc.returncode}: {self.stderr()}"
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"/health never answered: {self.stderr()}")

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.base + path, timeout=30, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return httpx.post(self.base + path, timeout=60, **kw)

    def request_delete(self, path: str, **kw) -> httpx.Response:
        return httpx.delete(self.base + path, timeout=60, **kw)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode
