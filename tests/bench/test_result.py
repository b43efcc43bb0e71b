"""BenchmarkResult as a sizing input, and targets named by the user."""

from __future__ import annotations

import pytest

from planner.bench.result import CapacitySearch, capacity_from_benchmark
from planner.bench.targets import parse_hostport
from planner.errors import BenchmarkError
from planner.resolution import capacity_kind
from tests.bench.test_capacity import step_result


def closed(**changes):
    """A closed-loop SMTP result at 200 msgs/s, id 12."""
    r = step_result(ok=1000, duration=5.0)
    wl = r.workload.model_copy(
        update={"mode": "closed", "rate_msgs_per_s": None, "concurrency": 50}
    )
    return r.model_copy(update={"mode": "closed", "workload": wl, "id": 12, **changes})


class TestCapacityFromBenchmark:
    def test_closed_loop_throughput(self):
        """A closed-loop run gives its throughput, and a source the engine reads as a benchmark."""
        capacity, source = capacity_from_benchmark(closed())

        assert capacity == 200.0
        assert source.startswith("benchmark 12: 2026-11-29, smtp 10 KB, closed loop, 50 sessions, ")
        assert "shared with load generator" in source
        assert capacity_kind(source, inline=True) == "benchmark"

    def test_capacity_search_wins(self):
        """A capacity search's figure is used, with its latency target in the source."""
        search = CapacitySearch(
            phase="data", slo_p99_ms=250, max_error_rate=0.01, size_kb=10, steps=[], stop_reason="x"
        )
        capacity, source = capacity_from_benchmark(
            closed(capacity_msgs_per_s=150.0, capacity_search=search)
        )

        assert capacity == 150.0
        assert "p99 data <= 250 ms" in source

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            (
                {"protocol": "pop3"},
                "result 12: measured pop3; only an SMTP result gives capacity_msgs_per_s",
            ),
            (
                {"mode": "open"},
                "result 12: an open-loop run at one fixed rate is not a capacity figure; use 'mailplan bench capacity' or a closed-loop run",
            ),
            ({"msgs_per_s": 0.0}, "result 12: no message was accepted, so there is no capacity"),
        ],
        ids=["pop3", "open-loop", "nothing-accepted"],
    )
    def test_refused(self, changes, message):
        """Results that say nothing about SMTP capacity are refused with the reason."""
        with pytest.raises(BenchmarkError) as err:
            capacity_from_benchmark(closed(**changes))

        assert err.value.problems == (message,)


class TestHostPort:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("127.0.0.1:2525", ("127.0.0.1", 2525)),
            ("[::1]:110", ("::1", 110)),
            ("mx.example.test:25", ("mx.example.test", 25)),
        ],
        ids=["ipv4", "ipv6", "name"],
    )
    def test_parsed(self, text, expected):
        """HOST:PORT and [V6]:PORT."""
        assert parse_hostport(text, "--smtp") == expected

    @pytest.mark.parametrize(
        "text",
        ["127.0.0.1", ":25", "::1:25", "host:port"],
        ids=["no-port", "no-host", "bare-v6", "named-port"],
    )
    def test_refused(self, text):
        """Anything else is one line naming the flag."""
        with pytest.raises(BenchmarkError, match=f"--smtp: '{text}' is not HOST:PORT"):
            parse_hostport(text, "--smtp")
