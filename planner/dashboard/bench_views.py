"""Display tables and charts of the Benchmark page, from progress snapshots and saved
results; no Streamlit here.

Every figure comes from the harness (``ProgressSnapshot``, ``BenchmarkResult``); this
module picks, labels and formats them. The only derived numbers are the progress bar's
fraction (done over target) and the job's elapsed time on the live chart's axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from planner.bench.result import BenchmarkResult, capacity_figure, measured_s
from planner.dashboard.bench_form import BenchRequest
from planner.dashboard.bench_job import LivePoint

__all__ = [
    "LIVE_COLUMNS",
    "SHORT_POINTS",
    "environment_table",
    "errors_table",
    "headline",
    "history_table",
    "indicative_text",
    "live_frame",
    "phases_table",
    "progress_state",
    "result_label",
    "steps_table",
    "throughput_latency_chart",
    "timeseries_frame",
    "workload_table",
]

LIVE_COLUMNS = ["t_s", "msgs_per_s", "p99_ms", "step"]
"""Columns of the frames the throughput/latency chart draws."""
_PARTIAL_S = 0.9  # a snapshot sooner than this after the last is the run's final part-second
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 90, "b": 50}}
SHORT_POINTS = 3
"""A chart of fewer whole seconds than this says how many it has in its title."""


def live_frame(points: Sequence[LivePoint]) -> pd.DataFrame:
    """One row per measured second of a running job: ``t_s`` (seconds since the job
    started), ``msgs_per_s`` (messages done in that second), ``p99_ms`` (p99 of the phase
    that matters in that second, NaN when none finished), ``step`` (the capacity step, or
    ``""``). Warm-up seconds and the final part-second are left out."""
    rows = []
    last_t: float | None = None
    for p in points:
        s = p.snapshot
        if s.warming_up:
            continue
        if last_t is not None and p.t_s - last_t < _PARTIAL_S:
            continue
        last_t = p.t_s
        rows.append((p.t_s, s.rate_msgs_per_s, s.p99_ms, s.label))
    return pd.DataFrame(rows, columns=LIVE_COLUMNS).astype({"p99_ms": float})


def timeseries_frame(result: BenchmarkResult) -> pd.DataFrame:
    """A saved result's per-second series in :data:`LIVE_COLUMNS` (``t_s`` = seconds since
    the end of warm-up, at the end of each second); the run's final part-second is left
    out, as its count is not a rate."""
    rows = [
        (float(s.second + 1), float(s.messages_ok), s.p99_ms, "")
        for s in result.timeseries
        if result.duration_s - s.second >= _PARTIAL_S
    ]
    return pd.DataFrame(rows, columns=LIVE_COLUMNS).astype({"p99_ms": float})


def _top(values: pd.Series) -> float:
    """Upper end of a y-axis: room above the highest point, so a marker there is not cut
    by the panel's edge or hidden under its title (1 when there is no point)."""
    finite = values.dropna()
    high = float(finite.max()) if len(finite) else 0.0
    return high * 1.25 if high > 0 else 1.0


def throughput_latency_chart(frame: pd.DataFrame, title: str, phase: str) -> go.Figure:
    """Two panels over time: messages per second, and the p99 of ``phase`` in ms.

    Axes start at 0 with room above the highest point and run past the last second, with
    whole-second ticks for short runs, so a run of one or two seconds shows its points
    inside the panels; a run with fewer than :data:`SHORT_POINTS` whole seconds says so in
    the title."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.16,
        subplot_titles=("Throughput (messages/s)", f"p99 latency, {phase} (ms)"),
    )
    for row, column, name, color, hover in (
        (1, "msgs_per_s", "messages/s", "#636efa", "%{y:,.0f} msgs/s"),
        (2, "p99_ms", "p99 ms", "#ef553b", "p99 %{y:,.1f} ms"),
    ):
        fig.add_trace(
            go.Scatter(
                x=frame["t_s"],
                y=frame[column],
                name=name,
                mode="lines+markers",
                marker={"size": 8},
                line={"color": color},
                customdata=frame["step"],
                hovertemplate=f"%{{x:.0f}} s<br>{hover}<br>%{{customdata}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        fig.update_yaxes(range=[0, _top(frame[column])], row=row, col=1)
    fig.update_yaxes(title_text="msgs/s", row=1, col=1)
    fig.update_yaxes(title_text="ms", row=2, col=1)
    last = float(frame["t_s"].max()) if len(frame) else 1.0
    fig.update_xaxes(range=[0, last + 0.5], dtick=1 if last <= 10 else None)
    fig.update_xaxes(title_text="Seconds", row=2, col=1)
    if len(frame) < SHORT_POINTS:
        n = len(frame)
        seconds = f"{n or 'no'} whole second{'s' if n > 1 else ''}"
        title = f"{title} ({seconds} measured)"
    fig.update_layout(
        title={"text": title, "y": 0.98, "yanchor": "top"},
        showlegend=False,
        height=440,
        **_LAYOUT,
    )
    return fig


def progress_state(
    request: BenchRequest, points: Sequence[LivePoint], elapsed_s: float, phase: str
) -> tuple[float, str]:
    """The progress bar's fraction (0 to 1) and text for a running job.

    A load run is as far as the larger of messages done over its count and measured
    seconds over its duration (it stops at whichever comes first); a capacity search, as
    far as its elapsed time over its longest possible time (it usually ends sooner).
    """
    if not points:
        return 0.0, f"{phase} ({elapsed_s:.0f} s)"
    s = points[-1].snapshot
    p99 = "–" if s.p99_ms is None else f"{s.p99_ms:,.1f} ms"
    where = f"{s.label}: " if s.label else ""
    text = (
        f"{where}{'warm-up, ' if s.warming_up else ''}{s.messages_ok:,} ok, "
        f"{s.messages_failed:,} failed, {s.rate_msgs_per_s:,.0f} msgs/s, p99 {p99}"
    )
    if request.capacity:
        return min(0.99, elapsed_s / request.worst_case_s), text
    done = s.messages_ok + s.messages_failed
    parts = [0.0]
    if s.messages_target:
        parts.append(done / s.messages_target)
    if s.duration_target_s:
        parts.append(s.measured_s / s.duration_target_s)
    return min(1.0, max(parts)), text


# region #### saved results ####


def _capacity_text(result: BenchmarkResult) -> str | None:
    """``209.9 msgs/s``, ``209.9 msgs/s (indicative)``, or None when the result gives no
    capacity figure (the same figure ``mailplan bench apply`` would use)."""
    cap = capacity_figure(result)
    if cap is None:
        return None
    return f"{cap:,.1f} msgs/s" + (" (indicative)" if result.indicative else "")


def result_label(result: BenchmarkResult) -> str:
    """How the result picker shows a result: ``#3 · 2026-11-29 10:02 · smtp · capacity
    1,106.0 msgs/s`` (or its throughput when it gives no capacity)."""
    cap = _capacity_text(result)
    figure = f"capacity {cap}" if cap is not None else f"{result.msgs_per_s:,.0f} msgs/s"
    return (
        f"#{result.id} · {result.created_at:%Y-%m-%d %H:%M} · {result.protocol} · "
        f"{result.target} · {figure}"
    )


def history_table(results: Sequence[BenchmarkResult]) -> pd.DataFrame:
    """Saved results, newest first: id, when, protocol, target, mode, size, throughput,
    p99, capacity (the figure the detail and ``bench apply`` use, marked indicative when
    the run was too short; "–" when there is none), runs, and whether the load generator
    shared the machine."""
    rows = [
        {
            "Id": r.id,
            "When (UTC)": f"{r.created_at:%Y-%m-%d %H:%M}",
            "Protocol": r.protocol,
            "Target": r.target,
            "Mode": "capacity search" if r.capacity_search is not None else r.mode,
            "Size (KB)": r.workload.size_kb,
            "Messages/s": r.msgs_per_s,
            "p99 (ms)": r.latency_ms.p99,
            "Capacity": _capacity_text(r) or "–",
            "Runs": r.repeat,
            "Shared machine": "yes" if r.environment.shared_machine else "no",
        }
        for r in reversed(results)
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "Id",
            "When (UTC)",
            "Protocol",
            "Target",
            "Mode",
            "Size (KB)",
            "Messages/s",
            "p99 (ms)",
            "Capacity",
            "Runs",
            "Shared machine",
        ],
    )


def headline(result: BenchmarkResult) -> list[tuple[str, str]]:
    """The result's main figures as (label, value) for metric tiles; the capacity first
    when it gives one (labelled indicative when the run was too short)."""
    lat = result.latency_ms
    tiles = [
        ("Throughput", f"{result.msgs_per_s:,.1f} msgs/s"),
        ("Data rate", f"{result.mb_per_s:,.2f} MB/s"),
        (f"p50 / p99 {result.latency_phase}", f"{lat.p50:,.1f} / {lat.p99:,.1f} ms"),
        ("Messages ok / failed", f"{result.messages_ok:,} / {result.messages_failed:,}"),
    ]
    cap = capacity_figure(result)
    if cap is not None or result.capacity_search is not None:
        label = "Capacity (indicative)" if result.indicative else "Capacity"
        tiles.insert(0, (label, "not found" if cap is None else f"{cap:,.1f} msgs/s"))
    return tiles


def indicative_text(result: BenchmarkResult) -> str | None:
    """Why a result's figures are indicative only, in one sentence (None when they are
    not)."""
    if not result.indicative:
        return None
    what = "Its shortest capacity step measured" if result.capacity_search else "It measured"
    return (
        f"Indicative: {what} {measured_s(result):.1f} s after "
        f"warm-up, under the {result.min_measured_s:g} s a capacity figure needs; run longer "
        "(Duration, or Seconds per step) to rely on it."
    )


def phases_table(result: BenchmarkResult) -> pd.DataFrame:
    """Latency percentiles by phase in ms, with sample counts."""
    rows = [
        {
            "Phase": name,
            "Count": s.count,
            "p50 (ms)": s.p50,
            "p90 (ms)": s.p90,
            "p99 (ms)": s.p99,
            "Max (ms)": s.max,
            "Mean (ms)": s.mean,
        }
        for name, s in result.phases.items()
    ]
    return pd.DataFrame(
        rows,
        columns=["Phase", "Count", "p50 (ms)", "p90 (ms)", "p99 (ms)", "Max (ms)", "Mean (ms)"],
    )


def errors_table(result: BenchmarkResult) -> pd.DataFrame:
    """Failed messages by reply code or error kind."""
    return pd.DataFrame(
        [{"Error": k, "Messages": v} for k, v in result.errors.items()],
        columns=["Error", "Messages"],
    )


def environment_table(result: BenchmarkResult) -> pd.DataFrame:
    """Where the result was measured, as (what, value) rows."""
    env = result.environment
    shared = (
        "yes: the load generator and the server shared this machine's cores, so the "
        "figures understate a dedicated server"
        if env.shared_machine
        else "no: the server ran on another machine"
    )
    rows = [
        ("Load generator shared the machine", shared),
        ("CPU", env.cpu_model),
        ("Cores", str(env.cores)),
        ("OS", env.os),
        ("Python", env.python),
        ("mailplan", env.mailplan_version),
        ("uvloop", env.uvloop or "–"),
        ("Load generator", env.load_generator),
        ("Server", env.server_label or "–"),
        ("Server version", env.server_version or "–"),
        ("Server greeting", env.server_banner or "–"),
    ]
    return pd.DataFrame(rows, columns=["What", "Value"])


def workload_table(result: BenchmarkResult) -> pd.DataFrame:
    """The workload the result was measured with, as (what, value) rows."""
    wl = result.workload
    rows = [
        ("Target", result.target),
        ("Mode", "closed loop" if wl.mode == "closed" else "open loop, Poisson arrivals"),
        ("Runs", _runs(result)),
        ("Concurrent sessions", f"{wl.concurrency:,}"),
        ("Messages per session", f"{wl.messages_per_session:,}"),
        ("Message size", f"{wl.size_kb:g} KB ({wl.size_mix})"),
        ("Warm-up", f"{wl.warmup_s:g} s"),
        ("Measured", f"{result.duration_s:,.2f} s"),
        ("Messages started", f"{result.messages_started:,}"),
    ]
    if wl.rate_msgs_per_s is not None:
        rows.insert(2, ("Offered rate", f"{wl.rate_msgs_per_s:,.1f} msgs/s"))
    return pd.DataFrame(rows, columns=["What", "Value"])


def _runs(result: BenchmarkResult) -> str:
    """``1``, or ``3: median run shown; capacity 210.0, 225.0, 240.1 (spread 13.3%)``."""
    spread = result.spread
    if spread is None:
        return str(result.repeat)
    values = ", ".join("none" if v is None else f"{v:,.1f}" for v in spread.values)
    what = "capacity" if spread.figure == "capacity_msgs_per_s" else "msgs/s"
    rel = "" if spread.relative is None else f" (spread {spread.relative:.1%})"
    return f"{result.repeat}: median run shown; {what} {values}{rel}"


def steps_table(result: BenchmarkResult) -> pd.DataFrame:
    """A capacity search's steps (empty for a plain run); ``Bound`` marks the last
    passing step (the capacity) and the first failing one above it."""
    search = result.capacity_search
    steps = search.steps if search is not None else []
    last = search.step_at(search.last_pass_msgs_per_s) if search is not None else None
    first = search.step_at(search.first_fail_msgs_per_s) if search is not None else None
    rows = [
        {
            "Offered (msgs/s)": s.offered_msgs_per_s,
            "Achieved (msgs/s)": s.achieved_msgs_per_s,
            "Messages": s.messages_ok,
            "Seconds": s.measured_s,
            "p99 (ms)": s.p99_ms,
            "Errors": f"{s.error_rate:.2%}",
            "Verdict": "pass" if s.passed else s.reason,
            "Bound": "last pass" if s is last else "first fail" if s is first else "",
        }
        for s in steps
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "Offered (msgs/s)",
            "Achieved (msgs/s)",
            "Messages",
            "Seconds",
            "p99 (ms)",
            "Errors",
            "Verdict",
            "Bound",
        ],
    )


# endregion
