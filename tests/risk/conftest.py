"""Scenarios for the risk tests: a hand-checkable on-prem box against a flat cloud plan."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from planner import Scenario, load_scenario, parse_scenario
from tests.conftest import BASE_SCENARIO

# An on-prem option whose only costs are set-up and admin labour, so every figure can be
# worked out by hand: 3 years, 100 users, discount rate 0.
BOX: dict[str, Any] = {
    "id": "box",
    "server_price": 0,
    "capacity_msgs_per_s": 100,
    "storage_tb_per_server": 10,
    "redundancy": "none",
    "refresh_years": 5,
    "server_watts": 0,
    "setup_cost": 1000,
    "admin_hours_per_month": 10,
    "admin_hours_per_server_month": 0,
    "admin_hours_per_100_users_month": 0,
    "admin_hourly_cost": 50,
    "backup_per_tb_month": 0,
    # the cost model's later lines, off so that the box stays hand-checkable
    "network_per_month": 0,
    "monitoring_per_server_month": 0,
    "helpdesk_hours_per_user_year": 0,
    "sender_auth_hours_per_domain_month": 0,
    "sender_auth_setup_hours_per_domain": 0,
    "rack_per_u_month": 0,
    "support_pct_per_year": 0,
}
# box: 1000 + 10 h * 12 * $50 * 3 years = 19,000; flat: 100 users * $6 * 12 * 3 = 21,600
FLAT: dict[str, Any] = {"id": "flat", "plan": "custom", "price_per_user_month": 6.0}


def box_scenario(
    box: dict[str, Any] | None = None,
    flat: dict[str, Any] | None = None,
    **changes: Any,
) -> Scenario:
    """BASE_SCENARIO with the box and the flat plan, fields of either replaced."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["onprem"] = [{**BOX, **(box or {})}]
    data["cloud"] = [{**FLAT, **(flat or {})}]
    org = changes.pop("organization", {})
    data.update(changes)
    data["organization"].update(org)
    return parse_scenario(data)


@pytest.fixture(scope="session")
def ranged_default(presets) -> Scenario:
    """The bundled default scenario with ranges (data/scenarios/default-ranges.yaml)."""
    return load_scenario(presets["default-ranges"])
