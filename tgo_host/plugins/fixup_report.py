"""What validation fixed up or refused in each plugin's output, for its author.

The dispatcher records every fix-up (`tgo_host.model.FixUp`) and every
refused result here. This module owns three views of them: per-plugin
counters by kind (for ``/metrics``), the last few examples per plugin (for
the console's plugins page), and one log line per plugin and kind at most
every ``log_interval`` seconds (with a count of what it held back).
"""

from __future__ import annotations

import collections
import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..model import FixUp

log = logging.getLogger("tgo_host.fixups")

#: The kind counted for a result refused as a whole (502 / a fan-out error).
REJECTED = "rejected"
RECENT = 10


class FixUpReport:
    """Per-plugin fix-up counts, recent examples and rate-limited log lines."""

    def __init__(self, *, log_interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.log_interval = log_interval
        self._clock = clock
        self._counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self._recent: dict[str, collections.deque[dict[str, Any]]] = {}
        self._last_logged: dict[tuple[str, str], float] = {}
        self._held_back: collections.Counter[tuple[str, str]] = collections.Counter()

    def record(self, plugin_id: str, method: str, fixups: Iterable[FixUp]) -> None:
        """Count and remember the fix-ups made to one result of ``method``."""
        for fixup in fixups:
            self._add(plugin_id, method, fixup.kind, fixup.path, fixup.message)

    def record_rejection(self, plugin_id: str, method: str, reason: str) -> None:
        """Count a result refused as a whole (``reason`` names the path)."""
        self._add(plugin_id, method, REJECTED, "", reason)

    def _add(self, plugin_id: str, method: str, kind: str, path: str, message: str) -> None:
        self._counts[plugin_id][kind] += 1
        recent = self._recent.get(plugin_id)
        if recent is None:
            recent = self._recent[plugin_id] = collections.deque(maxlen=RECENT)
        recent.append({
            "at": datetime.now(timezone.utc).isoformat(), "method": method, "kind": kind,
            "path": path, "message": message,
        })
        self._log(plugin_id, method, kind, f"{path}: {message}" if path else message)

    def _log(self, plugin_id: str, method: str, kind: str, example: str) -> None:
        key = (plugin_id, kind)
        now = self._clock()
        last = self._last_logged.get(key)
        if last is not None and now - last < self.log_interval:
            self._held_back[key] += 1
            return
        self._last_logged[key] = now
        held = self._held_back.pop(key, 0)
        more = f" (and {held} more since the last line)" if held else ""
        log.warning("plugin %s: %s in %s result: %s%s", plugin_id, kind, method, example, more)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{plugin_id: {kind: count}}`` since the host started."""
        return {plugin: dict(counter) for plugin, counter in self._counts.items()}

    def summary(self, plugin_id: str) -> dict[str, Any]:
        """``{total, counts, recent}`` for one plugin (recent: newest last)."""
        counter = self._counts.get(plugin_id, collections.Counter())
        return {
            "total": sum(counter.values()),
            "counts": dict(counter),
            "recent": list(self._recent.get(plugin_id, ())),
        }
