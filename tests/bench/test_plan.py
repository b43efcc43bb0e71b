"""One benchmark plan, executed: repeats and their spread, the 30-s minimum (lowered
here so that no test runs for 30 s), the reference server as a target, seeding."""

from __future__ import annotations

import json
import re

import pytest

from planner.bench.capacity import CapacityPlan
from planner.bench.plan import SEED_MAX, SEED_MIN, BenchPlan, Embedded, execute
from planner.bench.result import MIN_MEASURED_S
from planner.bench.runner import measured_window_s
from planner.bench.targets import Target
from planner.bench.workload import Workload

pytestmark = pytest.mark.timeout(120)


def sink_target(sink) -> Target:
    """The smtp-sink fixture as a target."""
    return Target(protocol="smtp", host="127.0.0.1", port=sink.port, server_label="smtp-sink")


class TestRepeat:
    def test_median_run_and_spread(self, sink):
        """Three runs: the result is the median one by msgs/s, the spread lists every run
        in order with min <= median <= max, and a note says so."""
        plan = BenchPlan(
            workload=Workload(concurrency=4, messages=150), target=sink_target(sink), repeat=3
        )
        phases: list[str] = []

        result = execute(plan, phase=phases.append)

        spread = result.spread
        assert spread is not None
        assert (result.repeat, spread.figure, len(spread.values)) == (3, "msgs_per_s", 3)
        assert spread.min <= spread.median <= spread.max
        assert spread.median == sorted(spread.values)[1] == result.msgs_per_s
        assert spread.relative == pytest.approx((spread.max - spread.min) / spread.median, abs=1e-4)
        assert result.notes[-1].startswith("Repeated 3 times: msgs_per_s ")
        assert phases == [f"run {i}/3: loading {sink.address}" for i in (1, 2, 3)]
        assert sink.received() == 3 * 150

    def test_progress_names_the_run(self, sink):
        """Snapshots of a repeated plan are labelled with their run."""
        labels: set[str] = set()
        plan = BenchPlan(
            workload=Workload(concurrency=2, duration_s=1.2), target=sink_target(sink), repeat=2
        )

        execute(plan, lambda snap: labels.add(snap.label))

        assert labels == {"run 1/2", "run 2/2"}


class TestMinimum:
    @pytest.mark.parametrize(
        ("minimum", "indicative"),
        [(MIN_MEASURED_S, True), (1.0, False)],
        ids=["30s-minimum", "lowered-to-1s"],
    )
    def test_a_run_under_the_minimum_is_indicative(self, sink, minimum, indicative):
        """A 1.5-s run is indicative against the 30-s minimum and not against a lowered
        one; the result records the minimum it was held to, and says why when short."""
        plan = BenchPlan(
            workload=Workload(concurrency=2, duration_s=1.5),
            target=sink_target(sink),
            min_measured_s=minimum,
        )

        result = execute(plan)

        # The note gives the window actually measured: 1.5 s, or a little more when the
        # last messages complete late on a busy machine.
        note = f"Indicative: measured {measured_window_s(result, plan.workload):.1f} s"
        assert (result.indicative, result.min_measured_s) == (indicative, minimum)
        assert any(n.startswith(note) for n in result.notes) is indicative

    def test_capacity_steps_are_judged_one_by_one(self, sink):
        """A capacity search is judged by its steps' measured seconds (the offered window),
        not by the chosen step's last completion."""
        capacity = CapacityPlan(
            start_rate=40, max_steps=2, step_duration_s=1.0, step_warmup_s=0, refine_steps=0
        )
        plan = BenchPlan(
            workload=Workload(rate_msgs_per_s=40, size_kb=1),
            target=sink_target(sink),
            capacity=capacity,
            min_measured_s=1.0,
        )

        result = execute(plan)

        assert result.capacity_search is not None
        assert [s.measured_s >= 1.0 for s in result.capacity_search.steps] == [True, True]
        assert result.indicative is False


class TestPlanRules:
    def test_the_reference_server_serves_imap(self):
        """An IMAP load on the reference server is planned like POP3: mailboxes seeded."""
        plan = BenchPlan(workload=Workload(protocol="imap"), target=Embedded())

        assert plan.seed_per_user >= SEED_MIN

    @pytest.mark.parametrize(
        ("workload", "seed"),
        [
            (Workload(protocol="pop3", messages_per_session=1), SEED_MIN),
            (Workload(protocol="pop3", messages_per_session=30), 60),
            (Workload(protocol="pop3", concurrency=10, messages=1000, delete=True), 102),
            (Workload(protocol="pop3", messages_per_session=4000), SEED_MAX),
            (Workload(protocol="smtp"), 0),
        ],
        ids=["at-least", "two-sessions", "delete-covers-the-count", "at-most", "smtp"],
    )
    def test_one_seeding_rule(self, workload, seed):
        """Mailboxes of the reference server get two sessions' reads (with --delete, the
        whole count too), between the minimum and the maximum; SMTP seeds nothing."""
        assert BenchPlan(workload=workload, target=Embedded()).seed_per_user == seed

    @pytest.mark.parametrize(
        ("workload", "capacity", "users"),
        [
            (Workload(concurrency=4), None, 4),
            (Workload(concurrency=400), None, 50),
            (Workload(rate_msgs_per_s=10), None, 50),
            (Workload(concurrency=4, rate_msgs_per_s=10), CapacityPlan(), 50),
        ],
        ids=["closed-loop", "closed-loop-capped", "open-loop", "capacity"],
    )
    def test_one_user_per_session(self, workload, capacity, users):
        """The reference server has one user per closed-loop session, at most 50."""
        plan = BenchPlan(workload=workload, target=Embedded(), capacity=capacity)

        assert plan.embedded_users == users


class TestCommandLine:
    def test_repeat_in_the_json_result(self, sink, bench_json):
        """--repeat 2 gives the additive keys repeat, spread and indicative."""
        result = bench_json("smtp", "--smtp", sink.address, "--messages", 60, "--repeat", 2)

        assert (result["repeat"], result["indicative"], result["min_measured_s"]) == (2, True, 30)
        assert len(result["spread"]["values"]) == 2
        assert result["spread"]["median"] == result["msgs_per_s"]

    def test_table_gives_each_run_and_the_range(self, sink, bench):
        """The result table lists each run's figure with min, median and max (cells read
        with the table's borders and line wraps taken out)."""
        r = bench(
            "smtp", "--smtp", sink.address, "--messages", 40, "--repeat", 3, "--no-save", "-q"
        )

        assert r.returncode == 0, r.stderr
        text = " ".join(r.stdout.replace("│", " ").split())
        number = r"[\d.,]+"
        assert re.search(
            rf"3 runs \(msgs_per_s\) {number}, {number}, {number}; min {number}, median "
            rf"{number}, max {number}; spread [\d.]+% of the median; the median run is shown",
            text,
        ), text

    def test_table_names_the_bracket_and_the_shortness(self, scripted, bench):
        """The capacity table says the figure is indicative and names the last passing and
        first failing step."""
        server = scripted(data_delay_s=0.3)
        r = bench(
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
            "--no-save",
            "-q",
        )

        assert r.returncode == 0, r.stderr
        lines = [" ".join(line.split()) for line in r.stdout.splitlines()]
        assert "│ capacity │ not found at p99 data <= 100 ms │" in lines
        assert "│ last pass │ none │" in lines
        assert any(
            line.startswith("│ first fail │ 20.0 msgs/s offered: p99 data ") for line in lines
        )
        assert any(
            re.match(r"│ indicative │ yes: \d+\.\d s measured, under the 30 s a capacity", line)
            for line in lines
        )

    def test_embedded_imap_runs(self, bench):
        """bench imap --embedded loads the reference server's IMAP listener: every FETCH
        answered."""
        r = bench("imap", "--embedded", "--messages", "40", "--concurrency", "2", "--no-save")

        assert r.returncode == 0, r.stderr
        assert "embedded mailplan serve" in r.stdout

    def test_list_shows_the_figure_apply_uses(self, sink, bench, tmp_path):
        """bench list gives a closed-loop SMTP run's capacity (its throughput) and whether
        it is indicative, as apply and the dashboard do."""
        db = tmp_path / "r.sqlite"
        bench("smtp", "--smtp", sink.address, "--messages", 40, "--db", db, "-q")

        (row,) = json.loads(bench("list", "--db", db, "--format", "json").stdout)

        assert row["capacity_msgs_per_s"] == row["msgs_per_s"] > 0
        assert (row["indicative"], row["repeat"]) == (True, 1)
