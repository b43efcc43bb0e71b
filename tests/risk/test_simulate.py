"""Monte Carlo: the typical case reproduced, percentiles, p_cheapest, break-even years."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from planner import PlannerError, evaluate, load_scenario
from planner.risk import simulate
from tests.risk.conftest import box_scenario


def _collapse(form: dict[str, Any]) -> dict[str, Any]:
    """The same range with low = typical = high."""
    return {"low": form["typical"], "typical": form["typical"], "high": form["typical"]}


class TestTypicalCase:
    def test_degenerate_ranges_reproduce_the_deterministic_result(self, presets):
        """With low = typical = high everywhere, every draw costs what evaluate() says."""
        s = box_scenario(
            organization={"users": _collapse({"typical": 100})},
            box={
                "setup_cost": _collapse({"typical": 1000}),
                "admin_hours_per_month": _collapse({"typical": 10}),
            },
            flat={"price_per_user_month": _collapse({"typical": 6})},
            escalation={"labour": _collapse({"typical": 0.02})},
        )
        ev = evaluate(s)
        sim = simulate(s, draws=500, seed=1)
        for o in ev.comparison.options:
            risk = next(r for r in sim.summary.options if r.id == o.id)
            assert (risk.total.p10, risk.total.p50, risk.total.p90, risk.total.mean) == (
                o.total,
            ) * 4
            assert (risk.npv.p10, risk.npv.p50, risk.npv.p90, risk.npv.mean) == (o.npv,) * 4
            assert np.allclose(sim.total(o.id), ev.total(o.id), rtol=1e-12, atol=0)

    def test_flat_plan_p50_equals_its_total(self):
        """A flat cloud plan's P50 is its deterministic total when only on-prem inputs vary."""
        s = box_scenario(
            box={
                "setup_cost": {"low": 0, "typical": 1000, "high": 5000},
                "admin_hours_per_month": {"dist": "lognormal", "median": 10, "p90": 30},
            }
        )
        flat = next(o for o in simulate(s, draws=2000, seed=3).summary.options if o.id == "flat")
        assert flat.total.p50 == 21_600.0  # 100 users x $6 x 12 x 3 years
        assert flat.total.p10 == flat.total.p90 == flat.npv.p50 == 21_600.0

    def test_linear_input_mean(self):
        """The box's mean total is its cost at the triangular input's mean, (0+10+20)/3 h."""
        s = box_scenario(box={"admin_hours_per_month": {"low": 0, "typical": 10, "high": 20}})
        box = next(o for o in simulate(s, draws=100_000, seed=5).summary.options if o.id == "box")
        # 1000 + h * 12 * 50 * 3 at h = 10: 19,000; the standard error is about 7 USD
        assert box.total.mean == pytest.approx(19_000, abs=30)

    def test_no_ranges_gives_the_typical_case(self, presets):
        """A scenario without ranges gives N copies of its deterministic result."""
        s = load_scenario(presets["default"])
        sim = simulate(s, draws=50, seed=0)
        ev = evaluate(s)
        assert sim.summary.inputs == []
        assert {o.id: o.npv.p90 for o in sim.summary.options} == {
            o.id: o.npv for o in ev.comparison.options
        }


class TestCheapest:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_p_cheapest_sums_to_one(self, ranged_default, seed: int):
        """The shares of draws in which each option is the cheapest add up to 1."""
        sim = simulate(ranged_default, draws=3000, seed=seed)
        assert sum(o.p_cheapest for o in sim.summary.options) == pytest.approx(1.0, abs=1e-9)

    def test_ties_are_shared_equally(self):
        """Two identical cloud plans share the draws they tie on."""
        s = box_scenario(
            box={"admin_hours_per_month": 100},
            organization={"users": {"low": 50, "typical": 100, "high": 200}},
        )
        data = s.model_dump(mode="json", exclude_unset=True)
        data["cloud"].append({"id": "twin", "plan": "custom", "price_per_user_month": 6.0})
        sim = simulate(type(s).model_validate(data), draws=1000, seed=2)
        p = sim.p_cheapest
        assert p["flat"] == p["twin"] == pytest.approx(0.5)
        assert p["box"] == 0.0

    def test_ruled_out_options_never_win(self):
        """An option ruled out by a requirement gets p_cheapest 0."""
        s = box_scenario(
            box={"admin_hours_per_month": {"low": 0, "typical": 10, "high": 40}},
            qualitative={"requirements": ["data_on_premises"]},
        )
        sim = simulate(s, draws=500, seed=4)
        assert sim.p_cheapest == {"box": 1.0, "flat": 0.0}
        assert sim.summary.p_cheapest_holds == 1.0

    def test_probability_matches_the_threshold(self):
        """The box is cheapest exactly when its admin hours make it cost less than the plan.

        box = 1000 + 1800 h, flat = 21,600: the box wins when h < 11.44; for h uniform on
        0..20 that is 57.2 % of the draws.
        """
        s = box_scenario(box={"admin_hours_per_month": {"dist": "uniform", "low": 0, "high": 20}})
        sim = simulate(s, draws=100_000, seed=9)
        assert sim.p_cheapest["box"] == pytest.approx(20_600 / 1800 / 20, abs=0.005)


class TestBreakEven:
    def test_break_even_year_by_hand(self):
        """Break-even year shares follow the on-prem cost drawn in each draw.

        box: 1000 set-up + 600 h a year; flat: 7,200 a year. With h = 5 (3,000 a year)
        the box is cheaper from year 1; with h = 20 (12,000 a year) never.
        """
        s = box_scenario(box={"admin_hours_per_month": {"dist": "uniform", "low": 5, "high": 20}})
        sim = simulate(s, draws=20_000, seed=1)
        pair = sim.summary.break_even[0]
        # year y when 1000 + 600 h y <= 7200 y first holds: h <= 10.33, 11.17, 11.44
        limits = [(7200 * y - 1000) / (600 * y) for y in (1, 2, 3)]
        expected = [
            (limits[0] - 5) / 15,
            (limits[1] - limits[0]) / 15,
            (limits[2] - limits[1]) / 15,
        ]
        assert pair.p_by_year == pytest.approx(expected, abs=0.01)
        assert pair.p_never == pytest.approx((20 - limits[2]) / 15, abs=0.01)
        assert sum(pair.p_by_year) + pair.p_never == pytest.approx(1.0)

    def test_frame_is_tidy(self, ranged_default):
        """break_even_years has onprem, cloud, year (NA = never), share, summing to 1 per pair."""
        frame = simulate(ranged_default, draws=500, seed=1).break_even_years
        assert list(frame.columns) == ["onprem", "cloud", "year", "share"]
        sums = frame.groupby(["onprem", "cloud"])["share"].sum()
        assert np.allclose(sums, 1.0)
        assert frame["year"].isna().sum() == 9  # 3 on-prem x 3 cloud options


class TestOutput:
    def test_same_seed_same_summary(self, ranged_default):
        """The same seed gives the same summary; the seed is reported."""
        a = simulate(ranged_default, draws=1000, seed=42).summary
        b = simulate(ranged_default, draws=1000, seed=42).summary
        assert a == b
        assert a.seed == 42

    def test_fresh_seed_is_reported_and_reproduces(self, ranged_default):
        """Without a seed one is chosen, reported, and reproduces the run."""
        first = simulate(ranged_default, draws=300)
        again = simulate(ranged_default, draws=300, seed=first.seed)
        assert first.summary == again.summary

    def test_summary_keys(self, ranged_default):
        """Each option carries id, total and npv as p10/p50/p90/mean, and p_cheapest."""
        data = simulate(ranged_default, draws=200, seed=1).summary.model_dump(mode="json")
        option = data["options"][0]
        assert {"id", "total", "npv", "p_cheapest"} <= set(option)
        assert set(option["total"]) == set(option["npv"]) == {"p10", "p50", "p90", "mean"}
        assert option["total"]["p10"] <= option["total"]["p50"] <= option["total"]["p90"]

    def test_frames(self, ranged_default):
        """outcomes has a row per draw and option; percentiles a row per option."""
        sim = simulate(ranged_default, draws=400, seed=1)
        assert list(sim.outcomes.columns) == ["draw", "option", "kind", "total", "npv"]
        assert len(sim.outcomes) == 400 * 6
        assert list(sim.percentiles["id"]) == [o.id for o in sim.evaluation.options]
        assert len(sim.input_draws) == 400 * len(ranged_default.ranges)

    @pytest.mark.parametrize("draws", [0, 1_000_001], ids=["zero", "too-many"])
    def test_draw_count_is_checked(self, ranged_default, draws: int):
        """A draw count outside 1..1,000,000 is a PlannerError naming draws."""
        with pytest.raises(PlannerError, match=r"^draws: must be 1 to 1,000,000"):
            simulate(ranged_default, draws=draws)
