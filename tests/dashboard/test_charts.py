"""The figures the dashboard draws (``planner.charts``), as the Costs, Scale and Compare
pages need them: titled, units on the axes, in the right place and order."""

from __future__ import annotations

import math

import plotly.io as pio
import pytest

from planner import charts, evaluate, load_scenario, scenario_presets


@pytest.fixture(name="ev", scope="module")
def _ev():
    """The bundled default scenario, evaluated."""
    return evaluate(load_scenario(scenario_presets()["default"]))


def test_break_even_map_marks_this_scenario_on_the_log_axis(ev):
    """The 'this scenario' note sits at log10(users): annotations on a log axis take logs."""
    fig = charts.break_even_map(ev)

    (note,) = fig.layout.annotations
    assert note.x == pytest.approx(math.log10(250))
    assert note.text == "this scenario: 250 users"
    assert fig.layout.xaxis.type == "log"


def test_yearly_bars_keep_the_years_in_order(ev):
    """Every option's years run 1..H along the x axis, whichever category comes first."""
    fig = charts.yearly_by_category(ev)

    for trace in fig.data:
        options, years = trace.x
        for option in dict.fromkeys(options):
            assert [y for o, y in zip(options, years, strict=True) if o == option] == [
                "1", "2", "3", "4", "5"
            ]  # fmt: skip


def test_yearly_bars_sum_to_each_option_total(ev):
    """The stacked bars add up to the engine's total for every option."""
    fig = charts.yearly_by_category(ev)

    sums: dict[str, float] = {}
    for trace in fig.data:
        for option, amount in zip(trace.x[0], trace.y, strict=True):
            sums[option] = sums.get(option, 0.0) + amount
    assert sums == pytest.approx({o.id: ev.total(o.id) for o in ev.options})


def test_demand_and_capacity_are_two_panels_with_units(ev):
    """Messages/s and storage each get a panel, demand as bars and capacity as a step line."""
    fig = charts.demand_vs_capacity(ev, "postfix-dovecot")

    assert [(t.type, t.xaxis, t.yaxis) for t in fig.data] == [
        ("bar", "x", "y"),
        ("scatter", "x", "y"),
        ("bar", "x2", "y2"),
        ("scatter", "x2", "y2"),
    ]
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == ("msgs/s", "TB")
    assert fig.data[1].line.shape == "hv"


def test_demand_and_capacity_refuses_a_cloud_option(ev):
    """Only on-prem options have servers to chart."""
    with pytest.raises(ValueError, match="m365-basic is not an on-prem option"):
        charts.demand_vs_capacity(ev, "m365-basic")


def test_figures_keep_the_plotly_white_look(ev):
    """The trimmed template is plotly_white's layout."""
    fig = charts.cumulative_tco(ev)

    assert fig.layout.template.layout == pio.templates["plotly_white"].layout
