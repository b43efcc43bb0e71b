"""Fixtures for the dashboard: the app under AppTest from its entrypoint, page switching,
and scenario files to upload."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from tests.conftest import BASE_SCENARIO, ROOT

APP = ROOT / "app.py"
PAGES = {
    "scenario": "planner/dashboard/pages/scenario.py",
    "costs": "planner/dashboard/pages/costs.py",
    "scale": "planner/dashboard/pages/scale.py",
    "compare": "planner/dashboard/pages/compare.py",
    "report": "planner/dashboard/pages/report.py",
}


def scenario_yaml(**changes: Any) -> bytes:
    """BASE_SCENARIO (100 users, 3 years, a flat 6 USD plan) with changes, as YAML bytes;
    ``organization`` keys are merged."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["organization"].update(changes.pop("organization", {}))
    data.update(changes)
    return yaml.safe_dump(data).encode()


ONPREM = {"id": "postfix", "stack": "postfix-dovecot", "server": "smb-1u"}
"""An on-prem option from the catalog, to add to BASE_SCENARIO."""


@pytest.fixture(name="app")
def _app() -> AppTest:
    """The dashboard after its first run (the Costs page on the default scenario)."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    return at.run()


@pytest.fixture(name="open_page")
def _open_page() -> Callable[[AppTest, str], AppTest]:
    """Switch the app to a page by name and run it."""

    def open_page(at: AppTest, name: str) -> AppTest:
        return at.switch_page(PAGES[name]).run()

    return open_page


@pytest.fixture(name="upload")
def _upload() -> Callable[[AppTest, str, bytes], AppTest]:
    """Upload a file through the sidebar and run."""

    def upload(at: AppTest, name: str, data: bytes) -> AppTest:
        at.file_uploader(key="upload").set_value((name, data, "application/octet-stream"))
        return at.run()

    return upload
