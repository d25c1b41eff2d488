"""A short, bounded run of the coverage-guided fuzzer (tests/fuzz/fuzz_wire.py).

``TGO_FUZZ_SECONDS`` (default 10) bounds it; new inputs go to a temporary directory,
never into the committed corpus. The long run is ``make fuzz`` (see the harness's
docstring). Skipped when atheris is not installed — except under CI (``CI`` set),
where a missing fuzzer is a failure, not a silent gap.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reliability_stats import record

FUZZ = Path(__file__).resolve().parent / "fuzz"
SECONDS = int(os.environ.get("TGO_FUZZ_SECONDS", "10"))


def _require_atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        message = "atheris is not installed (pip install atheris==3.0.0); the fuzz smoke run needs it"
        if os.environ.get("CI"):
            pytest.fail(message + " — and CI must run it")
        pytest.skip(message)


@pytest.mark.timeout(240)  # a bounded atheris run: ~30 s on a loaded machine
def test_fuzz_harness_bounded_run(tmp_path):
    _require_atheris()
    corpus = sorted(p.name for p in (FUZZ / "corpus").iterdir())
    assert len(corpus) >= 30, "the seed corpus is missing (python tests/fuzz/make_corpus.py)"
    new_inputs = tmp_path / "new"
    new_inputs.mkdir()
    argv = [sys.executable, str(FUZZ / "fuzz_wire.py"), str(new_inputs), str(FUZZ / "corpus"),
            f"-dict={FUZZ / 'wire.dict'}", f"-max_total_time={SECONDS}", "-timeout=10", "-rss_limit_mb=1024",
            f"-artifact_prefix={tmp_path}/crash-", "-print_final_stats=1"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=SECONDS + 120, stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    assert proc.returncode == 0 and not crashes, (
        f"fuzzer failed (exit {proc.returncode}, artifacts {crashes}); replay with "
        f"python tests/fuzz/fuzz_wire.py <artifact>\n" + output[-6000:]
    )
    runs = int(re.search(r"Done (\d+) runs in (\d+) second", output).group(1))
    cov = re.findall(r"cov: (\d+) ft: (\d+)", output)
    assert runs > 1000, output[-3000:]
    record("fuzz.bounded_run", runs=runs, seconds=SECONDS, seeds=len(corpus),
           coverage_edges=int(cov[-1][0]) if cov else None, features=int(cov[-1][1]) if cov else None,
           new_inputs=len(list(new_inputs.iterdir())), crashes=0)
