"""No traceback, ever: a failure in a page, a callback or a download shows as one line
naming what failed (and, for a bug, an expander with the traceback), never as Streamlit's
error page; and a range on the mailbox inputs alone (issue #11, item 1) draws every page."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from planner import report as report_module
from planner.dashboard import PAGES, cached, state, views, widgets
from tests.dashboard.conftest import PAGES as PAGE_FILES
from tests.dashboard.conftest import assert_clean, errors
from tests.dashboard.test_report_page import REPORT_BUTTONS

ROOT = Path(__file__).resolve().parents[2]
BUG = "This is a bug in mailplan; the details say where."
DETAILS = "Details (for a bug report)"
TITLES = {file.removesuffix(".py"): title for file, title, _ in PAGES}


class Boom(RuntimeError):
    """The failure the tests inject."""


def _boom(*args, **kwargs):
    raise Boom("boom")


def _expander_code(at) -> list[str]:
    """The code blocks inside the page's 'Details' expanders."""
    return [c.value for e in at.expander if e.label == DETAILS for c in e.code]


def _default_with(**organization) -> bytes:
    data = yaml.safe_load((ROOT / "data/scenarios/default.yaml").read_text())
    data["organization"].update(organization)
    data["name"] = "Acme, ranged " + ", ".join(organization)
    return yaml.safe_dump(data).encode()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", list(PAGE_FILES))
def test_a_page_that_fails_says_what_and_keeps_the_frame(app, monkeypatch, caplog, page):
    """An unexpected exception in a page: one error line naming the page and the
    exception, the traceback in an expander and the log (once for the one run); the
    sidebar still works."""
    monkeypatch.setattr(widgets, "page_header", _boom)
    with caplog.at_level(logging.ERROR, logger="planner.dashboard"):
        app.switch_page(PAGE_FILES[page]).run()

    assert_clean(app)
    what = f"The {TITLES[page]} page could not be shown"
    assert errors(app) == [f"{what}: Boom: boom. {BUG}"]
    (code,) = _expander_code(app)
    assert "_boom" in code
    assert code.rstrip().endswith("Boom: boom")
    assert [r.exc_info[0] for r in caplog.records if r.getMessage() == what] == [Boom]
    assert app.sidebar.selectbox(key=state.PICKER).value


def test_a_callback_that_fails_is_shown_once(app, monkeypatch):
    """A widget callback that raises (switching the scenario) is shown at the top of the
    next page run, then gone; the page itself still draws."""
    monkeypatch.setattr(state, "select", _boom)
    app.sidebar.selectbox(key=state.PICKER).set_value("office-25").run()

    assert_clean(app)
    assert errors(app)[0] == f"Switching the scenario failed: Boom: boom. {BUG}"
    assert _expander_code(app)
    assert app.title[0].value == "Costs"

    app.run()
    assert not any("Switching the scenario failed" in e for e in errors(app))


def _fail_format(monkeypatch, fmt):
    """planner.report.render raises for ``fmt`` only (the cache emptied so it runs)."""
    real = report_module.render

    def render(ev, f):
        if f == fmt:
            raise Boom("boom")
        return real(ev, f)

    monkeypatch.setattr(report_module, "render", render)
    cached.report.clear()


FORMAT_BUTTONS = dict(zip(("html", "md", "csv", "xlsx", "json"), REPORT_BUTTONS, strict=True))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fmt", list(FORMAT_BUTTONS))
def test_a_report_that_cannot_be_made_says_why(app, open_page, monkeypatch, fmt):
    """A report format whose rendering fails shows why in place of its button; the other
    downloads are still offered."""
    _fail_format(monkeypatch, fmt)
    open_page(app, "report")

    assert_clean(app)
    label = FORMAT_BUTTONS[fmt]
    assert errors(app) == [f"{label} could not be made: Boom: boom. {BUG}"]
    assert _expander_code(app)
    offered = [b.label for b in app.download_button]
    assert label not in offered
    assert offered == [b for b in REPORT_BUTTONS if b != label] + [
        "Download costs (CSV)",
        "Download comparison (JSON)",
    ]


@pytest.mark.parametrize(
    ("target", "label"),
    [("costs_csv", "Download costs (CSV)"), ("comparison_json", "Download comparison (JSON)")],
)
def test_a_data_download_that_cannot_be_made_says_why(app, open_page, monkeypatch, target, label):
    """The raw-data downloads of the Report page explain a failure the same way."""
    monkeypatch.setattr(views, target, _boom)
    getattr(cached, target).clear()
    open_page(app, "report")

    assert_clean(app)
    assert errors(app) == [f"{label} could not be made: Boom: boom. {BUG}"]
    assert label not in [b.label for b in app.download_button]


def test_a_scenario_download_that_cannot_be_made_says_why(app, open_page, monkeypatch):
    """The Scenario page's YAML and JSON downloads explain a failure the same way."""
    monkeypatch.setattr(cached, "scenario_text", _boom)
    open_page(app, "scenario")

    assert_clean(app)
    assert [e for e in errors(app) if "could not be made" in e] == [
        f"Download YAML could not be made: Boom: boom. {BUG}",
        f"Download JSON could not be made: Boom: boom. {BUG}",
    ]


MAILBOX_RANGES = {
    "mailbox_growth_gb_per_user_year": {"low": 1, "typical": 2, "high": 5},
    "mailbox_gb_per_user": {"dist": "uniform", "low": 4, "high": 12},
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("field", list(MAILBOX_RANGES))
@pytest.mark.parametrize("page", list(PAGE_FILES))
def test_a_range_on_a_mailbox_input_alone_draws_every_page(app, open_page, upload, field, page):
    """The default scenario with only a mailbox input ranged (issue #11: the Risk page
    crashed and the HTML report did nothing) draws every page without an error; the Report
    page offers every download."""
    upload(app, f"{field}.yaml", _default_with(**{field: MAILBOX_RANGES[field]}))
    assert f"organization.{field}" in state.current(app.session_state).ranges
    app.session_state["risk_draws"] = 1000
    open_page(app, page)

    assert_clean(app)
    assert errors(app) == []
    if page == "report":
        assert [b.label for b in app.download_button][: len(REPORT_BUTTONS)] == REPORT_BUTTONS
