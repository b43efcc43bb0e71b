"""Sheets of values: Sizing (the engine's sizing frame) and Risk (the Monte Carlo
simulation's percentiles, for a scenario with ranged inputs)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from planner.evaluation import Evaluation
from planner.report.xlsx.book import BLANK, Book

__all__ = ["write_risk", "write_sizing"]

_SIZING_FORMATS = {
    "year": "int",
    "users": "int",
    "messages_per_day": "int",
    "servers": "int",
    "storage_utilisation": "pct",
    "message_rate_utilisation": "pct",
    "client_load_utilisation": "pct",
}


def _frame(book: Book, ws: Any, row: int, frame: pd.DataFrame, formats: dict[str, str]) -> int:
    """Write ``frame`` with a header at ``row``; returns the row after it."""
    book.header(ws, row, [str(c).replace("_", " ") for c in frame.columns])
    for i, rec in enumerate(frame.itertuples(index=False), start=row + 1):
        for col, (name, value) in enumerate(zip(frame.columns, rec, strict=True)):
            if isinstance(value, float) and math.isnan(value):
                value = None
            book.value(ws, i, col, value, formats.get(str(name), "number"))
    return row + 1 + len(frame)


def write_sizing(book: Book, ev: Evaluation, name: str = "Sizing") -> None:
    """The on-prem sizing by year (values): demand, servers, the hardware profile, what
    sets the count and each dimension's utilisation."""
    ws = book.wb.add_worksheet(name)
    ws.write_string(0, 0, "Sizing of the on-prem options (values)", book.fmt("title"))
    book.note(
        ws,
        1,
        "Servers = max(ceil(peak / (capacity x utilisation)), ceil(storage x copies / (TB per "
        "server x utilisation)), client load, copies), then spares. Hardware profile picked "
        "by server: auto is a structural choice (see Inputs).",
        8,
        140,
    )
    frame = ev.sizing
    ws.freeze_panes(4, 2)
    ws.set_column(0, 0, 18)
    ws.set_column(1, len(frame.columns), 14)
    if frame.empty:
        ws.write_string(3, 0, "No on-prem option: nothing to size.")
        return
    _frame(book, ws, 3, frame, _SIZING_FORMATS)


def write_risk(book: Book, ev: Evaluation, name: str = "Risk") -> bool:
    """The Monte Carlo percentiles per option, as values; False when the scenario has no
    ranged input (no sheet written)."""
    from planner.report.content import RISK_DRAWS, RISK_SEED, risk_analysis
    from planner.risk.flips import input_label

    analysis = risk_analysis(ev)
    if analysis is None:
        return False
    sim = analysis.simulation.summary
    ws = book.wb.add_worksheet(name)
    ws.write_string(0, 0, f"Risk: {sim.draws:,} Monte Carlo draws (values)", book.fmt("title"))
    book.note(
        ws,
        1,
        f"How these were made: mailplan simulate drew {sim.draws:,} sets of the ranged inputs "
        f"(seed {sim.seed}; a Gaussian copula for correlated inputs, each range's own "
        "distribution), costed every draw with the same model, and took the 10th, 50th and "
        "90th percentiles. They are values: changing the Inputs sheet does not re-run the "
        f"simulation (the reports always use {RISK_DRAWS:,} draws and seed {RISK_SEED}).",
        8,
        140,
    )
    rows = [
        {
            "Option": o.id,
            "Kind": o.kind,
            "NPV P10": o.npv.p10,
            "NPV P50": o.npv.p50,
            "NPV P90": o.npv.p90,
            "NPV mean": o.npv.mean,
            "Total P10": o.total.p10,
            "Total P50": o.total.p50,
            "Total P90": o.total.p90,
            "Probability cheapest": o.p_cheapest,
            "Ruled out by": ", ".join(o.ruled_out_by) or BLANK,
        }
        for o in sim.options
    ]
    money = {k: "money" for k in rows[0] if k.startswith(("NPV", "Total"))} if rows else {}
    row = _frame(book, ws, 3, pd.DataFrame(rows), {**money, "Probability cheapest": "pct"})
    row += 1
    ws.write_string(
        row,
        0,
        f"Cheapest in the typical case: {sim.cheapest or 'none'}; it stays the "
        f"cheapest in {sim.p_cheapest_holds:.0%} of the draws.",
        book.fmt("bold"),
    )
    row += 2
    ws.write_string(row, 0, "Ranged inputs", book.fmt("section"))
    inputs = pd.DataFrame(
        [
            {
                "Input": input_label(i.input, ev),
                "Distribution": i.dist,
                "Range": i.range,
                "Typical": i.typical,
                "Low (P10 for normal, lognormal)": i.low,
                "High (P90 for normal, lognormal)": i.high,
            }
            for i in sim.inputs
        ]
    )
    row = _frame(book, ws, row + 1, inputs, {})
    if sim.break_even:
        row += 1
        ws.write_string(row, 0, "Break-even year: share of the draws", book.fmt("section"))
        be = pd.DataFrame(
            [
                {
                    "On-prem": b.onprem,
                    "Cloud": b.cloud,
                    **{f"Year {y + 1}": p for y, p in enumerate(b.p_by_year)},
                    "Never": b.p_never,
                }
                for b in sim.break_even
            ]
        )
        pct = {c: "pct" for c in be.columns if c not in ("On-prem", "Cloud")}
        row = _frame(book, ws, row + 1, be, pct)
    ws.freeze_panes(4, 1)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 12, 15)
    return True
