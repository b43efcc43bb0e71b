"""Display tables of the Risk page, built from ``planner.risk`` results; no Streamlit here.

The figures are the engine's (``SimulationSummary``, ``SensitivitySummary``, the ranged
inputs frame); this module only picks, labels and formats them: money with thousands
separators (the currency in the column headers), shares as percentages, inputs by the
label the Scenario form gives them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from planner.models import Catalog
from planner.report.content import ruled_out_reasons
from planner.risk import SensitivitySummary, SimulationSummary

__all__ = [
    "DRAWS",
    "FACTOR",
    "MAX_DRAWS",
    "SEED",
    "percentiles_table",
    "ranges_table",
    "share",
    "tornado_table",
    "value",
]

DRAWS = 10_000
"""Draws the Risk page starts with (as the reports)."""
MAX_DRAWS = 100_000
"""Most draws the Risk page allows (about 2 s and 50 MB per simulation here)."""
SEED = 1
"""Seed the Risk page starts with (as the reports)."""
FACTOR = 1.0
"""Range width the Risk page starts with: the ranges as they are."""


def share(p: float) -> str:
    """A share of the draws as a percentage: ``41%``."""
    return f"{p:.0%}"


def value(x: float) -> str:
    """An input's value: thousands separators, up to four significant digits."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def percentiles_table(summary: SimulationSummary, catalog: Catalog) -> pd.DataFrame:
    """One row per option: NPV P10, P50, P90 and mean, total P50, share of draws in which
    it is the cheapest, what rules it out (in words, from ``catalog``); the cheapest in
    the typical case marked ``(cheapest)``."""
    cur = summary.currency
    rows = [
        {
            "Option": o.id + (" (cheapest)" if o.id == summary.cheapest else ""),
            "Kind": "on-prem" if o.kind == "onprem" else "cloud",
            f"NPV P10 ({cur})": f"{o.npv.p10:,.0f}",
            f"NPV P50 ({cur})": f"{o.npv.p50:,.0f}",
            f"NPV P90 ({cur})": f"{o.npv.p90:,.0f}",
            f"NPV mean ({cur})": f"{o.npv.mean:,.0f}",
            f"Total P50, {summary.horizon_years} years ({cur})": f"{o.total.p50:,.0f}",
            "Cheapest in": share(o.p_cheapest),
            "Ruled out by": ruled_out_reasons(catalog, o.ruled_out_by),
        }
        for o in summary.options
    ]
    return pd.DataFrame(rows).set_index("Option")


def tornado_table(summary: SensitivitySummary, labels: Mapping[str, str]) -> pd.DataFrame:
    """The tornado as a table, largest swing first: input, range, low, high, the NPV gap
    (on-prem minus cloud) at each, the swing, and whether it can reverse the choice."""
    cur = summary.currency
    rows = [
        {
            "Input": labels.get(r.input, r.input),
            "Range": r.range,
            "Low": value(r.low),
            "High": value(r.high),
            f"Gap at low ({cur})": f"{r.npv_at_low:,.0f}",
            f"Gap at high ({cur})": f"{r.npv_at_high:,.0f}",
            f"Swing ({cur})": f"{r.swing:,.0f}",
            "Can reverse the choice": "yes" if r.flips else "no",
        }
        for r in summary.inputs
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "Input",
            "Range",
            "Low",
            "High",
            f"Gap at low ({cur})",
            f"Gap at high ({cur})",
            f"Swing ({cur})",
            "Can reverse the choice",
        ],
    )


def ranges_table(frame: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """The ranged inputs (``planner.risk.ranged_inputs``): input label, field path, range,
    and the typical, low and high values the tornado uses (p10 and p90 for normal and
    lognormal)."""
    return pd.DataFrame(
        {
            "Input": [labels.get(p, p) for p in frame["input"]],
            "Field path": frame["input"],
            "Range": frame["range"],
            "Typical": [value(x) for x in frame["typical"]],
            "Low (tornado)": [value(x) for x in frame["low"]],
            "High (tornado)": [value(x) for x in frame["high"]],
        }
    )
