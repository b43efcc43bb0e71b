"""Invariants of the cost model, checked with hypothesis over random scenarios."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import evaluate, parse_scenario
from tests.conftest import make_scenario

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
        "copies": st.integers(1, 3),
        "dr": st.sampled_from(["none", "cold", "warm"]),
        "warranty_years": st.integers(0, 5),
        "support_pct_per_year": st.floats(0, 0.3, **finite),
        "os_licence_per_core_year": st.floats(0, 50, **finite),
        "os_cal_per_user_year": st.floats(0, 50, **finite),
        "backup_copies": st.integers(1, 10),
        "network_per_month": st.floats(0, 1_000, **finite),
        "rack_per_u_month": st.floats(0, 100, **finite),
        "monitoring_per_server_month": st.floats(0, 50, **finite),
        "helpdesk_hours_per_user_year": st.floats(0, 5, **finite),
        "server_availability": st.floats(0.9, 1, **finite),
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
        {
            "id": "flat",
            "plan": "custom",
            "price_per_user_month": 5,
            "per_1000_messages": 0.1,
            "admin_hours_per_100_users_month": 0.5,
            "helpdesk_hours_per_user_year": 1,
            "exit_cost": 5_000,
            "availability": 0.999,
        },
    ],
}
ESCALATIONS = (
    "cloud_subscription",
    "labour",
    "power",
    "hardware",
    "hardware_support",
    "software_licences",
    "os_licences",
    "storage",
    "space",
    "backup",
    "filtering",
    "disaster_recovery",
    "network",
    "monitoring",
    "relay",
    "feature_addons",
)


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    """A random scenario with catalog options and one random standalone on-prem option,
    a new installation or a move from one of them, with the cost model's switches."""
    onprem = [*CATALOG_OPTIONS["onprem"], draw(standalone_onprem)]
    data: dict[str, Any] = {
        "name": "random",
        "horizon_years": draw(st.integers(1, 15)),
        "discount_rate": draw(st.floats(0, 0.2, **finite)),
        "escalation": {k: draw(st.floats(0, 0.1, **finite)) for k in ESCALATIONS},
        "organization": draw(organizations),
        "onprem": onprem,
        "cloud": CATALOG_OPTIONS["cloud"],
        "labour_cost": draw(st.sampled_from(["cash", "existing_staff"])),
        "price_basis": draw(st.sampled_from(["real", "nominal"])),
        "inflation": draw(st.floats(0, 0.1, **finite)),
        "downtime_cost_per_hour": draw(st.one_of(st.none(), st.floats(0, 10_000, **finite))),
        "migration": {
            "per_mailbox": draw(st.floats(0, 100, **finite)),
            "tool_per_mailbox": draw(st.floats(0, 20, **finite)),
            "dual_running_months": draw(st.floats(0, 6, **finite)),
            "training_hours_per_user": draw(st.floats(0, 2, **finite)),
        },
    }
    current = draw(st.sampled_from([None, "pd", "custom-box", "flat"]))
    if current is not None:
        data["current"] = current
        if current != "flat":
            data["current_servers_bought"] = draw(st.integers(2015, 2026))
    return data


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

    def test_more_users_on_todays_servers_cost_more(self):
        """Found by the property above: today's system with more users keeps more servers it
        already owns; those earn no residual credit, so the bigger company is not cheaper."""
        box: dict[str, Any] = {"id": "box", "server_price": 2738.0, "capacity_msgs_per_s": 1.0}
        box |= {"storage_tb_per_server": 0.5, "redundancy": "none", "refresh_years": 10}
        box |= {"copies": 1, "backup_copies": 1, "dr": "none", "warranty_years": 0}
        box |= {"target_utilization": 0.25}  # 102 users need a second server
        # every other per-server line at zero, so only the residual moves with the fleet
        for key in (
            "admin_hours_per_100_users_month",
            "licence_per_user_year",
            "backup_per_tb_month",
            "support_pct_per_year",
            "os_licence_per_core_year",
            "os_cal_per_user_year",
            "network_per_month",
            "rack_per_u_month",
            "monitoring_per_server_month",
            "helpdesk_hours_per_user_year",
        ):
            box[key] = 0.0
        org = {"messages_sent_per_user_day": 0, "messages_received_per_user_day": 0}
        org |= {"mailbox_gb_per_user": 0, "mailbox_growth_gb_per_user_year": 1.0}
        org |= {"avg_message_kb": 1.0, "peak_factor": 1.0}
        totals = [
            evaluate(
                make_scenario(
                    horizon_years=1,
                    onprem=[box],
                    current="box",
                    current_servers_bought=2024,
                    organization={**org, "users": users},
                )
            )
            .yearly("box")
            .sum()
            for users in (1, 102)
        ]
        assert totals[1] > totals[0]

    @SETTINGS
    @given(data=scenarios(), price=st.floats(0, 100, **finite))
    def test_flat_plan_subscription(self, data, price):
        """A flat plan's subscription is price x 12 x the sum of yearly users (no escalation)."""
        data["escalation"] = {}
        data["price_basis"] = "real"
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
        """The cost frame sums to each option's total, and the cheapest has the lowest NPV
        among the options that can be recommended."""
        ev = evaluate(parse_scenario(data))
        sums = ev.costs.groupby("option")["amount"].sum()
        for o in ev.options:
            assert sums[o.id] == pytest.approx(ev.total(o.id), rel=1e-9, abs=1e-6)
        if ev.eligible:
            assert ev.npv(ev.cheapest) == min(ev.npv(o) for o in ev.eligible)
        else:
            assert ev.cheapest is None
