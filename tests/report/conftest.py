"""Report fixtures: evaluated scenarios (the presets and one sized from a benchmark) and
the rendered reports, each built once per session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from planner import (
    Evaluation,
    Scenario,
    evaluate,
    load_scenario,
    parse_scenario,
    scenario_presets,
    with_capacity,
)
from planner.models import CRITERIA
from planner.report import render
from tests.conftest import make_scenario

START = dt.date(2026, 1, 1)  # fixed, so end-of-life checks do not move with the calendar
BENCHMARK_SOURCE = "benchmark: mailplan bench smtp, 2026-11-29, 2 vCPU Debian 12 (loopback)"
CASES = [
    *scenario_presets(),
    "default+benchmark",
    "cloud-only-unweighted",
    "onprem-only",
    "staff-nominal-downtime",
]
STAFF_NOMINAL_DOWNTIME = {  # the default scenario on the other bases, downtime costed,
    "labour_cost": "existing_staff",  # mail sent from three domains (sender_auth x 3)
    "price_basis": "nominal",
    "inflation": 0.02,
    "downtime_cost_per_user_hour": 40.0,
    "organization": {"sending_domains": 3},
}


def changed_default(**changes: object) -> Scenario:
    """The bundled default scenario with top-level keys changed (validated again)."""
    data = load_scenario(scenario_presets()["default"]).model_dump(mode="json", exclude_unset=True)
    org = changes.pop("organization", {})
    data.update(changes)
    data["organization"].update(org)
    return parse_scenario(data)


def _scenario(case: str):
    if case == "default+benchmark":
        base = load_scenario(scenario_presets()["default"])
        return with_capacity(base, "postfix-dovecot", 240.0, BENCHMARK_SOURCE)
    if case == "cloud-only-unweighted":  # no sizing, no break-even, no qualitative score
        zero = dict.fromkeys(CRITERIA, 0.0)
        return make_scenario(
            cloud=[
                {"id": "flat", "plan": "custom", "price_per_user_month": 6.0},
                {"id": "m365", "plan": "m365-business-basic"},
            ],
            qualitative={"weights": zero, "requirements": ["data_on_premises"]},
        )
    if case == "staff-nominal-downtime":
        return changed_default(**STAFF_NOMINAL_DOWNTIME)
    if case == "onprem-only":
        return make_scenario(
            cloud=[], onprem=[{"id": "box", "stack": "postfix-dovecot", "server": "smb-1u"}]
        )
    return load_scenario(scenario_presets()[case])


@pytest.fixture(scope="session", params=CASES)
def case_ev(request: pytest.FixtureRequest) -> Evaluation:
    """Each bundled scenario, and the default one with a benchmarked capacity."""
    return evaluate(_scenario(request.param), start=START)


@pytest.fixture(scope="session")
def default_ev() -> Evaluation:
    """The bundled default scenario."""
    return evaluate(load_scenario(scenario_presets()["default"]), start=START)


@pytest.fixture(scope="session")
def default_html(default_ev: Evaluation) -> str:
    """The HTML report of the default scenario."""
    return render(default_ev, "html").decode("utf-8")


@pytest.fixture(scope="session")
def default_pdf(default_ev: Evaluation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PDF report of the default scenario, on disk (printed by the real Chromium)."""
    path = tmp_path_factory.mktemp("pdf") / "default.pdf"
    path.write_bytes(render(default_ev, "pdf"))
    return path


@pytest.fixture
def scenario_file(presets: dict[str, Path]) -> Path:
    """The bundled default scenario file."""
    return presets["default"]
