"""The dashboard in a real browser: ``streamlit run app.py`` on a free loopback port, driven
by Playwright through Debian's Chromium with the offline flags (no ``playwright install``).

Screenshots of every page go to ``test-artifacts/dashboard/`` (git-ignored). Benchmark
results go to a temp store (``MAILPLAN_BENCH_DB``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from planner import evaluate, load_scenario, scenario_presets
from planner.dashboard import serve
from planner.report.chromium import find_chromium
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
WAIT_MS = 30_000
CHARTS = {"scenario": 0, "risk": 0, "scale": 2, "compare": 1, "report": 0, "costs": 0}
"""Pages in the order the screenshot test visits them, with the plotly charts each draws
(on the default scenario, which has no ranges: the Risk page explains how to add them;
the Costs page's charts are drawn when their sections are opened)."""
COSTS_SECTIONS = (
    "Charts: cumulative cost and yearly cost by category",
    "Chart: cost per user-month by organisation size",
)

pytestmark = pytest.mark.timeout(120)
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(name="app_url", scope="module")
def _app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run app.py`` on a free port of 127.0.0.1 (``serve.running``), one
    server for the module, stopped after it."""
    with serve.running(tmp_path_factory.mktemp("streamlit")) as url:
        yield url


@pytest.fixture(name="browser", scope="module")
def _browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with no way off loopback."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(find_chromium()), headless=True, args=list(serve.BROWSER_ARGS)
        )
        yield browser
        browser.close()


@pytest.fixture(name="page")
def _page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab (a new dashboard session) that accepts downloads."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def open_page(page: Page, url: str, title: str) -> None:
    """Load a page and wait until its title is drawn (and its charts, when it has some)."""
    page.goto(url)
    expect(page.locator("h1", has_text=title)).to_be_visible()
    if CHARTS[title.lower()]:
        page.locator(".js-plotly-plot .main-svg").first.wait_for()


def wait_until_idle(page: Page) -> None:
    """Wait until the script run has ended: Streamlit's running indicator gone and no
    stale (faded) element of the previous page left, as ``benchmarks/dashboard.py``
    waits before it calls a page drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')"
    )


def full_screenshot(page: Page, name: str) -> Path:
    """A screenshot of the whole page (the viewport grown to its height) in ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(300)  # let plotly redraw at the new size before the shot
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})
    return path


def default_evaluation():
    """The bundled default scenario, evaluated."""
    return evaluate(load_scenario(scenario_presets()["default"]))


def test_costs_page_draws_its_charts(page, app_url):
    """The first page is Costs, drawn without a chart (no plotly.js to load); opening its
    two chart sections draws the three charts, the cumulative one with a line per option."""
    open_page(page, app_url, "Costs")
    expect(page.locator("[data-testid='stTable']").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)

    for label in COSTS_SECTIONS:
        page.get_by_text(label).click()

    expect(page.locator(".js-plotly-plot")).to_have_count(3)
    lines = page.locator(".js-plotly-plot").first.locator(".scatterlayer .trace")
    expect(lines).to_have_count(len(default_evaluation().options))
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def test_changing_users_updates_the_totals(page, app_url):
    """A new user count typed on the Scenario page changes the totals on the Costs page."""
    scenario = load_scenario(scenario_presets()["default"])
    edited = scenario.model_copy(
        update={"organization": scenario.organization.model_copy(update={"users": 500})}
    )
    before, after = (
        f"{evaluate(s).total('m365-basic'):,.0f}" for s in (scenario, edited)
    )  # fmt: skip
    open_page(page, app_url, "Costs")
    totals = page.locator("[data-testid='stTable']").first
    row = totals.locator("tr", has_text="Microsoft 365 Business Basic")
    expect(row).to_contain_text(before)

    page.get_by_role("link", name="Scenario", exact=True).click()
    users = page.get_by_role("spinbutton", name="Users at the start (users)", exact=True)
    users.fill("500")
    users.press("Enter")
    picker = page.get_by_role("combobox", name="Scenario", exact=True)
    expect(picker).to_have_value("edited: Acme, 250 staff")
    page.get_by_role("link", name="Costs").click()

    expect(row).to_contain_text(after)
    assert before != after


def test_csv_download_holds_the_cost_frame(page, app_url, tmp_path):
    """The Report page's CSV download is the engine's cost frame, number for number, with
    each row's plan and cost type after it (the report's CSV)."""
    open_page(page, f"{app_url}/report", "Report")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download costs (CSV)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)

    assert path.name == "acme-250-staff-costs.csv"
    frame = pd.read_csv(io.BytesIO(path.read_bytes()))
    costs = default_evaluation().costs
    assert list(frame.columns) == [*costs.columns, "plan", "cost_type"]
    pd.testing.assert_frame_equal(frame[list(costs.columns)], costs, check_dtype=False)


def test_pdf_is_made_on_request(page, app_url, tmp_path):
    """'Make the PDF' prints the report with Chromium and offers it for download."""
    open_page(page, f"{app_url}/report", "Report")

    page.get_by_role("button", name="Make the PDF").click()
    button = page.get_by_role("button", name="Report (PDF)")
    expect(button).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        button.click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)

    assert path.name == "acme-250-staff.pdf"
    assert path.read_bytes().startswith(b"%PDF-")
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def test_every_page_renders(page, app_url):
    """Each page, reached from the sidebar, draws without an exception; a full-height
    screenshot of each is kept."""
    open_page(page, app_url, "Costs")
    for name, charts in CHARTS.items():
        page.get_by_role("link", name=name.capitalize(), exact=True).click()
        expect(page.locator("h1", has_text=name.capitalize())).to_be_visible()
        expect(page.locator(".js-plotly-plot")).to_have_count(charts)
        if name == "scenario":
            page.get_by_text("On-prem: postfix-dovecot").click()
            price = page.get_by_role("spinbutton", name="Server price (USD per server)", exact=True)
            expect(price.first).to_be_visible()
        if name == "risk":
            expect(page.get_by_text("This scenario has no ranges")).to_be_visible()
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        assert full_screenshot(page, name).stat().st_size > 10_000


def test_risk_page_on_the_default_ranges(page, app_url):
    """'Add the default ranges to this scenario' on the Risk page draws its four charts
    and the headline; a ranged field on the Scenario page opens its range editor."""
    open_page(page, f"{app_url}/risk", "Risk")
    page.get_by_role("button", name="Add the default ranges to this scenario").click()
    expect(page.locator(".js-plotly-plot")).to_have_count(4)
    for chart in page.locator(".js-plotly-plot").all():
        expect(chart.locator(".main-svg").first).to_be_attached()
    expect(page.locator("[data-testid='stMetricValue']").first).to_contain_text("%")
    expect(page.get_by_text("stays the cheapest in")).to_be_visible()
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    assert full_screenshot(page, "risk-ranged").stat().st_size > 50_000

    page.get_by_role("link", name="Scenario", exact=True).click()
    expect(page.locator("h1", has_text="Scenario")).to_be_visible()
    # The Risk page's own range editor (with its Apply) stays on screen, stale, until the
    # Scenario page's run ends: seen in CI under load as two Apply buttons.
    wait_until_idle(page)
    page.get_by_text("On-prem: postfix-dovecot").click()
    page.get_by_role("button", name="Edit range").first.click()
    popover = page.get_by_test_id("stPopoverBody")
    expect(popover.get_by_role("button", name="Apply")).to_be_visible()
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "scenario-range-editor.png"))


def test_benchmark_runs_live_and_lands_in_the_history(page, app_url):
    """A short run from the Benchmark page draws its progress bar and live chart while it
    runs against the reference server, then is saved, listed and charted per second."""
    page.goto(f"{app_url}/benchmark")
    expect(page.locator("h1", has_text="Benchmark")).to_be_visible()
    expect(page.get_by_text("No saved results yet")).to_be_visible()
    for name, value, shown in (("Duration (s)", "6", "6.00"), ("Concurrent sessions", "4", "4")):
        field = page.get_by_role("spinbutton", name=name, exact=True)
        field.fill(value)
        field.press("Enter")
        expect(field).to_have_value(shown)

    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("[data-testid='stProgress']")).to_be_visible()
    live = page.locator(".js-plotly-plot", has_text="Live: each second of the run")
    live.locator(".scatterlayer .trace").first.locator(".point").nth(2).wait_for()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "benchmark-running.png"))

    expect(page.get_by_text("Finished: saved as result #1")).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot", has_text="Result #1")).to_be_visible()
    expect(page.get_by_role("button", name="Use this capacity")).to_be_visible()
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    assert full_screenshot(page, "benchmark").stat().st_size > 50_000
