"""Risk figures: one trace per option or input, in the right order, with titled axes."""

from __future__ import annotations

import pytest

from planner.risk import charts, sensitivity, simulate


@pytest.fixture(scope="module")
def sim(ranged_default):
    """2,000 draws of the ranged default scenario."""
    return simulate(ranged_default, draws=2000, seed=1)


@pytest.fixture(scope="module")
def sens(ranged_default):
    """The default pair's tornado."""
    return sensitivity(ranged_default)


class TestFigures:
    def test_npv_distributions(self, sim):
        """One line per option; each line's shares add up to 100 % of the draws, less the
        share its legend entry names as off the axis."""
        import re

        fig = charts.npv_distributions(sim, bins=40)
        assert [t.name.split(" ")[0] for t in fig.data] == [o.id for o in sim.evaluation.options]
        for trace in fig.data:
            assert len(trace.x) == 40
            off = re.search(r"\(([\d.]+)% of draws off the axis\)", trace.name)
            # the legend rounds the share off the axis to 0.1 %
            assert sum(trace.y) == pytest.approx(
                100.0 - (float(off.group(1)) if off else 0), abs=0.05 + 1e-9
            )
        assert fig.layout.xaxis.title.text == "NPV (USD)"

    def test_npv_axis_ignores_the_far_tail(self, sim):
        """The axis ends at the 99.5th percentile of all draws, not at the longest tail."""
        import numpy as np

        every = np.concatenate([sim.npv(o.id) for o in sim.evaluation.options])
        trace = charts.npv_distributions(sim, bins=40).data[0]
        assert max(trace.x) < np.percentile(every, 99.5)
        assert max(trace.x) < every.max()

    def test_p_cheapest(self, sim):
        """Bars for every option, highest first, adding up to 100 %."""
        bars = charts.p_cheapest(sim).data[0]
        assert sorted(bars.x) == sorted(o.id for o in sim.evaluation.options)
        assert list(bars.y) == sorted(bars.y, reverse=True)
        assert sum(bars.y) == pytest.approx(100.0)

    def test_tornado_puts_largest_swing_on_top(self, sens):
        """The tornado draws the moving inputs, largest swing at the top (last in y)."""
        fig = charts.tornado(sens, top=5)
        low, high = fig.data
        assert list(low.y)[::-1] == [r.input for r in sens.top(5)]
        assert low.base == sens.base
        widths = [abs(a - b) for a, b in zip(low.x, high.x, strict=True)]
        assert widths == sorted(widths)

    def test_break_even_years(self, sim):
        """A stacked bar per pair: the years and 'never' add up to 100 %."""
        fig = charts.break_even_years(sim)
        assert [t.name for t in fig.data] == [*(f"year {y}" for y in range(1, 6)), "never"]
        totals = [sum(t.x[i] for t in fig.data) for i in range(len(fig.data[0].y))]
        assert totals == pytest.approx([100.0] * len(sim.summary.break_even))
