"""Capacity search: step the offered rate up until the latency target breaks."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from planner.bench.capacity import CapacityPlan, judge
from planner.bench.result import (
    BenchmarkResult,
    LatencySummary,
    WorkloadSummary,
    capture_environment,
)

pytestmark = pytest.mark.timeout(120)


def step_result(
    *, ok: int, failed: int = 0, p99: float = 5.0, started: int | None = None, duration: float = 5.0
) -> BenchmarkResult:
    """A hand-made open-loop step result."""
    lat = LatencySummary(count=ok, p50=p99 / 2, p90=p99, p99=p99, max=p99, mean=p99 / 2)
    return BenchmarkResult(
        created_at=dt.datetime(2026, 11, 29, tzinfo=dt.UTC),
        protocol="smtp",
        target="127.0.0.1:2525",
        mode="open",
        messages_started=ok + failed if started is None else started,
        messages_ok=ok,
        messages_failed=failed,
        duration_s=duration,
        msgs_per_s=ok / duration,
        mb_per_s=0.0,
        latency_phase="data",
        latency_ms=lat,
        workload=WorkloadSummary(
            mode="open",
            size_kb=10,
            size_mix="fixed",
            recipients_per_message=1,
            local_share=1,
            concurrency=1,
            messages_per_session=1,
            rate_msgs_per_s=100,
            warmup_s=1,
            workers=1,
        ),
        environment=capture_environment(shared_machine=True),
    )


class TestJudge:
    PLAN = CapacityPlan(slo_p99_ms=100, max_error_rate=0.01, step_duration_s=5)

    @pytest.mark.parametrize(
        ("result", "passed", "reason"),
        [
            (step_result(ok=500), True, "ok"),
            (step_result(ok=500, p99=150), False, "p99 data 150 ms > 100 ms"),
            (step_result(ok=490, failed=10), False, "error rate 2.00% > 1.00%"),
            (
                step_result(ok=500, duration=6.0),
                False,
                "fell behind: completed 83% of the offered rate",
            ),
            (step_result(ok=0, failed=0, started=10), False, "no message completed"),
        ],
        ids=["pass", "slow", "errors", "fell-behind", "nothing-done"],
    )
    def test_verdicts(self, result, passed, reason):
        """Each target is checked and the first one missed is the reason."""
        step = judge(result, 100.0, self.PLAN)

        assert (step.passed, step.reason) == (passed, reason)
        assert step.offered_msgs_per_s == 100.0


class TestSearch:
    def test_finds_the_rate_a_serial_server_sustains(self, scripted, bench_process):
        """A server that handles one message per 10 ms (100/s at most): the search passes
        the first step, fails by 160/s at the latest, and reports a capacity in between,
        naming it as the last passing step and the lowest failing rate above it.
        (Run as its own process so the client does not share this process with the server.)"""
        server = scripted(data_delay_s=0.010, serial=True)
        r = bench_process(
            "capacity",
            "--smtp",
            server.address,
            "--slo-p99-ms",
            250,
            "--start-rate",
            20,
            "--step-factor",
            2,
            "--step-duration",
            1.5,
            "--step-warmup",
            0.5,
            "--refine",
            1,
            "--max-steps",
            6,
            "--size-kb",
            1,
            "--seed",
            5,
            "--format",
            "json",
            "--no-save",
            "-q",
        )
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        search = result["capacity_search"]
        steps = search["steps"]

        assert steps[0]["passed"] is True
        assert 20 <= result["capacity_msgs_per_s"] < 160
        assert any(not s["passed"] for s in steps)
        assert all(
            s["offered_msgs_per_s"] > result["capacity_msgs_per_s"]
            for s in steps
            if not s["passed"]
        )
        assert search["phase"] == "data"
        assert search["slo_p99_ms"] == 250
        assert result["mode"] == "open"
        assert round(search["last_pass_msgs_per_s"], 1) == result["capacity_msgs_per_s"]
        assert search["first_fail_msgs_per_s"] == min(
            s["offered_msgs_per_s"] for s in steps if not s["passed"]
        )
        assert result["indicative"] is True

    def test_nothing_passes_when_every_reply_is_slow(self, scripted, bench_json):
        """A 300 ms reply with a 100 ms target: no capacity, and the result says why."""
        server = scripted(data_delay_s=0.3)
        result = bench_json(
            "capacity",
            "--smtp",
            server.address,
            "--slo-p99-ms",
            100,
            "--start-rate",
            20,
            "--step-duration",
            1,
            "--step-warmup",
            0,
            "--size-kb",
            1,
        )

        assert result["capacity_msgs_per_s"] is None
        assert len(result["capacity_search"]["steps"]) == 1
        assert result["capacity_search"]["stop_reason"].startswith(
            "the first step (20 msgs/s) already failed: p99 data"
        )
