"""Draws from the ranges: right distributions, correlations, bounds, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.ranges import LogNormal, Normal, Triangular, Uniform
from planner.risk.draws import draw_inputs, normal_scores, triangular_ppf

N = 200_000


def _draw(ranges, correlations=(), seed=7, n=N):
    return draw_inputs(ranges, list(correlations), n, np.random.default_rng(seed))


def _ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x)).astype(float)


class TestDistributions:
    def test_triangular_mean(self):
        """The mean of triangular draws is (low + typical + high) / 3 within 3 standard errors."""
        dist = Triangular(low=2, typical=5, high=20)
        x = _draw({"onprem.box.admin_hours_per_month": dist})["onprem.box.admin_hours_per_month"]
        var = (2**2 + 5**2 + 20**2 - 2 * 5 - 2 * 20 - 5 * 20) / 18
        assert abs(x.mean() - 27 / 3) < 3 * math.sqrt(var / N)
        assert x.min() >= 2
        assert x.max() <= 20

    def test_triangular_ppf_by_hand(self):
        """The triangular inverse CDF at 0, the mode's probability and 1 gives low, mode, high."""
        u = np.array([0.0, 3 / 18, 1.0])
        assert triangular_ppf(u, 2.0, 5.0, 20.0).tolist() == pytest.approx([2.0, 5.0, 20.0])

    def test_uniform_quantiles(self):
        """Uniform draws have their quartiles at a quarter and three quarters of the way."""
        x = _draw({"organization.peak_factor": Uniform(dist="uniform", low=2, high=6)})
        q = np.percentile(x["organization.peak_factor"], [25, 75])
        assert q.tolist() == pytest.approx([3.0, 5.0], abs=0.02)

    def test_normal_mean_and_sd(self):
        """Normal draws have the given mean and standard deviation."""
        x = _draw({"onprem.box.setup_cost": Normal(dist="normal", mean=1000, sd=100)})
        values = x["onprem.box.setup_cost"]
        assert values.mean() == pytest.approx(1000, abs=1.0)
        assert values.std() == pytest.approx(100, rel=0.01)

    def test_lognormal_median_and_p90(self):
        """Lognormal draws have the given median and 90th percentile."""
        x = _draw({"onprem.box.setup_cost": LogNormal(dist="lognormal", median=16, p90=40)})
        p50, p90 = np.percentile(x["onprem.box.setup_cost"], [50, 90])
        assert p50 == pytest.approx(16, rel=0.01)
        assert p90 == pytest.approx(40, rel=0.01)

    def test_degenerate_range_is_constant(self):
        """low = typical = high draws that number every time."""
        x = _draw({"organization.peak_factor": Triangular(low=3, typical=3, high=3)}, n=1000)
        assert set(x["organization.peak_factor"].tolist()) == {3.0}


class TestBoundsAndIntegers:
    def test_draws_stay_within_field_bounds(self):
        """Normal draws on a non-negative field are clipped at 0, never negative."""
        x = _draw({"onprem.box.setup_cost": Normal(dist="normal", mean=10, sd=7.8)})
        values = x["onprem.box.setup_cost"]
        assert values.min() == 0.0
        assert (values == 0).mean() == pytest.approx(0.1, abs=0.01)  # P(Z < -1.28)

    def test_integer_field_draws_are_whole(self):
        """Draws of an integer field (users) are whole numbers, rounded half up."""
        x = _draw({"organization.users": Uniform(dist="uniform", low=100, high=110)})
        values = x["organization.users"]
        assert np.array_equal(values, np.floor(values))
        assert set(np.unique(values).tolist()) == set(range(100, 111))


class TestCorrelation:
    def test_correlated_inputs_move_together(self):
        """A correlation of 0.8 shows up as rank correlation 6/pi asin(0.4) in the draws."""
        ranges = {
            "organization.messages_sent_per_user_day": Triangular(low=20, typical=30, high=60),
            "organization.messages_received_per_user_day": Triangular(low=50, typical=90, high=150),
            "organization.peak_factor": Triangular(low=2, typical=3, high=5),
        }
        corr = [
            (
                "organization.messages_sent_per_user_day",
                "organization.messages_received_per_user_day",
                0.8,
            )
        ]
        x = _draw(ranges, corr)
        sent = _ranks(x["organization.messages_sent_per_user_day"])
        received = _ranks(x["organization.messages_received_per_user_day"])
        peak = _ranks(x["organization.peak_factor"])
        assert np.corrcoef(sent, received)[0, 1] == pytest.approx(
            6 / math.pi * math.asin(0.4), abs=0.01
        )
        assert abs(np.corrcoef(sent, peak)[0, 1]) < 0.01

    def test_perfect_correlation_gives_equal_draws(self):
        """Two identical ranges correlated at 1 are drawn identical."""
        same = Triangular(low=1.3, typical=1.8, high=2.0)
        x = _draw(
            {"onprem.a.pue": same, "onprem.b.pue": same},
            [("onprem.a.pue", "onprem.b.pue", 1.0)],
        )
        assert np.allclose(x["onprem.a.pue"], x["onprem.b.pue"])

    def test_negative_correlation_of_scores(self):
        """The normal scores of inputs correlated at -0.5 have correlation -0.5."""
        z = normal_scores(["a", "b"], [("a", "b", -0.5)], N, np.random.default_rng(1))
        assert np.corrcoef(z.T)[0, 1] == pytest.approx(-0.5, abs=0.01)


class TestReproducible:
    def test_same_seed_same_draws(self):
        """The same seed draws the same values; another seed draws others."""
        ranges = {"organization.peak_factor": Triangular(low=2, typical=3, high=5)}
        a = _draw(ranges, seed=11, n=100)["organization.peak_factor"]
        b = _draw(ranges, seed=11, n=100)["organization.peak_factor"]
        c = _draw(ranges, seed=12, n=100)["organization.peak_factor"]
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)
