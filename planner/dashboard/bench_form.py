"""What the Benchmark page's form asks, the bounds it enforces, and what it hands the harness.

No Streamlit here. :func:`check_request` turns the form's values into a
:class:`BenchRequest` or a BenchmarkError with one line per problem, each starting with
the field's label as the page shows it (``Messages: ...``). Every run is bounded: at
most :data:`MAX_MESSAGES` messages and :data:`MAX_SECONDS` seconds of load, a capacity
search included (its steps times their length), and the job running it is cut at
:attr:`BenchRequest.time_limit_s` whatever happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.bench.targets import Target, parse_hostport
from planner.bench.workload import Workload, check_address
from planner.errors import BenchmarkError

if TYPE_CHECKING:
    from planner.bench.capacity import CapacityPlan

__all__ = [
    "LABELS",
    "MAX_MESSAGES",
    "MAX_SECONDS",
    "REFINE_STEPS",
    "SESSION_TIMEOUT_S",
    "START_ALLOWANCE_S",
    "STEP_WARMUP_S",
    "BenchRequest",
    "check_request",
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
POP3_SEED_MAX = 5000
"""Messages seeded per mailbox of the reference server, at most."""

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
}
"""Form label of each field, used in the widgets and in every error line."""


class BenchRequest(BaseModel):
    """One benchmark as the form describes it (password kept out of ``repr``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Literal["embedded", "server"] = "embedded"
    protocol: Literal["smtp", "pop3", "imap"] = "smtp"
    server: str = ""
    user: str = ""
    password: str = Field("", repr=False)
    label: str = Field("", max_length=100)
    sender: str = "bench@bench.test"
    recipient: str = "user@bench.test"
    size_kb: float = Field(10.0, ge=0.25, le=10_240)
    size_mix: Literal["fixed", "realistic"] = "realistic"
    concurrency: int = Field(20, ge=1, le=500)
    messages: int = Field(5000, ge=1, le=MAX_MESSAGES)
    duration_s: float = Field(10.0, ge=1, le=MAX_SECONDS)
    rate_msgs_per_s: float | None = Field(None, gt=0, le=20_000)
    messages_per_session: int = Field(10, ge=1, le=1000)
    capacity: bool = False
    slo_p99_ms: float = Field(250.0, ge=1, le=60_000)
    start_rate: float = Field(50.0, ge=1, le=20_000)
    max_rate: float = Field(5000.0, ge=1, le=20_000)
    step_duration_s: float = Field(3.0, ge=1, le=60)
    max_steps: int = Field(6, ge=1, le=20)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []

        def bad(field: str, text: str) -> None:
            problems.append(f"{LABELS[field]}: {text}")

        if self.target == "server":
            try:
                parse_hostport(self.server, LABELS["server"])
            except BenchmarkError as exc:
                problems.extend(exc.problems)
        elif self.protocol == "imap":
            bad("protocol", "the reference server has no IMAP; name an IMAP server instead")
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
                bad(
                    "max_steps",
                    f"{self.max_steps} steps of {self.step_duration_s:g} s (plus "
                    f"{REFINE_STEPS} refining steps and {STEP_WARMUP_S:g} s warm-up each) "
                    f"could run {self.worst_case_s:g} s; at most {MAX_SECONDS:g} s",
                )
            if self.step_messages_max > MAX_MESSAGES:
                bad(
                    "max_rate",
                    f"{self.max_rate:g} msgs/s for {self.step_duration_s + STEP_WARMUP_S:g} s "
                    f"is {self.step_messages_max:,.0f} messages a step; at most "
                    f"{MAX_MESSAGES:,}",
                )
        if problems:
            raise BenchmarkError(problems)
        return self

    @property
    def worst_case_s(self) -> float:
        """Longest time the load can run, in seconds: the duration, or every capacity step
        (the rising ones and the refining ones) with its warm-up."""
        if not self.capacity:
            return self.duration_s
        return (self.max_steps + REFINE_STEPS) * (self.step_duration_s + STEP_WARMUP_S)

    @property
    def step_messages_max(self) -> float:
        """Messages one capacity step offers at the highest rate, warm-up included."""
        return self.max_rate * (self.step_duration_s + STEP_WARMUP_S)

    @property
    def time_limit_s(self) -> float:
        """Wall-clock seconds after which the job running this request is stopped."""
        return self.worst_case_s + START_ALLOWANCE_S + SESSION_TIMEOUT_S

    @property
    def logins(self) -> tuple[tuple[str, str], ...]:
        """The (address, password) the sessions log in with, if any."""
        return ((self.user, self.password),) if self.user and self.password else ()

    def remote_target(self) -> Target:
        """The server named in the form (``target == "server"``)."""
        host, port = parse_hostport(self.server, LABELS["server"])
        return Target(
            protocol=self.protocol,
            host=host,
            port=port,
            users=self.logins,
            smtp_auth=self.protocol == "smtp" and bool(self.logins),
            server_label=self.label or None,
            flag="Server",
        )

    def workload(self, local_recipients: tuple[str, ...] | None = None) -> Workload:
        """The harness's workload: bounded by ``messages`` and ``duration_s`` (or, for a
        capacity search, by its steps), SMTP sent to ``local_recipients`` (the reference
        server's users) or to the form's recipient."""
        data: dict[str, Any] = {
            "protocol": self.protocol,
            "concurrency": self.concurrency,
            "messages": self.messages,
            "duration_s": self.duration_s,
            "rate_msgs_per_s": self.start_rate if self.capacity else self.rate_msgs_per_s,
            "timeout_s": SESSION_TIMEOUT_S,
        }
        if self.capacity:
            data["max_in_flight"] = 5000
        if self.protocol == "smtp":
            data |= {
                "size_kb": self.size_kb,
                "size_mix": self.size_mix,
                "sender": self.sender,
                "local_recipients": local_recipients or (self.recipient,),
                "local_share": 1.0,
            }
        else:
            data["messages_per_session"] = self.messages_per_session
        return Workload.model_validate(data)

    def seed_workload(self) -> Workload:
        """What the reference server's mailboxes are filled with before a POP3 run."""
        return Workload(protocol="smtp", size_kb=self.size_kb, size_mix="fixed")

    @property
    def seed_per_user(self) -> int:
        """Messages put in each mailbox of the reference server before a POP3 run: enough
        for two sessions' reads, at most :data:`POP3_SEED_MAX`."""
        return min(max(20, self.messages_per_session * 2), POP3_SEED_MAX)

    @property
    def embedded_users(self) -> int:
        """Users (and mailboxes) of the reference server: one per session, at most 50."""
        return min(self.concurrency, 50)

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


def _check(problems: list[str], address: str, field: str) -> None:
    try:
        check_address(address, LABELS[field])
    except BenchmarkError as exc:
        problems.extend(exc.problems)


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
