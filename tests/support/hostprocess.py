"""``tgo-host run`` in a subprocess with a clean environment; its log in a file a test reads and waits on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from support.paths import ROOT


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


class HostProcess:
    """``tgo-host run`` in a subprocess; its log goes to a file the test reads."""

    def __init__(self, short_dir: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.socket = os.path.join(short_dir, "h.sock")
        self.log_path = os.path.join(short_dir, "host.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tgo_host", "run", "--socket", self.socket, *args],
            env=env or clean_env(), stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        with open(self.log_path) as fh:
            return fh.read()

    def wait_log(self, pattern: str, timeout: float = 30) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match:
                return match
            assert self.proc.poll() is None, f"host exited with {self.proc.returncode}:\n{self.log()}"
            assert time.monotonic() < deadline, f"{pattern!r} not logged within {timeout} s:\n{self.log()}"
            time.sleep(0.05)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log_file.close()
