"""Server counters shared by every server process, and ``DATA_DIR/stats.json``.

Each worker process owns one row of 64-bit counters in an anonymous shared memory map
created before the workers are forked; only that worker writes its row (from its event
loop thread), the supervisor sums the rows and writes ``stats.json`` about once a second.
The JSON keys are a public format read by the load harness::

    {"accepted": 0, "delivered_local": 0, "queued": 0, "relayed": 0, "deferred": 0,
     "bounced": 0, "rejected": {"relay_denied": 0, ...}, "connections": 0,
     "workers": 2, "updated_at_s": 1764390000.0}

``accepted`` counts messages answered 250, ``queued`` messages put in the relay queue,
``delivered_local``, ``relayed``, ``deferred`` and ``bounced`` count recipients,
``rejected`` counts refusals by reason, ``connections`` is the number open now.
"""

from __future__ import annotations

import json
import mmap
import os
import time
from pathlib import Path

__all__ = ["COUNTERS", "REJECT_REASONS", "CounterRow", "Counters", "write_stats_json"]

REJECT_REASONS = (
    "auth_failed",
    "bare_newline",
    "client_denied",
    "dmarc",
    "internal_error",
    "line_too_long",
    "message_too_big",
    "relay_denied",
    "routing",
    "sender_denied",
    "storage_error",
    "timeout",
    "too_many_auth_failures",
    "too_many_connections",
    "too_many_errors",
    "too_many_hops",
    "too_many_recipients",
    "unknown_user",
)
COUNTERS = (
    "accepted",
    "delivered_local",
    "queued",
    "relayed",
    "deferred",
    "bounced",
    "connections",
    *(f"rejected.{r}" for r in REJECT_REASONS),
)
_INDEX = {name: i for i, name in enumerate(COUNTERS)}
_WIDTH = len(COUNTERS)


class CounterRow:
    """One process's counters; ``incr`` is cheap enough for every message."""

    def __init__(self, view: memoryview, row: int) -> None:
        self._view = view
        self._base = row * _WIDTH

    def incr(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a counter (``rejected.<reason>`` for refusals)."""
        self._view[self._base + _INDEX[name]] += n

    def reject(self, reason: str) -> None:
        """Count one refusal for ``reason`` (one of REJECT_REASONS)."""
        self._view[self._base + _INDEX["rejected." + reason]] += 1

    def get(self, name: str) -> int:
        """This row's value of a counter."""
        return int(self._view[self._base + _INDEX[name]])

    def set(self, name: str, value: int) -> None:
        """Overwrite a counter (used to reset the connection gauge of a restarted worker)."""
        self._view[self._base + _INDEX[name]] = value


class Counters:
    """``rows`` rows of counters in anonymous shared memory (survives ``fork``)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self._map = mmap.mmap(-1, max(1, rows) * _WIDTH * 8)
        self._view = memoryview(self._map).cast("q")

    def row(self, index: int) -> CounterRow:
        """The writer for one worker's row."""
        if not 0 <= index < self.rows:
            raise IndexError(index)
        return CounterRow(self._view, index)

    def total(self, name: str) -> int:
        """A counter summed over every row."""
        i = _INDEX[name]
        return sum(int(self._view[r * _WIDTH + i]) for r in range(self.rows))

    def snapshot(self) -> dict[str, object]:
        """The stats.json object (without the time stamp)."""
        sums = {name: self.total(name) for name in COUNTERS}
        out: dict[str, object] = {
            name: sums[name] for name in COUNTERS if not name.startswith("rejected.")
        }
        out["rejected"] = {r: sums[f"rejected.{r}"] for r in REJECT_REASONS}
        out["workers"] = self.rows
        return out


def write_stats_json(path: Path, snapshot: dict[str, object]) -> None:
    """Replace ``path`` atomically with the snapshot and the current time."""
    data = dict(snapshot, updated_at_s=round(time.time(), 3))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
