"""What the Benchmark page's form asks, the bounds it enforces, and what it hands the harness.

No Streamlit here. :class:`BenchRequest` is the form: each field's default and bounds
are written once, there, and the page builds its widgets from them (:data:`NUMBERS`:
label, step and help of each number input; :func:`default` and :func:`bounds` read the
model). :func:`check_request` turns the form's values into a request or a
BenchmarkError with one line per problem, each starting with the field's label as the
page shows it (``Messages: ...``); :meth:`BenchRequest.plan` is what the job hands
:func:`planner.bench.plan.execute`. Every run is bounded: at most :data:`MAX_MESSAGES`
messages and :data:`MAX_SECONDS` seconds of load, a capacity search and its repeats
included, and the job running it is cut at :attr:`BenchRequest.time_limit_s` whatever
happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Self

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.bench.result import MIN_MEASURED_S
from planner.bench.targets import Target, hostport_option
from planner.bench.workload import Workload, check_address
from planner.errors import BenchmarkError

if TYPE_CHECKING:
    from planner.bench.capacity import CapacityPlan
    from planner.bench.plan import BenchPlan

__all__ = [
    "LABELS",
    "MAX_MESSAGES",
    "MAX_REPEAT",
    "MAX_SECONDS",
    "NUMBERS",
    "REFINE_STEPS",
    "SESSION_TIMEOUT_S",
    "START_ALLOWANCE_S",
    "STEP_WARMUP_S",
    "BenchRequest",
    "NumberField",
    "bounds",
    "check_request",
    "default",
]

MAX_MESSAGES = 100_000
"""No run from the dashboard counts more messages than this (per capacity step)."""
MAX_SECONDS = 300.0
"""No run from the dashboard loads the server for longer than this, in seconds."""
STEP_WARMUP_S = 1.0
"""Uncounted warm-up before each capacity step, in seconds."""
REFINE_STEPS = 2
"""Bisection steps after the capacity search's first failure."""
SESSION_TIMEOUT_S = 10.0
"""A session that takes longer is cut and counted as a timeout."""
START_ALLOWANCE_S = 60.0
"""Time allowed on top of the load for starting the reference server, the probe, the
last sessions and the server's counters, in seconds."""
MAX_REPEAT = 5
"""Runs of one request at most (their load counts against :data:`MAX_SECONDS`)."""

LABELS: dict[str, str] = {
    "target": "Target",
    "protocol": "Protocol",
    "server": "Server (HOST:PORT)",
    "user": "User",
    "password": "Password",
    "label": "Server name",
    "sender": "Sender",
    "recipient": "Recipient",
    "size_kb": "Message size (KB)",
    "size_mix": "Size mix",
    "concurrency": "Concurrent sessions",
    "messages": "Messages",
    "duration_s": "Duration (s)",
    "rate_msgs_per_s": "Open-loop rate (msgs/s)",
    "messages_per_session": "Messages per session",
    "capacity": "Capacity search",
    "slo_p99_ms": "p99 target (ms)",
    "start_rate": "First rate (msgs/s)",
    "max_rate": "Highest rate (msgs/s)",
    "step_duration_s": "Seconds per step",
    "max_steps": "Steps at most",
    "open_loop": "Open loop",
    "repeat": "Runs",
}
"""Form label of each field, used in the widgets and in every error line."""


class BenchRequest(BaseModel):
    """One benchmark as the form describes it (password kept out of ``repr``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Literal["embedded", "server"] = "embedded"
    protocol: Literal["smtp", "pop3", "imap"] = "smtp"
    server: str = "127.0.0.1:25"
    user: str = ""
    password: str = Field("", repr=False)
    label: str = Field("", max_length=100)
    sender: str = "bench@bench.test"
    recipient: str = "user@bench.test"
    size_kb: float = Field(10.0, ge=0.25, le=10_240.0)
    size_mix: Literal["fixed", "realistic"] = "realistic"
    concurrency: int = Field(20, ge=1, le=500)
    messages: int = Field(MAX_MESSAGES, ge=1, le=MAX_MESSAGES)
    duration_s: float = Field(MIN_MEASURED_S, ge=1.0, le=MAX_SECONDS)
    open_loop: bool = False
    rate_msgs_per_s: float = Field(100.0, ge=1.0, le=20_000.0)
    messages_per_session: int = Field(10, ge=1, le=1000)
    capacity: bool = False
    slo_p99_ms: float = Field(250.0, ge=1.0, le=60_000.0)
    start_rate: float = Field(50.0, ge=1.0, le=20_000.0)
    max_rate: float = Field(3000.0, ge=1.0, le=20_000.0)
    step_duration_s: float = Field(MIN_MEASURED_S, ge=1.0, le=60.0)
    max_steps: int = Field(6, ge=1, le=20)
    repeat: int = Field(1, ge=1, le=MAX_REPEAT)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []

        def bad(field: str, text: str) -> None:
            problems.append(f"{LABELS[field]}: {text}")

        if self.target == "server":
            try:
                hostport_option(self.server, LABELS["server"])
            except BenchmarkError as exc:
                problems.extend(exc.lines)
        logins = self.target == "server" and (self.protocol != "smtp" or self.user or self.password)
        if logins:
            if not self.user or not self.password:
                bad("user", f"{self.protocol.upper()} needs a user and a password")
            else:
                _check(problems, self.user, "user")
        if self.protocol == "smtp":
            _check(problems, self.sender, "sender")
            if self.target == "server":
                _check(problems, self.recipient, "recipient")
        if self.capacity:
            if self.max_rate < self.start_rate:
                bad("max_rate", f"below the first rate ({self.start_rate:g} msgs/s)")
            if self.worst_case_s > MAX_SECONDS:
                runs = f" in {self.repeat} runs" if self.repeat > 1 else ""
                bad(
                    "max_steps",
                    f"{self.max_steps} steps of {self.step_duration_s:g} s (plus "
                    f"{REFINE_STEPS} refining steps and {STEP_WARMUP_S:g} s warm-up each) "
                    f"could run {self.worst_case_s:g} s{runs}; at most {MAX_SECONDS:g} s",
                )
            if self.step_messages_max > MAX_MESSAGES:
                bad(
                    "max_rate",
                    f"{self.max_rate:g} msgs/s for {self.step_duration_s + STEP_WARMUP_S:g} s "
                    f"is {self.step_messages_max:,.0f} messages a step; at most "
                    f"{MAX_MESSAGES:,}",
                )
        elif self.worst_case_s > MAX_SECONDS:
            bad(
                "repeat",
                f"{self.repeat} runs of {self.duration_s:g} s could run "
                f"{self.worst_case_s:g} s; at most {MAX_SECONDS:g} s",
            )
        if problems:
            raise BenchmarkError(problems)
        return self

    @property
    def worst_case_s(self) -> float:
        """Longest time the load can run, in seconds: the duration, or every capacity step
        (the rising ones and the refining ones) with its warm-up; times the runs."""
        if not self.capacity:
            return self.duration_s * self.repeat
        steps = (self.max_steps + REFINE_STEPS) * (self.step_duration_s + STEP_WARMUP_S)
        return steps * self.repeat

    @property
    def step_messages_max(self) -> float:
        """Messages one capacity step offers at the highest rate, warm-up included."""
        return self.max_rate * (self.step_duration_s + STEP_WARMUP_S)

    @property
    def time_limit_s(self) -> float:
        """Wall-clock seconds after which the job running this request is stopped: the
        load, and per run the start allowance and one session timeout."""
        return self.worst_case_s + (START_ALLOWANCE_S + SESSION_TIMEOUT_S) * self.repeat

    @property
    def logins(self) -> tuple[tuple[str, str], ...]:
        """The (address, password) the sessions log in with, if any."""
        return ((self.user, self.password),) if self.user and self.password else ()

    def remote_target(self) -> Target:
        """The server named in the form (``target == "server"``)."""
        host, port = hostport_option(self.server, LABELS["server"])
        return Target(
            protocol=self.protocol,
            host=host,
            port=port,
            users=self.logins,
            smtp_auth=self.protocol == "smtp" and bool(self.logins),
            server_label=self.label or None,
            flag="Server",
        )

    def workload(self) -> Workload:
        """The harness's workload: bounded by ``messages`` and ``duration_s`` (a capacity
        search by its steps); SMTP to the form's recipient (on the reference server, the
        plan sends to its users instead)."""
        rate = self.rate_msgs_per_s if self.open_loop else None
        data: dict[str, Any] = {
            "protocol": self.protocol,
            "concurrency": self.concurrency,
            "messages": self.messages,
            "duration_s": self.duration_s,
            "rate_msgs_per_s": self.start_rate if self.capacity else rate,
            "timeout_s": SESSION_TIMEOUT_S,
        }
        if self.protocol == "smtp":
            data |= {
                "size_kb": self.size_kb,
                "size_mix": self.size_mix,
                "sender": self.sender,
                "local_recipients": (self.recipient,),
                "local_share": 1.0,
            }
        else:
            data["messages_per_session"] = self.messages_per_session
        return Workload.model_validate(data)

    def capacity_plan(self) -> CapacityPlan:
        """The capacity search's steps and targets."""
        from planner.bench.capacity import CapacityPlan  # the runner: only where a run starts

        return CapacityPlan(
            slo_p99_ms=self.slo_p99_ms,
            start_rate=self.start_rate,
            max_rate=self.max_rate,
            max_steps=self.max_steps,
            step_duration_s=self.step_duration_s,
            step_warmup_s=STEP_WARMUP_S,
            refine_steps=REFINE_STEPS,
        )

    def plan(self) -> BenchPlan:
        """What the job hands :func:`planner.bench.plan.execute`: the reference server (the
        size field is then also the size of the messages seeded for POP3) or the named
        server, the workload, the capacity search when asked, and the runs."""
        from planner.bench.plan import BenchPlan, Embedded

        target: Target | Embedded = (
            self.remote_target()
            if self.target == "server"
            else Embedded(label=self.label or None, seed_size_kb=self.size_kb, flag="Protocol")
        )
        return BenchPlan(
            workload=self.workload(),
            target=target,
            capacity=self.capacity_plan() if self.capacity else None,
            repeat=self.repeat,
        )


@dataclass(frozen=True)
class NumberField:
    """One number input of the Benchmark page: its label is :data:`LABELS`' and its
    default and bounds are the :class:`BenchRequest` field's."""

    name: str
    step: float
    help: str

    @property
    def label(self) -> str:
        """The input's label."""
        return LABELS[self.name]

    @property
    def integer(self) -> bool:
        """Whether the field holds whole numbers."""
        return BenchRequest.model_fields[self.name].annotation is int

    @property
    def default(self) -> float:
        """The field's default (an int for whole-number fields)."""
        return default(self.name)  # type: ignore[no-any-return]

    @property
    def bounds(self) -> tuple[float, float]:
        """(minimum, maximum), inclusive."""
        return bounds(self.name)


def default(name: str) -> Any:
    """The default of form field ``name``, as :class:`BenchRequest` declares it."""
    return BenchRequest.model_fields[name].default


def bounds(name: str) -> tuple[float, float]:
    """(minimum, maximum) of number field ``name``, from its ``ge``/``le`` constraints
    (every number field of the form has both)."""
    low = high = None
    for rule in BenchRequest.model_fields[name].metadata:
        if isinstance(rule, Ge):
            low = rule.ge
        elif isinstance(rule, Le):
            high = rule.le
    if low is None or high is None:
        raise TypeError(f"BenchRequest.{name} has no ge/le bounds")
    return low, high  # type: ignore[return-value]


NUMBERS: dict[str, NumberField] = {
    f.name: f
    for f in (
        NumberField(
            "size_kb",
            1.0,
            "Starts at the scenario's average message size (capacity falls steeply with "
            "size). For POP3 on the reference server: the size of the seeded messages.",
        ),
        NumberField("messages_per_session", 1, "Reads per login."),
        NumberField("concurrency", 1, "Sessions at once (closed loop)."),
        NumberField(
            "messages",
            1000,
            f"The run stops after this many messages or the duration, whichever comes "
            f"first; at most {MAX_MESSAGES:,}.",
        ),
        NumberField(
            "duration_s",
            5.0,
            f"At most {MAX_SECONDS:g} s. A capacity figure needs {MIN_MEASURED_S:g} s "
            "measured; a shorter run's is indicative only.",
        ),
        NumberField(
            "rate_msgs_per_s",
            10.0,
            "Sessions arrive at this rate (Poisson) whatever the server does, so latency "
            "under a given load is honest.",
        ),
        NumberField("slo_p99_ms", 50.0, "The latency target."),
        NumberField("start_rate", 10.0, "Offered msgs/s, step 1."),
        NumberField("max_rate", 100.0, "No step offers more."),
        NumberField(
            "step_duration_s",
            1.0,
            f"Measured seconds per step; under {MIN_MEASURED_S:g} s the capacity is "
            "indicative only.",
        ),
        NumberField("max_steps", 1, "Rising steps at most."),
        NumberField(
            "repeat",
            1,
            "Run it this many times: the median run is kept, with every run's figure (the spread).",
        ),
    )
}
"""The form's number inputs by field name."""


def _check(problems: list[str], address: str, field: str) -> None:
    try:
        check_address(address, LABELS[field])
    except BenchmarkError as exc:
        problems.extend(exc.lines)


def check_request(values: dict[str, Any]) -> BenchRequest:
    """The form's values as a request; BenchmarkError with one ``Label: reason`` line per
    problem (the page shows them under the form and does not start the run)."""
    try:
        return BenchRequest.model_validate(values)  # cross-field checks raise BenchmarkError
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            lines.append(f"{LABELS.get(field, field or 'Form')}: {err['msg']}")
        raise BenchmarkError(lines) from None
