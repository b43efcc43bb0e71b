"""Turn planner results into text for people (rich tables) and for programs (JSON, CSV)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from planner.evaluation import Evaluation
from planner.freshness import Figure
from planner.models import Catalog, Sourced, SourcedText
from planner.recommendation import headline, money, parity, ranked

__all__ = [
    "catalog_tables",
    "comparison_table",
    "console",
    "frame_csv",
    "money",
    "parity_table",
    "print_json",
    "sizing_json",
    "sizing_tables",
    "stale_table",
]


def console() -> Console:
    """A console on standard output that stays plain when piped."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def print_json(data: Any) -> None:
    """Indented JSON on standard output."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def comparison_table(ev: Evaluation) -> list[Table | str]:
    """The totals table, break-even table and notes for ``mailplan compare``."""
    cmp = ev.comparison
    cur = cmp.currency
    out: list[Table | str] = []
    t = Table(
        title=f"{cmp.scenario}: {cmp.horizon_years} years, discount rate {cmp.discount_rate:.1%}",
        title_justify="left",
    )
    t.add_column("option", no_wrap=True)
    t.add_column("kind", no_wrap=True)
    t.add_column("total", justify="right", no_wrap=True)
    t.add_column("NPV", justify="right", no_wrap=True)
    t.add_column("per user-month", justify="right", no_wrap=True)
    t.add_column("score", justify="right", no_wrap=True)
    t.add_column("ruled out by")
    for o in ranked(cmp):
        mark = " *" if o.id == cmp.cheapest else (" x" if o.ruled_out_by else "")
        t.add_row(
            o.id + mark,
            o.kind,
            f"{o.total:,.0f}",
            f"{o.npv:,.0f}",
            f"{o.per_user_month:,.2f}",
            "-" if o.qualitative_score is None else f"{o.qualitative_score:.2f}",
            ", ".join(o.ruled_out_by) or "-",
            style="bold" if o.id == cmp.cheapest else None,
        )
    t.caption = (
        f"{cur}; * cheapest by NPV; x ruled out (cannot be bought for this organisation, or "
        "fails a requirement), listed after the others; score: weighted 1-5"
    )
    t.caption_justify = "left"
    out.append(t)
    out.append(headline(ev))
    out.append(parity_table(ev))
    if cmp.break_even:
        b = Table(title="Break-even (on-prem at or below cloud)", title_justify="left")
        for col in ("on-prem", "cloud", "year (cumulative)", "users (NPV)"):
            b.add_column(col)
        for be in cmp.break_even:
            b.add_row(
                be.onprem,
                be.cloud,
                "-" if be.year is None else str(be.year),
                "-" if be.users is None else f"{be.users:,}",
            )
        out.append(b)
    notes = [f"{o.id}: {w}" for o in cmp.options for w in o.warnings] + cmp.warnings
    if notes:
        out.append("Notes:\n" + "\n".join(f"  - {n}" for n in notes))
    return out


def parity_table(ev: Evaluation) -> Table:
    """What each option includes (the catalog's feature table), options in ranked order."""
    frame = parity(ev)
    t = Table(title="Features (from the plan or stack each option starts on)", title_justify="left")
    t.add_column("feature")
    for option_id in frame.columns:
        t.add_column(str(option_id), overflow="fold")
    for label, row in frame.iterrows():
        t.add_row(str(label), *(str(v) for v in row))
    return t


def sizing_json(ev: Evaluation) -> dict[str, Any]:
    """The ``mailplan size --format json`` document."""
    frame = ev.sizing
    options = []
    for o in ev.resolved.onprem:
        rows = frame[frame["option"] == o.id].drop(columns="option")
        years = [
            {
                "year": int(r["year"]),
                "users": int(r["users"]),
                "messages_per_day": float(r["messages_per_day"]),
                "peak_msgs_per_s": round(float(r["peak_msgs_per_s"]), 4),
                "storage_tb": round(float(r["storage_tb"]), 4),
                "capacity_msgs_per_s": float(r["capacity_msgs_per_s"]),
                "servers": int(r["servers"]),
                "server": r["server"],
                "binding": r["binding"],
                "utilisation": {
                    k: None if pd.isna(r[f"{k}_utilisation"]) else round(r[f"{k}_utilisation"], 4)
                    for k in ("storage", "message_rate", "client_load")
                },
            }
            for r in rows.to_dict(orient="records")
        ]
        options.append(
            {
                "id": o.id,
                "server": o.server,
                "server_picked": o.id in ev.resolved.candidates,
                "copies": o.copies,
                "capacity_source": o.capacity_source,
                "capacity_kind": o.capacity_kind,
                "capacity_indicative": o.capacity_indicative,
                "years": years,
            }
        )
    return {"scenario": ev.scenario.name, "options": options}


def sizing_tables(ev: Evaluation) -> list[Table | str]:
    """One table per on-prem option for ``mailplan size``."""
    if not ev.resolved.onprem:
        return ["No on-prem options in this scenario: nothing to size."]
    out: list[Table | str] = []
    for o in ev.resolved.onprem:
        rows = ev.sizing[ev.sizing["option"] == o.id]
        picked = " (picked: the lowest NPV)" if o.id in ev.resolved.candidates else ""
        indicative = " (indicative: from a short run)" if o.capacity_indicative else ""
        t = Table(
            title=f"{o.id}: {o.label}",
            caption=(
                f"server profile {o.server}{picked}; capacity per server: "
                f"{o.capacity_msgs_per_s:g} msgs/s ({o.capacity_source}){indicative}; "
                f"target utilisation {o.target_utilization:.0%}, "
                f"{o.storage_tb_per_server:g} TB per server, {o.copies} "
                f"{'copy' if o.copies == 1 else 'copies'} of each mailbox, "
                f"redundancy {o.redundancy}. " + ev.binding_sentence(o.id, ev.horizon)
            ),
            title_justify="left",
            caption_justify="left",
        )
        for col in ("year", "users", "messages/day", "peak msgs/s", "storage TB", "servers"):
            t.add_column(col, justify="right")
        t.add_column("set by")
        for r in rows.itertuples():
            t.add_row(
                str(r.year),
                f"{r.users:,}",
                f"{r.messages_per_day:,.0f}",
                f"{r.peak_msgs_per_s:,.2f}",
                f"{r.storage_tb:,.2f}",
                str(r.servers),
                str(r.binding).replace("_", " "),
            )
        out.append(t)
    return out


def _fmt(fact: Sourced | None, unit: str = "") -> str:
    if fact is None:
        return "-"
    return f"{fact.value:g}{unit}" + (" (est.)" if fact.estimate else "")


def catalog_tables(catalog: Catalog) -> list[Table]:
    """Plans, stacks, servers, relays and defaults, each with its source and date."""
    plans = Table(title="Cloud plans (USD per user-month, annual commitment)", title_justify="left")
    for col in ("id", "label", "price", "included GB", "as of", "source"):
        plans.add_column(col, overflow="fold")
    for p in catalog.plans:
        label = p.label + ("" if p.available_to_new_customers else " [not sold to new customers]")
        plans.add_row(
            p.id,
            label,
            _fmt(p.price_per_user_month),
            _fmt(p.included_gb_per_user) + (" pooled" if p.storage_pooled else ""),
            p.price_per_user_month.as_of,
            p.price_per_user_month.source,
        )
    stacks = Table(title="On-prem stacks (USD)", title_justify="left")
    for col in (
        "id",
        "label",
        "licence/server-year",
        "licence/user-year",
        "admin h/month",
        "set-up",
        "source",
    ):
        stacks.add_column(col, overflow="fold")
    for s in catalog.stacks:
        stacks.add_row(
            s.id,
            s.label,
            _fmt(s.licence_per_server_year),
            _fmt(s.licence_per_user_year),
            _fmt(s.admin_hours_per_month),
            _fmt(s.setup_cost),
            s.licence_per_server_year.source,
        )
    servers = Table(title="Server profiles", title_justify="left")
    for col in ("id", "label", "price USD", "watts", "msgs/s", "TB", "source"):
        servers.add_column(col, overflow="fold")
    for v in catalog.servers:
        servers.add_row(
            v.id,
            v.label,
            _fmt(v.server_price),
            _fmt(v.server_watts),
            _fmt(v.capacity_msgs_per_s),
            _fmt(v.storage_tb_per_server),
            v.server_price.source,
        )
    relays = Table(title="Outbound relays (USD per 1,000 messages)", title_justify="left")
    for col in ("id", "label", "price", "as of", "source"):
        relays.add_column(col, overflow="fold")
    for r in catalog.relays:
        relays.add_row(
            r.id,
            r.label,
            _fmt(r.outbound_relay_per_1000),
            r.outbound_relay_per_1000.as_of,
            r.outbound_relay_per_1000.source,
        )
    defaults = Table(title="Global defaults", title_justify="left")
    for col in ("field", "value", "as of", "source"):
        defaults.add_column(col, overflow="fold")
    for name, fact in catalog.defaults:
        if not isinstance(fact, Sourced | SourcedText):
            continue
        value = fact.value if isinstance(fact.value, str) else _fmt(fact)
        defaults.add_row(name, value, fact.as_of, fact.source)
    return [plans, stacks, servers, relays, defaults]


def stale_table(figures: list[Figure], days: int, day: dt.date) -> Table | str:
    """The figures older than ``days`` on ``day``, oldest first (or one line: none)."""
    if not figures:
        return f"No catalog figure is older than {days} days on {day.isoformat()}."
    t = Table(
        title=f"{len(figures)} catalog figures older than {days} days on {day.isoformat()}",
        title_justify="left",
    )
    for col in ("path", "value", "as of", "age (days)", "source"):
        t.add_column(col, overflow="fold")
    for f in figures:
        value = f"{f.value:g}" if isinstance(f.value, float) else str(f.value)
        t.add_row(
            f.path,
            value + (" (estimate)" if f.estimate else ""),
            f.as_of,
            str(f.age_days),
            f.source,
        )
    return t


def frame_csv(frame: pd.DataFrame) -> str:
    """A DataFrame as CSV text (no index)."""
    return str(frame.to_csv(index=False))


# region #### mailplan bench ####
# The bench commands' output: one result in full, and the list of saved results.

from planner.bench.result import BenchmarkResult  # noqa: E402  (pure data, no harness)

__all__ += ["bench_list_rows", "bench_list_table", "bench_result_view"]


def bench_result_view(result: BenchmarkResult) -> list[Table | str]:
    """One benchmark result for people: the summary, latency by phase, the capacity steps
    (the last passing and first failing one named), errors and notes."""
    from planner.bench.result import capacity_figure, measured_s

    wl = result.workload
    loop = (
        f"open loop {wl.rate_msgs_per_s:,.1f} msgs/s"
        if wl.mode == "open"
        else f"closed loop, {wl.concurrency} sessions"
    )
    size = f", {wl.size_kb:g} KB {wl.size_mix}" if result.protocol == "smtp" else ""
    ident = f"result {result.id}: " if result.id is not None else ""
    t = Table(
        title=f"{ident}{result.protocol} {result.target} ({loop}{size}, {wl.workers} worker(s))",
        title_justify="left",
        show_header=False,
    )
    t.add_column("what")
    t.add_column("value")
    lat = result.latency_ms
    t.add_row("messages ok / failed", f"{result.messages_ok:,} / {result.messages_failed:,}")
    t.add_row("duration", f"{result.duration_s:.2f} s (after {wl.warmup_s:g} s warm-up)")
    t.add_row("throughput", f"{result.msgs_per_s:,.1f} msgs/s, {result.mb_per_s:,.2f} MB/s")
    t.add_row(
        f"latency {result.latency_phase} (ms)",
        f"p50 {lat.p50:g}  p90 {lat.p90:g}  p99 {lat.p99:g}  max {lat.max:g}",
    )
    search = result.capacity_search
    figure = capacity_figure(result)
    if search is not None or figure is not None:
        how = (
            f" at p99 {search.phase} <= {search.slo_p99_ms:g} ms"
            if search is not None
            else " (closed-loop throughput)"
        )
        t.add_row("capacity", ("not found" if figure is None else f"{figure:,.1f} msgs/s") + how)
    if result.indicative:
        t.add_row(
            "indicative",
            f"yes: {measured_s(result):.1f} s measured, under the {result.min_measured_s:g} s "
            "a capacity figure needs",
        )
    if result.spread is not None:
        s = result.spread

        def fig(v: float | None) -> str:
            return "none" if v is None else f"{v:,.1f}"

        values = ", ".join(fig(v) for v in s.values)
        rel = (
            f"spread {s.relative:.1%} of the median"
            if s.relative is not None
            else "no spread: a run found no figure"
        )
        t.add_row(
            f"{result.repeat} runs ({s.figure})",
            f"{values}; min {fig(s.min)}, median {fig(s.median)}, max {fig(s.max)}; {rel}; "
            "the median run is shown",
        )
    if search is not None:
        passed, failed = (
            search.step_at(search.last_pass_msgs_per_s),
            search.step_at(search.first_fail_msgs_per_s),
        )
        t.add_row(
            "last pass",
            "none" if passed is None else f"{passed.offered_msgs_per_s:,.1f} msgs/s offered",
        )
        t.add_row(
            "first fail",
            "none"
            if failed is None
            else f"{failed.offered_msgs_per_s:,.1f} msgs/s offered: {failed.reason}",
        )
        t.add_row("stopped because", search.stop_reason)
    env = result.environment
    t.add_row("machine", env.summary())
    if env.server_banner or env.server_label:
        t.add_row("server", env.server_label or env.server_banner or "")
    out: list[Table | str] = [t]
    phases = Table(title="latency by phase (ms)", title_justify="left")
    for col in ("phase", "count", "p50", "p90", "p99", "max"):
        phases.add_column(col, justify="left" if col == "phase" else "right")
    for name, p in result.phases.items():
        phases.add_row(name, f"{p.count:,}", f"{p.p50:g}", f"{p.p90:g}", f"{p.p99:g}", f"{p.max:g}")
    out.append(phases)
    if search is not None:
        steps = Table(title="capacity steps", title_justify="left")
        for col in ("offered msgs/s", "achieved", "p99 ms", "errors", "seconds", "verdict"):
            steps.add_column(col, justify="right")
        for st in search.steps:
            steps.add_row(
                f"{st.offered_msgs_per_s:,.1f}",
                f"{st.achieved_msgs_per_s:,.1f}",
                "-" if st.p99_ms is None else f"{st.p99_ms:g}",
                f"{st.error_rate:.2%}",
                "-" if st.measured_s is None else f"{st.measured_s:g}",
                "pass" if st.passed else st.reason,
            )
        out.append(steps)
    if result.errors:
        out.append("errors: " + ", ".join(f"{k}: {v:,}" for k, v in result.errors.items()))
    out.extend(f"note: {note}" for note in result.notes)
    return out


def print_bench_result(result: BenchmarkResult, *, as_json: bool) -> None:
    """One benchmark result on stdout: its JSON, or the tables of :func:`bench_result_view`."""
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    con = console()
    for part in bench_result_view(result):
        con.print(part)


def bench_list_rows(results: list[BenchmarkResult]) -> list[dict[str, Any]]:
    """``mailplan bench list --format json``: one object per saved result; the capacity is
    the figure ``bench apply`` would use (:func:`planner.bench.result.capacity_figure`)."""
    from planner.bench.result import capacity_figure

    return [
        {
            "id": r.id,
            "created_at": r.created_at.isoformat(),
            "protocol": r.protocol,
            "target": r.target,
            "mode": r.mode,
            "size_kb": r.workload.size_kb,
            "msgs_per_s": r.msgs_per_s,
            "p99_ms": r.latency_ms.p99,
            "capacity_msgs_per_s": capacity_figure(r),
            "indicative": r.indicative,
            "repeat": r.repeat,
        }
        for r in results
    ]


def bench_list_table(results: list[BenchmarkResult]) -> Table:
    """``mailplan bench list``: saved results, oldest first; an indicative capacity is
    marked ``(indicative)``."""
    t = Table(title=f"{len(results)} saved result(s)", title_justify="left")
    right = {"id", "msgs/s", "p99 ms", "capacity"}
    for col in ("id", "created (UTC)", "protocol", "target", "mode", "size", "msgs/s", "p99 ms"):
        t.add_column(col, justify="right" if col in right else "left")
    t.add_column("capacity", justify="right")
    for row, r in zip(bench_list_rows(results), results, strict=True):
        cap = row["capacity_msgs_per_s"]
        t.add_row(
            str(r.id),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.protocol,
            r.target,
            "capacity search" if r.capacity_search is not None else r.mode,
            f"{r.workload.size_kb:g} KB" if r.protocol == "smtp" else "-",
            f"{r.msgs_per_s:,.1f}",
            f"{r.latency_ms.p99:g}",
            "-" if cap is None else f"{cap:,.1f}" + (" (indicative)" if r.indicative else ""),
        )
    return t


# endregion
