"""Where things are: the repository, the test plugins, the examples; short directories for AF_UNIX paths."""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PLUGINS = ROOT / "tests" / "plugins"
EXAMPLES = ROOT / "plugins_examples"


def short_tempdir(prefix: str = "tg") -> str:
    """A new directory directly under /tmp, short enough for socket paths (AF_UNIX allows 107 bytes)."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")
