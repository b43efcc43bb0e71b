"""Plotly figures of a Monte Carlo run and a tornado (never shown, never written).

For the dashboard's Risk page and the reports. Distributions are binned here with numpy,
so a figure stays small however many draws there are. Money is in the scenario's display
currency.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from planner.risk.sensitivity import Sensitivity
from planner.risk.simulate import Simulation

__all__ = ["break_even_years", "npv_distributions", "p_cheapest", "tornado"]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def npv_distributions(sim: Simulation, bins: int = 60) -> go.Figure:
    """NPV distribution per option over the draws: share of draws per NPV bin, one line
    each, with P10, P50 and P90 in the legend entry's hover. The axis spans the 0.5th to
    99.5th percentile of all options' draws, so one long tail does not squash the rest; an
    option with draws beyond it says how many in its legend entry."""
    cur = sim.scenario.currency
    every = np.concatenate([sim.npv(o.id) for o in sim.evaluation.options])
    lo, hi = (float(v) for v in np.percentile(every, [0.5, 99.5]))
    if hi - lo < 1e-6 * max(abs(hi), 1.0):
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2.0
    fig = go.Figure()
    for o in sim.summary.options:
        values = sim.npv(o.id)
        counts, _ = np.histogram(values, bins=edges)
        outside = float(np.mean((values < lo) | (values > hi)))
        name = o.id if outside == 0 else f"{o.id} ({outside:.1%} of draws off the axis)"
        q = o.npv
        fig.add_trace(
            go.Scatter(
                x=centers,
                y=counts / sim.n * 100.0,
                mode="lines",
                line={"shape": "hvh", "dash": "solid" if o.kind == "onprem" else "dot"},
                fill="tozeroy",
                name=name,
                hovertemplate=(
                    f"{o.id}<br>NPV %{{x:,.0f}} {cur}: %{{y:.1f}} % of draws<br>"
                    f"P10 {q.p10:,.0f} · P50 {q.p50:,.0f} · P90 {q.p90:,.0f}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title=f"NPV distribution per option ({sim.n:,} draws)",
        xaxis_title=f"NPV ({cur})",
        yaxis_title="Share of draws (%)",
        legend_title="Option",
        **_LAYOUT,
    )
    return fig


def p_cheapest(sim: Simulation) -> go.Figure:
    """Probability that each option is the cheapest by NPV (bars, highest first)."""
    options = sorted(sim.summary.options, key=lambda o: -o.p_cheapest)
    fig = go.Figure(
        go.Bar(
            x=[o.id for o in options],
            y=[o.p_cheapest * 100.0 for o in options],
            text=[f"{o.p_cheapest:.0%}" for o in options],
            textposition="outside",
            marker_color=["#1f77b4" if o.kind == "onprem" else "#ff7f0e" for o in options],
            hovertemplate="%{x}: cheapest in %{y:.1f} % of draws<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Probability of being the cheapest ({sim.n:,} draws)",
        xaxis_title="Option",
        yaxis_title="Share of draws (%)",
        yaxis={"range": [0, 110]},
        **_LAYOUT,
    )
    return fig


def tornado(
    sens: Sensitivity, top: int | None = None, labels: Mapping[str, str] | None = None
) -> go.Figure:
    """Tornado: for each ranged input (largest swing on top), the NPV gap (on-prem minus
    cloud) at its low and at its high value, as bars from the typical case's gap.

    ``labels`` (field path -> readable title, ``planner.report.labels.path_title``) names
    the inputs, the option or section on one line and the field's title below it; without
    them the bars are named by field path."""
    cur = sens.scenario.currency
    rows = [r for r in sens.swings if r.swing > 0] or sens.swings
    rows = list(reversed(rows[:top] if top else rows))  # plotly draws the first bar at the bottom
    base = sens.base
    names = [
        labels.get(r.input, r.input).replace(" · ", "<br>") if labels else r.input for r in rows
    ]
    fig = go.Figure()
    for key, name, color in (
        ("low", "input at low", "#2ca02c"),
        ("high", "input at high", "#d62728"),
    ):
        gaps = [getattr(r, f"npv_at_{key}") for r in rows]
        values = [getattr(r, key) for r in rows]
        fig.add_trace(
            go.Bar(
                y=names,
                x=[g - base for g in gaps],
                base=base,
                orientation="h",
                name=name,
                marker_color=color,
                customdata=np.column_stack([gaps, values]) if rows else None,
                hovertemplate=(
                    f"%{{y}} = %{{customdata[1]:,.4g}}<br>gap %{{customdata[0]:,.0f}} {cur}"
                    "<extra></extra>"
                ),
            )
        )
    fig.add_vline(x=base, line_dash="dash", line_color="grey")
    fig.add_vline(x=0, line_color="black", line_width=1)
    fig.update_layout(
        title=f"What moves the NPV gap {sens.onprem} − {sens.cloud}",
        barmode="overlay",
        xaxis_title=f"NPV gap, on-prem minus cloud ({cur}); below 0: on-prem cheaper",
        yaxis_title="Input",
        legend_title="Swing",
        **_LAYOUT,
    )
    if labels:  # long titles: no axis title beside them, the legend under the x axis
        fig.update_yaxes(automargin=True, title=None)
        fig.update_xaxes(title=f"NPV gap ({cur}); below 0: on-prem cheaper")
        fig.update_layout(
            height=max(420, 60 + 42 * len(rows)),
            legend={"orientation": "h", "y": -0.15, "yanchor": "top", "x": 0, "xanchor": "left"},
            margin={"b": 90},
        )
    return fig


def break_even_years(sim: Simulation) -> go.Figure:
    """For each on-prem/cloud pair, the share of draws breaking even in each year or never
    (stacked horizontal bars)."""
    pairs = sim.summary.break_even
    labels = [f"{p.onprem} vs {p.cloud}" for p in pairs]
    fig = go.Figure()
    for y in range(sim.evaluation.horizon):
        fig.add_trace(
            go.Bar(
                y=labels,
                x=[p.p_by_year[y] * 100.0 for p in pairs],
                orientation="h",
                name=f"year {y + 1}",
                hovertemplate=f"%{{y}}: year {y + 1} in %{{x:.1f}} % of draws<extra></extra>",
            )
        )
    fig.add_trace(
        go.Bar(
            y=labels,
            x=[p.p_never * 100.0 for p in pairs],
            orientation="h",
            name="never",
            marker_color="lightgrey",
            hovertemplate="%{y}: never within the horizon in %{x:.1f} % of draws<extra></extra>",
        )
    )
    fig.update_layout(
        title="Break-even year of on-prem against cloud",
        barmode="stack",
        xaxis_title="Share of draws (%)",
        yaxis_title="Pair",
        legend_title="Break-even",
        **_LAYOUT,
    )
    return fig
