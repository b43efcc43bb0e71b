"""Run a workload against a target: closed or open loop, warm-up, worker processes.

- **Closed loop** (no rate): ``concurrency`` sessions, each starting the next as soon as
  the last ends.
- **Open loop** (a rate): sessions arrive as a Poisson process (exponential gaps, seeded
  with ``seed``) and each starts at its arrival time whether or not earlier ones have
  finished, so a slow server cannot slow the offered load down (no coordinated
  omission). ``message`` latency runs from the *intended* start; ``schedule_lag`` is how
  late the client itself started a session. At most ``max_in_flight`` sessions run at
  once; an arrival beyond that fails as ``client_overload``.
- **Warm-up**: load runs for ``warmup_s`` first and is not counted.
- **Bounds**: every run stops at its message count or its duration, whichever first; a
  session is cut at ``timeout_s``.
- **Workers**: ``workers > 1`` runs that many processes (spawned), each with a share of
  the sessions, rate and count, and merges their histograms and counters exactly.

Before any load a probe session (greeting, EHLO or login, QUIT) checks the target, so an
unreachable server or a refused login is one clear line instead of a run of errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import multiprocessing as mp
import queue
import random
import secrets
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from planner.bench.imap import ImapConfig, ImapSession
from planner.bench.metrics import Recorder, RecorderReport, merge_reports, summarize
from planner.bench.pop3 import Pop3Config, Pop3Session
from planner.bench.progress import ProgressCallback, ProgressSnapshot
from planner.bench.result import (
    BenchmarkResult,
    LatencySummary,
    SecondSample,
    WorkloadSummary,
    capture_environment,
)
from planner.bench.smtp import SmtpConfig, SmtpSession
from planner.bench.targets import Target
from planner.bench.transport import (
    Connection,
    ReplyError,
    StreamConnection,
    client_tls_context,
    error_key,
)
from planner.bench.workload import MessageFactory, Workload
from planner.errors import BenchmarkError
from planner.net import run_loop

__all__ = ["WorkerPlan", "measured_window_s", "probe", "run"]

_now = time.perf_counter
PROBE_TIMEOUT_S = 10.0
_SMTP_LIMIT = 1 << 16
_MAILBOX_LIMIT = 1 << 27  # a POP3 reply is read whole: up to 128 MiB


class Session(Protocol):
    """What the runner needs from a protocol session."""

    done: int
    banner: str

    async def run(self, count: int, t_start: float) -> None:
        """Do ``count`` messages; ``t_start`` is the intended start."""
        ...


SessionMaker = Callable[[Connection, Recorder], Session]


@dataclass(frozen=True)
class WorkerPlan:
    """One process's part of a run (pickled into spawned workers)."""

    target: Target
    workload: Workload
    run_id: str
    worker_index: int = 0


def _session_maker(plan: WorkerPlan) -> SessionMaker:
    target, wl = plan.target, plan.workload
    if target.protocol == "smtp":
        smtp_cfg = SmtpConfig(
            factory=MessageFactory(wl, plan.run_id, plan.worker_index),
            helo_name=wl.helo_name,
            pipelining=wl.pipelining,
            starttls=wl.starttls,
            auth=target.users[0] if target.smtp_auth and target.users else None,
            tls_context=client_tls_context() if wl.starttls else None,
            server_hostname=target.host,
        )
        return lambda conn, rec: SmtpSession(conn, rec, smtp_cfg)
    # Each worker starts at its own place in the users list and the mailbox.
    users = list(target.users)
    shift = (plan.worker_index * wl.concurrency) % len(users) if users else 0
    users = users[shift:] + users[:shift]
    if target.protocol == "pop3":
        pop_cfg = Pop3Config(
            users=users,
            retrieve=wl.retrieve,
            top_lines=wl.top_lines,
            list_messages=wl.list_messages,
            delete=wl.delete,
        )
        pop_cfg.next_window(plan.worker_index * 1009)
        return lambda conn, rec: Pop3Session(conn, rec, pop_cfg)
    imap_cfg = ImapConfig(users=users)
    imap_cfg.next_window(plan.worker_index * 1009)
    return lambda conn, rec: ImapSession(conn, rec, imap_cfg)


async def _connect(target: Target) -> StreamConnection:
    limit = _SMTP_LIMIT if target.protocol == "smtp" else _MAILBOX_LIMIT
    return await StreamConnection.open(target.host, target.port, limit)


async def _probe(plan: WorkerPlan) -> Session:
    make = _session_maker(plan)
    rec = Recorder(plan.workload.key_phase)
    conn = None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            conn = await _connect(plan.target)
            session = make(conn, rec)
            await session.run(0, _now())
            return session
    finally:
        if conn is not None:
            conn.close()


def probe(target: Target, workload: Workload) -> str:
    """Check the target with one session that does no messages; return its greeting.

    Raises BenchmarkError with one line: cannot connect, no reply, refused greeting or
    login, empty mailbox.
    """
    plan = WorkerPlan(target=target, workload=workload, run_id="probe")
    try:
        session = run_loop(_probe(plan))
    except ReplyError as exc:
        user = f" for {target.users[0][0]}" if target.users else ""
        if exc.text in {"login refused", "USER refused", "AUTH refused"}:
            what = "AUTH refused" if exc.text == "AUTH refused" else "login refused"
            raise BenchmarkError(f"{target.where}: {what}{user} ({exc.code})") from None
        raise BenchmarkError(f"{target.where}: {exc.text} ({exc.code})") from None
    except TimeoutError:
        raise BenchmarkError(
            f"{target.where}: no complete reply within {PROBE_TIMEOUT_S:g} s"
        ) from None
    except OSError as exc:
        reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
        raise BenchmarkError(f"{target.where}: cannot connect ({reason})") from None
    except Exception as exc:
        raise BenchmarkError(
            f"{target.where}: the server does not speak {target.protocol.upper()} "
            f"({error_key(exc)})"
        ) from None
    held = getattr(session, "maildrop", getattr(session, "exists", None))
    if held == 0:
        user = getattr(session, "user", "")
        raise BenchmarkError(
            f"{target.where}: the mailbox of {user} is empty, so there is nothing to read "
            "(fill it first, or use --embedded)"
        )
    return session.banner


@dataclass
class _Clock:
    t0: float
    measure_start: float
    deadline: float
    remaining: int | None

    def claim(self, wanted: int) -> int:
        """Messages the next measured session may do (0: the count is used up)."""
        if self.remaining is None:
            return wanted
        k = min(wanted, self.remaining)
        self.remaining -= k
        return k


class _Watch:
    """One session under the watchdog's eye."""

    __slots__ = ("conn", "expired", "start", "task")

    def __init__(self, start: float, task: asyncio.Task[Any] | None) -> None:
        self.start = start
        self.task = task
        self.conn: StreamConnection | None = None
        self.expired = False

    def uncancel(self) -> None:
        """Take back the cancellation the watchdog sent (the session is over)."""
        if self.task is not None:
            self.task.uncancel()


class _Watchdog:
    """Cuts sessions that run longer than ``timeout_s``, without a timer per session
    (a timer costs several microseconds; this costs a dict insert): four times per
    timeout it aborts the connection of each overdue session, or cancels it while it is
    still connecting. The session sees ``expired`` and counts a ``timeout``."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.live: dict[int, _Watch] = {}

    def watch(self) -> _Watch:
        """Start watching the calling session."""
        w = _Watch(_now(), asyncio.current_task())
        self.live[id(w)] = w
        return w

    def release(self, w: _Watch) -> None:
        """Stop watching; close the session's connection."""
        self.live.pop(id(w), None)
        if w.conn is not None:
            w.conn.close()

    async def patrol(self) -> None:
        """Run until cancelled."""
        while True:
            await asyncio.sleep(min(1.0, self.timeout_s / 4))
            limit = _now() - self.timeout_s
            for w in list(self.live.values()):
                if w.start < limit and not w.expired:
                    w.expired = True
                    if w.conn is not None:
                        w.conn.abort()
                    elif w.task is not None:
                        w.task.cancel()


def _tick_times(clock: _Clock) -> Iterator[tuple[float, bool]]:
    j = 1
    while clock.t0 + j < clock.measure_start:
        yield clock.t0 + j, True
        j += 1
    for k in itertools.count(1):
        yield clock.measure_start + k, False


async def _measure(
    plan: WorkerPlan, sink: Callable[[ProgressSnapshot], None] | None
) -> RecorderReport:
    """Run one process's share of the load and return what it recorded."""
    wl, target = plan.workload, plan.target
    make = _session_maker(plan)
    warm, rec = Recorder(wl.key_phase), Recorder(wl.key_phase)
    t0 = _now()
    clock = _Clock(
        t0=t0,
        measure_start=t0 + wl.warmup_s,
        deadline=t0 + wl.warmup_s + wl.time_limit_s,
        remaining=wl.message_budget,
    )
    series: list[SecondSample] = []
    banner: list[str] = []

    watchdog = _Watchdog(wl.timeout_s)

    async def session(count: int, r: Recorder, intended: float) -> None:
        r.started += count
        watch = watchdog.watch()
        s: Session | None = None
        try:
            t = _now()
            conn = await _connect(target)
            watch.conn = conn
            r.phase("connect", _now() - t)
            s = make(conn, r)
            await s.run(count, intended)
            if not banner and s.banner:
                banner.append(s.banner)
        except asyncio.CancelledError:
            if not watch.expired:
                raise
            watch.uncancel()
            r.failed(count - (s.done if s is not None else 0), "timeout", _now())
        except Exception as exc:
            key = "timeout" if watch.expired else error_key(exc)
            r.failed(count - (s.done if s is not None else 0), key, _now())
        finally:
            watchdog.release(watch)

    def snapshot(final: bool = False) -> ProgressSnapshot:
        now = _now()
        warming = now < clock.measure_start and not final
        src = warm if warming else rec
        return ProgressSnapshot(
            elapsed_s=now - t0,
            warming_up=warming,
            messages_ok=src.messages_ok,
            messages_failed=src.messages_failed,
            rate_msgs_per_s=float(series[-1].messages_ok) if series and not warming else 0.0,
            p99_ms=series[-1].p99_ms if series and not warming else None,
            messages_target=wl.message_budget,
            duration_target_s=wl.duration_s,
            measured_s=max(0.0, now - clock.measure_start),
        )

    last = [0, 0]

    def sample(second: int) -> None:
        ok, failed = rec.messages_ok - last[0], rec.messages_failed - last[1]
        last[:] = [rec.messages_ok, rec.messages_failed]
        p99 = rec.flush()
        series.append(
            SecondSample(second=second, messages_ok=ok, messages_failed=failed, p99_ms=p99)
        )

    async def ticker() -> None:
        second = 0
        for at, warming in _tick_times(clock):
            await asyncio.sleep(max(0.0, at - _now()))
            if warming:
                warm.flush()
            else:
                sample(second)
                second += 1
            if sink is not None:
                sink(snapshot())

    tick_task = asyncio.create_task(ticker())
    dog_task = asyncio.create_task(watchdog.patrol())
    try:
        if wl.mode == "closed":
            await _closed_loop(wl, clock, session, warm, rec)
        else:
            await _open_loop(wl, clock, session, warm, rec)
    finally:
        for task in (tick_task, dog_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    end = max(rec.last_done, clock.measure_start)
    if rec.messages_ok + rec.messages_failed > sum(
        s.messages_ok + s.messages_failed for s in series
    ):
        sample(len(series))
    if sink is not None:
        sink(snapshot(final=True))
    report = rec.report()
    report.warmup_messages = warm.messages_ok
    report.duration_s = end - clock.measure_start
    report.timeseries = series
    report.banner = banner[0] if banner else None
    return report


SessionFn = Callable[[int, Recorder, float], Coroutine[Any, Any, None]]


async def _closed_loop(
    wl: Workload, clock: _Clock, session: SessionFn, warm: Recorder, rec: Recorder
) -> None:
    async def one_slot() -> None:
        while True:
            now = _now()
            if now >= clock.deadline:
                return
            if now < clock.measure_start:
                await session(wl.messages_per_session, warm, now)
                continue
            k = clock.claim(wl.messages_per_session)
            if k == 0:
                return
            await session(k, rec, now)

    await asyncio.gather(*(one_slot() for _ in range(wl.concurrency)))


async def _open_loop(
    wl: Workload, clock: _Clock, session: SessionFn, warm: Recorder, rec: Recorder
) -> None:
    assert wl.rate_msgs_per_s is not None
    rng = random.Random(wl.seed)
    sessions_per_s = wl.rate_msgs_per_s / wl.messages_per_session
    in_flight: set[asyncio.Task[None]] = set()
    intended = clock.t0
    while True:
        intended += rng.expovariate(sessions_per_s)
        if intended >= clock.deadline:
            break
        measured = intended >= clock.measure_start
        k = clock.claim(wl.messages_per_session) if measured else wl.messages_per_session
        if k == 0:
            break
        r = rec if measured else warm
        # uvloop's timers tick in whole milliseconds: sleep again if woken early
        while (delay := intended - _now()) > 0.0005:
            await asyncio.sleep(delay)
        if len(in_flight) >= wl.max_in_flight:
            r.started += k
            r.failed(k, "client_overload", _now())
            continue
        r.phase("schedule_lag", _now() - intended)
        task = asyncio.create_task(session(k, r, intended))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight)


def _worker_main(plan: WorkerPlan, out: Any, barrier: Any) -> None:
    """Entry point of a spawned worker process."""
    try:
        barrier.wait(timeout=120)
        idx = plan.worker_index
        report = run_loop(_measure(plan, lambda snap: out.put(("tick", idx, snap))))
        out.put(("done", idx, report))
    except BaseException as exc:
        out.put(("error", plan.worker_index, f"{type(exc).__name__}: {exc}"))


def _run_workers(
    target: Target, wl: Workload, run_id: str, progress: ProgressCallback | None
) -> list[RecorderReport]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(wl.workers)
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(WorkerPlan(target, wl.share(i, wl.workers), run_id, i), out, barrier),
            name=f"mailplan-bench-{i}",
            daemon=True,
        )
        for i in range(wl.workers)
    ]
    for p in procs:
        p.start()
    limit = time.monotonic() + 120 + wl.warmup_s + wl.time_limit_s + wl.timeout_s
    reports: dict[int, RecorderReport] = {}
    latest: dict[int, ProgressSnapshot] = {}
    try:
        while len(reports) < len(procs):
            try:
                kind, idx, payload = out.get(timeout=0.5)
            except queue.Empty:
                dead = [
                    p.name for i, p in enumerate(procs) if not p.is_alive() and i not in reports
                ]
                if dead:
                    raise BenchmarkError(f"--workers: {dead[0]} stopped without a result") from None
                if time.monotonic() > limit:
                    raise BenchmarkError("--workers: the workers did not finish in time") from None
                continue
            if kind == "tick":
                latest[idx] = payload
                if progress is not None:
                    progress(_sum_snapshots(list(latest.values())))
            elif kind == "done":
                reports[idx] = payload
            else:
                raise BenchmarkError(f"--workers: worker {idx} failed: {payload}")
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    return [reports[i] for i in sorted(reports)]


def _sum_snapshots(snaps: list[ProgressSnapshot]) -> ProgressSnapshot:
    p99s = [s.p99_ms for s in snaps if s.p99_ms is not None]
    first = snaps[0]
    targets = [s.messages_target for s in snaps if s.messages_target is not None]
    return ProgressSnapshot(
        elapsed_s=max(s.elapsed_s for s in snaps),
        warming_up=any(s.warming_up for s in snaps),
        messages_ok=sum(s.messages_ok for s in snaps),
        messages_failed=sum(s.messages_failed for s in snaps),
        rate_msgs_per_s=sum(s.rate_msgs_per_s for s in snaps),
        p99_ms=max(p99s) if p99s else None,
        messages_target=sum(targets) if targets else None,
        duration_target_s=first.duration_target_s,
        measured_s=max(s.measured_s for s in snaps),
    )


def _summary(wl: Workload, target: Target) -> WorkloadSummary:
    return WorkloadSummary(
        mode=wl.mode,
        size_kb=wl.size_kb,
        size_mix=wl.size_mix,
        recipients_per_message=wl.recipients_per_message,
        local_share=wl.local_share,
        concurrency=wl.concurrency,
        messages_per_session=wl.messages_per_session,
        rate_msgs_per_s=wl.rate_msgs_per_s,
        warmup_s=wl.warmup_s,
        workers=wl.workers,
        pipelining=wl.pipelining if wl.protocol == "smtp" else False,
        starttls=wl.starttls,
        auth=target.smtp_auth if wl.protocol == "smtp" else bool(target.users),
        retrieve=(f"{wl.retrieve} {wl.top_lines}" if wl.retrieve == "top" else wl.retrieve)
        if wl.protocol == "pop3"
        else None,
    )


def measured_window_s(result: BenchmarkResult, workload: Workload) -> float:
    """Seconds the server was under measured load: the whole ``duration_s`` window when
    the time bound (not the message count) ended the run, since the load was offered for
    all of it even if the last arrival finished a little before its end; else the
    measured duration."""
    budget = workload.message_budget
    done = result.messages_ok + result.messages_failed
    if workload.duration_s is not None and (budget is None or done < budget):
        return round(max(result.duration_s, workload.duration_s), 4)
    return result.duration_s


def run(
    target: Target,
    workload: Workload,
    *,
    progress: ProgressCallback | None = None,
    probe_first: bool = True,
) -> BenchmarkResult:
    """Run ``workload`` against ``target`` and return the measured result (not saved).

    ``progress`` is called about once a second. Raises BenchmarkError when the probe
    fails; failures during the run are counted in the result's ``errors``.
    """
    if workload.protocol != target.protocol:
        raise BenchmarkError(f"workload is {workload.protocol} but the target is {target.protocol}")
    banner = probe(target, workload) if probe_first else None
    run_id = secrets.token_hex(4)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if workload.workers == 1:
        plan = WorkerPlan(target, workload, run_id, 0)
        reports = [run_loop(_measure(plan, progress))]
    else:
        reports = _run_workers(target, workload, run_id, progress)
    merged, hists = merge_reports(reports)
    phases = {name: summarize(h) for name, h in sorted(hists.items())}
    key = workload.key_phase
    duration = merged.duration_s
    rate = merged.messages_ok / duration if duration > 0 else 0.0
    notes = []
    if target.shares_machine:
        notes.append(
            "The load generator shared the machine with the server (loopback): "
            "both compete for the same cores, so the figures understate a dedicated server."
        )
    if workload.mode == "open":
        notes.append(
            "Open loop: sessions started at Poisson arrival times whatever the server did; "
            "'message' latency runs from the intended start, 'schedule_lag' is the client's delay."
        )
    return BenchmarkResult(
        created_at=created,
        protocol=target.protocol,
        target=target.name,
        mode=workload.mode,
        messages_started=merged.started,
        messages_ok=merged.messages_ok,
        messages_failed=merged.messages_failed,
        warmup_messages=merged.warmup_messages,
        duration_s=round(duration, 4),
        msgs_per_s=round(rate, 2),
        mb_per_s=round(merged.bytes_ok / 1e6 / duration, 3) if duration > 0 else 0.0,
        latency_phase=key,
        latency_ms=phases.get(key, LatencySummary(count=0, p50=0, p90=0, p99=0, max=0, mean=0)),
        phases=phases,
        errors=dict(sorted(merged.errors.items())),
        timeseries=merged.timeseries,
        workload=_summary(workload, target),
        environment=capture_environment(
            shared_machine=target.shares_machine,
            server_label=target.server_label,
            server_version=target.server_version,
            server_banner=merged.banner or banner,
        ),
        notes=notes,
    )
