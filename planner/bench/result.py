"""The result of a benchmark run, as plain data the planning core can read.

Pure: pydantic and the standard library only (no asyncio, no sockets), so the planner,
the dashboard and ``mailplan size --capacity-from`` read results without loading the
harness. :func:`capacity_from_benchmark` is where a result becomes a sizing input:
``(capacity_msgs_per_s, capacity_source)``, the source starting with the word
``benchmark`` (what :func:`planner.resolution.capacity_kind` looks for).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.catalog import format_validation_error, read_document
from planner.errors import BenchmarkError, ScenarioError

__all__ = [
    "SCHEMA_VERSION",
    "BenchmarkResult",
    "CapacitySearch",
    "CapacityStep",
    "Environment",
    "LatencySummary",
    "SecondSample",
    "WorkloadSummary",
    "capacity_from_benchmark",
    "capture_environment",
    "is_loopback",
    "load_result_json",
    "parse_result",
]

SCHEMA_VERSION = 1


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


class CapacitySearch(_Model):
    """How a capacity figure was found."""

    phase: str = Field(description="The phase whose p99 is held to the target.")
    slo_p99_ms: float
    max_error_rate: float
    size_kb: float
    steps: list[CapacityStep]
    stop_reason: str


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

    @property
    def error_rate(self) -> float:
        """Failed messages over messages that finished."""
        done = self.messages_ok + self.messages_failed
        return self.messages_failed / done if done else 0.0


def parse_result(data: Any, *, name: str = "result") -> BenchmarkResult:
    """Validate parsed JSON as a BenchmarkResult; BenchmarkError with one line per problem."""
    if not isinstance(data, dict):
        raise BenchmarkError(f"{name}: expected a JSON object (a 'mailplan bench' result)")
    try:
        return BenchmarkResult.model_validate(data)
    except ValidationError as exc:
        lines = format_validation_error(exc, prefix=f"{name}: ")
        raise BenchmarkError(lines) from None


def load_result_json(path: str | Path) -> BenchmarkResult:
    """Read a result saved with ``--format json``; one-line errors for bad files."""
    try:
        data = read_document(path)
    except ScenarioError as exc:  # the same file rules as a scenario's, another error type
        raise BenchmarkError(exc.problems) from None
    return parse_result(data, name=str(path))


def capacity_from_benchmark(result: BenchmarkResult) -> tuple[float, str]:
    """``(capacity_msgs_per_s, capacity_source)`` for the sizing model.

    The capacity is the capacity search's figure, or the throughput of a closed-loop SMTP
    run (the server at full load). Open-loop runs at one fixed rate and POP3/IMAP runs
    say nothing about how many messages a server accepts, so they raise BenchmarkError.
    """
    name = f"result {result.id}" if result.id is not None else "result"
    if result.protocol != "smtp":
        raise BenchmarkError(
            f"{name}: measured {result.protocol}; only an SMTP result gives capacity_msgs_per_s"
        )
    if result.capacity_search is not None:
        if result.capacity_msgs_per_s is None:
            raise BenchmarkError(
                f"{name}: the capacity search found no rate that met the target "
                f"({result.capacity_search.stop_reason})"
            )
        capacity = result.capacity_msgs_per_s
        how = f"p99 {result.capacity_search.phase} <= {result.capacity_search.slo_p99_ms:g} ms"
    elif result.mode == "closed":
        capacity = result.msgs_per_s
        how = f"closed loop, {result.workload.concurrency} sessions"
    else:
        raise BenchmarkError(
            f"{name}: an open-loop run at one fixed rate is not a capacity figure; "
            "use 'mailplan bench capacity' or a closed-loop run"
        )
    if not capacity > 0:
        raise BenchmarkError(f"{name}: no message was accepted, so there is no capacity")
    wl = result.workload
    size = f"{wl.size_kb:g} KB" + (" mix" if wl.size_mix != "fixed" else "")
    server = result.environment.server_label or result.environment.server_banner or result.target
    label = f"benchmark {result.id}" if result.id is not None else "benchmark"
    source = (
        f"{label}: {result.created_at.date().isoformat()}, smtp {size}, {how}, "
        f"{result.environment.summary()}, server {server}"
    )
    return round(capacity, 1), source[:500]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    h = host.strip("[]").lower()
    return h == "localhost" or h.startswith("127.") or h == "::1"


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
