"""The Benchmark page's tables and charts, from real snapshot and result shapes."""

from __future__ import annotations

import math

import pytest

from planner.bench.progress import ProgressSnapshot
from planner.dashboard import bench_views
from planner.dashboard.bench_form import check_request
from planner.dashboard.bench_job import LivePoint


def point(
    t_s: float, rate: float, p99: float | None, *, warming: bool = False, ok: int = 0
) -> LivePoint:
    """A snapshot as the runner sends it, arriving ``t_s`` after the job started."""
    snap = ProgressSnapshot(
        elapsed_s=t_s,
        warming_up=warming,
        messages_ok=ok,
        messages_failed=0,
        rate_msgs_per_s=rate,
        p99_ms=p99,
        messages_target=1000,
        duration_target_s=10.0,
        measured_s=max(0.0, t_s - 2),
    )
    return LivePoint(t_s, snap)


class TestLiveFrame:
    def test_drops_warm_up_and_the_final_part_second(self):
        """Only whole measured seconds are charted: warm-up and the closing tick go."""
        points = [
            point(1, 0, None, warming=True),
            point(2, 100, 5.0),
            point(3, 120, None),
            point(3.2, 7, 2.0),
        ]

        frame = bench_views.live_frame(points)

        assert list(frame.columns) == bench_views.LIVE_COLUMNS
        assert frame["t_s"].tolist() == [2, 3]
        assert frame["msgs_per_s"].tolist() == [100, 120]
        assert frame["p99_ms"].iloc[0] == 5.0
        assert math.isnan(frame["p99_ms"].iloc[1])

    def test_chart_has_throughput_and_p99_panels(self):
        """The figure draws the frame's two series under titled panels."""
        frame = bench_views.live_frame([point(2, 100, 5.0), point(3, 120, 6.0)])

        fig = bench_views.throughput_latency_chart(frame, "Live", "data")

        assert [list(t.y) for t in fig.data] == [[100, 120], [5.0, 6.0]]
        assert [a.text for a in fig.layout.annotations] == [
            "Throughput (messages/s)",
            "p99 latency, data (ms)",
        ]


class TestProgress:
    @pytest.mark.parametrize(
        ("ok", "t_s", "fraction"),
        [(100, 3, 0.1), (900, 3, 0.9), (10, 7, 0.5)],
        ids=["count-ahead", "count-near-end", "time-ahead"],
    )
    def test_fraction_is_the_nearer_bound(self, ok, t_s, fraction):
        """A run is as far along as the larger of done/count and measured/duration."""
        request = check_request({"messages": 1000, "duration_s": 10})

        got, text = bench_views.progress_state(
            request, [point(t_s, 50, 4.0, ok=ok)], t_s, "loading"
        )

        assert got == pytest.approx(fraction)
        assert text == f"{ok:,} ok, 0 failed, 50 msgs/s, p99 4.0 ms"

    def test_before_any_snapshot_it_names_the_phase(self):
        """Until the first snapshot the bar is empty and says what the job is doing."""
        request = check_request({})

        assert bench_views.progress_state(request, [], 1.4, "starting the reference server") == (
            0.0,
            "starting the reference server (1 s)",
        )
