"""Build steps of an install: ``git clone``, ``go build``, a Python venv + ``pip install -r``, ``npm install``.

Each step is a subprocess in its own process group (dying with the host),
under ``build_timeout``;
its output lines go to ``on_line`` (the installer summarises them into the
progress stream and keeps them for the plugin's log). A step that fails,
times out or whose toolchain is missing raises :class:`BuildError` naming the
step and quoting its last output lines. Cancelled: the process group is
killed and reaped before the cancellation propagates.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections import deque
from typing import Callable

import trio

from ..errors import HostError
from ..plugins.launch import launch
from .models import BuildConfig, GoConfig, NodeConfig, PythonConfig

TAIL = 8  # output lines quoted in a failure


class BuildError(HostError):
    """A clone or build step that failed (the message names the step and quotes its output)."""

    kind = "build_failed"


def require_tool(name: str, language: str) -> str:
    """The path of ``name`` on PATH; :class:`BuildError` naming the missing toolchain otherwise."""
    path = shutil.which(name)
    if path is None:
        raise BuildError(f"build.language {language}: {name!r} is not installed on this host (not on PATH)")
    return path


async def run_step(label: str, argv: list[str], cwd: str, timeout: float, on_line: Callable[[str], None],
                   env: dict[str, str] | None = None) -> None:
    """Run one step; raises :class:`BuildError` on a non-zero exit or past ``timeout`` seconds.

    Started like a plugin (:func:`~tgo_host.plugins.launch.launch`): its own
    session, and it dies with the host even if the host is SIGKILLed.
    """
    tail: deque[str] = deque(maxlen=TAIL)
    full_env = dict(os.environ)
    full_env.pop("NOTIFY_SOCKET", None)
    full_env.update(env or {})

    def line_out(raw: bytes) -> None:
        line = raw.rstrip(b"\r").decode("utf-8", "replace")[:2000]
        tail.append(line)
        on_line(line)

    async def pump(stream: trio.abc.ReceiveStream) -> None:
        pending = b""
        while True:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line_out(raw)
        if pending:
            line_out(pending)

    try:
        proc = await launch(argv, cwd=cwd, env=full_env)
    except OSError as exc:
        raise BuildError(f"{label}: cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        with trio.move_on_after(timeout) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump, proc.stdout)
                nursery.start_soon(pump, proc.stderr)
            await proc.wait()
        timed_out = scope.cancelled_caught
    finally:
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                with trio.move_on_after(5):
                    await proc.wait()
            for stream in (proc.stdout, proc.stderr):
                await stream.aclose()
    quoted = ("; last output:\n" + "\n".join(tail)) if tail else ""
    if timed_out:
        raise BuildError(f"{label}: timed out after {timeout:g} s (build_timeout){quoted}")
    if proc.returncode != 0:
        raise BuildError(f"{label}: failed with exit status {proc.returncode}{quoted}")


def _inside(directory: str, relative: str, field: str) -> str:
    path = os.path.normpath(os.path.join(directory, relative))
    if path != directory and not path.startswith(directory + os.sep):
        raise BuildError(f"{field}: {relative!r} points outside the plugin directory")
    return path


async def build(config: BuildConfig, directory: str, timeout: float, on_line: Callable[[str], None],
                on_step: Callable[[str], None]) -> None:
    """Build the plugin in ``directory`` as ``config`` says; ``on_step`` announces each step."""
    language = config.language
    if language == "go":
        go = config.go or GoConfig()
        tool = require_tool("go", "go")
        output = _inside(directory, go.output, "build.go.output")
        _inside(directory, go.main, "build.go.main")
        on_step(f"go build -o {go.output} {go.main}")
        cache = os.path.join(directory, ".gocache")
        await run_step("go build", [tool, "build", "-o", output, go.main], directory, timeout, on_line,
                       env={"GOCACHE": os.environ.get("GOCACHE") or cache, "GOFLAGS": os.environ.get("GOFLAGS", "-mod=mod"),
                            "GOPATH": os.environ.get("GOPATH") or os.path.join(directory, ".gopath")})
        shutil.rmtree(cache, ignore_errors=True)
    elif language == "python":
        python = config.python or PythonConfig()
        requirements = _inside(directory, python.requirements, "build.python.requirements")
        _inside(directory, python.entrypoint, "build.python.entrypoint")
        has_requirements = os.path.isfile(requirements)
        venv = os.path.join(directory, ".venv")
        on_step("creating a virtual environment (.venv)")
        base = getattr(sys, "_base_executable", None) or sys.executable
        argv = [base, "-m", "venv", *([] if has_requirements else ["--without-pip"]), venv]
        await run_step("python -m venv", argv, directory, timeout, on_line)
        if has_requirements:
            on_step(f"pip install -r {python.requirements}")
            await run_step(f"pip install -r {python.requirements}",
                           [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check",
                            "--no-input", "-r", requirements], directory, timeout, on_line)
    elif language == "nodejs":
        node = config.nodejs or NodeConfig()
        require_tool("node", "nodejs")
        _inside(directory, node.entrypoint, "build.nodejs.entrypoint")
        package = _inside(directory, node.package, "build.nodejs.package")
        if os.path.isfile(package):
            npm = require_tool("npm", "nodejs")
            on_step("npm install")
            await run_step("npm install", [npm, "install", "--no-audit", "--no-fund", "--omit=dev"],
                           os.path.dirname(package), timeout, on_line)
