"""Mutation check: break one promised behaviour at a time in a copy of the tree, run its tests.

Usage: ``make mutants`` (all), ``make mutants MUTANTS="fanout-sequential deadline-late"``,
``python tests/mutants.py --list``.

Each mutant replaces one exact snippet of the source with a broken version, in a temporary
copy of the repository, and runs the tests that are meant to catch it (``pytest -x``). A mutant
is **killed** when those tests fail, **SURVIVED** when they pass (the promise is not pinned:
add or fix a test), and **STALE** when its snippet is no longer in the source (the code moved:
update the mutant). The exit status is 1 if any mutant survived or is stale. Not part of
``make test``: it runs the selected tests once per mutant (~10 minutes for all on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(".venv", ".git", ".run", "__pycache__", ".pytest_cache", "*.egg-info", "node_modules")


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str  # the broken behaviour, in words
    path: str
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments
    also: tuple[tuple[str, str, str], ...] = ()  # further (path, old, new) edits of the same mutant

    def edits(self) -> list[tuple[str, str, str]]:
        return [(self.path, self.old, self.new), *self.also]


MUTANTS = [
    Mutant("fanout-sequential", "the visitor-panel fan-out renders plugins one after another",
           "tgo_host/plugins/dispatch.py",
           "answers = await call_each([session for _, session in entries], method, params)",
           "answers = [a for _, session in entries for a in await call_each([session], method, params)]",
           ("tests/test_deadlines.py",)),
    Mutant("deadline-late", "every request deadline fires 20 % late (single requests and the fan-out)",
           "tgo_host/wire/connection.py",
           "with trio.move_on_after(timeout):\n                await answered.wait()",
           "with trio.move_on_after(timeout * 1.2):\n                await answered.wait()",
           ("tests/test_deadlines.py", "-k", "not fan_out"),  # the fan-out's own: fanout-deadline-late
           also=(("tgo_host/wire/connection.py",
                  "with trio.move_on_after(timeout):\n            await countdown.all_answered.wait()",
                  "with trio.move_on_after(timeout * 1.2):\n            await countdown.all_answered.wait()"),)),
    Mutant("fanout-deadline-late", "the fan-out's shared deadline fires 20 % late",
           "tgo_host/wire/connection.py",
           "with trio.move_on_after(timeout):\n            await countdown.all_answered.wait()",
           "with trio.move_on_after(timeout * 1.2):\n            await countdown.all_answered.wait()",
           ("tests/test_deadlines.py", "-k", "fan_out")),
    Mutant("deadline-never", "request deadlines never fire",
           "tgo_host/wire/connection.py",
           "with trio.move_on_after(timeout):\n                await answered.wait()",
           "with trio.move_on_after(timeout * 1000):\n                await answered.wait()",
           ("tests/test_deadlines.py", "-k", "not fan_out")),
    Mutant("cli-drops-http-token", "the CLI never applies TGO_HTTP_TOKEN / http_token_file",
           "tgo_host/cli.py",
           "secret=secret, http_token=http_token,",
           "secret=secret, http_token=None,",
           ("tests/test_configured_security.py", "-k", "http_token")),
    Mutant("shutdown-sequential", "`shutdown` is sent to plugins one after another",
           "tgo_host/host.py",
           "nursery.start_soon(session.shutdown, grace)",
           "await session.shutdown(grace)",
           ("tests/test_deadlines.py", "-k", "shutdown")),
    Mutant("shutdown-silent", "the shutdown cascade closes sessions without sending `shutdown`",
           "tgo_host/host.py",
           "nursery.start_soon(session.shutdown, grace)",
           "session.close('host shutdown')",
           ("tests/test_deadlines.py", "-k", "shutdown")),
    Mutant("duplicate-accepted", "a second connection may take a live plugin's id",
           "tgo_host/plugins/registry.py",
           "raise DuplicatePlugin(plugin_id, existing)",
           "pass",
           ("tests/test_registration_pins.py", "-k", "duplicate")),
    Mutant("generated-id-format", "generated plugin ids are not `plugin_<8 hex>`",
           "tgo_host/plugins/session.py",
           'f"plugin_{secrets.token_hex(4)}"',
           'f"plugin_{secrets.token_hex(5)}"',
           ("tests/test_registration_pins.py", "-k", "generated")),
    Mutant("no-umask", "the socket file exists with the process umask's mode until chmod",
           "tgo_host/plugins/listener.py",
           "old_umask = os.umask(0o177)",
           "old_umask = os.umask(os.umask(0))",
           ("tests/test_configured_security.py", "-k", "between_bind_and_chmod")),
    Mutant("socket-group-ignored", "socket_group is not applied to the socket file",
           "tgo_host/plugins/listener.py",
           "os.chown(path, -1, grp.getgrnam(group).gr_gid)",
           "grp.getgrnam(group)",
           ("tests/test_configured_security.py", "-k", "socket_group")),
    Mutant("gids-ignored", "allowed_gids admits nobody by group",
           "tgo_host/plugins/auth.py",
           "return (peer.uid in uids) or (peer.gid in gids)",
           "return peer.uid in uids",
           ("tests/test_configured_security.py", "-k", "gid_allow_list")),
    Mutant("dev-listener-remote", "the dev TCP listener binds a non-loopback address without dev_tcp_allow_remote",
           "tgo_host/plugins/listener.py",
           "if not is_loopback and not allow_remote:",
           "if False:",
           ("tests/test_configured_security.py", "-k", "dev_listener or remote")),
    Mutant("tgo-secret-ignored", "TGO_SECRET is not read",
           "tgo_host/config.py",
           '_read_secret_value("TGO_SECRET",',
           '_read_secret_value("TGO_SECRET_NOT_READ",',
           ("tests/test_configured_security.py", "-k", "tgo_secret")),
    Mutant("iframe-unscoped", "GET /plugins/{id}/iframe ignores ?project_id=",
           "tgo_host/api/rendering.py",
           "self.dispatcher.iframe_config(plugin_id, project_of(request))",
           "self.dispatcher.iframe_config(plugin_id, None)",
           ("tests/test_configured_security.py", "-k", "project_id")),
    Mutant("backoff-flat", "the restart back-off does not double",
           "tgo_host/plugins/restart_policy.py",
           "self.delay = min(max(self.delay * 2, MIN_DOUBLED_DELAY), self.max_delay)",
           "self.delay = min(max(self.delay * 1, MIN_DOUBLED_DELAY), self.max_delay)",
           ("tests/test_supervisor.py", "-k", "backs_off")),
    Mutant("no-death-signal", "launched plugins do not die with a SIGKILLed host",
           "tgo_host/plugins/launch.py",
           "prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)",
           "pass",
           ("tests/test_orphans.py", "-k", "sigkilled")),
    Mutant("pending-pool-unbounded", "unregistered connections are never pushed out of their pool",
           "tgo_host/plugins/pending.py",
           "while len(self._sessions) >= self.limit:",
           "while False:",
           ("tests/test_budgets.py", "-k", "pending_pool")),
    Mutant("no-buffer-budget", "the host-wide buffered-bytes budget never sheds a connection",
           "tgo_host/wire/budget.py",
           "while delta > 0 and self.total > self.limit and self._holders:",
           "while False:",
           ("tests/test_budgets.py", "-k", "never_read")),
    Mutant("emfile-fatal", "a spawn failing with EMFILE marks the plugin error",
           "tgo_host/plugins/supervision.py",
           "if exc.errno not in TRANSIENT_SPAWN_ERRNOS:",
           "if True:",
           ("tests/test_orphans.py", "-k", "spawn_without")),
]


def run_mutant(mutant: Mutant, tree: Path, env: dict[str, str]) -> tuple[str, float, str]:
    """Apply ``mutant`` in ``tree``, run its tests, restore the files; returns (verdict, seconds, detail)."""
    originals: dict[Path, str] = {}
    for path, old, new in mutant.edits():
        target = tree / path
        originals.setdefault(target, target.read_text())
        current = target.read_text()
        count = current.count(old)
        if count != 1:
            for restored, original in originals.items():
                restored.write_text(original)
            return "STALE", 0.0, f"snippet found {count} times in {path}: {old!r}"
        target.write_text(current.replace(old, new))
    start = time.monotonic()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests],
            cwd=tree, env=env, capture_output=True, text=True, timeout=900,
        )
    except subprocess.TimeoutExpired:
        return "killed", time.monotonic() - start, "tests did not finish within 900 s"
    finally:
        for target, original in originals.items():
            target.write_text(original)
    elapsed = time.monotonic() - start
    text = out.stdout + out.stderr
    if out.returncode == 0:
        return "SURVIVED", elapsed, (re.findall(r"^\d+ passed.*$", text, re.M) or [""])[-1]
    if out.returncode != 1:  # 1 = tests failed; anything else is a usage/collection error
        return "ERROR", elapsed, text[-2000:]
    failed = re.findall(r"^FAILED (\S+)", text, re.M)
    return "killed", elapsed, failed[0] if failed else "tests failed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    known = {m.name: m for m in MUTANTS}
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:22} {m.what}  [{m.path}; {' '.join(m.tests)}]")
        return 0
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutant(s): {', '.join(unknown)} (see --list)")
    selected = [known[n] for n in args.names] if args.names else MUTANTS
    with tempfile.TemporaryDirectory(prefix="tgm", dir="/tmp") as tmp:
        tree = Path(tmp) / "t"
        shutil.copytree(ROOT, tree, ignore=IGNORE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
        env["PYTHONPATH"] = str(tree)  # the copy's tgo_host, not the editable install's
        where = subprocess.run([sys.executable, "-c", "import tgo_host; print(tgo_host.__file__)"],
                               cwd=tree, env=env, capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(tree)):
            print(f"mutants: the copy's tgo_host is not the one imported ({where})", file=sys.stderr)
            return 2
        bad = 0
        for mutant in selected:
            verdict, seconds, detail = run_mutant(mutant, tree, env)
            bad += verdict != "killed"
            print(f"{verdict:8} {mutant.name:22} {seconds:6.1f} s  {mutant.what}\n         {detail}", flush=True)
    print(f"{len(selected) - bad} of {len(selected)} mutants killed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
