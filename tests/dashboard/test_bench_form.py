"""The Benchmark page's form model: bounds, consistency, and what it hands the harness."""

from __future__ import annotations

import pytest

from planner.dashboard.bench_form import (
    MAX_MESSAGES,
    MAX_SECONDS,
    START_ALLOWANCE_S,
    BenchRequest,
    check_request,
)
from planner.errors import BenchmarkError


def problems(**values: object) -> tuple[str, ...]:
    """The lines check_request refuses these values with."""
    with pytest.raises(BenchmarkError) as caught:
        check_request(values)
    return caught.value.problems


class TestBounds:
    @pytest.mark.parametrize(
        ("values", "expected"),
        [
            (
                {"messages": MAX_MESSAGES + 1},
                "Messages: Input should be less than or equal to 100000",
            ),
            (
                {"duration_s": MAX_SECONDS + 1},
                "Duration (s): Input should be less than or equal to 300",
            ),
            ({"concurrency": 0}, "Concurrent sessions: Input should be greater than or equal to 1"),
            ({"size_kb": 0}, "Message size (KB): Input should be greater than or equal to 0.25"),
            (
                {"capacity": True, "max_rate": 10, "start_rate": 20},
                "Highest rate (msgs/s): below the first rate (20 msgs/s)",
            ),
            (
                {"protocol": "imap"},
                "Protocol: the reference server has no IMAP; name an IMAP server instead",
            ),
            (
                {"target": "server", "server": "[::1]"},
                "Server (HOST:PORT): '[::1]' is not HOST:PORT (for example 127.0.0.1:2525)",
            ),
            (
                {"target": "server", "server": "127.0.0.1:25", "user": "me@x.test"},
                "User: SMTP needs a user and a password",
            ),
            (
                {"target": "server", "server": "127.0.0.1:25", "recipient": "nobody"},
                "Recipient: 'nobody' is not an address like user@example.test",
            ),
        ],
        ids=[
            "messages",
            "duration",
            "concurrency",
            "size",
            "rates",
            "embedded-imap",
            "no-port",
            "half-login",
            "recipient",
        ],
    )
    def test_out_of_bounds_is_one_labelled_line(self, values, expected):
        """Each bad value is refused with the field's form label and the reason."""
        assert problems(**values) == (expected,)

    def test_capacity_search_fits_the_time_limit(self):
        """Steps x (duration + warm-up), refining steps included, must stay within 300 s."""
        ok = check_request(
            {"capacity": True, "max_steps": 8, "step_duration_s": 29, "max_rate": 1000}
        )

        assert ok.worst_case_s == (8 + 2) * (29 + 1) == MAX_SECONDS
        assert problems(capacity=True, max_steps=8, step_duration_s=30, max_rate=1000)[0].endswith(
            "could run 310 s; at most 300 s"
        )

    def test_job_limit_adds_the_start_allowance(self):
        """The job is cut after the load's longest time plus start and session allowances."""
        request = check_request({"duration_s": 20})

        assert request.time_limit_s == 20 + START_ALLOWANCE_S + 10


class TestHarnessInputs:
    def test_every_run_is_bounded_by_count_and_time(self):
        """The workload carries both the message count and the duration."""
        wl = check_request({"messages": 300, "duration_s": 4}).workload(("a@bench.test",))

        assert (wl.message_budget, wl.time_limit_s, wl.local_recipients) == (
            300,
            4,
            ("a@bench.test",),
        )

    def test_capacity_search_starts_open_loop_at_the_first_rate(self):
        """A capacity request gives an open-loop workload and the plan of its steps."""
        request = check_request({"capacity": True, "start_rate": 40, "slo_p99_ms": 100})
        plan = request.capacity_plan()

        assert (request.workload().mode, request.workload().rate_msgs_per_s) == ("open", 40)
        assert (plan.start_rate, plan.slo_p99_ms, plan.refine_steps) == (40, 100, 2)

    def test_server_target_carries_the_login(self):
        """A POP3 server target logs in with the form's user and password."""
        request = check_request(
            {
                "target": "server",
                "protocol": "pop3",
                "server": "[::1]:110",
                "user": "u@x.test",
                "password": "pw",
            }
        )
        target = request.remote_target()

        assert (target.host, target.port, target.users, target.where) == (
            "::1",
            110,
            (("u@x.test", "pw"),),
            "Server [::1]:110",
        )

    def test_password_stays_out_of_repr(self):
        """The password is not shown when the request is printed or logged."""
        request = BenchRequest(
            target="server",
            protocol="imap",
            server="127.0.0.1:143",
            user="u@x.test",
            password="s3cret",
        )

        assert "s3cret" not in repr(request)
