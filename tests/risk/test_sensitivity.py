"""Tornado: swings worked out by hand, their order, the default pair, bad option ids."""

from __future__ import annotations

import pytest

from planner import PlannerError, evaluate
from planner.risk import headline, sensitivity, simulate
from tests.risk.conftest import box_scenario


@pytest.fixture(scope="module")
def constructed():
    """The box against the flat plan with three ranged inputs whose swings are known.

    box = setup + hours x 12 x $50 x 3 years; flat = 100 users x price x 12 x 3 years.
    Typical: box 1000 + 18,000 = 19,000, flat 21,600, gap -2,600.
    """
    return box_scenario(
        box={
            "setup_cost": {"low": 0, "typical": 1000, "high": 3000},
            "admin_hours_per_month": {"low": 0, "typical": 10, "high": 20},
            "server_watts": {"low": 0, "typical": 0, "high": 500},
            "electricity_per_kwh": 0,  # so the watts cost nothing: a swing of 0
        },
        flat={"price_per_user_month": {"low": 5, "typical": 6, "high": 7}},
    )


class TestTornado:
    def test_swings_by_hand(self, constructed):
        """Each input's gap at low and high and its swing are the hand-computed figures."""
        rows = {r.input: r for r in sensitivity(constructed).swings}
        hours = rows["onprem.box.admin_hours_per_month"]
        assert (hours.npv_at_low, hours.npv_at_high, hours.swing) == (-20_600, 15_400, 36_000)
        price = rows["cloud.flat.price_per_user_month"]
        assert (price.npv_at_low, price.npv_at_high, price.swing) == (1_000, -6_200, 7_200)
        setup = rows["onprem.box.setup_cost"]
        assert (setup.npv_at_low, setup.npv_at_high, setup.swing) == (-3_600, -600, 3_000)

    def test_sorted_by_swing(self, constructed):
        """Inputs come largest swing first; an input that moves nothing comes last."""
        sens = sensitivity(constructed)
        assert [r.input for r in sens.swings] == [
            "onprem.box.admin_hours_per_month",
            "cloud.flat.price_per_user_month",
            "onprem.box.setup_cost",
            "onprem.box.server_watts",
        ]
        assert list(sens.table["swing"]) == [36_000, 7_200, 3_000, 0]

    def test_flips_mark_a_change_of_choice(self, constructed):
        """An input whose low or high makes the other option cheaper is flagged."""
        flips = {r.input: r.flips for r in sensitivity(constructed).swings}
        assert flips == {
            "onprem.box.admin_hours_per_month": True,
            "cloud.flat.price_per_user_month": True,
            "onprem.box.setup_cost": False,
            "onprem.box.server_watts": False,
        }

    def test_base_is_the_deterministic_gap(self, ranged_default):
        """The typical gap is the deterministic NPV difference of the pair."""
        sens = sensitivity(ranged_default)
        ev = evaluate(ranged_default)
        assert sens.base == pytest.approx(ev.npv(sens.onprem) - ev.npv(sens.cloud), abs=1e-6)

    def test_table_columns(self, constructed):
        """The tornado table has the documented columns."""
        assert list(sensitivity(constructed).table.columns) == [
            "input",
            "range",
            "low",
            "high",
            "npv_at_low",
            "npv_at_high",
            "swing",
            "flips",
        ]


class TestPair:
    def test_default_pair_is_cheapest_of_each_kind(self, ranged_default):
        """Without a pair, the cheapest on-prem and cheapest cloud option are compared."""
        sens = sensitivity(ranged_default)
        assert (sens.onprem, sens.cloud) == ("postfix-dovecot", "m365-basic")

    def test_chosen_pair(self, ranged_default):
        """A chosen pair is used, and only its inputs swing."""
        sens = sensitivity(ranged_default, onprem="exchange-se", cloud="m365-standard")
        moving = {r.input for r in sens.swings if r.swing > 0}
        assert "onprem.exchange-se.admin_hours_per_month" in moving
        assert "onprem.postfix-dovecot.admin_hours_per_month" not in moving

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            ({"onprem": "nope"}, "--onprem: no on-prem option 'nope' (on-prem options: box)"),
            ({"cloud": "box"}, "--cloud: no cloud option 'box' (cloud options: flat)"),
        ],
        ids=["unknown-onprem", "wrong-kind"],
    )
    def test_unknown_option(self, constructed, kwargs, expected):
        """An id that is not an option of that kind is one line naming the flag."""
        with pytest.raises(PlannerError) as info:
            sensitivity(constructed, **kwargs)
        assert info.value.lines == (expected,)

    def test_needs_both_kinds(self):
        """A scenario with cloud options only cannot be swung as a pair."""
        s = box_scenario()
        data = s.model_dump(mode="json", exclude_unset=True)
        data["onprem"] = []
        with pytest.raises(PlannerError, match="the scenario has no on-prem option"):
            sensitivity(type(s).model_validate(data))


class TestHeadline:
    def test_lines_name_probability_and_top_inputs(self, constructed):
        """The headline gives the probability that the choice holds and the top inputs."""
        sim = simulate(constructed, draws=5000, seed=1)
        head = headline(sim, sensitivity(constructed), top=2)
        assert head.recommendation == "box"
        assert head.p_holds == sim.p_cheapest["box"]
        assert [r.input for r in head.top_sensitivities] == [
            "onprem.box.admin_hours_per_month",
            "cloud.flat.price_per_user_month",
        ]
        assert head.lines[0].startswith(
            f"box is the cheapest option by NPV in the typical case and stays the cheapest in "
            f"{sim.p_cheapest['box']:.0%} of 5,000 draws"
        )
        assert (
            "onprem.box.admin_hours_per_month (USD 36,000, can reverse the choice)"
            in (head.lines[-1])
        )
