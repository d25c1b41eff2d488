"""``python -m tgo_host`` as operators run it, from tests."""

from __future__ import annotations

import os
import subprocess
import sys

from support.paths import ROOT

CLI = [sys.executable, "-m", "tgo_host"]


def run_cli(*args, env=None, timeout=20):
    full_env = dict(os.environ, PYTHONPATH=str(ROOT))
    full_env.update(env or {})
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, timeout=timeout)
