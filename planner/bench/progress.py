"""Progress while a run goes: one snapshot a second, to any callback.

The runner calls a :data:`ProgressCallback` once a second with a
:class:`ProgressSnapshot` (the dashboard can append them to a live chart);
:class:`RichProgress` is the terminal's live bar with the current rate and p99.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = ["ProgressCallback", "ProgressSnapshot", "RichProgress"]


@dataclass(frozen=True)
class ProgressSnapshot:
    """Where a run is, sent once a second (and once at the end)."""

    elapsed_s: float
    """Seconds since the run started, warm-up included."""
    warming_up: bool
    messages_ok: int
    """Messages done so far after warm-up."""
    messages_failed: int
    rate_msgs_per_s: float
    """Messages done in the last second."""
    p99_ms: float | None
    """p99 of the phase that matters in the last second."""
    messages_target: int | None
    duration_target_s: float | None
    measured_s: float = 0.0
    """Seconds since the end of warm-up."""
    label: str = ""


ProgressCallback = Callable[[ProgressSnapshot], None]


class RichProgress:
    """A rich live bar on standard error: done/target, rate, p99, errors."""

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.description = description
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._task = self._progress.add_task(description, total=None, status="starting")

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def phase(self, text: str) -> None:
        """Show what the benchmark is doing between snapshots (``starting the reference
        server``, ``run 2/3: loading ...``)."""
        self._progress.update(self._task, status=text)

    def __call__(self, snap: ProgressSnapshot) -> None:
        """Show one snapshot."""
        p99 = "-" if snap.p99_ms is None else f"{snap.p99_ms:.1f} ms"
        status = (
            f"{snap.messages_ok:,} ok, {snap.messages_failed:,} failed, "
            f"{snap.rate_msgs_per_s:,.0f} msgs/s, p99 {p99}"
        )
        desc = snap.label or self.description
        fields: dict[str, Any] = {"status": status, "description": desc}
        if snap.warming_up:
            fields["description"] = f"{desc} (warm-up)"
            self._progress.update(self._task, total=None, completed=0, **fields)
        elif snap.messages_target:
            done = snap.messages_ok + snap.messages_failed
            self._progress.update(self._task, total=snap.messages_target, completed=done, **fields)
        elif snap.duration_target_s:
            self._progress.update(
                self._task, total=snap.duration_target_s, completed=snap.measured_s, **fields
            )
        else:
            self._progress.update(self._task, **fields)
