"""What a run records: latency histograms per phase, counters, errors, per-second samples.

Latencies go into HDR histograms (``hdrhistogram``: 1 µs to 1 hour, 3 significant
digits), filled in bulk once a second by :func:`record_many`. A worker process ships
its :class:`RecorderReport` (histograms encoded) to the parent, which merges them with
:func:`merge_reports`, so percentiles over several workers are exact, not averages of
percentiles.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from hdrh.histogram import HdrHistogram

from planner.bench.result import LatencySummary, SecondSample

__all__ = [
    "Recorder",
    "RecorderReport",
    "Sink",
    "merge_reports",
    "new_histogram",
    "record_many",
    "summarize",
    "value_at_percentiles",
]

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_DIGITS = 3


def new_histogram() -> HdrHistogram:
    """An empty histogram of microseconds (1 µs .. 1 h, 3 significant digits)."""
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)


def value_at_percentiles(hist: HdrHistogram, percentiles: list[float]) -> list[int]:
    """``hist.get_value_at_percentile(p)`` for each p, with one numpy pass instead of a
    Python loop over every bucket per call (same result: the highest value equivalent to
    the bucket where the cumulative count reaches the target)."""
    counts = np.ctypeslib.as_array(hist.counts)[: hist.counts_len].astype(np.int64)
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1]) if len(cumulative) else 0
    out = []
    for p in percentiles:
        target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
        index = int(np.searchsorted(cumulative, target, side="left"))
        if index >= len(cumulative):
            out.append(0)
            continue
        out.append(int(hist.get_highest_equivalent_value(hist.get_value_from_index(index))))
    return out


def summarize(hist: HdrHistogram) -> LatencySummary:
    """p50/p90/p99/max/mean of a histogram of microseconds, in milliseconds."""
    total = hist.get_total_count()
    if total == 0:
        return LatencySummary(count=0, p50=0, p90=0, p99=0, max=0, mean=0)
    p50, p90, p99 = value_at_percentiles(hist, [50, 90, 99])
    counts = np.ctypeslib.as_array(hist.counts)[: hist.counts_len].astype(np.float64)
    nonzero = np.flatnonzero(counts)
    lows = np.array([hist.get_value_from_index(int(i)) for i in nonzero], dtype=np.float64)
    highs = np.array(
        [hist.get_highest_equivalent_value(int(v)) for v in lows.tolist()], dtype=np.float64
    )
    mean = float(np.sum(counts[nonzero] * (lows + highs) / 2) / total)
    return LatencySummary(
        count=total,
        p50=p50 / 1000,
        p90=p90 / 1000,
        p99=p99 / 1000,
        max=hist.get_max_value() / 1000,
        mean=round(mean / 1000, 3),
    )


class Sink(Protocol):
    """What a protocol session reports to: a :class:`Recorder`, or Locust's events."""

    def phase(self, name: str, seconds: float) -> None:
        """One latency sample of phase ``name``."""
        ...

    def ok(self, nbytes: int, now: float) -> None:
        """One message done."""
        ...

    def failed(self, n: int, key: str | None, now: float) -> None:
        """``n`` messages failed because of ``key``."""
        ...

    def error(self, key: str) -> None:
        """One refused command."""
        ...


class Recorder:
    """Counts and latencies of one part of a run (warm-up or measurement) in one process.

    The protocol sessions call :meth:`phase`, :meth:`ok`, :meth:`failed` and
    :meth:`error`. Samples are appended to plain lists (a fraction of a microsecond each)
    and moved into the HDR histograms in bulk by :meth:`flush` (the runner calls it once
    a second), with numpy computing the bucket of every sample at once.
    """

    def __init__(self, key_phase: str) -> None:
        self.key_phase = key_phase
        self.hists: dict[str, HdrHistogram] = {}
        self.pending: dict[str, list[float]] = {}
        self.started = 0
        self.messages_ok = 0
        self.messages_failed = 0
        self.bytes_ok = 0
        self.errors: Counter[str] = Counter()
        self.last_done = 0.0  # perf_counter of the last message that finished

    def phase(self, name: str, seconds: float) -> None:
        """Record one latency sample of ``name`` (seconds)."""
        try:
            self.pending[name].append(seconds)
        except KeyError:
            self.pending[name] = [seconds]

    def ok(self, nbytes: int, now: float) -> None:
        """One message accepted (SMTP) or retrieved (POP3, IMAP), ``nbytes`` long."""
        self.messages_ok += 1
        self.bytes_ok += nbytes
        self.last_done = now

    def failed(self, n: int, key: str | None, now: float) -> None:
        """``n`` messages failed because of one refusal or client error ``key`` (a reply
        code such as ``451``, or a name such as ``timeout``), counted once in ``errors``;
        None when the refusal was already counted with :meth:`error`."""
        if key is not None:
            self.errors[key] += 1
        if n > 0:
            self.messages_failed += n
            self.last_done = now

    def error(self, key: str) -> None:
        """One refused command (a reply code) or client error."""
        self.errors[key] += 1

    def flush(self) -> float | None:
        """Move pending samples into the histograms; return the p99 in ms of the key
        phase's samples since the last flush (None when there were none)."""
        key_p99 = None
        for name, samples in self.pending.items():
            if not samples:
                continue
            values = np.asarray(samples) * 1e6
            if name == self.key_phase:
                key_p99 = float(np.percentile(values, 99, method="higher")) / 1000
            hist = self.hists.get(name)
            if hist is None:
                hist = self.hists[name] = new_histogram()
            record_many(hist, values)
            samples.clear()
        return key_p99

    def report(self) -> RecorderReport:
        """Everything recorded, in a form that pickles and merges."""
        self.flush()
        return RecorderReport(
            hists={k: h.encode() for k, h in self.hists.items()},
            started=self.started,
            messages_ok=self.messages_ok,
            messages_failed=self.messages_failed,
            bytes_ok=self.bytes_ok,
            errors=dict(self.errors),
        )


def record_many(hist: HdrHistogram, values_us: np.ndarray[Any, Any]) -> None:
    """Record many microsecond values into ``hist`` at once: numpy computes each value's
    counts index with the histogram's own formula and adds to its counts array in place;
    total, min and max are kept as ``record_value`` keeps them."""
    v = np.clip(values_us.astype(np.int64), _LOWEST_US, _HIGHEST_US)
    if not len(v):
        return
    # bit length of (value | sub_bucket_mask), exact for integers below 2**53
    pow2ceiling = np.frexp((v | hist.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = pow2ceiling - hist.unit_magnitude - (hist.sub_bucket_half_count_magnitude + 1)
    sub_bucket = v >> (bucket + hist.unit_magnitude)
    index = ((bucket + 1) << hist.sub_bucket_half_count_magnitude) + (
        sub_bucket - hist.sub_bucket_half_count
    )
    counts = np.ctypeslib.as_array(hist.counts)
    np.add.at(counts, index, 1)
    hist.total_count += len(v)
    hist.min_value = min(hist.min_value, int(v.min()))
    hist.max_value = max(hist.max_value, int(v.max()))


@dataclass
class RecorderReport:
    """A worker's measurements: encoded histograms plus counters and its time series."""

    hists: dict[str, bytes]
    started: int
    messages_ok: int
    messages_failed: int
    bytes_ok: int
    errors: dict[str, int]
    warmup_messages: int = 0
    duration_s: float = 0.0
    timeseries: list[SecondSample] = field(default_factory=list)
    banner: str | None = None


def merge_reports(reports: list[RecorderReport]) -> tuple[RecorderReport, dict[str, HdrHistogram]]:
    """Sum counters, merge histograms exactly, and merge time series second by second
    (a second's p99 is the largest of the workers' p99s for that second)."""
    hists: dict[str, HdrHistogram] = {}
    errors: Counter[str] = Counter()
    by_second: dict[int, list[SecondSample]] = {}
    for r in reports:
        for name, encoded in r.hists.items():
            target = hists.setdefault(name, new_histogram())
            target.add(HdrHistogram.decode(encoded))
        errors.update(r.errors)
        for s in r.timeseries:
            by_second.setdefault(s.second, []).append(s)
    series = []
    for sec in sorted(by_second):
        samples = by_second[sec]
        p99s = [s.p99_ms for s in samples if s.p99_ms is not None]
        series.append(
            SecondSample(
                second=sec,
                messages_ok=sum(s.messages_ok for s in samples),
                messages_failed=sum(s.messages_failed for s in samples),
                p99_ms=max(p99s) if p99s else None,
            )
        )
    merged = RecorderReport(
        hists={},
        started=sum(r.started for r in reports),
        messages_ok=sum(r.messages_ok for r in reports),
        messages_failed=sum(r.messages_failed for r in reports),
        bytes_ok=sum(r.bytes_ok for r in reports),
        errors=dict(errors),
        warmup_messages=sum(r.warmup_messages for r in reports),
        duration_s=max((r.duration_s for r in reports), default=0.0),
        timeseries=series,
        banner=next((r.banner for r in reports if r.banner), None),
    )
    return merged, hists
