"""The Benchmark page's tables and charts, from real snapshot and result shapes."""

from __future__ import annotations

import math

import pytest

from planner.bench.progress import ProgressSnapshot
from planner.bench.result import CapacitySearch, CapacityStep, SecondSample
from planner.dashboard import bench_views
from planner.dashboard.bench_form import check_request
from planner.dashboard.bench_job import LivePoint
from tests.bench.test_result import closed


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


class TestShortRunChart:
    @pytest.mark.parametrize(
        ("duration", "counts", "title"),
        [
            (1.8, (200, 160), "Result (1 whole second measured)"),
            (2.05, (200, 190, 5), "Result (2 whole seconds measured)"),
            (0.5, (90,), "Result (no whole second measured)"),
            (4.0, (200, 190, 210, 205), "Result"),
        ],
        ids=["one-second", "two-seconds", "under-a-second", "long-enough"],
    )
    def test_points_sit_inside_their_panels(self, duration, counts, title):
        """A run of a second or two draws its points inside the panels: axes from 0 with
        room above the highest point, past the last second, whole-second ticks, and a
        title that says how few seconds there are."""
        samples = [
            SecondSample(second=i, messages_ok=n, messages_failed=0, p99_ms=10.0 + i)
            for i, n in enumerate(counts)
        ]
        result = closed(duration_s=duration, timeseries=samples)
        frame = bench_views.timeseries_frame(result)

        fig = bench_views.throughput_latency_chart(frame, "Result", "data")

        highest = frame.max().fillna(0)  # an empty frame: no point, axes up to 1

        assert fig.layout.title.text == title
        assert fig.layout.yaxis.range[0] == fig.layout.yaxis2.range[0] == 0
        assert fig.layout.yaxis.range[1] >= max(1.2 * highest["msgs_per_s"], 1)
        assert fig.layout.yaxis2.range[1] >= max(1.2 * highest["p99_ms"], 1)
        assert tuple(fig.layout.xaxis2.range) == (0, max(highest["t_s"], 1) + 0.5)
        assert fig.layout.xaxis2.dtick == 1
        assert fig.data[0].marker.size == 8


class TestSavedResults:
    def test_history_capacity_is_the_detail_capacity(self):
        """The list's capacity is the figure the detail shows and apply uses: a
        closed-loop run's throughput (labelled indicative when short), none for POP3."""
        short = closed(id=1)
        long = closed(id=2, duration_s=30.0, indicative=False)
        pop3 = closed(id=3, protocol="pop3")

        table = bench_views.history_table([short, long, pop3])

        assert table.set_index("Id")["Capacity"].to_dict() == {
            3: "–",
            2: "200.0 msgs/s",
            1: "200.0 msgs/s (indicative)",
        }
        assert bench_views.headline(long)[0] == ("Capacity", "200.0 msgs/s")
        assert bench_views.headline(short)[0] == ("Capacity (indicative)", "200.0 msgs/s")

    def test_steps_name_the_last_pass_and_first_fail(self):
        """The capacity steps table marks the step that set the capacity and the lowest
        failing step above it."""
        steps = [
            CapacityStep(
                offered_msgs_per_s=rate,
                achieved_msgs_per_s=rate,
                p99_ms=p99,
                error_rate=0.0,
                passed=p99 < 250,
                reason="ok" if p99 < 250 else f"p99 data {p99:g} ms > 250 ms",
                measured_s=30.0,
            )
            for rate, p99 in ((50, 5.0), (75, 9.0), (112.5, 900.0), (91.86, 300.0))
        ]
        search = CapacitySearch(
            phase="data",
            slo_p99_ms=250,
            max_error_rate=0.01,
            size_kb=10,
            steps=steps,
            stop_reason="p99 data 900 ms > 250 ms",
            last_pass_msgs_per_s=75,
            first_fail_msgs_per_s=91.86,
        )

        table = bench_views.steps_table(closed(capacity_search=search, capacity_msgs_per_s=75.0))

        assert table["Bound"].tolist() == ["", "last pass", "", "first fail"]
        assert table["Seconds"].tolist() == [30.0] * 4


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
