"""The Benchmark page's form model: bounds, consistency, and what it hands the harness."""

from __future__ import annotations

import pytest

from planner.bench.plan import Embedded
from planner.bench.targets import Target
from planner.dashboard.bench_form import (
    MAX_MESSAGES,
    MAX_SECONDS,
    NUMBERS,
    START_ALLOWANCE_S,
    BenchRequest,
    bounds,
    check_request,
    default,
)
from planner.errors import BenchmarkError


def problems(**values: object) -> tuple[str, ...]:
    """The lines check_request refuses these values with."""
    with pytest.raises(BenchmarkError) as caught:
        check_request(values)
    return caught.value.lines


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
            (
                {"repeat": 5, "duration_s": 61},
                "Runs: 5 runs of 61 s could run 305 s; at most 300 s",
            ),
            ({"repeat": 6}, "Runs: Input should be less than or equal to 5"),
        ],
        ids=[
            "messages",
            "duration",
            "concurrency",
            "size",
            "rates",
            "no-port",
            "half-login",
            "recipient",
            "repeats-too-long",
            "repeats",
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

    def test_repeats_multiply_the_load_and_the_allowance(self):
        """Three runs of 20 s: 60 s of load, and each run has its own allowance."""
        request = check_request({"duration_s": 20, "repeat": 3})

        assert (request.worst_case_s, request.time_limit_s) == (
            60,
            60 + 3 * (START_ALLOWANCE_S + 10),
        )

    def test_defaults_give_a_figure_to_rely_on(self):
        """Out of the box a run measures 30 s (bounded by time, not by its count), and so
        does each capacity step, within the form's bounds."""
        request = BenchRequest()
        check_request({"capacity": True})

        assert (request.duration_s, request.messages, request.step_duration_s) == (
            30,
            MAX_MESSAGES,
            30,
        )


class TestFields:
    @pytest.mark.parametrize("name", sorted(NUMBERS))
    def test_number_inputs_read_the_model(self, name):
        """Each number input's default and bounds are the request model's field, and its
        default lies within its bounds (the page has no second copy)."""
        spec = NUMBERS[name]
        low, high = bounds(name)

        assert (spec.default, spec.bounds) == (BenchRequest.model_fields[name].default, (low, high))
        assert low <= spec.default <= high
        assert spec.integer is isinstance(spec.default, int)

    def test_every_number_field_has_an_input(self):
        """Every int or float field of the request model is drawn as a number input."""
        numbers = {
            name
            for name, info in BenchRequest.model_fields.items()
            if info.annotation in (int, float)
        }

        assert numbers == set(NUMBERS)

    def test_defaults_of_choices(self):
        """Choices and switches start at the model's defaults."""
        assert [
            default(n) for n in ("target", "protocol", "size_mix", "open_loop", "capacity")
        ] == [
            "embedded",
            "smtp",
            "realistic",
            False,
            False,
        ]


class TestHarnessInputs:
    def test_every_run_is_bounded_by_count_and_time(self):
        """The workload carries both the message count and the duration."""
        wl = check_request({"messages": 300, "duration_s": 4}).workload()

        assert (wl.message_budget, wl.time_limit_s, wl.local_recipients, wl.mode) == (
            300,
            4,
            ("user@bench.test",),
            "closed",
        )

    def test_open_loop_rate_only_when_switched_on(self):
        """The open-loop rate is used only with the Open loop switch on."""
        off = check_request({"rate_msgs_per_s": 40}).workload()
        on = check_request({"open_loop": True, "rate_msgs_per_s": 40}).workload()

        assert (off.rate_msgs_per_s, on.rate_msgs_per_s) == (None, 40)

    def test_capacity_search_starts_open_loop_at_the_first_rate(self):
        """A capacity request gives an open-loop workload and the plan of its steps."""
        request = check_request({"capacity": True, "start_rate": 40, "slo_p99_ms": 100})
        plan = request.capacity_plan()

        assert (request.workload().mode, request.workload().rate_msgs_per_s) == ("open", 40)
        assert (plan.start_rate, plan.slo_p99_ms, plan.refine_steps) == (40, 100, 2)

    @pytest.mark.parametrize(
        ("values", "target"),
        [
            (
                {"protocol": "pop3", "size_kb": 2.0, "repeat": 3},
                Embedded(seed_size_kb=2.0, flag="Protocol"),
            ),
            (
                {"target": "server", "server": "127.0.0.1:2525", "label": "sink", "repeat": 3},
                Target("smtp", "127.0.0.1", 2525, server_label="sink"),
            ),
        ],
        ids=["embedded-pop3", "server"],
    )
    def test_plan_is_what_the_job_runs(self, values, target):
        """The request's plan names its target (the reference server seeded with messages
        of the form's size, or the named server), its workload and its runs."""
        plan = check_request(values).plan()

        assert (plan.target, plan.repeat, plan.capacity) == (target, 3, None)
        assert plan.workload == check_request(values).workload()

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
