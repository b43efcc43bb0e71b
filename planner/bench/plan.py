"""One benchmark from start to end: a frozen :class:`BenchPlan` and :func:`execute`.

The command line (``mailplan bench``) and the dashboard's job build a plan and show
progress; everything else happens here, once::

    execute(plan, progress, phase=...)
      plan.repeat times:
        the reference server (target Embedded): start it on loopback with
            plan.embedded_users users; SMTP sends to them; POP3 first fills every
            mailbox with plan.seed_per_user messages (through the server's provisioning)
        run the workload (runner.run), or the capacity search (capacity.search)
        the reference server: attach its counters, checked against the harness's count
      each run: indicative when its measured time is under plan.min_measured_s
      repeat > 1: the median run, with every run's figure and their spread

The result is not saved: the caller decides (``--no-save``, the dashboard's store).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from planner.bench.capacity import CapacityPlan
from planner.bench.progress import ProgressCallback, ProgressSnapshot
from planner.bench.result import MIN_MEASURED_S, BenchmarkResult, Spread
from planner.bench.targets import Target
from planner.bench.workload import Workload
from planner.errors import BenchmarkError

__all__ = [
    "EMBEDDED_USERS",
    "MAX_REPEAT",
    "SEED_MAX",
    "SEED_MIN",
    "BenchPlan",
    "Embedded",
    "PhaseCallback",
    "execute",
]

EMBEDDED_USERS = 50
"""Users (and mailboxes) of the reference server at most: one per closed-loop session."""
SEED_MIN = 20
"""Messages put in each mailbox of the reference server before a POP3 run, at least."""
SEED_MAX = 5000
"""Messages put in each mailbox of the reference server before a POP3 run, at most."""
MAX_REPEAT = 10
"""Runs of one plan at most."""

PhaseCallback = Callable[[str], None]
"""Told what the benchmark is doing, in a few words (``starting the reference server``)."""


@dataclass(frozen=True)
class Embedded:
    """The reference server (``mailplan serve``) as the target, started on 127.0.0.1 for
    each run and stopped after it. ``flag`` names it in error lines."""

    label: str | None = None
    seed_size_kb: float = 10.0
    flag: str = "--embedded"


@dataclass(frozen=True)
class BenchPlan:
    """Everything one benchmark does: where the load goes, what it is, whether it is a
    capacity search, how often to repeat it, and the measured time a figure needs."""

    workload: Workload
    target: Target | Embedded
    capacity: CapacityPlan | None = None
    repeat: int = 1
    min_measured_s: float = MIN_MEASURED_S

    def __post_init__(self) -> None:
        protocol = self.workload.protocol
        if not 1 <= self.repeat <= MAX_REPEAT:
            raise BenchmarkError(f"--repeat: {self.repeat} is not between 1 and {MAX_REPEAT}")
        if self.min_measured_s < 0:
            raise BenchmarkError("min_measured_s: must be >= 0")
        if not isinstance(self.target, Embedded) and self.target.protocol != protocol:
            raise BenchmarkError(
                f"{self.target.where}: the workload is {protocol} but the target is "
                f"{self.target.protocol}"
            )

    @property
    def embedded_users(self) -> int:
        """Users of the reference server: one per closed-loop session, at most
        :data:`EMBEDDED_USERS` (open loop and capacity searches: that many)."""
        wl = self.workload
        if self.capacity is not None or wl.mode == "open":
            return EMBEDDED_USERS
        return min(wl.concurrency, EMBEDDED_USERS)

    @property
    def seed_per_user(self) -> int:
        """Messages put in each mailbox of the reference server before a POP3 or IMAP run
        (0 for SMTP runs): two sessions' reads, and with ``delete`` enough for the whole
        message count too; between :data:`SEED_MIN` and :data:`SEED_MAX`."""
        wl = self.workload
        if not isinstance(self.target, Embedded) or wl.protocol == "smtp":
            return 0
        wanted = max(SEED_MIN, wl.messages_per_session * 2)
        if wl.delete:
            budget = wl.message_budget or SEED_MAX * self.embedded_users
            wanted = max(wanted, budget // self.embedded_users + wl.messages_per_session * 2)
        return min(wanted, SEED_MAX)

    @property
    def seed_workload(self) -> Workload:
        """The shape of the seeded messages: fixed size ``seed_size_kb``."""
        size = self.target.seed_size_kb if isinstance(self.target, Embedded) else 10.0
        return Workload(protocol="smtp", size_kb=size, size_mix="fixed")

    @property
    def figure(self) -> Literal["capacity_msgs_per_s", "msgs_per_s"]:
        """The figure repeats are compared on: the capacity, or messages per second."""
        return "capacity_msgs_per_s" if self.capacity is not None else "msgs_per_s"


def execute(
    plan: BenchPlan,
    progress: ProgressCallback | None = None,
    *,
    phase: PhaseCallback | None = None,
) -> BenchmarkResult:
    """Run ``plan`` and return its result (unsaved): the only run, or the median of
    ``plan.repeat`` runs with their spread. ``progress`` gets a snapshot about once a
    second (labelled ``run 2/3`` when repeated), ``phase`` a few words at each stage.

    Raises BenchmarkError with one line when the target cannot be reached or the
    reference server cannot start; failures during a run are counted in its result.
    """
    runs = [_once(plan, i, progress, phase) for i in range(plan.repeat)]
    return _combine(plan, runs)


def _once(
    plan: BenchPlan,
    index: int,
    progress: ProgressCallback | None,
    phase: PhaseCallback | None,
) -> BenchmarkResult:
    prefix = f"run {index + 1}/{plan.repeat}" if plan.repeat > 1 else ""

    def say(text: str) -> None:
        if phase is not None:
            phase(f"{prefix}: {text}" if prefix else text)

    def relay(snap: ProgressSnapshot) -> None:
        if progress is None:
            return
        if prefix:
            label = f"{prefix}: {snap.label}" if snap.label else prefix
            snap = ProgressSnapshot(**{**snap.__dict__, "label": label})
        progress(snap)

    if isinstance(plan.target, Target):
        say(f"loading {plan.target.address}")
        return _judged(plan, _measure(plan, plan.target, plan.workload, relay), plan.workload)

    from planner.bench.embedded import EmbeddedServer

    protocol = plan.workload.protocol
    say("starting the reference server on 127.0.0.1")
    with EmbeddedServer(
        pop3=protocol == "pop3", imap=protocol == "imap", users=plan.embedded_users
    ) as srv:
        workload = plan.workload
        if protocol in ("pop3", "imap"):
            say(f"filling {len(srv.users)} mailboxes with {plan.seed_per_user} messages each")
            srv.seed(plan.seed_per_user, plan.seed_workload)
        else:
            local = tuple(address for address, _ in srv.users)
            workload = workload.model_copy(update={"local_recipients": local, "local_share": 1.0})
        target = srv.target(protocol, plan.target.label)
        say(f"loading the reference server on {target.address}")
        result = _measure(plan, target, workload, relay)
        say("checking the server's counters")
        return _judged(plan, srv.check(result, time.time()), workload)


def _measure(
    plan: BenchPlan, target: Target, workload: Workload, progress: ProgressCallback
) -> BenchmarkResult:
    if plan.capacity is not None:
        from planner.bench.capacity import search

        return search(target, workload, plan.capacity, progress=progress)
    from planner.bench.runner import run

    return run(target, workload, progress=progress)


def _judged(plan: BenchPlan, result: BenchmarkResult, workload: Workload) -> BenchmarkResult:
    """The result marked indicative (with a note saying why) when its measured time is
    under the plan's minimum."""
    from planner.bench.result import measured_s
    from planner.bench.runner import measured_window_s

    if result.capacity_search is not None:
        measured = measured_s(result)
        what = "the shortest capacity step measured"
    else:
        measured = measured_window_s(result, workload)
        what = "measured"
    indicative = measured < plan.min_measured_s
    notes = list(result.notes)
    if indicative:
        notes.append(
            f"Indicative: {what} {measured:.1f} s after warm-up, under the "
            f"{plan.min_measured_s:g} s a capacity figure needs; run longer to rely on it."
        )
    return result.model_copy(
        update={"indicative": indicative, "min_measured_s": plan.min_measured_s, "notes": notes}
    )


def _combine(plan: BenchPlan, runs: list[BenchmarkResult]) -> BenchmarkResult:
    """One result for the runs: the only one, or the median run (the lower middle one for
    an even count, a run that found no capacity counting lowest) with the spread."""
    if len(runs) == 1:
        return runs[0]
    figure = plan.figure
    values: list[float | None] = [getattr(r, figure) for r in runs]
    order = sorted(range(len(runs)), key=lambda i: _rank(values[i]))
    middle = order[(len(runs) - 1) // 2]
    present = [v for v in values if v is not None]
    low = min(present) if len(present) == len(values) else None
    median = values[middle]
    high = max(present) if present else None
    relative = (
        round((high - low) / median, 4) if low is not None and high is not None and median else None
    )
    spread = Spread(
        figure=figure,
        values=values,
        min=low,
        median=median,
        max=high,
        relative=relative,
    )
    chosen = runs[middle]
    shown = ", ".join("none" if v is None else f"{v:,.1f}" for v in values)
    notes = [
        *chosen.notes,
        f"Repeated {len(runs)} times: {figure} {shown}; this is run {middle + 1}, the median"
        + ("" if relative is None else f"; spread (max - min) / median {relative:.1%}")
        + ".",
    ]
    checked = [r for r in runs if r.server_counters is not None]
    if checked:
        ok = sum(any(n.startswith("Server check ok") for n in r.notes) for r in checked)
        if ok < len(checked) or chosen.protocol == "smtp":
            notes.append(f"Server check ok in {ok} of {len(checked)} runs.")
    return chosen.model_copy(
        update={
            "repeat": len(runs),
            "spread": spread,
            "indicative": any(r.indicative for r in runs),
            "notes": notes,
        }
    )


def _rank(value: float | None) -> float:
    return float("-inf") if value is None else value
