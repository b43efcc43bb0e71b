"""A benchmark job from the dashboard: its own process against a real smtp-sink on
127.0.0.1, progress snapshots as it goes, the result saved when it ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from planner.bench.peers import SmtpSink
from planner.bench.store import ResultStore
from planner.dashboard.bench_form import check_request
from planner.dashboard.bench_job import JobBoard
from planner.errors import BenchmarkError


@pytest.fixture(name="sink")
def _sink() -> Iterator[SmtpSink]:
    """Postfix's smtp-sink on a free loopback port."""
    sink = SmtpSink()
    yield sink
    sink.stop()


@pytest.mark.timeout(60)
def test_capacity_search_is_saved_with_its_steps(sink, bench_db):
    """A two-step capacity search runs in the child, reports each step live, and is saved
    with its capacity (its last passing step; no step failed) marked indicative (steps of
    1 s); a second job cannot start while it runs."""
    board = JobBoard()
    request = check_request(
        {
            "target": "server",
            "server": sink.address,
            "label": "smtp-sink",
            "capacity": True,
            "start_rate": 40,
            "max_steps": 2,
            "step_duration_s": 1,
        }
    )
    job = board.start(request, bench_db)
    with pytest.raises(BenchmarkError, match="another benchmark is running"):
        board.start(request, bench_db)

    assert job.wait(timeout=50) == "done", job.problems

    (saved,) = ResultStore(bench_db).list()
    assert job.result == saved
    assert saved.capacity_search is not None
    assert [s.offered_msgs_per_s for s in saved.capacity_search.steps] == [40, 60]
    assert saved.capacity_msgs_per_s == 60
    assert saved.capacity_search.last_pass_msgs_per_s == 60
    assert saved.capacity_search.first_fail_msgs_per_s is None
    assert [s.measured_s >= 1 for s in saved.capacity_search.steps] == [True, True]
    assert saved.indicative is True
    assert saved.environment.server_label == "smtp-sink"
    assert {p.snapshot.label for p in job.points} == {"step 1: 40 msgs/s", "step 2: 60 msgs/s"}
    assert sink.received() == sum(
        s.messages_ok + s.warmup_messages for s in saved.capacity_search.steps
    )
