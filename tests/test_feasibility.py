"""Feasibility: seat caps, minimum seats, end of life, closed plans and mailbox caps either move
an option to its successor plan or rule it out; required features are bought or rule out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from planner import evaluate
from planner.models import (
    Catalog,
    CloudPlan,
    Feature,
    FeatureAddon,
    FeatureInfo,
    Sourced,
    SourcedText,
    Stack,
)
from planner.recommendation import headline, lacks, ranked
from tests.conftest import make_scenario

SRC = "https://www.microsoft.com/en-us/microsoft-365/business/compare-all-microsoft-365-business-products"
START = dt.date(2027, 1, 1)


def fact(value: float) -> Sourced:
    """A sourced figure for a test catalog entry."""
    return Sourced(value=value, source=SRC, as_of="2026-12-01")


def eol(day: str) -> SourcedText:
    """A sourced end-of-life date."""
    return SourcedText(value=day, source=SRC, as_of="2026-12-01")


def plan(catalog: Catalog, plan_id: str, price: float, **changes: Any) -> CloudPlan:
    """A test plan: a copy of Exchange Online Plan 1 with its own id, price and limits."""
    base = catalog.plan("exo-plan-1")
    assert base is not None
    return base.model_copy(
        update={
            "id": plan_id,
            "label": plan_id.title(),
            "price_per_user_month": fact(price),
            "storage_addon": None,
            "mailbox_cap_gb": None,
            "upgrade_to": None,
            "max_users": None,
            "min_users": None,
            "end_of_life": None,
            "available_to_new_customers": True,
            **changes,
        }
    )


def with_plans(catalog: Catalog, *plans: CloudPlan, stacks: list[Stack] | None = None) -> Catalog:
    """The bundled catalog with test plans (and stacks) added."""
    return catalog.model_copy(
        update={"plans": [*catalog.plans, *plans], "stacks": stacks or catalog.stacks}
    )


def growing(users: int = 250, growth: float = 0.08, years: int = 5, **changes: Any) -> Any:
    """A scenario whose users grow from ``users`` by ``growth`` a year, with cloud options."""
    return make_scenario(
        horizon_years=years,
        start_date=START.isoformat(),
        organization={"users": users, "user_growth_per_year": growth},
        **changes,
    )


class TestSeatCap:
    def test_successor_from_the_year_the_cap_is_crossed(self, catalog):
        """250 users at 8 % pass 300 in year 4: the capped plan runs years 1-3, its successor
        from year 4, and each year is priced by the plan it runs on."""
        cat = with_plans(
            catalog,
            plan(catalog, "small", 5.0, max_users=fact(300), upgrade_to="big"),
            plan(catalog, "big", 10.0),
        )
        sc = growing(cloud=[{"id": "c", "plan": "small"}])
        ev = evaluate(sc, cat)
        users = [250, 270, 292, 315, 340]
        assert ev.demand.users[0].tolist() == users
        years = ev.comparison.options[0].years
        assert [y.plan for y in years] == ["small", "small", "small", "big", "big"]
        expected = [u * 12 * (5.0 if y < 3 else 10.0) for y, u in enumerate(users)]
        assert [y.by_category["subscription"] for y in years] == pytest.approx(expected)
        assert ev.comparison.options[0].ruled_out_by == []
        assert any("moves to Big in year 4" in w for w in ev.comparison.options[0].warnings)

    def test_no_successor_rules_out_even_when_cheapest(self, catalog):
        """A capped plan without a successor is ruled out (seat_cap) and never the cheapest,
        although its NPV is the lowest."""
        cat = with_plans(
            catalog,
            plan(catalog, "capped", 1.0, max_users=fact(300)),
            plan(catalog, "dear", 30.0),
        )
        sc = growing(cloud=[{"id": "a", "plan": "capped"}, {"id": "b", "plan": "dear"}])
        ev = evaluate(sc, cat)
        assert ev.npv("a") < ev.npv("b")
        assert ev.cheapest == "b"
        a = next(o for o in ev.comparison.options if o.id == "a")
        assert a.ruled_out_by == ["seat_cap"]
        assert any("315 users in year 4 exceed its limit of 300 seats" in w for w in a.warnings)
        assert [o.id for o in ranked(ev.comparison)] == ["b", "a"]

    def test_min_users(self, catalog):
        """A plan sold from 500 seats is ruled out for 250 users."""
        cat = with_plans(catalog, plan(catalog, "big-only", 1.0, min_users=fact(500)))
        ev = evaluate(
            growing(
                cloud=[
                    {"id": "a", "plan": "big-only"},
                    {"id": "b", "plan": "custom", "price_per_user_month": 9},
                ]
            ),
            cat,
        )
        assert ev.ruled_out_by("a") == ["min_users"]


class TestEndOfLife:
    @pytest.mark.parametrize(
        ("day", "ruled_out"),
        [("2029-06-30", ["end_of_life"]), ("2032-01-01", []), ("2031-12-31", ["end_of_life"])],
        ids=["within-horizon", "after-horizon", "last-day-of-horizon"],
    )
    def test_without_successor(self, catalog, day, ruled_out):
        """An end of support before the horizon ends rules out a plan with no successor; one
        on the day after the horizon does not."""
        cat = with_plans(catalog, plan(catalog, "old", 1.0, end_of_life=eol(day)))
        ev = evaluate(
            growing(
                users=100,
                growth=0,
                cloud=[
                    {"id": "a", "plan": "old"},
                    {"id": "b", "plan": "custom", "price_per_user_month": 9},
                ],
            ),
            cat,
        )
        assert ev.ruled_out_by("a") == ruled_out
        assert ev.cheapest == ("b" if ruled_out else "a")

    def test_ended_before_start_moves_in_year_one(self, catalog):
        """Support that ended before year 1 moves the option to its successor for every year."""
        cat = with_plans(
            catalog,
            plan(catalog, "old", 1.0, end_of_life=eol("2025-10-14"), upgrade_to="new"),
            plan(catalog, "new", 4.0),
        )
        ev = evaluate(growing(users=100, growth=0, cloud=[{"id": "a", "plan": "old"}]), cat)
        assert ev.plan_by_year("a") == ["new"] * 5
        assert ev.lines["a"]["subscription"].tolist() == pytest.approx([100 * 4.0 * 12] * 5)
        assert ev.cheapest == "a"

    def test_current_option_past_support_is_never_recommended(self, catalog):
        """What runs today, past its end of support, is the baseline: it moves to its successor
        but is never the recommendation."""
        cat = with_plans(
            catalog,
            plan(
                catalog,
                "old",
                1.0,
                end_of_life=eol("2027-06-30"),
                upgrade_to="new",
                available_to_new_customers=False,
            ),
            plan(catalog, "new", 4.0),
        )
        sc = growing(
            users=100,
            growth=0,
            current="a",
            cloud=[
                {"id": "a", "plan": "old"},
                {"id": "b", "plan": "custom", "price_per_user_month": 50},
            ],
        )
        ev = evaluate(sc, cat)
        assert ev.plan_by_year("a") == ["new"] * 5
        assert "not_sold_to_new_customers" not in ev.ruled_out_by("a")
        assert ev.ruled_out_by("a") == ["end_of_life"]
        assert ev.cheapest == "b"

    def test_judged_by_catalog_review_date_without_start_date(self, catalog):
        """A scenario without start_date is judged by the catalog's as_of, not by today."""
        as_of = dt.date.fromisoformat(catalog.as_of)
        day = (as_of + dt.timedelta(days=30)).isoformat()
        cat = with_plans(catalog, plan(catalog, "old", 1.0, end_of_life=eol(day)))
        sc = make_scenario(
            cloud=[
                {"id": "a", "plan": "old"},
                {"id": "b", "plan": "custom", "price_per_user_month": 9},
            ]
        )
        ev = evaluate(sc, cat)
        assert ev.start == as_of
        assert ev.ruled_out_by("a") == ["end_of_life"]


class TestClosedPlans:
    def test_not_sold_to_new_customers(self, catalog):
        """A plan closed to new customers is ruled out for a new buyer and kept for the
        organisation that runs it today."""
        cat = with_plans(catalog, plan(catalog, "closed", 1.0, available_to_new_customers=False))
        opts = [
            {"id": "a", "plan": "closed"},
            {"id": "b", "plan": "custom", "price_per_user_month": 9},
        ]
        assert evaluate(growing(cloud=opts), cat).ruled_out_by("a") == ["not_sold_to_new_customers"]
        assert evaluate(growing(cloud=opts, current="a"), cat).ruled_out_by("a") == []

    def test_every_option_ruled_out(self, catalog):
        """When every option is ruled out, cheapest is None and the headline says so."""
        cat = with_plans(catalog, plan(catalog, "closed", 1.0, available_to_new_customers=False))
        ev = evaluate(growing(cloud=[{"id": "a", "plan": "closed"}]), cat)
        assert ev.cheapest is None
        assert ev.comparison.cheapest is None
        assert headline(ev).startswith("No option can be recommended")
        assert ev.comparison.model_dump(mode="json")["cheapest"] is None


class TestMailboxCap:
    def test_cap_crossed_moves_to_successor(self, catalog):
        """An average mailbox past the plan's cap in year 3 moves the option on in year 3."""
        cat = with_plans(
            catalog,
            plan(catalog, "tiny", 1.0, mailbox_cap_gb=fact(15), upgrade_to="roomy"),
            plan(catalog, "roomy", 2.0),
        )
        sc = make_scenario(
            horizon_years=4,
            organization={"mailbox_gb_per_user": 10, "mailbox_growth_gb_per_user_year": 2},
            cloud=[{"id": "a", "plan": "tiny"}],
        )
        ev = evaluate(sc, cat)
        assert ev.demand.mailbox_gb[0].tolist() == [12, 14, 16, 18]
        assert ev.plan_by_year("a") == ["tiny", "tiny", "roomy", "roomy"]


def with_feature(catalog: Catalog, *plans: CloudPlan) -> Catalog:
    """The bundled catalog with one more feature, ``test_feature``, and test plans."""
    info = FeatureInfo(id="test_feature", label="Test feature", description="For tests.")
    return with_plans(catalog, *plans).model_copy(update={"features": [*catalog.features, info]})


def feature(included: bool, addon_price: float | None = None) -> Feature:
    """A feature cell, with an add-on at ``addon_price`` USD per user-month if given."""
    addon = None
    if addon_price is not None:
        addon = FeatureAddon(label="Extra", price_per_user_month=fact(addon_price))
    return Feature(included=included, addon=addon, source=SRC, as_of="2026-12-01")


class TestFeatures:
    def test_required_feature_bought_as_addon(self, catalog):
        """A required feature the plan sells as an add-on is bought: feature_addons =
        users x add-on price x 12 a year."""
        p = plan(catalog, "p", 4.0, features={"test_feature": feature(False, 2.5)})
        sc = make_scenario(
            cloud=[{"id": "a", "plan": "p"}], qualitative={"requirements": ["test_feature"]}
        )
        ev = evaluate(sc, with_feature(catalog, p))
        assert ev.lines["a"]["feature_addons"].tolist() == pytest.approx([100 * 2.5 * 12] * 3)
        assert ev.ruled_out_by("a") == []
        assert "buys Extra for required features" in ev.comparison.options[0].warnings

    def test_required_feature_missing_rules_out(self, catalog):
        """A required feature that is neither included nor sold rules the option out, and the
        parity check names it as what the option lacks."""
        a = plan(catalog, "pa", 4.0, features={"test_feature": feature(False)})
        b = plan(catalog, "pb", 9.0, features={"test_feature": feature(True)})
        sc = make_scenario(
            cloud=[{"id": "a", "plan": "pa"}, {"id": "b", "plan": "pb"}],
            qualitative={"requirements": ["test_feature"]},
        )
        ev = evaluate(sc, with_feature(catalog, a, b))
        assert ev.ruled_out_by("a") == ["missing_feature:test_feature"]
        assert ev.cheapest == "b"
        assert lacks(ev, "a", "b") == ["Test feature"]

    def test_headline_names_what_the_cheapest_lacks(self, catalog):
        """Without the requirement the cheaper plan wins, and the headline says what it lacks
        that the runner-up includes."""
        a = plan(catalog, "pa", 4.0, features={"test_feature": feature(False)})
        b = plan(catalog, "pb", 9.0, features={"test_feature": feature(True)})
        sc = make_scenario(cloud=[{"id": "a", "plan": "pa"}, {"id": "b", "plan": "pb"}])
        ev = evaluate(sc, with_feature(catalog, a, b))
        assert ev.cheapest == "a"
        assert "It has no test feature, which Pb includes." in headline(ev)

    def test_unknown_requirement_is_one_line(self, catalog):
        """An unknown requirement or feature id is a one-line error naming the path."""
        from planner.errors import ScenarioError

        with pytest.raises(ScenarioError) as err:
            evaluate(make_scenario(qualitative={"requirements": ["teleportation"]}))
        assert len(err.value.lines) == 1
        assert err.value.lines[0].startswith("qualitative.requirements[0]: unknown")


def test_monte_carlo_rules_out_per_draw(catalog):
    """In draws where users pass a cap with no successor, the capped plan cannot be the
    cheapest; in the others it can."""
    from planner.risk import simulate

    cat = with_plans(
        catalog,
        plan(catalog, "capped", 1.0, max_users=fact(300)),
        plan(catalog, "dear", 30.0),
    )
    sc = growing(
        users=250, growth=0.0, cloud=[{"id": "a", "plan": "capped"}, {"id": "b", "plan": "dear"}]
    )
    data = sc.model_dump(mode="json")
    data["organization"]["users"] = {"dist": "uniform", "low": 200, "high": 400}
    from planner import parse_scenario

    sim = simulate(parse_scenario(data), cat, draws=400, seed=3)
    users = sim.inputs["organization.users"]
    p = sim.p_cheapest
    assert p["a"] == pytest.approx(float(np.mean(users <= 300)), abs=1e-9)


def _six_hundred(presets) -> Any:
    """The 600-user case: the default scenario with 600 users growing 5 % a year."""
    from planner import load_scenario, parse_scenario

    data = load_scenario(presets["default"]).model_dump(mode="json")
    data["organization"].update(users=600, user_growth_per_year=0.05)
    return parse_scenario(data)


@pytest.mark.parametrize("preset", ["default", "office-25", "company-250", "org-5000", "600-users"])
def test_bundled_scenarios_recommend_only_what_can_be_bought(catalog, presets, preset):
    """No bundled scenario, nor the 600-user case, is recommended a plan it cannot buy for
    its headcount in any year: every year's plan of the cheapest option admits that year's
    users and is sold and supported through the year."""
    from planner import load_scenario

    sc = _six_hundred(presets) if preset == "600-users" else load_scenario(presets[preset])
    ev = evaluate(sc)
    best = next(o for o in ev.comparison.options if o.id == ev.cheapest)
    end = ev.end.isoformat()
    for year in best.years:
        entry = catalog.plan(year.plan) if best.kind == "cloud" else catalog.stack(year.plan)
        assert entry is not None
        if isinstance(entry, CloudPlan):
            assert entry.max_users is None or year.users <= entry.max_users.value
            assert entry.min_users is None or year.users >= entry.min_users.value
        assert entry.available_to_new_customers
        assert entry.end_of_life is None or entry.end_of_life.value >= end


def test_org_5000_compares_plans_sold_above_300_seats(presets):
    """org-5000 has no Business-tier plan and compares Microsoft 365 E3, Exchange Online
    Plan 1 and 2 and Google Workspace Enterprise Standard."""
    from planner import load_scenario

    sc = load_scenario(presets["org-5000"])
    plans = {c.plan for c in sc.cloud}
    assert {"m365-e3", "exo-plan-1", "exo-plan-2", "gws-enterprise-standard"} <= plans
    assert not any("business" in p for p in plans)


def test_600_users_move_off_business_plans_in_year_one(presets):
    """At 600 users every Business-tier option runs on its Enterprise successor from year 1,
    and the headline names the plan it runs on."""
    ev = evaluate(_six_hundred(presets))
    assert ev.plan_by_year("m365-basic") == ["office-365-e1"] * 5
    assert ev.path_label("m365-basic") == "Office 365 E1 (in place of Microsoft 365 Business Basic)"
    years = ev.comparison.model_dump(mode="json")["options"]
    assert all("plan" in y for o in years for y in o["years"])
