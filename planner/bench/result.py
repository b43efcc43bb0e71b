"""The result of a benchmark run, as plain data the planning core can read.

Pure: pydantic and the standard library only (no asyncio, no sockets), so the planner,
the dashboard and ``mailplan size --capacity-from`` read results without loading the
harness. :func:`capacity_from_benchmark` is where a result becomes a sizing input:
``(capacity_msgs_per_s, capacity_source)``, the source starting with the word
``benchmark`` (what :func:`planner.resolution.capacity_kind` looks for).

A capacity figure needs :data:`MIN_MEASURED_S` of measurement after warm-up (a
closed-loop run, or every step of a capacity search); a shorter result carries
``indicative: true``, and its source says so.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.catalog import format_validation_error, read_document
from planner.errors import BenchmarkError, ScenarioError

__all__ = [
    "CAPACITY_FIELDS",
    "MIN_MEASURED_S",
    "SCHEMA_VERSION",
    "BenchmarkResult",
    "CapacitySearch",
    "CapacityStep",
    "Environment",
    "LatencySummary",
    "SecondSample",
    "Spread",
    "WorkloadSummary",
    "capacity_figure",
    "capacity_from_benchmark",
    "capture_environment",
    "load_result_json",
    "measured_s",
    "parse_result",
]

SCHEMA_VERSION = 1
MIN_MEASURED_S = 30.0
"""Seconds of measurement after warm-up a capacity figure needs (a closed-loop run, or
each capacity step); a shorter run's figure is indicative only. A benchmark plan may
lower it (tests do), and the result then says which minimum it was held to."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LatencySummary(_Model):
    """Latency of one phase in milliseconds, from an HDR histogram (3 significant digits)."""

    count: int = Field(ge=0, description="Samples recorded.")
    p50: float = Field(ge=0)
    p90: float = Field(ge=0)
    p99: float = Field(ge=0)
    max: float = Field(ge=0)
    mean: float = Field(ge=0)


class SecondSample(_Model):
    """One second of the measured run."""

    second: int = Field(ge=0, description="Seconds since the end of warm-up.")
    messages_ok: int = Field(ge=0)
    messages_failed: int = Field(ge=0)
    p99_ms: float | None = Field(None, description="p99 of the key phase in that second.")


class WorkloadSummary(_Model):
    """The workload a result was measured with (no credentials)."""

    mode: Literal["closed", "open"]
    size_kb: float
    size_mix: str
    recipients_per_message: int
    local_share: float
    concurrency: int
    messages_per_session: int
    rate_msgs_per_s: float | None
    warmup_s: float
    workers: int
    pipelining: bool = False
    starttls: bool = False
    auth: bool = False
    retrieve: str | None = None


class Environment(_Model):
    """Where a result was measured: the load machine and the server under test."""

    cpu_model: str
    cores: int
    os: str
    python: str
    machine: str
    mailplan_version: str
    uvloop: str | None = None
    load_generator: str = "mailplan bench"
    server_label: str | None = None
    server_version: str | None = None
    server_banner: str | None = None
    shared_machine: bool = Field(
        description="The load generator ran on the same machine as the server (loopback)."
    )

    def summary(self) -> str:
        """``Intel Xeon, 2 cores, shared with load generator``."""
        text = f"{_short_cpu(self.cpu_model)}, {self.cores} cores"
        return text + (", shared with load generator" if self.shared_machine else "")


class CapacityStep(_Model):
    """One offered rate tried by the capacity search."""

    offered_msgs_per_s: float
    achieved_msgs_per_s: float
    messages_ok: int = Field(0, ge=0)
    warmup_messages: int = Field(0, ge=0)
    p99_ms: float | None
    error_rate: float
    passed: bool
    reason: str
    measured_s: float | None = Field(
        None, ge=0, description="Seconds of offered load after the step's warm-up."
    )


class CapacitySearch(_Model):
    """How a capacity figure was found."""

    phase: str = Field(description="The phase whose p99 is held to the target.")
    slo_p99_ms: float
    max_error_rate: float
    size_kb: float
    steps: list[CapacityStep]
    stop_reason: str
    last_pass_msgs_per_s: float | None = Field(
        None, description="Offered rate of the highest step that passed (the capacity)."
    )
    first_fail_msgs_per_s: float | None = Field(
        None, description="Offered rate of the lowest step that failed above it, if any."
    )

    def step_at(self, rate: float | None) -> CapacityStep | None:
        """The step that offered ``rate`` msgs/s (None for None or no such step)."""
        if rate is None:
            return None
        return next((s for s in self.steps if math.isclose(s.offered_msgs_per_s, rate)), None)


class Spread(_Model):
    """How the figure of K repeated runs varied: each run's value and their range.

    ``figure`` names what was compared: the capacity search's ``capacity_msgs_per_s``, or
    ``msgs_per_s`` for a plain run. ``relative`` is (max - min) / median.
    """

    figure: Literal["capacity_msgs_per_s", "msgs_per_s"]
    values: list[float | None] = Field(description="Each run's figure, in run order.")
    min: float | None
    median: float | None
    max: float | None
    relative: float | None


class BenchmarkResult(_Model):
    """One benchmark run (or the chosen step of a capacity search).

    ``latency_ms`` is the phase that matters (``latency_phase``: SMTP ``data`` = end of
    DATA to the 250 reply, POP3 ``retr``, IMAP ``fetch``); ``phases`` holds every phase.
    Rates are per second of measurement (after warm-up); MB are 10^6 bytes.
    """

    schema_version: int = SCHEMA_VERSION
    id: int | None = Field(None, description="Id in the results store, once saved.")
    created_at: dt.datetime
    protocol: Literal["smtp", "pop3", "imap"]
    target: str
    mode: Literal["closed", "open"]
    messages_started: int = Field(ge=0)
    messages_ok: int = Field(ge=0)
    messages_failed: int = Field(ge=0)
    warmup_messages: int = Field(0, ge=0, description="Messages done during warm-up (not counted).")
    duration_s: float = Field(ge=0)
    msgs_per_s: float = Field(ge=0)
    mb_per_s: float = Field(ge=0)
    latency_phase: str
    latency_ms: LatencySummary
    phases: dict[str, LatencySummary] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict, description="Reply code -> count.")
    timeseries: list[SecondSample] = Field(default_factory=list)
    capacity_msgs_per_s: float | None = Field(
        None, description="Highest sustainable rate found by a capacity search."
    )
    capacity_search: CapacitySearch | None = None
    server_counters: dict[str, Any] | None = Field(
        None, description="The server's own counters (embedded target): stats.json."
    )
    workload: WorkloadSummary
    environment: Environment
    notes: list[str] = Field(default_factory=list)
    repeat: int = Field(1, ge=1, description="Runs made; this result is the median one.")
    spread: Spread | None = Field(None, description="How the repeated runs varied.")
    indicative: bool = Field(
        False,
        description="Measured for less than the minimum (min_measured_s), so its capacity "
        "figure is indicative only. Derived from the durations when not given.",
    )
    min_measured_s: float = Field(
        MIN_MEASURED_S, ge=0, description="The minimum measured time the run was held to."
    )

    @model_validator(mode="before")
    @classmethod
    def _judge_length(cls, data: Any) -> Any:
        """A result that does not say whether it is indicative (older files, single runs
        made without a plan) is judged by its measured time against the minimum."""
        if isinstance(data, dict) and data.get("indicative") is None:
            least = _least_measured_s(data)
            floor = data.get("min_measured_s", MIN_MEASURED_S)
            if isinstance(least, int | float) and isinstance(floor, int | float):
                data = {**data, "indicative": least < floor}
        return data

    @property
    def error_rate(self) -> float:
        """Failed messages over messages that finished."""
        done = self.messages_ok + self.messages_failed
        return self.messages_failed / done if done else 0.0


def _least_measured_s(data: dict[str, Any]) -> Any:
    """The shortest measured part of raw result data: each capacity step's measured time
    (the result's duration for steps that do not say), else the run's duration."""
    duration = data.get("duration_s")
    search = data.get("capacity_search")
    steps: Any = search.steps if isinstance(search, CapacitySearch) else None
    if isinstance(search, dict):
        steps = search.get("steps")
    if not steps:
        return duration
    times: list[Any] = []
    for step in steps:
        t = step.measured_s if isinstance(step, CapacityStep) else step.get("measured_s")
        times.append(duration if t is None else t)
    numbers = [t for t in times if isinstance(t, int | float)]
    return min(numbers) if len(numbers) == len(times) else None


def measured_s(result: BenchmarkResult) -> float:
    """Seconds of measurement behind the result's figure: the shortest capacity step, or
    the run's duration."""
    if result.capacity_search is not None and result.capacity_search.steps:
        return min(
            result.duration_s if s.measured_s is None else s.measured_s
            for s in result.capacity_search.steps
        )
    return result.duration_s


def parse_result(data: Any, *, name: str = "result") -> BenchmarkResult:
    """Validate parsed JSON as a BenchmarkResult; BenchmarkError with one line per problem."""
    if not isinstance(data, dict):
        raise BenchmarkError(f"{name}: expected a JSON object (a 'mailplan bench' result)")
    try:
        return BenchmarkResult.model_validate(data)
    except ValidationError as exc:
        raise BenchmarkError(format_validation_error(exc, source=name)) from None


def load_result_json(path: str | Path) -> BenchmarkResult:
    """Read a result saved with ``--format json``; one-line errors for bad files."""
    try:
        data = read_document(path)
    except ScenarioError as exc:  # the same file rules as a scenario's, another error type
        raise BenchmarkError(exc.problems) from None
    return parse_result(data, name=str(path))


def capacity_figure(result: BenchmarkResult) -> float | None:
    """The result's capacity figure as the sizing would use it, or None when it gives none:
    a capacity search's figure, or a closed-loop SMTP run's throughput."""
    if result.protocol != "smtp":
        return None
    if result.capacity_search is not None:
        return result.capacity_msgs_per_s
    if result.mode == "closed" and result.msgs_per_s > 0:
        return result.msgs_per_s
    return None


CAPACITY_FIELDS = {
    "smtp": "capacity_msgs_per_s",
    "pop3": "client_capacity_fetches_per_s",
    "imap": "client_capacity_fetches_per_s",
}
"""The on-prem option key each protocol's measured capacity goes into: messages accepted
per second (SMTP), or messages fetched per second, POP3 RETR or IMAP FETCH (client load)."""


def capacity_from_benchmark(result: BenchmarkResult) -> tuple[float, str]:
    """``(capacity, capacity_source)`` for the sizing model, in the unit of the option key
    ``CAPACITY_FIELDS[result.protocol]``: messages accepted per second for SMTP, messages
    fetched per second for POP3 and IMAP.

    The capacity is a capacity search's figure or a closed-loop run's throughput; an
    open-loop run at one fixed rate raises BenchmarkError. The source names the result, the
    workload and the machine, and says ``indicative`` first when the run was too short to
    rely on.
    """
    name = f"result {result.id}" if result.id is not None else "result"
    if result.capacity_search is not None:
        if result.capacity_msgs_per_s is None:
            raise BenchmarkError(
                f"{name}: the capacity search found no rate that met the target "
                f"({result.capacity_search.stop_reason})"
            )
        how = f"p99 {result.capacity_search.phase} <= {result.capacity_search.slo_p99_ms:g} ms"
    elif result.mode == "closed":
        how = f"closed loop, {result.workload.concurrency} sessions"
    else:
        raise BenchmarkError(
            f"{name}: an open-loop run at one fixed rate is not a capacity figure; "
            "use 'mailplan bench capacity' or a closed-loop run"
        )
    if result.capacity_search is not None:
        capacity: float | None = result.capacity_msgs_per_s
    else:
        capacity = result.msgs_per_s if result.msgs_per_s > 0 else None
    if capacity is None or not capacity > 0:
        done = "accepted" if result.protocol == "smtp" else "fetched"
        raise BenchmarkError(f"{name}: no message was {done}, so there is no capacity")
    wl = result.workload
    size = f"{wl.size_kb:g} KB" + (" mix" if wl.size_mix != "fixed" else "")
    server = result.environment.server_label or result.environment.server_banner or result.target
    label = f"benchmark {result.id}" if result.id is not None else "benchmark"
    if result.indicative:
        label += (
            f", indicative ({measured_s(result):.1f} s measured, under {result.min_measured_s:g} s)"
        )
    if result.spread is not None and result.spread.relative is not None:
        how += f", median of {result.repeat} runs (spread {result.spread.relative:.0%})"
    source = (
        f"{label}: {result.created_at.date().isoformat()}, {result.protocol} {size}, {how}, "
        f"{result.environment.summary()}, server {server}"
    )
    return round(capacity, 1), source[:500]


def _short_cpu(model: str) -> str:
    for noise in ("(R)", "(TM)", "(tm)", " Processor", " CPU", " processor"):
        model = model.replace(noise, "")
    model = model.split(" @ ")[0]
    return " ".join(model.split())[:60]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def capture_environment(
    *,
    shared_machine: bool,
    server_label: str | None = None,
    server_version: str | None = None,
    server_banner: str | None = None,
    load_generator: str = "mailplan bench",
) -> Environment:
    """The load machine (CPU model, cores, OS, Python, uvloop) and the server's labels."""
    from planner import __version__

    uv = None
    if "uvloop" in sys.modules:
        uv = getattr(sys.modules["uvloop"], "__version__", None)
    return Environment(
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 1,
        os=platform.platform(terse=True),
        python=platform.python_version(),
        machine=platform.machine(),
        mailplan_version=__version__,
        uvloop=uv,
        load_generator=load_generator,
        server_label=server_label,
        server_version=server_version,
        server_banner=server_banner,
        shared_machine=shared_machine,
    )
