"""The Report page: every format of ``planner.report`` offered, made by the function the
page calls (AppTest cannot read a download), a PDF failure explained on the page."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile

import pytest

from planner import load_scenario, report, scenario_presets
from planner.dashboard import cached, state
from tests.dashboard.conftest import assert_clean, errors, scenario_yaml

REPORT_BUTTONS = [
    "Report (HTML)",
    "Report (Markdown)",
    "Report (CSV)",
    "Report (Excel)",
    "Report (JSON)",
]


def test_offers_every_format(app, open_page):
    """One download per report format; the PDF behind a 'Make the PDF' button; the data."""
    open_page(app, "report")
    assert_clean(app)
    assert cached.report_formats() == report.FORMATS == ("html", "pdf", "md", "csv", "xlsx", "json")
    assert [b.label for b in app.download_button] == [
        *REPORT_BUTTONS,
        "Download costs (CSV)",
        "Download comparison (JSON)",
    ]
    assert app.button(key="make_pdf").label == "Make the PDF"


def test_ranged_scenario_says_the_report_has_the_risk_section(app, open_page):
    """A ranged scenario's Report page draws and mentions the risk section."""
    app.sidebar.selectbox(key=state.PICKER).set_value("default-ranges").run()
    open_page(app, "report")
    assert_clean(app)
    assert any("adds the risk section" in c.value for c in app.caption)


def test_pdf_without_chromium_is_explained(app, open_page, upload, monkeypatch):
    """With no Chromium where it is looked for, the page says so and offers a retry."""
    monkeypatch.setenv("MAILPLAN_CHROMIUM", "/nonexistent/chromium")
    upload(app, "nopdf.yaml", scenario_yaml(name="No Chromium here"))
    open_page(app, "report")
    app.button(key="make_pdf").click().run()
    assert_clean(app)
    assert errors(app) == [
        "Report (PDF) could not be made: report: Chromium not found at /nonexistent/chromium "
        "(MAILPLAN_CHROMIUM); the PDF needs it: install the Debian package 'chromium' "
        "(apt-get install chromium) or point MAILPLAN_CHROMIUM at the browser. "
        "The other formats do not need Chromium."
    ]
    assert app.button(key="retry_pdf").label == "Try again"


def _text_of_pdf(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-", "-"], input=data, capture_output=True, check=True, timeout=30
    ).stdout.decode()


def _xlsx_sheets(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [n for n in z.namelist() if n.startswith("xl/worksheets/")]


CHECKS = {
    "html": lambda b: b.startswith(b"<!DOCTYPE html") and b"Uncertainty and sensitivity" in b,
    "pdf": lambda b: b.startswith(b"%PDF-") and "Uncertainty and sensitivity" in _text_of_pdf(b),
    "md": lambda b: b"## 5. Uncertainty and sensitivity" in b and b"stays the cheapest in" in b,
    "csv": lambda b: b.startswith(b"option,kind,year,category,amount"),
    "xlsx": lambda b: len(_xlsx_sheets(b)) >= 5,
    "json": lambda b: "risk" in json.loads(b),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fmt", report.FORMATS)
def test_report_of_a_ranged_scenario(fmt):
    """The function behind each button gives that format, with the risk section."""
    scenario = load_scenario(scenario_presets()["default-ranges"])
    data = cached.report(scenario, fmt)
    assert CHECKS[fmt](data), data[:200]
