"""The HTML report in a real browser: Debian's Chromium driven by Playwright, offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from planner.dashboard import serve
from planner.report.chromium import find_chromium

pytestmark = pytest.mark.timeout(120)
DRAWN = (  # charts with their SVG in place (plotly puts several in each)
    "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
    ".filter(d => d.querySelector('.main-svg')).length"
)


@pytest.fixture(name="page")
def _page(default_html: str, tmp_path: Path) -> Iterator[Page]:
    """The default HTML report opened in a fresh headless tab."""
    file = tmp_path / "report.html"
    file.write_text(default_html, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(find_chromium()), headless=True, args=list(serve.BROWSER_ARGS)
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(file.as_uri(), wait_until="load")
        yield page
        browser.close()


def test_every_chart_is_drawn_when_scrolled_to(page: Page, default_html: str) -> None:
    """Scrolling to each chart in turn draws it: all the report's charts end up drawn."""
    n = default_html.count('class="plotly-graph-div"')
    for i in range(n):
        page.locator(".plotly-graph-div").nth(i).scroll_into_view_if_needed()
        page.wait_for_function(f"() => ({DRAWN})() > {i}")

    assert page.evaluate(DRAWN) == n


def test_every_chart_is_drawn_before_a_browser_print(page: Page, default_html: str) -> None:
    """A print from the browser (its beforeprint event) draws every chart not drawn yet."""
    n = default_html.count('class="plotly-graph-div"')
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")

    assert page.evaluate(DRAWN) == n
