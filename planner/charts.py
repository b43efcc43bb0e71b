"""Plotly figures from an evaluated scenario (never shown, never written: callers do that).

Shared by the dashboard and the reports so that both draw the same thing. Every figure
has a title and axis titles with units; money is in the scenario's display currency.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from planner.evaluation import SWEEP_MAX_USERS, SWEEP_MIN_USERS, Evaluation
from planner.models import CRITERIA
from planner.resolution import ResolvedOnPrem

__all__ = [
    "break_even_map",
    "category_color",
    "cumulative_tco",
    "demand_vs_capacity",
    "qualitative_bars",
    "qualitative_radar",
    "servers_by_year",
    "yearly_by_category",
]

_WHITE = pio.templates["plotly_white"]
# plotly_white cut to the trace types drawn here: the same look, and a figure that is about
# three times cheaper to build, copy and pickle (the dashboard caches and copies figures)
_TEMPLATE = go.layout.Template(
    layout=_WHITE.layout,
    data={kind: getattr(_WHITE.data, kind) for kind in ("bar", "scatter", "scatterpolar")},
)
_LAYOUT = {"template": _TEMPLATE, "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def cumulative_tco(ev: Evaluation) -> go.Figure:
    """Cumulative undiscounted cost per option over the horizon (one line each)."""
    cur = ev.scenario.currency
    fig = go.Figure()
    yrs = list(range(1, ev.horizon + 1))
    for o in ev.options:
        fig.add_trace(
            go.Scatter(
                x=yrs,
                y=np.cumsum(ev.yearly(o.id)),
                mode="lines+markers",
                name=o.id,
                line={"dash": "solid" if o.kind == "onprem" else "dot"},
                hovertemplate=f"{o.id}<br>year %{{x}}<br>%{{y:,.0f}} {cur}<extra></extra>",
            )
        )
    fig.update_layout(
        title="Cumulative cost of ownership",
        xaxis_title="Year",
        yaxis_title=f"Cumulative cost ({cur})",
        xaxis={"dtick": 1},
        legend_title="Option",
        **_LAYOUT,
    )
    return fig


def category_color(category: str) -> str:
    """One colour per cost category, the same in every chart and scenario: the 26 distinct
    colours of plotly's Alphabet palette in the order of ``planner.costs.CATEGORIES`` (a
    repeating palette gave the cloud subscription the colour of on-prem power). Categories
    added later (``_ADDED_LATER``) take the next colours, so the older ones keep theirs."""
    from plotly.express.colors import qualitative

    from planner.costs import CATEGORIES

    order = (*(c for c in CATEGORIES if c not in _ADDED_LATER), *_ADDED_LATER)
    palette = qualitative.Alphabet
    index = order.index(category) if category in order else len(order)
    return str(palette[index % len(palette)])


# Cost categories added after the palette was first handed out, in the order they came.
_ADDED_LATER = ("sender_auth",)


def yearly_by_category(ev: Evaluation) -> go.Figure:
    """Yearly cost by category, stacked, grouped by option then year (residual below zero)."""
    cur = ev.scenario.currency
    order = {o.id: i for i, o in enumerate(ev.options)}
    costs = ev.costs.assign(_order=ev.costs["option"].map(order))
    costs = costs.sort_values(["_order", "year"], kind="stable")
    used = costs.groupby("category")["amount"].apply(lambda a: bool((a.abs() > 1e-9).any()))
    fig = go.Figure()
    # Every category keeps every option-year (zeros included) so the x axis stays in order.
    for category, rows in costs[costs["category"].map(used)].groupby("category", sort=False):
        fig.add_trace(
            go.Bar(
                x=[rows["option"].tolist(), rows["year"].astype(str).tolist()],
                y=rows["amount"],
                name=str(category).replace("_", " "),
                marker_color=category_color(str(category)),
                hovertemplate=f"{category}<br>%{{x}}<br>%{{y:,.0f}} {cur}<extra></extra>",
            )
        )
    fig.update_layout(
        title="Yearly cost by category",
        barmode="relative",
        xaxis_title="Option and year",
        yaxis_title=f"Cost per year ({cur})",
        legend_title="Category",
        **_LAYOUT,
    )
    return fig


def break_even_map(ev: Evaluation, points: int = 200) -> go.Figure:
    """Cost per user-month against organisation size (log scale) per option, with the
    break-even sizes of each on-prem/cloud pair marked."""
    cur = ev.scenario.currency
    users: npt.NDArray[np.int64] = np.unique(
        np.rint(np.geomspace(SWEEP_MIN_USERS, SWEEP_MAX_USERS, points)).astype(np.int64)
    )
    sweep = ev.sweep(users)
    fig = go.Figure()
    for o in ev.options:
        rows = sweep[sweep["option"] == o.id]
        fig.add_trace(
            go.Scatter(
                x=rows["users"],
                y=rows["per_user_month"],
                mode="lines",
                name=o.id,
                line={"dash": "solid" if o.kind == "onprem" else "dot"},
                hovertemplate=(
                    f"{o.id}<br>%{{x:,}} users<br>%{{y:,.2f}} {cur}/user-month<extra></extra>"
                ),
            )
        )
    marks = [(b, b.users) for b in ev.break_even if b.users is not None]
    if marks:
        crossing = ev.sweep([n for _, n in marks])
        xs, ys, labels = [], [], []
        for b, n in marks:
            row = crossing[(crossing["option"] == b.onprem) & (crossing["users"] == n)]
            xs.append(n)
            ys.append(float(row["per_user_month"].iloc[0]))
            labels.append(f"{b.onprem} = {b.cloud} at {n:,} users")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name="break-even",
                marker={"symbol": "x", "size": 11, "color": "black"},
                text=labels,
                hovertemplate="%{text}<extra></extra>",
            )
        )
    # A vertical line at this scenario's size. A shape with an annotation would need the
    # annotation's x in log10 units on a log axis; a two-point trace has no such trap.
    here = ev.scenario.organization.users
    positive = sweep["per_user_month"][sweep["per_user_month"] > 0]
    fig.add_trace(
        go.Scatter(
            x=[here, here],
            y=[float(positive.min()), float(positive.max())],
            mode="lines",
            name=f"this scenario ({here:,} users)",
            line={"dash": "dash", "color": "grey", "width": 1},
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        title="Cost per user-month by organisation size",
        # sizes: powers of ten only; cost: 1, 2, 5 per decade (plotly's default labels
        # every digit, small, which reads as clutter)
        xaxis={"type": "log", "title": "Users at the start (log scale)", "dtick": 1},
        yaxis={"type": "log", "title": f"Cost per user-month ({cur}, log scale)", "dtick": "D2"},
        legend_title="Option",
        **_LAYOUT,
    )
    return fig


def demand_vs_capacity(ev: Evaluation, option_id: str) -> go.Figure:
    """Two panels for one on-prem option: peak messages/s and storage TB each year (bars)
    against what its servers provide at the target utilisation (step lines)."""
    o = ev.option(option_id)
    if not isinstance(o, ResolvedOnPrem):
        raise ValueError(f"{option_id} is not an on-prem option")
    rows = ev.sizing[ev.sizing["option"] == option_id]
    util = o.target_utilization
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Message rate (messages/s)", "Mail storage (TB)"),
        horizontal_spacing=0.12,
    )
    panels = (
        (1, rows["peak_msgs_per_s"], rows["servers"] * o.capacity_msgs_per_s * util, "msgs/s"),
        (2, rows["storage_tb"], rows["servers"] * o.storage_tb_per_server * util, "TB"),
    )
    for col, need, have, unit in panels:
        fig.add_trace(
            go.Bar(
                x=rows["year"],
                y=need,
                name="needed (peak hour / end of year)",
                marker_color="#636efa",
                text=[f"{v:,.3g}" for v in need],
                textposition="outside",
                showlegend=col == 1,
                hovertemplate=f"year %{{x}}<br>needed %{{y:,.2f}} {unit}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=rows["year"],
                y=have,
                name=f"all servers, spares included, at {util:.0%} utilisation",
                mode="lines+markers",
                line={"shape": "hv", "color": "#ef553b"},
                showlegend=col == 1,
                hovertemplate=f"year %{{x}}<br>capacity %{{y:,.2f}} {unit}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="Year", dtick=1, row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="Messages per second", row=1, col=1)
    fig.update_yaxes(title_text="Terabytes", row=1, col=2)
    fig.update_layout(
        title=f"Demand and capacity: {option_id}",
        legend={"orientation": "h", "y": -0.25},
        **{**_LAYOUT, "margin": {"l": 60, "r": 20, "t": 100, "b": 50}},
    )
    return fig


def servers_by_year(ev: Evaluation) -> go.Figure:
    """Servers in service each year per on-prem option, as a step chart."""
    fig = go.Figure()
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    for i, (option_id, rows) in enumerate(ev.sizing.groupby("option", sort=False)):
        fig.add_trace(
            go.Scatter(
                x=rows["year"],
                y=rows["servers"],
                name=str(option_id),
                mode="lines+markers",
                line={"shape": "hv", "dash": dashes[i % len(dashes)], "width": 3 - (i % 2)},
            )
        )
    fig.update_layout(
        title="Servers needed (redundancy included)",
        xaxis={"title": "Year", "dtick": 1},
        yaxis={"title": "Servers", "rangemode": "tozero", "dtick": 1},
        legend_title="Option",
        **_LAYOUT,
    )
    return fig


def qualitative_radar(ev: Evaluation) -> go.Figure:
    """The decision matrix as a radar: each option's 1-5 score per criterion."""
    labels = {c.id: c.label for c in ev.catalog.qualitative.criteria}
    theta = [labels.get(c, c) for c in CRITERIA]
    fig = go.Figure()
    for o in ev.options:
        scores = {cell.criterion: cell.score for cell in ev.assessments[o.id].criteria}
        r = [scores[c] for c in CRITERIA]
        fig.add_trace(
            go.Scatterpolar(
                r=[*r, r[0]], theta=[*theta, theta[0]], name=o.id, fill="toself", opacity=0.5
            )
        )
    fig.update_layout(
        title="Qualitative scores (1 = poor, 5 = best)",
        polar={"radialaxis": {"range": [0, 5], "dtick": 1}},
        legend={"title": "Option", "orientation": "h", "y": -0.15},
        **_LAYOUT,
    )
    return fig


def qualitative_bars(ev: Evaluation) -> go.Figure:
    """The decision matrix as grouped horizontal bars: each option's 1-5 score per criterion
    (criteria top to bottom in the matrix's order). The report draws this instead of the
    radar: it needs only bar traces, which the report's partial plotly.js bundle has."""
    labels = {c.id: c.label for c in ev.catalog.qualitative.criteria}
    names = [labels.get(c, c) for c in CRITERIA]
    fig = go.Figure()
    for o in ev.options:
        scores = {cell.criterion: cell.score for cell in ev.assessments[o.id].criteria}
        fig.add_trace(
            go.Bar(
                x=[scores[c] for c in CRITERIA],
                y=names,
                orientation="h",
                name=o.id,
                hovertemplate="%{y}: %{x}<extra>" + o.id + "</extra>",
            )
        )
    fig.update_layout(
        title="Qualitative scores (1 = poor, 5 = best)",
        barmode="group",
        bargap=0.25,
        xaxis={"title": "Score (1-5)", "range": [0, 5], "dtick": 1},
        yaxis={"autorange": "reversed", "automargin": True},
        legend={"title": "Option", "traceorder": "normal"},
        **_LAYOUT,
    )
    return fig
