"""Locust's CSV statistics (``--csv PREFIX``) as a :class:`BenchmarkResult`.

Reads what the users in :mod:`planner.bench.locustfile` report: request type ``SMTP`` or
``POP3``, one row per phase, and a ``message`` row that counts messages (failures
included). ``PREFIX_stats.csv`` gives counts, rates and latency percentiles (Locust
rounds response times of 100 ms and more to two significant digits and keeps whole
milliseconds below, so small latencies read as 0 or 1 ms), ``PREFIX_failures.csv`` the
errors, and ``PREFIX_stats_history.csv`` (with ``--csv-full-history``) the time series.
Never imports locust (that would patch this process with gevent).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from importlib import metadata
from pathlib import Path

from planner.bench.result import (
    BenchmarkResult,
    LatencySummary,
    SecondSample,
    WorkloadSummary,
    capture_environment,
)
from planner.errors import BenchmarkError
from planner.net import is_loopback

__all__ = ["import_locust_csv"]

_KEY_PHASE = {"smtp": "data", "pop3": "retr", "imap": "fetch"}
_ERROR = re.compile(r"^\w+\(['\"](?P<key>[^'\"]*)['\"]\)$")


def _read(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise BenchmarkError(
            f"{path}: no such file (give the prefix Locust's --csv wrote)"
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchmarkError(f"{path}: cannot read ({exc})") from None


def _num(row: dict[str, str], column: str, path: Path) -> float:
    value = row.get(column)
    if value in (None, "", "N/A"):
        return 0.0
    try:
        return float(value)
    except ValueError:
        raise BenchmarkError(f"{path}: column '{column}': '{value}' is not a number") from None


def _summary(row: dict[str, str], path: Path) -> LatencySummary:
    return LatencySummary(
        count=int(_num(row, "Request Count", path)),
        p50=_num(row, "50%", path),
        p90=_num(row, "90%", path),
        p99=_num(row, "99%", path),
        max=round(_num(row, "Max Response Time", path), 3),
        mean=round(_num(row, "Average Response Time", path), 3),
    )


def import_locust_csv(
    prefix: str | Path,
    *,
    protocol: str = "smtp",
    target: str = "locust",
    size_kb: float = 10.0,
    users: int = 1,
    workers: int = 1,
    server_label: str | None = None,
) -> BenchmarkResult:
    """Build a result from ``PREFIX_stats.csv`` (and the failures and history files)."""
    stats_path = Path(f"{prefix}_stats.csv")
    rows = _read(stats_path)
    kind = protocol.upper()
    ours = {r.get("Name", ""): r for r in rows if r.get("Type") == kind}
    if "message" not in ours:
        types = sorted({r.get("Type", "") for r in rows if r.get("Type")}) or ["none"]
        raise BenchmarkError(
            f"{stats_path}: no '{kind} message' row (request types found: {', '.join(types)}); "
            "was the run made with planner/bench/locustfile.py and --protocol right?"
        )
    msg = ours["message"]
    count = int(_num(msg, "Request Count", stats_path))
    failed = int(_num(msg, "Failure Count", stats_path))
    rps = _num(msg, "Requests/s", stats_path)
    duration = count / rps if rps > 0 else 0.0
    ok = count - failed
    avg_size = _num(msg, "Average Content Size", stats_path)
    phases = {name: _summary(row, stats_path) for name, row in sorted(ours.items())}
    key = _KEY_PHASE.get(protocol, "message")
    errors: dict[str, int] = {}
    failures_path = Path(f"{prefix}_failures.csv")
    if failures_path.exists():
        for row in _read(failures_path):
            if row.get("Method") != kind:
                continue
            text = (row.get("Error") or "").strip()
            m = _ERROR.match(text)
            name = m.group("key") if m else text
            errors[name] = errors.get(name, 0) + int(_num(row, "Occurrences", failures_path))
    series = _series(Path(f"{prefix}_stats_history.csv"), kind)
    host = target.rsplit(":", 1)[0]
    try:
        version = metadata.version("locust")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return BenchmarkResult(
        created_at=dt.datetime.fromtimestamp(stats_path.stat().st_mtime, dt.UTC).replace(
            microsecond=0
        ),
        protocol=protocol,
        target=target,
        mode="closed",
        messages_started=count,
        messages_ok=ok,
        messages_failed=failed,
        duration_s=round(duration, 4),
        msgs_per_s=round(ok / duration, 2) if duration > 0 else 0.0,
        mb_per_s=round(avg_size * count / 1e6 / duration, 3) if duration > 0 else 0.0,
        latency_phase=key,
        latency_ms=phases.get(key, LatencySummary(count=0, p50=0, p90=0, p99=0, max=0, mean=0)),
        phases=phases,
        errors=dict(sorted(errors.items())),
        timeseries=series,
        workload=WorkloadSummary(
            mode="closed",
            size_kb=size_kb,
            size_mix="fixed",
            recipients_per_message=1,
            local_share=1.0,
            concurrency=users,
            messages_per_session=1,
            rate_msgs_per_s=None,
            warmup_s=0.0,
            workers=workers,
        ),
        environment=capture_environment(
            shared_machine=is_loopback(host),
            server_label=server_label,
            load_generator=f"locust {version}",
        ),
        notes=[
            f"Imported from Locust CSV {stats_path.name}: latencies are Locust's (whole "
            "milliseconds below 100 ms); the environment is the importing machine's, since "
            "Locust's CSV does not record its load machines."
        ],
    )


def _series(path: Path, kind: str) -> list[SecondSample]:
    """Per-second samples from the ``message`` rows of a full history (may be empty)."""
    if not path.exists():
        return []
    rows = [r for r in _read(path) if r.get("Type") == kind and r.get("Name") == "message"]
    out: list[SecondSample] = []
    prev_ok = prev_failed = 0
    start = None
    for r in rows:
        ts = int(_num(r, "Timestamp", path))
        total = int(_num(r, "Total Request Count", path))
        fails = int(_num(r, "Total Failure Count", path))
        start = ts if start is None else start
        ok = total - fails
        sample = SecondSample(
            second=ts - start,
            messages_ok=max(0, ok - prev_ok),
            messages_failed=max(0, fails - prev_failed),
            p99_ms=_num(r, "99%", path) or None,
        )
        if out and out[-1].second == sample.second:  # two rows in one second: add them up
            last = out.pop()
            sample = sample.model_copy(
                update={
                    "messages_ok": last.messages_ok + sample.messages_ok,
                    "messages_failed": last.messages_failed + sample.messages_failed,
                }
            )
        out.append(sample)
        prev_ok, prev_failed = ok, fails
    return out
