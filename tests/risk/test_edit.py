"""Changing ranges: set, remove, widen and narrow, listing them."""

from __future__ import annotations

import pytest

from planner import ScenarioError
from planner.ranges import LogNormal, Normal, Triangular, Uniform
from planner.risk import ranged_inputs, scale_ranges, scaled, simulate, with_range
from tests.risk.conftest import box_scenario


class TestWithRange:
    def test_set_a_range(self):
        """A range set on a plain field becomes part of the scenario."""
        s = with_range(box_scenario(), "onprem.box.pue", {"low": 1.3, "typical": 1.5, "high": 2})
        assert s.onprem[0].pue == 1.5
        assert s.ranges["onprem.box.pue"] == Triangular(low=1.3, typical=1.5, high=2)

    def test_remove_a_range_keeps_typical_and_drops_its_correlations(self):
        """Removing a range keeps its typical value and drops correlations that name it."""
        ranged = {"low": 1, "typical": 2, "high": 3}
        s = box_scenario(
            organization={"peak_factor": ranged, "messages_sent_per_user_day": ranged},
            correlations=[
                ["organization.peak_factor", "organization.messages_sent_per_user_day", 0.5]
            ],
        )
        out = with_range(s, "organization.peak_factor", None)
        assert out.organization.peak_factor == 2
        assert set(out.ranges) == {"organization.messages_sent_per_user_day"}
        assert out.correlations == []

    def test_bad_range_names_the_field(self):
        """A range outside the field's bounds is a ScenarioError naming it."""
        with pytest.raises(ScenarioError, match=r"onprem\[0\]\.pue\.low: Input should be greater"):
            with_range(box_scenario(), "onprem.box.pue", {"low": 0.5, "typical": 1.5, "high": 2})

    def test_unknown_path(self):
        """A path that names no field is refused."""
        with pytest.raises(ScenarioError, match=r"^onprem\.ghost\.pue: no such field"):
            with_range(box_scenario(), "onprem.ghost.pue", 1.5)


class TestScale:
    @pytest.mark.parametrize(
        ("dist", "factor", "expected"),
        [
            (
                Triangular(low=1.4, typical=1.8, high=2.0),
                3,
                Triangular(low=1.0, typical=1.8, high=2.4),
            ),
            (
                Triangular(low=1.4, typical=1.8, high=2.0),
                0.5,
                Triangular(low=1.6, typical=1.8, high=2.0 - 0.1),
            ),
            (
                Uniform(dist="uniform", low=1.5, high=2.5),
                3,
                Uniform(dist="uniform", low=1.0, high=3.5),
            ),
            (Normal(dist="normal", mean=2, sd=0.1), 2, Normal(dist="normal", mean=2, sd=0.2)),
            (
                LogNormal(dist="lognormal", median=2, p90=2.2),
                0,
                LogNormal(dist="lognormal", median=2, p90=2),
            ),
        ],
        ids=[
            "triangular-wider-clipped",
            "triangular-narrower",
            "uniform-clipped",
            "normal",
            "lognormal-collapsed",
        ],
    )
    def test_scaled_stays_within_bounds(self, dist, factor, expected):
        """Scaling widens or narrows around the typical value and stops at the field's bounds."""
        out = scaled(dist, factor, "onprem.box.pue")  # pue is 1..5
        for key in type(expected).model_fields:
            assert getattr(out, key) == pytest.approx(getattr(expected, key)), key

    def test_scale_zero_collapses_the_simulation(self, ranged_default):
        """Ranges scaled to zero give every draw the typical case."""
        sim = simulate(scale_ranges(ranged_default, 0), draws=200, seed=1)
        assert all(o.npv.p10 == o.npv.p90 for o in sim.summary.options)

    def test_scale_keeps_correlations(self, ranged_default):
        """Scaling keeps every range and every correlation."""
        out = scale_ranges(ranged_default, 1.5)
        assert set(out.ranges) == set(ranged_default.ranges)
        assert out.correlations == ranged_default.correlations


def test_ranged_inputs_frame(ranged_default):
    """ranged_inputs lists each range with its typical value and swing points."""
    frame = ranged_inputs(ranged_default)
    assert list(frame.columns) == ["input", "dist", "range", "typical", "low", "high"]
    row = frame.set_index("input").loc["onprem.postfix-dovecot.admin_hours_per_month"]
    assert (row["dist"], row["typical"], row["low"], row["high"]) == ("lognormal", 14, 5.6, 35)
