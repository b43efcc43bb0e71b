"""The runner: open-loop arrivals, warm-up, worker processes, progress callbacks."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import subprocess

import pytest

from planner.bench.progress import ProgressSnapshot
from planner.bench.runner import run
from planner.bench.targets import Target
from planner.bench.workload import Workload
from tests.bench.conftest import MAILPLAN
from tests.bench.servers import ScriptedSmtp
from tests.bench.test_smtp import settle

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def open_loop_run():
    """200 messages/s offered for 5 s (seeded) to a fast server that records arrivals."""
    server = ScriptedSmtp()
    try:
        r = subprocess.run(
            [
                *MAILPLAN,
                "bench",
                "smtp",
                "--smtp",
                server.address,
                "--rate",
                "200",
                "--duration",
                "5",
                "--seed",
                "11",
                "--format",
                "json",
                "--no-save",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        yield json.loads(r.stdout), server
    finally:
        server.stop()


class TestOpenLoop:
    def test_started_is_rate_times_duration(self, open_loop_run):
        """Started messages and the server's arrivals are within 10 % of 200/s x 5 s."""
        result, server = open_loop_run

        assert result["mode"] == "open"
        assert result["messages_started"] == pytest.approx(1000, rel=0.10)
        assert len(server.arrivals) - 1 == pytest.approx(1000, rel=0.10)  # minus the probe
        assert result["messages_failed"] == 0

    def test_arrivals_are_not_bunched(self, open_loop_run):
        """Gaps between arrivals at the server look exponential (mean 5 ms, median
        5 ms x ln 2, about e^-2 of them longer than twice the mean), not batched: a
        generator that sent each second's messages in a burst would have a median gap near
        zero, one sending at a fixed interval no long gaps. The median and shares are
        robust to a shared machine pausing the client now and then."""
        _, server = open_loop_run
        times = sorted(server.arrivals[1:])
        gaps = [b - a for a, b in itertools.pairwise(times)]
        mean = statistics.fmean(gaps)

        assert mean == pytest.approx(0.005, rel=0.15)
        assert 0.5 < statistics.median(gaps) / (0.005 * math.log(2)) < 1.6
        assert sum(g < 0.0002 for g in gaps) / len(gaps) < 0.4
        assert 0.05 < sum(g > 0.010 for g in gaps) / len(gaps) < 0.3

    def test_latency_is_measured_from_the_intended_start(self, open_loop_run):
        """Open-loop results carry the client's own lateness and the whole-message latency."""
        result, _ = open_loop_run

        assert {"schedule_lag", "message", "data", "connect"} <= result["phases"].keys()
        assert result["phases"]["message"]["count"] == result["messages_ok"]


class TestWarmupAndWorkers:
    def test_warmup_is_not_counted(self, sink, bench_json):
        """Messages sent during warm-up reach the server but not messages_ok."""
        result = bench_json(
            "smtp", "--smtp", sink.address, "--messages", 300, "-c", 5, "--warmup", 1
        )

        assert result["messages_ok"] == 300
        assert result["warmup_messages"] > 0
        assert (
            settle(sink.received, 300 + result["warmup_messages"])
            == 300 + result["warmup_messages"]
        )

    def test_workers_merge_histograms_and_counters(self, sink, bench_json):
        """Two worker processes: counts add up to the total and the merged histogram holds
        every message."""
        result = bench_json(
            "smtp", "--smtp", sink.address, "--messages", 1001, "-c", 10, "--workers", 2
        )

        assert result["messages_ok"] == 1001
        assert result["phases"]["data"]["count"] == 1001
        assert result["workload"]["workers"] == 2
        assert settle(sink.received, 1001) == 1001


class TestProgressCallback:
    def test_snapshots_arrive_each_second_and_end_with_the_totals(self, sink):
        """A 2.5 s run calls back at least twice; the last snapshot matches the result."""
        snaps: list[ProgressSnapshot] = []
        target = Target("smtp", "127.0.0.1", sink.port)
        wl = Workload(rate_msgs_per_s=100, duration_s=2.5, seed=1, size_kb=1)

        result = run(target, wl, progress=snaps.append)

        assert len(snaps) >= 3
        assert snaps[-1].messages_ok == result.messages_ok
        assert [s.elapsed_s for s in snaps] == sorted(s.elapsed_s for s in snaps)
        assert len(result.timeseries) >= 2
        assert sum(s.messages_ok for s in result.timeseries) == result.messages_ok
