"""The HTML report: every figure equals the engine's, and the file is self-contained."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from planner import Evaluation
from planner.report import render
from tests.report.figures import check_tables, html_tables

_REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class _References(HTMLParser):
    """Collects what a browser would load: script src, link href, and CSS url()/@import."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []
        self.scripts = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if a.get("src"):
                self.loads.append(str(a["src"]))
        elif tag == "link" and a.get("href"):
            self.loads.append(str(a["href"]))
        elif tag in ("img", "iframe", "embed", "object") and (a.get("src") or a.get("data")):
            self.loads.append(str(a.get("src") or a.get("data")))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.loads += re.findall(r"url\(([^)]*)\)", data)
            self.loads += re.findall(r"@import\s+['\"]?([^'\";]+)", data)


@pytest.mark.timeout(60)
def test_every_table_figure_equals_the_engine(case_ev: Evaluation) -> None:
    """Totals, yearly costs, sizing, break-even, scores and assumptions match the engine."""
    check_tables(html_tables(render(case_ev, "html").decode("utf-8")), case_ev)


def test_no_remote_script_stylesheet_or_font(default_html: str) -> None:
    """Nothing in the page is loaded from http(s): no script, stylesheet, font or image."""
    refs = _References()
    refs.feed(default_html)

    assert [r for r in refs.loads if _REMOTE.match(r)] == []
    assert refs.loads == []


def test_plotly_js_is_inline_once(default_html: str) -> None:
    """plotly.js is embedded once, inline (no script src), before the charts."""
    assert default_html.count("plotly.js (basic - minified) v") == 1
    head = default_html.split("</head>", 1)[0]
    assert "Plotly" in head
    assert "<script src" not in default_html


def test_every_chart_is_drawn_with_a_fixed_print_size(default_html: str, default_ev) -> None:
    """Each chart div is present, has a fixed width that fits A4, and no mode bar."""
    ids = re.findall(r'<div id="(chart-[\w-]+)" class="plotly-graph-div"', default_html)
    expected = 5 + len(default_ev.resolved.onprem)  # 5 overview charts + one per on-prem option
    assert len(ids) == len(set(ids)) == expected
    assert len(re.findall(r'"width":680\b', default_html)) == expected
    assert len(re.findall(r'"displayModeBar":\s*false', default_html)) == expected


def test_printed_page_draws_static_charts(default_ev) -> None:
    """The page printed to PDF draws every chart static (no hover or zoom layers to
    build); the HTML report keeps them interactive."""
    from planner.report.content import build
    from planner.report.html import render_html

    report = build(default_ev)
    printed = render_html(report, printed=True)
    screen = render_html(report)
    n = len(report.charts())

    assert n > 0
    assert printed.count('"staticPlot":true') == printed.count("Plotly.newPlot(") == n
    assert '"staticPlot":true' not in screen


def test_screen_page_draws_charts_when_scrolled_near(default_ev) -> None:
    """On screen every chart is drawn when it comes near the viewport (an
    IntersectionObserver) or before a print from the browser; its div keeps the chart's
    height meanwhile. The page printed to PDF draws every chart as it loads."""
    from planner.report.content import build
    from planner.report.html import render_html

    report = build(default_ev)
    screen = render_html(report)
    printed = render_html(report, printed=True)
    n = len(report.charts())

    assert screen.count('MAILPLAN_CHART("chart-') == n
    assert "new IntersectionObserver(" in screen
    assert "addEventListener('beforeprint'" in screen
    assert "MAILPLAN_CHART(" not in printed
    for c in report.charts():
        assert (
            f'<div id="chart-{c.key}" class="plotly-graph-div" style="height:{c.height}px">'
            in screen
        )


def test_plotly_bundle_is_the_vendored_partial_one_at_the_targeted_version() -> None:
    """The inlined plotly.js is the vendored basic bundle, with its licence beside it, at
    the plotly.js version the installed Python plotly targets (figure JSON and bundle agree)."""
    from importlib import resources

    from plotly.offline import get_plotlyjs_version

    from planner.report.html import plotly_js

    vendor = resources.files("planner.report").joinpath("vendor")
    assert "MIT License" in vendor.joinpath("plotly.js-LICENSE").read_text("utf-8")
    header = plotly_js()[:300]
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in header


def test_every_chart_uses_only_trace_types_in_the_bundle(case_ev: Evaluation) -> None:
    """Each chart of each report draws only trace types the partial bundle contains (a
    scatterpolar or heatmap would render as an empty frame)."""
    from planner.report.content import build
    from planner.report.html import BUNDLE_TRACES

    for chart in build(case_ev).charts():
        kinds = {trace.type for trace in chart.figure().data}
        assert kinds <= BUNDLE_TRACES, (chart.key, kinds - BUNDLE_TRACES)


def test_default_report_is_light(default_html: str) -> None:
    """The default scenario's HTML stays under 1.5 MB (issue #15: it was 4.9 MB with the
    full plotly.js), so it mails and opens quickly."""
    assert len(default_html.encode("utf-8")) < 1_500_000
