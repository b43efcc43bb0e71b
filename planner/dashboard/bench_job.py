"""A benchmark started from the dashboard, run in its own process, and its handle.

No Streamlit here. The load runs in a child process (``python -m
planner.dashboard.bench_job``) so it neither shares the dashboard's interpreter lock nor
can hang it; the reference server, when it is the target, is a process of its own again
(:class:`planner.bench.embedded.EmbeddedServer`). The two talk in JSON lines::

    dashboard --stdin: the BenchRequest (with its password, never on a command line)--> child
    child --stdout: {"event": "phase|progress|result|error|stopped", ...}--> dashboard

:class:`BenchJob` is the dashboard's side: it starts the child, keeps every progress
snapshot (for the live chart) and, when the child sends its result, saves it in the
results store. **Stop discards the run**: SIGTERM makes the child cancel its load at
once and stop the reference server; nothing is saved, because a run cut short has
neither its count nor its duration and would be read as a capacity. A job that outlives
its request's ``time_limit_s`` is stopped the same way. :class:`JobBoard` holds the jobs
of one dashboard process and lets one run at a time, so that two browser tabs never load
the machine at once and skew each other's figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TextIO

from planner.bench.progress import ProgressSnapshot
from planner.bench.result import BenchmarkResult, parse_result
from planner.dashboard.bench_form import BenchRequest
from planner.errors import BenchmarkError, PlannerError

__all__ = ["STOP_GRACE_S", "BenchJob", "JobBoard", "LivePoint", "Status"]

Status = Literal["running", "done", "failed", "stopped"]
STOP_GRACE_S = 20.0
"""How long a stopped child may take to stop its server (SIGKILL after that)."""
MAX_POINTS = 2000
"""Progress snapshots kept per job (one a second; the longest run has about 400)."""
_JOBS_KEPT = 16


@dataclasses.dataclass(frozen=True)
class LivePoint:
    """One progress snapshot and when it arrived, in seconds since the job started."""

    t_s: float
    snapshot: ProgressSnapshot


# region #### the child process ####


class _Stopped(BaseException):
    """SIGTERM arrived outside the event loop."""


def _on_sigterm(signum: int, frame: object) -> None:
    """Cancel the load at once: every task of the running loop (uvloop swallows an
    exception raised in a signal handler, a cancellation it does not), or, between runs,
    unwind from here. Either way the ``with EmbeddedServer`` block stops the server."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise _Stopped from None
    for task in asyncio.all_tasks(loop):
        task.cancel()


def execute(
    request: BenchRequest,
    emit: Callable[[dict[str, Any]], None],
) -> BenchmarkResult:
    """Run the request's plan (:func:`planner.bench.plan.execute`, as ``mailplan bench``
    runs it) and return the result, unsaved. ``emit`` gets ``phase`` and ``progress``
    events."""
    from planner.bench.plan import execute as execute_plan

    def progress(snap: ProgressSnapshot) -> None:
        emit({"event": "progress", "snapshot": dataclasses.asdict(snap)})

    def phase(text: str) -> None:
        emit({"event": "phase", "text": text})

    return execute_plan(request.plan(), progress, phase=phase)


def child_main(stdin: TextIO, out: TextIO) -> int:
    """The child's whole life: read the request, run it, write events; exit status 0
    unless something unexpected happened (then the traceback goes to standard error)."""

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        request = BenchRequest.model_validate_json(stdin.read())
        result = execute(request, emit)
    except (_Stopped, asyncio.CancelledError):
        emit({"event": "stopped"})
        return 0
    except PlannerError as exc:
        emit({"event": "error", "lines": list(exc.lines)})
        return 0
    except Exception as exc:
        traceback.print_exc()
        emit({"event": "error", "lines": [f"the benchmark failed: {type(exc).__name__}: {exc}"]})
        return 1
    emit({"event": "result", "result": json.loads(result.model_dump_json())})
    return 0


# endregion
# region #### the dashboard's side ####


class BenchJob:
    """One benchmark in a child process; thread-safe to read from any session."""

    def __init__(self, request: BenchRequest, db: Path) -> None:
        self.id = secrets.token_hex(6)
        self.request = request
        self.db = db
        self.started_at = dt.datetime.now(dt.UTC)
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._points: list[LivePoint] = []
        self._status: Status = "running"
        self._phase = "starting"
        self._problems: list[str] = []
        self._result: BenchmarkResult | None = None
        self._stop_reason: str | None = None
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "planner.dashboard.bench_job"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            encoding="utf-8",
        )
        assert self._proc.stdin is not None
        self._proc.stdin.write(request.model_dump_json())
        self._proc.stdin.close()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"bench-{self.id}")
        self._reader.start()
        self._timer = threading.Timer(request.time_limit_s, self._overtime)
        self._timer.daemon = True
        self._timer.start()

    # -- reading the child --

    def _read(self) -> None:
        assert self._proc.stdout is not None
        outcome: dict[str, Any] | None = None
        for line in self._proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "progress":
                point = LivePoint(
                    round(time.monotonic() - self._t0, 3), ProgressSnapshot(**event["snapshot"])
                )
                with self._lock:
                    if len(self._points) < MAX_POINTS:
                        self._points.append(point)
            elif kind == "phase":
                with self._lock:
                    self._phase = str(event["text"])
            else:
                outcome = event
        self._proc.stdout.close()
        code = self._proc.wait()
        self._timer.cancel()
        self._finish(outcome, code)

    def _finish(self, outcome: dict[str, Any] | None, code: int) -> None:
        kind = outcome.get("event") if outcome else None
        status: Status
        problems: list[str] = []
        result = None
        if self._stop_reason is not None:
            status, problems = "stopped", [self._stop_reason]
        elif kind == "result" and outcome is not None:
            try:
                from planner.bench.store import ResultStore

                result = ResultStore(self.db).save(parse_result(outcome["result"]))
                status = "done"
            except BenchmarkError as exc:
                status, problems = "failed", list(exc.lines)
        elif kind == "error" and outcome is not None:
            status, problems = "failed", [str(x) for x in outcome["lines"]]
        else:
            status, problems = "failed", [f"the benchmark process ended ({code}): {self._tail()}"]
        with self._lock:
            self._status, self._problems, self._result = status, problems, result
            self._phase = status
        self._log.close()

    def _tail(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._log.seek(0)
            lines = [ln for ln in self._log.read().splitlines() if ln.strip()]
            if lines:
                return lines[-1][:300]
        return "no output"

    # -- control --

    def stop(self, reason: str = "stopped; nothing was saved") -> None:
        """End the run now and discard it; returns when the child (and the reference
        server it started) has exited."""
        with self._lock:
            if self._status != "running" or self._stop_reason is not None:
                return
            self._stop_reason = reason
            self._phase = "stopping"
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=STOP_GRACE_S)
        self._reader.join(timeout=STOP_GRACE_S)

    def _overtime(self) -> None:
        self.stop(
            f"stopped after {self.request.time_limit_s:g} s, the time limit of this run; "
            "nothing was saved"
        )

    # -- reading the state --

    @property
    def status(self) -> Status:
        """``running`` until the child is gone, then ``done``, ``failed`` or ``stopped``."""
        with self._lock:
            return self._status

    @property
    def phase(self) -> str:
        """What the job is doing, in a few words."""
        with self._lock:
            return self._phase

    @property
    def problems(self) -> list[str]:
        """Why it failed or stopped, one line each."""
        with self._lock:
            return list(self._problems)

    @property
    def result(self) -> BenchmarkResult | None:
        """The saved result (with its store id) once ``done``."""
        with self._lock:
            return self._result

    @property
    def points(self) -> list[LivePoint]:
        """Every progress snapshot so far, oldest first."""
        with self._lock:
            return list(self._points)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the job started."""
        return time.monotonic() - self._t0

    def wait(self, timeout: float) -> Status:
        """Block until the job ends or ``timeout`` seconds pass; the status."""
        self._reader.join(timeout=timeout)
        return self.status


class JobBoard:
    """The benchmark jobs of one dashboard process, one running at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, BenchJob] = {}

    def start(self, request: BenchRequest, db: Path) -> BenchJob:
        """Start a job; BenchmarkError when another one is still running."""
        with self._lock:
            busy = self._running()
            if busy is not None:
                raise BenchmarkError(
                    "another benchmark is running (started "
                    f"{busy.started_at:%H:%M:%S} UTC, maybe in another tab): wait for it "
                    "to end or stop it there, so the two do not skew each other"
                )
            job = BenchJob(request, db)
            self._jobs[job.id] = job
            for old in [j for j in self._jobs.values() if j.status != "running"][
                : max(0, len(self._jobs) - _JOBS_KEPT)
            ]:
                del self._jobs[old.id]
            return job

    def _running(self) -> BenchJob | None:
        return next((j for j in self._jobs.values() if j.status == "running"), None)

    def running(self) -> BenchJob | None:
        """The job that is running now, if any."""
        with self._lock:
            return self._running()

    def get(self, job_id: str | None) -> BenchJob | None:
        """The job with this id, if it is still kept."""
        with self._lock:
            return self._jobs.get(job_id or "")

    def stop_all(self) -> None:
        """Stop every running job (the dashboard is shutting down, or a test ends)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()


# endregion


if __name__ == "__main__":
    _out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # only events on the real standard output
    sys.exit(child_main(sys.stdin, _out))
