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
from planner.models import Catalog, Sourced
from planner.recommendation import headline, parity, ranked

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


def money(amount: float, currency: str) -> str:
    """``USD 12,345`` (whole units; cents only below 100)."""
    if abs(amount) < 100:
        return f"{currency} {amount:,.2f}"
    return f"{currency} {amount:,.0f}"


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
            }
            for r in rows.to_dict(orient="records")
        ]
        options.append(
            {
                "id": o.id,
                "capacity_source": o.capacity_source,
                "capacity_kind": o.capacity_kind,
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
        t = Table(
            title=f"{o.id}: {o.label}",
            caption=(
                f"capacity per server: {o.capacity_msgs_per_s:g} msgs/s ({o.capacity_source}); "
                f"target utilisation {o.target_utilization:.0%}, "
                f"{o.storage_tb_per_server:g} TB per server, redundancy {o.redundancy}"
            ),
            title_justify="left",
            caption_justify="left",
        )
        for col in ("year", "users", "messages/day", "peak msgs/s", "storage TB", "servers"):
            t.add_column(col, justify="right")
        for r in rows.itertuples():
            t.add_row(
                str(r.year),
                f"{r.users:,}",
                f"{r.messages_per_day:,.0f}",
                f"{r.peak_msgs_per_s:,.2f}",
                f"{r.storage_tb:,.2f}",
                str(r.servers),
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
        if fact is None:
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
