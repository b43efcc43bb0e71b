"""Shared fixtures: the bundled catalog and scenarios, and a scenario builder."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from planner import Catalog, Scenario, load_catalog, parse_scenario, scenario_presets

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The bundled price catalog."""
    return load_catalog()


@pytest.fixture(scope="session")
def presets() -> dict[str, Path]:
    """The bundled scenario files by name."""
    return scenario_presets()


BASE_SCENARIO: dict[str, Any] = {
    "name": "test",
    "horizon_years": 3,
    "discount_rate": 0.0,
    "organization": {
        "users": 100,
        "user_growth_per_year": 0.0,
        "messages_sent_per_user_day": 10,
        "messages_received_per_user_day": 20,
        "outbound_share": 0.5,
        "avg_message_kb": 50,
        "mailbox_gb_per_user": 10,
        "mailbox_growth_gb_per_user_year": 0,
        "peak_factor": 2,
    },
    "cloud": [{"id": "flat", "plan": "custom", "price_per_user_month": 6.0}],
}


def make_scenario(**changes: Any) -> Scenario:
    """BASE_SCENARIO with top-level keys replaced and ``organization`` keys merged."""
    data = copy.deepcopy(BASE_SCENARIO)
    org = changes.pop("organization", {})
    data.update(changes)
    data["organization"].update(org)
    return parse_scenario(data)
