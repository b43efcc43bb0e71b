"""Histograms: bulk recording, merging across workers, summaries."""

from __future__ import annotations

import random

import numpy as np
import pytest

from planner.bench.metrics import (
    Recorder,
    merge_reports,
    new_histogram,
    record_many,
    summarize,
    value_at_percentiles,
)


@pytest.fixture(name="values")
def _values() -> list[int]:
    rng = random.Random(7)
    return [max(1, int(rng.lognormvariate(6, 2))) for _ in range(20000)] + [
        2**k - 1 for k in range(1, 31)
    ]


class TestBulkRecording:
    def test_same_counts_as_one_by_one(self, values):
        """record_many fills exactly the buckets record_value would."""
        one, bulk = new_histogram(), new_histogram()
        for v in values:
            one.record_value(v)
        record_many(bulk, np.asarray(values, dtype=np.float64))

        assert list(bulk.counts) == list(one.counts)
        assert (bulk.get_total_count(), bulk.get_max_value(), bulk.get_min_value()) == (
            one.get_total_count(),
            one.get_max_value(),
            one.get_min_value(),
        )

    def test_percentiles_match_hdrhistogram(self, values):
        """The numpy percentiles equal HdrHistogram's own."""
        hist = new_histogram()
        record_many(hist, np.asarray(values, dtype=np.float64))
        ps = [1, 50, 90, 99, 99.9, 100]

        assert value_at_percentiles(hist, ps) == [hist.get_value_at_percentile(p) for p in ps]

    def test_hand_computed_summary(self):
        """1..100 ms: p50 50 ms, p90 90 ms, p99 99 ms, max 100 ms (within 0.1 %)."""
        hist = new_histogram()
        record_many(hist, np.arange(1, 101, dtype=np.float64) * 1000)
        s = summarize(hist)

        assert s.count == 100
        assert s.p50 == pytest.approx(50, rel=1e-3)
        assert s.p90 == pytest.approx(90, rel=1e-3)
        assert s.p99 == pytest.approx(99, rel=1e-3)
        assert s.max == pytest.approx(100, rel=1e-3)
        assert s.mean == pytest.approx(50.5, rel=1e-3)


class TestMerge:
    def test_two_workers_merge_to_one_histogram(self, values):
        """Splitting samples over two recorders and merging gives the histogram of all."""
        a, b, whole = Recorder("data"), Recorder("data"), new_histogram()
        for i, v in enumerate(values):
            (a if i % 2 else b).phase("data", v / 1e6)
            a.ok(10, 0.0) if i % 2 else b.ok(10, 0.0)
        record_many(whole, np.asarray(values, dtype=np.float64))
        merged, hists = merge_reports([a.report(), b.report()])

        assert merged.messages_ok == len(values)
        assert merged.bytes_ok == 10 * len(values)
        assert summarize(hists["data"]) == summarize(whole)

    def test_errors_add_up(self):
        """Errors by key are summed over workers."""
        a, b = Recorder("data"), Recorder("data")
        a.failed(2, "451", 0.0)
        b.failed(1, "451", 0.0)
        b.error("550")
        merged, _ = merge_reports([a.report(), b.report()])

        assert merged.errors == {"451": 2, "550": 1}
        assert merged.messages_failed == 3
