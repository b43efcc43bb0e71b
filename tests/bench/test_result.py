"""BenchmarkResult as a sizing input, and targets named by the user."""

from __future__ import annotations

import pytest

from planner.bench.result import (
    CAPACITY_FIELDS,
    BenchmarkResult,
    CapacitySearch,
    CapacityStep,
    Spread,
    capacity_figure,
    capacity_from_benchmark,
)
from planner.bench.targets import Target, hostport_option
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
        """A closed-loop run of 30 s gives its throughput, and a source the engine reads
        as a benchmark."""
        capacity, source = capacity_from_benchmark(closed(duration_s=30.0, indicative=False))

        assert capacity == 200.0
        assert source.startswith("benchmark 12: 2026-11-29, smtp 10 KB, closed loop, 50 sessions, ")
        assert "shared with load generator" in source
        assert capacity_kind(source, inline=True) == "benchmark"

    def test_a_short_run_says_indicative_first(self):
        """A 5-s run's source says it is indicative, and why, right after the result id."""
        _, source = capacity_from_benchmark(closed())

        assert source.startswith(
            "benchmark 12, indicative (5.0 s measured, under 30 s): 2026-11-29, smtp 10 KB"
        )

    def test_repeats_name_the_median_and_spread(self):
        """A repeated run's source names the number of runs and the spread."""
        spread = Spread(
            figure="msgs_per_s", values=[190, 200, 230], min=190, median=200, max=230, relative=0.2
        )
        _, source = capacity_from_benchmark(
            closed(duration_s=30.0, indicative=False, repeat=3, spread=spread)
        )

        assert "closed loop, 50 sessions, median of 3 runs (spread 20%), " in source

    @pytest.mark.parametrize("protocol", ["pop3", "imap"])
    def test_a_client_protocol_gives_fetches_per_second(self, protocol):
        """A POP3 or IMAP run gives its fetch rate, for client_capacity_fetches_per_s,
        and the source names the protocol."""
        capacity, source = capacity_from_benchmark(closed(protocol=protocol))

        assert capacity == 200.0
        assert CAPACITY_FIELDS[protocol] == "client_capacity_fetches_per_s"
        assert f": 2026-11-29, {protocol} 10 KB, closed loop" in source

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
                {"mode": "open"},
                "result 12: an open-loop run at one fixed rate is not a capacity figure; use 'mailplan bench capacity' or a closed-loop run",
            ),
            ({"msgs_per_s": 0.0}, "result 12: no message was accepted, so there is no capacity"),
            (
                {"msgs_per_s": 0.0, "protocol": "imap"},
                "result 12: no message was fetched, so there is no capacity",
            ),
        ],
        ids=["open-loop", "nothing-accepted", "nothing-fetched"],
    )
    def test_refused(self, changes, message):
        """Results that give no capacity figure are refused with the reason."""
        with pytest.raises(BenchmarkError) as err:
            capacity_from_benchmark(closed(**changes))

        assert err.value.lines == (message,)


def step(rate: float, measured: float | None, passed: bool = True) -> CapacityStep:
    """One capacity step that offered ``rate`` and measured ``measured`` seconds."""
    return CapacityStep(
        offered_msgs_per_s=rate,
        achieved_msgs_per_s=rate,
        p99_ms=5.0,
        error_rate=0.0,
        passed=passed,
        reason="ok" if passed else "p99 data 300 ms > 250 ms",
        measured_s=measured,
    )


class TestIndicative:
    @pytest.mark.parametrize(
        ("duration", "steps", "indicative"),
        [
            (29.9, None, True),
            (30.0, None, False),
            (30.0, [step(50, 30.0), step(75, 5.0, passed=False)], True),
            (30.0, [step(50, 30.0), step(75, 30.0, passed=False)], False),
            (5.0, [step(50, None)], True),
        ],
        ids=["short-run", "30s-run", "short-step", "30s-steps", "old-steps-use-duration"],
    )
    def test_judged_from_the_durations_when_not_given(self, duration, steps, indicative):
        """Data without 'indicative' (older files, a plain runner.run) is judged: the run's
        duration, or every capacity step's measured seconds, against 30 s."""
        data = closed(duration_s=duration).model_dump(mode="json")
        del data["indicative"]
        if steps is not None:
            data["capacity_msgs_per_s"] = 50.0
            data["capacity_search"] = CapacitySearch(
                phase="data",
                slo_p99_ms=250,
                max_error_rate=0.01,
                size_kb=10,
                steps=steps,
                stop_reason="x",
            ).model_dump(mode="json")

        assert BenchmarkResult.model_validate(data).indicative is indicative

    def test_a_given_flag_is_kept(self):
        """An explicit indicative flag (set by the plan, with its own minimum) wins."""
        data = closed(duration_s=2.0).model_dump(mode="json")
        data |= {"indicative": False, "min_measured_s": 1.0}

        assert BenchmarkResult.model_validate(data).indicative is False


class TestCapacityFigure:
    @pytest.mark.parametrize(
        ("changes", "figure"),
        [
            ({}, 200.0),
            ({"capacity_msgs_per_s": 150.0, "capacity_search": "search"}, 150.0),
            ({"capacity_msgs_per_s": None, "capacity_search": "search"}, None),
            ({"mode": "open"}, None),
            ({"protocol": "pop3"}, None),
        ],
        ids=["closed-loop", "search", "search-found-none", "open-loop", "pop3"],
    )
    def test_the_figure_apply_would_use(self, changes, figure):
        """The list, the detail and apply show one figure: the search's, or a closed-loop
        SMTP run's throughput; None where there is none."""
        if changes.get("capacity_search") == "search":
            changes["capacity_search"] = CapacitySearch(
                phase="data",
                slo_p99_ms=250,
                max_error_rate=0.01,
                size_kb=10,
                steps=[],
                stop_reason="x",
            )

        assert capacity_figure(closed(**changes)) == figure


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
        assert hostport_option(text, "--smtp") == expected

    @pytest.mark.parametrize(
        "text",
        ["127.0.0.1", ":25", "::1:25", "host:port", "bad_name:25", "999.1.1.1:25"],
        ids=["no-port", "no-host", "bare-v6", "named-port", "underscore", "bad-ipv4"],
    )
    def test_refused(self, text):
        """Anything planner.net.parse_hostport refuses is one line naming the flag."""
        with pytest.raises(BenchmarkError, match=f"--smtp: '{text}' is not HOST:PORT"):
            hostport_option(text, "--smtp")

    @pytest.mark.parametrize("text", ["127.0.0.1:0", "127.0.0.1:70000", "[::1]:65536"])
    def test_port_out_of_range(self, text):
        """A good host with port 0 or above 65535: the line says which port is wrong."""
        port = int(text.rpartition(":")[2])
        with pytest.raises(BenchmarkError, match=rf"--smtp: port {port} is out of range"):
            hostport_option(text, "--smtp")

    @pytest.mark.parametrize(
        ("host", "shared"),
        [("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.example.com", False)],
    )
    def test_shares_machine(self, host, shared):
        """A target on loopback shares this machine; a name that merely starts with 127.
        does not (planner.net.is_loopback, not a string prefix)."""
        assert Target("smtp", host, 25).shares_machine is shared
