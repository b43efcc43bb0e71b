"""The report's data for programs and spreadsheets: CSV and JSON (the XLSX workbook, a
live model with formulas, is ``planner.report.xlsx``).

- CSV: the tidy cost frame (option, kind, year, category, amount) with each row's
  ``plan`` (the catalog plan or stack the option runs on that year) and ``cost_type``
  (capex or opex), and the sizing frame in a second file (``sizing_csv``), both at full
  precision.
- JSON: the ``mailplan compare --format json`` document plus ``sizing`` (the sizing frame's
  rows), ``capacity`` (per on-prem option, with its source), ``qualitative`` (the decision
  matrix), ``assumptions`` (every input with its source), ``risk`` (only for a scenario
  with ranged inputs: the Monte Carlo summary, the tornado and the headline sentences),
  ``generated`` and ``mailplan_version``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner import __version__
from planner.costs import CAPEX_CATEGORIES
from planner.evaluation import Evaluation
from planner.report.content import risk_analysis

__all__ = [
    "cost_frame",
    "costs_csv",
    "frame_records",
    "json_report",
    "report_data",
    "sizing_csv",
    "summary_frame",
    "years_frame",
]


def _plain(v: Any) -> Any:
    """A cell as a plain Python value: numpy scalars unwrapped, NaN -> None."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalar
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, Sequence):
        return ", ".join(map(str, v))
    return str(v)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts of plain Python values (NaN -> None)."""
    return [{str(k): _plain(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]


def cost_frame(ev: Evaluation) -> pd.DataFrame:
    """The tidy cost frame (option, kind, year, category, amount) with ``plan`` (the
    catalog plan or stack the option runs on that year; empty for an inline one) and
    ``cost_type`` (capex: hardware, residual, set-up, migration; else opex)."""
    frame = ev.costs.copy()
    plans = {
        (o.id, year): plan
        for o in ev.options
        for year, plan in enumerate(ev.plan_by_year(o.id), start=1)
    }
    frame["plan"] = [
        plans[(o, int(y))] for o, y in zip(frame["option"], frame["year"], strict=True)
    ]
    frame["cost_type"] = np.where(frame["category"].isin(CAPEX_CATEGORIES), "capex", "opex")
    return frame


def costs_csv(ev: Evaluation) -> bytes:
    """The cost frame (``cost_frame``) as CSV, amounts in the display currency."""
    return cost_frame(ev).to_csv(index=False).encode("utf-8")


def summary_frame(ev: Evaluation) -> pd.DataFrame:
    """The engine's summary frame with the comparison's availability,
    downtime_hours_per_year, vs_current_total / vs_current_npv (empty without a
    ``current``), opportunity_cost, and capex / opex over the horizon."""
    frame = ev.summary.copy()
    by_id = {o.id: o for o in ev.comparison.options}
    options = [by_id[i] for i in frame["id"]]
    frame["availability"] = [o.availability for o in options]
    frame["downtime_hours_per_year"] = [o.downtime_hours_per_year for o in options]
    frame["vs_current_total"] = [o.vs_current.total if o.vs_current else None for o in options]
    frame["vs_current_npv"] = [o.vs_current.npv if o.vs_current else None for o in options]
    frame["opportunity_cost"] = [o.opportunity_cost for o in options]
    frame["capex"] = [round(sum(y.capex for y in o.years), 2) for o in options]
    frame["opex"] = [round(sum(y.opex for y in o.years), 2) for o in options]
    return frame


def years_frame(ev: Evaluation) -> pd.DataFrame:
    """One row per option and year: option, year, users, plan, cost, capex, opex (the
    comparison's), and opportunity_cost (labour done by existing staff, not in the cost)."""
    rows = [
        {
            "option": o.id,
            "year": y.year,
            "users": y.users,
            "plan": y.plan,
            "cost": y.cost,
            "capex": y.capex,
            "opex": y.opex,
            "opportunity_cost": round(float(ev.opportunity[o.id][y.year - 1]), 2),
        }
        for o in ev.comparison.options
        for y in o.years
    ]
    columns = ["option", "year", "users", "plan", "cost", "capex", "opex", "opportunity_cost"]
    return pd.DataFrame(rows, columns=columns)


def sizing_csv(ev: Evaluation) -> bytes:
    """The sizing frame as CSV: option, year, users, messages_per_day, peak_msgs_per_s,
    storage_tb, capacity_msgs_per_s, servers."""
    return ev.sizing.to_csv(index=False).encode("utf-8")


def _break_even_frame(ev: Evaluation) -> pd.DataFrame:
    return pd.DataFrame(
        [b.model_dump() for b in ev.break_even],
        columns=["onprem", "cloud", "year", "users", "year_npv"],
    )


def report_data(ev: Evaluation, generated: dt.datetime | None = None) -> dict[str, Any]:
    """The JSON report as a dict (see the module docstring)."""
    data: dict[str, Any] = ev.comparison.model_dump(mode="json")
    data["sizing"] = frame_records(ev.sizing)
    data["capacity"] = [
        {
            "option": o.id,
            "capacity_msgs_per_s": o.capacity_msgs_per_s,
            "capacity_source": o.capacity_source,
            "capacity_kind": o.capacity_kind,
        }
        for o in ev.resolved.onprem
    ]
    data["qualitative"] = {
        oid: a.model_dump(mode="json", include={"score", "criteria", "ruled_out_by"})
        for oid, a in ev.assessments.items()
    }
    data["assumptions"] = frame_records(ev.assumptions)
    if (analysis := risk_analysis(ev)) is not None:
        sens = analysis.sensitivity
        data["risk"] = {
            "simulation": analysis.simulation.summary.model_dump(mode="json"),
            "sensitivity": None if sens is None else sens.summary.model_dump(mode="json"),
            "headline": analysis.headline.lines,
        }
    data["generated"] = (generated or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    data["mailplan_version"] = __version__
    return data


def json_report(ev: Evaluation) -> bytes:
    """The JSON report, indented, UTF-8."""
    return (json.dumps(report_data(ev), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
