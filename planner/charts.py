"""Plotly figures from an evaluated scenario (never shown, never written: callers do that).

Shared by the dashboard and the reports so that both draw the same thing. Every figure
has a title and axis titles with units; money is in the scenario's display currency.
"""

from __future__ import annotations

from collections.abc import Sequence

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
_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "star", "triangle-down", "x")
_DASHES = {"onprem": ("solid", "longdash", "dashdot"), "cloud": ("dot", "dash", "longdashdot")}


def _style(ev: Evaluation) -> dict[str, tuple[str, str]]:
    """Option id -> (line dash, marker symbol), distinct for every option so that lines
    lying on top of each other stay told apart: on-prem options solid or long-dashed,
    cloud options dotted or dashed, each with its own marker."""
    seen = {"onprem": 0, "cloud": 0}
    out = {}
    for i, o in enumerate(ev.options):
        dashes = _DASHES[o.kind]
        out[o.id] = (dashes[seen[o.kind] % len(dashes)], _SYMBOLS[i % len(_SYMBOLS)])
        seen[o.kind] += 1
    return out


def cumulative_tco(ev: Evaluation) -> go.Figure:
    """Cumulative undiscounted cost per option over the horizon (one line each)."""
    cur = ev.scenario.currency
    fig = go.Figure()
    yrs = list(range(1, ev.horizon + 1))
    style = _style(ev)
    for o in ev.options:
        dash, symbol = style[o.id]
        fig.add_trace(
            go.Scatter(
                x=yrs,
                y=np.cumsum(ev.yearly(o.id)),
                mode="lines+markers",
                name=o.id,
                line={"dash": dash, "width": 2},
                marker={"symbol": symbol, "size": 8},
                hovertemplate=f"%{{y:,.0f}} {cur}<extra>{o.id}</extra>",
            )
        )
    fig.update_layout(
        title="Cumulative cost of ownership",
        xaxis_title="Year",
        yaxis_title=f"Cumulative cost ({cur})",
        xaxis={"dtick": 1},
        legend_title="Option",
        hovermode="x unified",  # lines on top of each other: every value at that year
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
        # a legend of up to 26 categories beside the bars scrolls: under them, in rows
        legend={"title": "Category", "orientation": "h", "y": -0.28, "yanchor": "top"},
        height=600,
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
    style = _style(ev)
    for o in ev.options:
        rows = sweep[sweep["option"] == o.id]
        fig.add_trace(
            go.Scatter(
                x=rows["users"],
                y=rows["per_user_month"],
                mode="lines",
                name=o.id,
                line={"dash": style[o.id][0], "width": 2},
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
        # sizes: powers of ten only; cost: 1, 2, 5 per decade, each labelled in full
        # (plotly's "D2" labels 20 and 50 as a small "2" and "5", which reads as clutter)
        xaxis={"type": "log", "title": "Users at the start (log scale)", "dtick": 1},
        yaxis={
            "type": "log",
            "title": f"Cost per user-month ({cur}, log scale)",
            "tickvals": (ticks := _log_ticks(positive.min(), positive.max())),
            "ticktext": [f"{t:,g}" for t in ticks],
        },
        legend_title="Option",
        **_LAYOUT,
    )
    return fig


def _log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times the powers of ten from ``low`` to ``high`` (one tick below and
    above, so the ends are labelled too)."""
    out: list[float] = []
    for exp in range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1):
        out += [m * 10.0**exp for m in (1, 2, 5)]
    inside = [t for t in out if low <= t <= high]
    below = [t for t in out if t < low][-1:]
    above = [t for t in out if t > high][:1]
    return [round(t, 10) for t in below + inside + above]


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
    """Servers in service each year per on-prem option, as grouped bars (lines of options
    needing the same count lay on top of each other)."""
    fig = go.Figure()
    for option_id, rows in ev.sizing.groupby("option", sort=False):
        fig.add_trace(
            go.Bar(
                x=rows["year"],
                y=rows["servers"],
                name=str(option_id),
                text=rows["servers"],
                textposition="outside",
                hovertemplate="year %{x}: %{y} servers<extra>" + str(option_id) + "</extra>",
            )
        )
    top = int(ev.sizing["servers"].max()) if not ev.sizing.empty else 1
    fig.update_layout(
        title="Servers needed (redundancy included)",
        barmode="group",
        xaxis={"title": "Year", "dtick": 1},
        yaxis={"title": "Servers", "range": [0, top * 1.2 + 0.5], "dtick": max(1, top // 5)},
        legend_title="Option",
        **_LAYOUT,
    )
    return fig


def qualitative_radar(ev: Evaluation, options: Sequence[str] | None = None) -> go.Figure:
    """The decision matrix as a radar: each option's 1-5 score per criterion (``options``:
    only these, in this order; default every option). Outlines with a light fill and a
    marker per option (on-prem solid, cloud dotted or dashed), so two or three options
    read at a glance; a legend click hides one."""
    labels = {c.id: c.label for c in ev.catalog.qualitative.criteria}
    theta = [labels.get(c, c) for c in CRITERIA]
    style = _style(ev)
    shown = list(options) if options is not None else [o.id for o in ev.options]
    fig = go.Figure()
    for option_id in shown:
        scores = {cell.criterion: cell.score for cell in ev.assessments[option_id].criteria}
        r = [scores[c] for c in CRITERIA]
        dash, symbol = style[option_id]
        fig.add_trace(
            go.Scatterpolar(
                r=[*r, r[0]],
                theta=[*theta, theta[0]],
                name=option_id,
                mode="lines+markers",
                fill="toself" if len(shown) <= 3 else "none",
                opacity=0.8,
                line={"dash": dash, "width": 2.5},
                marker={"symbol": symbol, "size": 8},
                hovertemplate="%{theta}: %{r}<extra>" + option_id + "</extra>",
            )
        )
    fig.update_layout(
        title="Qualitative scores (1 = poor, 5 = best)",
        polar={
            "radialaxis": {
                "range": [0, 5],
                "dtick": 1,
                "angle": 90,
                "tickangle": 90,
                "tickfont": {"size": 10, "color": "grey"},
            },
            "angularaxis": {"direction": "clockwise", "rotation": 90},
        },
        legend={"title": "Option", "orientation": "h", "y": -0.1},
        height=520,
        **{**_LAYOUT, "margin": {"l": 120, "r": 120, "t": 70, "b": 30}},
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
