"""Invariants of the cost model, checked with hypothesis over random scenarios."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import evaluate, parse_scenario

finite = {"allow_nan": False, "allow_infinity": False}

organizations = st.fixed_dictionaries(
    {
        "users": st.integers(1, 50_000),
        "user_growth_per_year": st.floats(0, 0.5, **finite),
        "messages_sent_per_user_day": st.floats(0, 200, **finite),
        "messages_received_per_user_day": st.floats(0, 300, **finite),
        "outbound_share": st.floats(0, 1, **finite),
        "avg_message_kb": st.floats(1, 500, **finite),
        "mailbox_gb_per_user": st.floats(0, 50, **finite),
        "mailbox_growth_gb_per_user_year": st.floats(0, 20, **finite),
        "peak_factor": st.floats(1, 10, **finite),
    }
)

standalone_onprem = st.fixed_dictionaries(
    {
        "id": st.just("custom-box"),
        "server_price": st.floats(0, 50_000, **finite),
        "capacity_msgs_per_s": st.floats(0.5, 1_000, **finite),
        "storage_tb_per_server": st.floats(0.5, 100, **finite),
        "redundancy": st.sampled_from(["none", "n+1", "2n"]),
        "refresh_years": st.integers(1, 10),
        "target_utilization": st.floats(0.1, 1, **finite),
        "admin_hours_per_100_users_month": st.floats(0, 5, **finite),
        "licence_per_user_year": st.floats(0, 50, **finite),
        "backup_per_tb_month": st.floats(0, 20, **finite),
        "outbound_relay_per_1000": st.floats(0, 1, **finite),
    }
)

CATALOG_OPTIONS = {
    "onprem": [
        {"id": "pd", "stack": "postfix-dovecot", "server": "smb-1u"},
        {"id": "ex", "stack": "exchange-se", "server": "smb-2u", "relay": "amazon-ses"},
    ],
    "cloud": [
        {"id": "m365", "plan": "m365-business-basic"},
        {"id": "gws", "plan": "gws-business-starter"},
        {"id": "zoho", "plan": "zoho-mail-lite"},
        {"id": "flat", "plan": "custom", "price_per_user_month": 5, "per_1000_messages": 0.1},
    ],
}


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    """A random scenario with catalog options and one random standalone on-prem option."""
    return {
        "name": "random",
        "horizon_years": draw(st.integers(1, 15)),
        "discount_rate": draw(st.floats(0, 0.2, **finite)),
        "escalation": {
            "cloud_subscription": draw(st.floats(0, 0.1, **finite)),
            "labour": draw(st.floats(0, 0.1, **finite)),
            "power": draw(st.floats(0, 0.1, **finite)),
        },
        "organization": draw(organizations),
        "onprem": [*CATALOG_OPTIONS["onprem"], draw(standalone_onprem)],
        "cloud": CATALOG_OPTIONS["cloud"],
    }


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.timeout(300)
class TestInvariants:
    @SETTINGS
    @given(data=scenarios(), extra=st.integers(1, 20_000))
    def test_cost_never_falls_as_users_rise(self, data, extra):
        """More users never make an option cheaper, in total or in NPV."""
        ev = evaluate(parse_scenario(data))
        u = data["organization"]["users"]
        sweep = ev.sweep([u, u + extra])
        for _, rows in sweep.groupby("option"):
            small, large = rows.iloc[0], rows.iloc[1]
            assert large["total"] >= small["total"] - 1e-6 * abs(small["total"])
            assert large["npv"] >= small["npv"] - 1e-6 * abs(small["npv"])

    @SETTINGS
    @given(data=scenarios(), price=st.floats(0, 100, **finite))
    def test_flat_plan_subscription(self, data, price):
        """A flat plan's subscription is price x 12 x the sum of yearly users (no escalation)."""
        data["escalation"] = {}
        data["cloud"] = [{"id": "flat", "plan": "custom", "price_per_user_month": price}]
        ev = evaluate(parse_scenario(data))
        users = ev.demand.users[0]
        assert ev.lines["flat"]["subscription"].sum() == pytest.approx(price * 12 * users.sum())

    @SETTINGS
    @given(data=scenarios())
    def test_npv_at_or_below_total(self, data):
        """With no negative amount in any category and year (no residual credit) and a rate
        >= 0, NPV <= total; strictly below at a positive rate over more than one year when
        later years cost something. (A residual credit is end-of-year money, discounted one
        year more than the costs of its year, so it can lift NPV above the total.)"""
        ev = evaluate(parse_scenario(data))
        rate, horizon = data["discount_rate"], data["horizon_years"]
        for o in ev.options:
            yearly = ev.yearly(o.id)
            if any((v < 0).any() for v in ev.lines[o.id].values()):
                continue
            assert ev.npv(o.id) <= ev.total(o.id) * (1 + 1e-12) + 1e-9
            if rate > 1e-6 and horizon > 1 and yearly[1:].sum() > 1e-3:
                assert ev.npv(o.id) < ev.total(o.id)

    @SETTINGS
    @given(data=scenarios())
    def test_servers_never_decrease(self, data):
        """With non-negative growth, servers in service never decrease from year to year."""
        ev = evaluate(parse_scenario(data))
        for _, rows in ev.sizing.groupby("option"):
            assert (np.diff(rows["servers"].to_numpy()) >= 0).all()

    @SETTINGS
    @given(data=scenarios())
    def test_categories_add_up(self, data):
        """The cost frame sums to each option's total, and the cheapest has the lowest NPV."""
        ev = evaluate(parse_scenario(data))
        sums = ev.costs.groupby("option")["amount"].sum()
        for o in ev.options:
            assert sums[o.id] == pytest.approx(ev.total(o.id), rel=1e-9, abs=1e-6)
        assert ev.npv(ev.cheapest) == min(ev.npv(o.id) for o in ev.options)
