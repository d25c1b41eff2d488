"""Figures for docs/reliability.md: each reliability test records what it tried.

``record(name, **figures)`` merges one entry into ``.run/reliability.json``
(override the path with ``TGO_RELIABILITY_STATS``) and prints it, so a run of
``pytest tests/test_properties.py tests/test_fuzz.py tests/test_chaos.py
tests/test_soak.py -s`` shows the numbers the report quotes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATS_PATH = Path(os.environ.get("TGO_RELIABILITY_STATS", ROOT / ".run" / "reliability.json"))


class Counter:
    """A mutable count for hypothesis bodies (``counter.n += 1`` per example)."""

    def __init__(self) -> None:
        self.n = 0
        self.kinds: dict[str, int] = {}

    def tick(self, kind: str | None = None) -> None:
        """Count one example (of class ``kind``, when given)."""
        self.n += 1
        if kind is not None:
            self.note(kind)

    def note(self, kind: str) -> None:
        """Count a class of outcome without counting another example."""
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def record(name: str, **figures) -> None:
    """Merge ``figures`` under ``name`` into the stats file (best effort) and print them."""
    entry = {**figures, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(f"\n[reliability] {name}: {json.dumps(figures, sort_keys=True)}")
    try:
        STATS_PATH.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(STATS_PATH.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        data[name] = entry
        tmp = STATS_PATH.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(STATS_PATH)
    except OSError:
        pass  # figures are a by-product; never fail a test over them
