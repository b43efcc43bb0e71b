"""The shared plotly figures draw the engine's numbers, titled and labelled."""

from __future__ import annotations

import numpy as np
import pytest

from planner import charts, evaluate, load_scenario


@pytest.fixture(scope="module")
def ev(presets):
    """The default scenario, evaluated."""
    return evaluate(load_scenario(presets["default"]))


@pytest.mark.parametrize(
    "make",
    [
        charts.cumulative_tco,
        charts.yearly_by_category,
        charts.break_even_map,
        charts.servers_by_year,
        charts.qualitative_radar,
        lambda ev: charts.demand_vs_capacity(ev, "postfix-dovecot"),
    ],
    ids=["cumulative", "yearly", "break-even", "servers", "radar", "demand"],
)
def test_titled(ev, make):
    """Every figure has a title, and axis titles where it has axes."""
    fig = make(ev)
    assert fig.layout.title.text
    if fig.layout.xaxis.title.text is not None or make is not charts.qualitative_radar:
        assert fig.layout.xaxis.title.text
        assert fig.layout.yaxis.title.text


def test_cumulative_tco_ends_at_totals(ev):
    """Each option's cumulative line ends at its total."""
    fig = charts.cumulative_tco(ev)
    for trace in fig.data:
        assert trace.y[-1] == pytest.approx(ev.total(trace.name))


def test_yearly_bars_sum_to_totals_in_order(ev):
    """Stacked bars add up to each option's total, and years run 1..H within each option."""
    fig = charts.yearly_by_category(ev)
    sums: dict[str, float] = {}
    for trace in fig.data:
        options, years = trace.x
        assert list(years) == [str(y) for y in range(1, 6)] * (len(options) // 5)
        for option, amount in zip(options, trace.y, strict=True):
            sums[option] = sums.get(option, 0.0) + amount
    for o in ev.options:
        assert sums[o.id] == pytest.approx(ev.total(o.id))


def test_every_category_has_its_own_colour(ev):
    """No two cost categories share a colour (a repeating palette gave the cloud
    subscription the colour of power), and a category keeps its colour in every chart."""
    from planner.costs import CATEGORIES

    assert len({charts.category_color(c) for c in CATEGORIES}) == len(CATEGORIES)
    fig = charts.yearly_by_category(ev)
    for trace in fig.data:
        assert trace.marker.color == charts.category_color(trace.name.replace(" ", "_"))


def test_break_even_map_marks_crossings(ev):
    """The break-even marks sit at the engine's break-even sizes; the scenario line at its size."""
    fig = charts.break_even_map(ev)
    marks = next(t for t in fig.data if t.name == "break-even")
    assert sorted(marks.x) == sorted(b.users for b in ev.break_even if b.users is not None)
    here = next(t for t in fig.data if t.name.startswith("this scenario"))
    assert list(here.x) == [250, 250]
    assert fig.layout.xaxis.type == "log"
    assert not fig.layout.annotations  # no log-axis annotation trap


def test_servers_chart(ev):
    """The servers chart shows the sizing frame's servers per year, as grouped bars (lines
    of options needing the same count lay on top of each other)."""
    fig = charts.servers_by_year(ev)
    trace = next(t for t in fig.data if t.name == "postfix-dovecot")
    expected = ev.sizing[ev.sizing["option"] == "postfix-dovecot"]["servers"].tolist()
    assert list(trace.y) == expected
    assert (trace.type, fig.layout.barmode) == ("bar", "group")


def test_demand_vs_capacity_rejects_cloud(ev):
    """Only on-prem options have a capacity to draw."""
    with pytest.raises(ValueError, match="not an on-prem option"):
        charts.demand_vs_capacity(ev, "m365-basic")


def test_radar_scores(ev):
    """The radar shows each option's eight scores, closed."""
    fig = charts.qualitative_radar(ev)
    for trace in fig.data:
        assert len(trace.r) == 9
        assert trace.r[0] == trace.r[-1]
        assert np.all((np.array(trace.r) >= 1) & (np.array(trace.r) <= 5))


def test_demand_and_capacity_are_two_panels(ev):
    """Messages/s and storage each get a panel, demand as bars and capacity as a step line."""
    fig = charts.demand_vs_capacity(ev, "postfix-dovecot")
    assert [(t.type, t.xaxis, t.yaxis) for t in fig.data] == [
        ("bar", "x", "y"),
        ("scatter", "x", "y"),
        ("bar", "x2", "y2"),
        ("scatter", "x2", "y2"),
    ]
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == (
        "Messages per second",
        "Terabytes",
    )
    assert fig.data[1].line.shape == "hv"


def test_figures_keep_the_plotly_white_look(ev):
    """The trimmed template is plotly_white's layout."""
    import plotly.io as pio

    fig = charts.cumulative_tco(ev)
    assert fig.layout.template.layout == pio.templates["plotly_white"].layout
