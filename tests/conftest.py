"""Shared fixtures: the bundled catalog and scenarios, and a scenario builder; the
``peers``/``browser`` marks of tests that need programs outside Python."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from planner import Catalog, Scenario, load_catalog, parse_scenario, scenario_presets

ROOT = Path(__file__).resolve().parent.parent

# region #### peers and browser marks ####

PEER_FIXTURES = frozenset(
    {"sink", "dumping_sink", "dovecot", "measured", "locust_run", "smtp_result"}
)
"""Fixtures that start Postfix's smtp-sink or a private Dovecot (tests/bench, tests/dashboard)."""
PDF_FIXTURES = frozenset({"default_pdf"})
"""Fixtures that print a PDF with Chromium, read back with poppler (pdftotext/pdfinfo)."""
BROWSER_MODULES = frozenset({"tests/dashboard/test_browser.py"})
"""Modules whose every test drives Chromium through Playwright."""
PDF_TESTS = frozenset(
    {
        "tests/test_ranges_everywhere.py::test_pdf_with_every_input_ranged",
        "tests/dashboard/test_report_page.py::test_report_of_a_ranged_scenario[pdf]",
    }
)
"""Tests that print a PDF (Chromium) and read it with pdftotext, without a fixture saying so."""
# tests/mailserver marks its own tests that run swaks, msmtp, fetchmail, mpop or Dovecot's LDA.


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that need programs outside Python: ``peers`` (mail servers and clients,
    poppler) and ``browser`` (Chromium); ``make unit`` deselects both."""
    for item in items:
        path = item.path.relative_to(ROOT).as_posix()
        node = f"{path}::{item.name}"
        fixtures = set(getattr(item, "fixturenames", ()))
        pdf = bool(fixtures & PDF_FIXTURES) or node in PDF_TESTS
        if pdf or fixtures & PEER_FIXTURES:
            item.add_marker(pytest.mark.peers)
        if pdf or path in BROWSER_MODULES:
            item.add_marker(pytest.mark.browser)


# endregion


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
