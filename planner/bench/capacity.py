"""Capacity at a latency target: step the offered rate up until the server breaks.

Each step is an open-loop run (Poisson arrivals, so queueing shows up honestly) at one
offered rate, with a short warm-up. A step passes when

- the p99 of the phase that matters (SMTP ``data``: end of DATA to the 250; POP3
  ``retr``; IMAP ``fetch``) is at most ``slo_p99_ms``,
- failed / finished messages is at most ``max_error_rate``, and
- the server kept up: the completion rate is at least :data:`KEEP_UP` of the arrival
  rate actually offered (when it is not, sessions queue and the run drags on).

The rate grows by ``step_factor`` from ``start_rate`` until a step fails (or
``max_rate`` / ``max_steps``), then ``refine_steps`` bisections between the last pass and
the first failure narrow it. The capacity is the highest offered rate that passed; the
result names it (``last_pass_msgs_per_s``) and the lowest failing rate above it
(``first_fail_msgs_per_s``). Each step records its measured seconds, so a search whose
steps are shorter than :data:`planner.bench.result.MIN_MEASURED_S` is marked indicative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.bench.progress import ProgressCallback, ProgressSnapshot
from planner.bench.result import MIN_MEASURED_S, BenchmarkResult, CapacitySearch, CapacityStep
from planner.bench.runner import measured_window_s, run
from planner.bench.targets import Target
from planner.bench.workload import Workload

__all__ = ["KEEP_UP", "MAX_IN_FLIGHT", "CapacityPlan", "judge", "search"]

KEEP_UP = 0.9
"""A step fails when messages complete at less than this share of the offered rate."""
MAX_IN_FLIGHT = 5000
"""Open sessions a step allows at once: well above what a server that keeps up needs,
so a server that falls behind shows as latency, not as client-side refusals."""


@dataclass(frozen=True)
class CapacityPlan:
    """How to search: targets, rates and how long each step runs."""

    slo_p99_ms: float = 250.0
    max_error_rate: float = 0.01
    start_rate: float = 50.0
    step_factor: float = 1.5
    max_rate: float = 20_000.0
    max_steps: int = 12
    step_duration_s: float = MIN_MEASURED_S
    step_warmup_s: float = 1.0
    refine_steps: int = 2
    max_in_flight: int = MAX_IN_FLIGHT


def judge(
    result: BenchmarkResult, offered: float, plan: CapacityPlan, measured: float | None = None
) -> CapacityStep:
    """Whether one step met the targets, and why not; ``measured`` is the step's measured
    seconds (its result's duration when not given)."""
    lat = result.latency_ms
    p99 = lat.p99 if lat.count else None
    arrival_rate = result.messages_started / plan.step_duration_s
    keep_up = result.msgs_per_s / arrival_rate if arrival_rate > 0 else 0.0
    if not result.messages_ok:
        passed, reason = False, "no message completed"
    elif result.error_rate > plan.max_error_rate:
        passed, reason = False, f"error rate {result.error_rate:.2%} > {plan.max_error_rate:.2%}"
    elif p99 is not None and p99 > plan.slo_p99_ms:
        passed, reason = False, f"p99 {result.latency_phase} {p99:g} ms > {plan.slo_p99_ms:g} ms"
    elif keep_up < KEEP_UP:
        passed, reason = False, f"fell behind: completed {keep_up:.0%} of the offered rate"
    else:
        passed, reason = True, "ok"
    return CapacityStep(
        offered_msgs_per_s=round(offered, 2),
        achieved_msgs_per_s=result.msgs_per_s,
        messages_ok=result.messages_ok,
        warmup_messages=result.warmup_messages,
        p99_ms=p99,
        error_rate=round(result.error_rate, 5),
        passed=passed,
        reason=reason,
        measured_s=round(result.duration_s if measured is None else measured, 3),
    )


def search(
    target: Target,
    workload: Workload,
    plan: CapacityPlan,
    *,
    progress: ProgressCallback | None = None,
) -> BenchmarkResult:
    """Find the highest offered rate that meets ``plan``; return the result of that step
    (or of the first step, when none passed) carrying ``capacity_msgs_per_s`` and the
    table of steps in ``capacity_search``."""
    steps: list[CapacityStep] = []
    results: dict[float, BenchmarkResult] = {}
    best: float | None = None
    failed: float | None = None

    def step(rate: float) -> bool:
        label = f"step {len(steps) + 1}: {rate:,.0f} msgs/s"

        def relay(snap: ProgressSnapshot) -> None:
            if progress is not None:
                progress(ProgressSnapshot(**{**snap.__dict__, "label": label}))

        wl = workload.model_copy(
            update={
                "rate_msgs_per_s": rate,
                "duration_s": plan.step_duration_s,
                "warmup_s": plan.step_warmup_s,
                "messages": None,
                "max_in_flight": plan.max_in_flight,
            }
        )
        r = run(target, wl, progress=relay, probe_first=not steps)
        verdict = judge(r, rate, plan, measured_window_s(r, wl))
        steps.append(verdict)
        results[rate] = r
        return verdict.passed

    rate = plan.start_rate
    stop = ""
    for _ in range(plan.max_steps):
        if step(rate):
            best = rate
            if rate >= plan.max_rate:
                stop = f"every step passed up to --max-rate {plan.max_rate:g} msgs/s"
                break
            rate = min(rate * plan.step_factor, plan.max_rate)
        else:
            failed = rate
            stop = steps[-1].reason
            break
    else:
        stop = f"every step passed ({plan.max_steps} steps); the capacity is at least this"
    if best is not None and failed is not None:
        for _ in range(plan.refine_steps):
            mid = math.sqrt(best * failed)
            if mid - best < 0.02 * best:
                break
            if step(mid):
                best = mid
            else:
                failed = mid
    chosen = results[best] if best is not None else results[plan.start_rate]
    if best is None:
        stop = f"the first step ({plan.start_rate:g} msgs/s) already failed: {stop}"
    notes = list(chosen.notes)
    if failed is not None:
        lag = results[failed].phases.get("schedule_lag")
        if lag is not None and lag.p99 > plan.slo_p99_ms / 2:
            notes.append(
                f"At {failed:,.0f} msgs/s the load generator itself started sessions late "
                f"(schedule_lag p99 {lag.p99:g} ms): the limit may be the client; try --workers."
            )
    return chosen.model_copy(
        update={
            "capacity_msgs_per_s": round(best, 1) if best is not None else None,
            "capacity_search": CapacitySearch(
                phase=workload.key_phase,
                slo_p99_ms=plan.slo_p99_ms,
                max_error_rate=plan.max_error_rate,
                size_kb=workload.size_kb,
                steps=steps,
                stop_reason=stop,
                last_pass_msgs_per_s=None if best is None else round(best, 2),
                first_fail_msgs_per_s=None if failed is None else round(failed, 2),
            ),
            "notes": notes,
        }
    )
