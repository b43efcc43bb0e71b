"""Evaluation: comparison, break-even points, requirements, warnings, frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from planner import evaluate, load_scenario
from planner.costs import CATEGORIES
from tests.conftest import make_scenario


@pytest.fixture(scope="module")
def default_ev(presets):
    """The bundled default scenario, evaluated."""
    return evaluate(load_scenario(presets["default"]))


class TestBreakEven:
    @pytest.mark.parametrize("preset", ["default", "office-25", "company-250", "org-5000"])
    def test_users_equal_brute_force(self, presets, preset):
        """The bracketed search finds the same smallest user count as checking every count."""
        ev = evaluate(load_scenario(presets[preset]))
        users = np.arange(10, 100_001)
        npv = {o.id: ev.option_npv_for_users(o.id, users) for o in ev.options}
        for be in ev.break_even:
            a, c = npv[be.onprem], npv[be.cloud]
            hits = np.flatnonzero(a <= c + 1e-9 * np.maximum(np.abs(c), 1))
            expected = int(users[hits[0]]) if hits.size else None
            assert be.users == expected, (be.onprem, be.cloud)

    def test_year_by_hand(self):
        """Break-even year: the first year cumulative on-prem is at or below cumulative cloud."""
        onprem = {
            "id": "box",
            "server_price": 5000,
            "capacity_msgs_per_s": 100,
            "storage_tb_per_server": 10,
            "redundancy": "none",
            "setup_cost": 0,
            "admin_hours_per_month": 0,
            "admin_hours_per_server_month": 0,
            "admin_hours_per_100_users_month": 0,
            "server_watts": 0,
            "backup_per_tb_month": 0,
            "refresh_years": 10,
            "helpdesk_hours_per_user_year": 0,
            "sender_auth_hours_per_domain_month": 0,
            "sender_auth_setup_hours_per_domain": 0,
            "monitoring_per_server_month": 0,
            "network_per_month": 0,
            "support_pct_per_year": 0,
            "rack_per_server_month": 0,
        }
        # cloud: 100 users * $2 * 12 = 2400 a year -> cumulative 2400, 4800, 7200
        ev = evaluate(
            make_scenario(
                onprem=[onprem],
                cloud=[{"id": "c", "plan": "custom", "price_per_user_month": 2}],
                horizon_years=3,
            )
        )
        # on-prem: 5000 in year 1, then 0; residual in year 3 = -5000 * (1 - 3/10) = -3500
        assert ev.yearly("box").tolist() == pytest.approx([5000, 0, -3500])
        assert ev.break_even_year("box", "c") == 3
        assert ev.comparison.break_even[0].year == 3

    def test_never_crosses(self):
        """When on-prem never catches up, year and users are None."""
        ev = evaluate(
            make_scenario(
                onprem=[
                    {
                        "id": "gold",
                        "server_price": 1e7,
                        "capacity_msgs_per_s": 1000,
                        "storage_tb_per_server": 1000,
                    }
                ],
                cloud=[{"id": "c", "plan": "custom", "price_per_user_month": 1}],
            )
        )
        be = ev.break_even[0]
        assert (be.year, be.users) == (None, None)

    def test_every_pair_is_reported(self, default_ev):
        """One break-even entry per on-prem/cloud pair."""
        pairs = {(b.onprem, b.cloud) for b in default_ev.break_even}
        assert pairs == {
            (o.id, c.id) for o in default_ev.resolved.onprem for c in default_ev.resolved.cloud
        }


class TestComparison:
    def test_json_shape(self, default_ev):
        """The compare JSON has the documented keys."""
        data = default_ev.comparison.model_dump(mode="json")
        assert {
            "scenario",
            "currency",
            "horizon_years",
            "discount_rate",
            "cheapest",
            "options",
            "break_even",
        } <= data.keys()
        option = data["options"][0]
        assert {
            "id",
            "kind",
            "label",
            "total",
            "npv",
            "per_user_month",
            "qualitative_score",
            "years",
        } <= option.keys()
        assert {"year", "users", "cost", "by_category"} <= option["years"][0].keys()
        assert {"onprem", "cloud", "year", "users", "year_npv"} == data["break_even"][0].keys()

    def test_cheapest_is_lowest_npv(self, default_ev):
        """With no requirements the cheapest option has the lowest NPV."""
        npv = {o.id: o.npv for o in default_ev.comparison.options}
        assert default_ev.cheapest == min(npv, key=npv.get)

    def test_requirement_rules_out_cloud(self):
        """data_on_premises rules cloud options out of the recommendation even if cheaper."""
        s = make_scenario(
            onprem=[
                {
                    "id": "box",
                    "server_price": 50000,
                    "capacity_msgs_per_s": 100,
                    "storage_tb_per_server": 10,
                }
            ],
            qualitative={"requirements": ["data_on_premises"]},
        )
        ev = evaluate(s)
        assert ev.npv("flat") < ev.npv("box")
        assert ev.cheapest == "box"
        flat = next(o for o in ev.comparison.options if o.id == "flat")
        assert flat.ruled_out_by == ["data_on_premises"]

    def test_vendor_supported_rules_out_workmail(self):
        """A plan whose end of life falls within the horizon fails vendor_supported."""
        s = make_scenario(
            cloud=[
                {"id": "wm", "plan": "amazon-workmail"},
                {"id": "flat", "plan": "custom", "price_per_user_month": 99},
            ],
            qualitative={"requirements": ["vendor_supported"]},
            start_date="2026-12-01",
        )
        ev = evaluate(s)
        wm = next(o for o in ev.comparison.options if o.id == "wm")
        assert wm.ruled_out_by == ["vendor_supported", "end_of_life", "not_sold_to_new_customers"]
        assert any("support ends on 2027-03-31" in w for w in wm.warnings)
        assert ev.cheapest == "flat"

    def test_end_of_life_after_horizon_is_fine(self):
        """An end of life after the horizon does not rule the plan out."""
        ev = evaluate(
            make_scenario(
                cloud=[{"id": "wm", "plan": "amazon-workmail"}],
                qualitative={"requirements": ["vendor_supported"]},
            ),
            start=dt.date(2010, 1, 1),
        )
        assert ev.assessments["wm"].ruled_out_by == ()

    def test_mailbox_cap_warning(self):
        """A mailbox above a plan's hard cap is called out."""
        ev = evaluate(
            make_scenario(
                organization={"mailbox_gb_per_user": 25, "mailbox_growth_gb_per_user_year": 4},
                cloud=[{"id": "g", "plan": "gws-business-starter"}],
            )
        )
        (option,) = ev.comparison.options
        assert any("year 2 exceeds its pooled storage of 30 GB" in w for w in option.warnings)

    def test_all_ruled_out_has_no_recommendation(self):
        """If every option fails a requirement, there is no cheapest option, with a warning."""
        ev = evaluate(make_scenario(qualitative={"requirements": ["data_on_premises"]}))
        assert ev.cheapest is None
        assert ev.comparison.warnings == [
            "every option is ruled out, so there is no recommendation"
        ]


class TestFrames:
    def test_cost_frame_is_tidy(self, default_ev):
        """The cost frame has the documented columns, known categories, and sums to the totals."""
        costs = default_ev.costs
        assert list(costs.columns) == ["option", "kind", "year", "category", "amount"]
        assert set(costs["category"]) <= set(CATEGORIES)
        totals = costs.groupby("option")["amount"].sum()
        for o in default_ev.comparison.options:
            assert totals[o.id] == pytest.approx(o.total, abs=0.01)

    def test_assumptions_name_their_sources(self, default_ev):
        """Every catalog-derived assumption carries a source URL and an as-of date."""
        a = default_ev.assumptions
        from_catalog = a[
            a["origin"].str.startswith(("stack", "server", "plan", "defaults"))
            & (a["note"] != "not offered: 0")
        ]
        assert len(from_catalog) > 20
        assert from_catalog["source"].str.startswith(("http", "data/benchmarks/")).all()
        assert from_catalog["as_of"].notna().all()

    def test_sweep_matches_single_evaluations(self, default_ev):
        """A sweep point equals evaluating the scenario at that size."""
        sweep = default_ev.sweep([250, 1000], [0.08, 0.0])
        single = evaluate(
            default_ev.scenario.model_copy(
                update={
                    "organization": default_ev.scenario.organization.model_copy(
                        update={"users": 1000, "user_growth_per_year": 0.0}
                    )
                }
            )
        )
        for o in default_ev.options:
            row = sweep[(sweep["option"] == o.id) & (sweep["users"] == 1000)]
            assert float(row["npv"].iloc[0]) == pytest.approx(single.npv(o.id))
            row = sweep[(sweep["option"] == o.id) & (sweep["users"] == 250)]
            assert float(row["total"].iloc[0]) == pytest.approx(default_ev.total(o.id))
