"""How long each report format takes for the default scenario, and how light the HTML is.

Prints, per format, the wall-clock time of ``planner.report.render(ev, fmt)`` (the
scenario already evaluated; the first call, which loads plotly.js and openpyxl, is
reported apart as "first"), against the goals HTML < 1 s and PDF < 5 s; then the HTML
report's size (goal < 1.5 MB) and the time Chromium takes to open it, from navigation
to the page loaded with the charts within a screen of the viewport drawn (the report
draws the charts below the fold as they are scrolled near; median of 5, goal < 2 s),
then to every chart drawn, scrolling to each in turn (Debian's /usr/bin/chromium driven
by Playwright, offline); and two peers measured in the same run:
- HTML: plotly's own ``fig.to_html(include_plotlyjs=True)`` of one chart (the floor of
  any self-contained plotly page);
- PDF: headless Chromium printing a one-line HTML page the same way (the floor of any
  Chromium print: browser start and exit), each run right after a PDF run.
Every line ends with the load average (1, 5, 15 min): the machine may be shared; compare
the ratio PDF / one-line print, which cancels most of the load out.

Run: .venv/bin/python benchmarks/report.py [--repeat N] [--pdf-repeat N] [--open-repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import planner
from planner import charts, report
from planner.report.chromium import OFFLINE_FLAGS, find_chromium, print_to_pdf

GOALS_S = {"html": 1.0, "pdf": 5.0}
HTML_GOAL_MB = 1.5  # the default scenario's HTML report, in 10^6 bytes
OPEN_GOAL_S = 2.0  # navigation to the last chart drawn, in Chromium


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of each of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def line(name: str, times: list[float], first: float | None = None, extra: str = "") -> None:
    """One result line: median, min and max of the runs, and the first call if given."""
    med = statistics.median(times)
    text = f"{name:<34} median {med:7.3f} s  min {min(times):7.3f}  max {max(times):7.3f}"
    text += f"  (n={len(times)})"
    if first is not None:
        text += f"  first {first:.3f} s"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{text}{extra}  [load {load}]")


# A chart counts as drawn when plotly has put its SVG in its div. On screen the report draws
# a chart only when it comes within a screen of the viewport (planner/report/html.py,
# _DEFER): the page opens on its title page and contents, with no chart in view.
_DRAWN = "d => d.querySelector('.main-svg') !== null"
_NEAR = (
    "d => { const r = d.getBoundingClientRect(), h = window.innerHeight;"
    " return r.bottom > -h && r.top < 2 * h; }"
)
_FIRST_SCREEN_DRAWN = (
    "() => document.readyState === 'complete' && "
    f"Array.from(document.querySelectorAll('.plotly-graph-div')).filter({_NEAR})"
    f".every({_DRAWN})"
)
_SCROLL_THROUGH = (
    "async () => { const wait = () => new Promise(r => requestAnimationFrame(r));"
    " for (const d of document.querySelectorAll('.plotly-graph-div')) {"
    "  d.scrollIntoView();"
    f"  while (!({_DRAWN})(d)) await wait(); }}"
    " return performance.now(); }"
)


def open_times(page_file: Path, repeat: int) -> tuple[list[float], list[float]]:
    """For each of ``repeat`` fresh tabs opening ``page_file`` in headless Chromium (the
    browser started once, before the first run), seconds from navigation to
    - the page loaded with every chart within a screen of the viewport drawn (what a
      reader waits for: "open"), and
    - every chart drawn, the page scrolled to each chart in turn ("all charts").
    Times are read from the page's own clock, ``performance.now()``, whose origin is the
    navigation start."""
    from playwright.sync_api import sync_playwright

    opened, all_drawn = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(find_chromium()),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", *OFFLINE_FLAGS],
        )
        try:
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1200, "height": 900})
                page = context.new_page()
                page.goto(page_file.resolve().as_uri(), wait_until="commit")
                page.wait_for_function(_FIRST_SCREEN_DRAWN, polling="raf", timeout=60_000)
                opened.append(float(page.evaluate("performance.now()")) / 1000)
                all_drawn.append(float(page.evaluate(_SCROLL_THROUGH)) / 1000)
                context.close()
        finally:
            browser.close()
    return opened, all_drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per fast format")
    parser.add_argument("--pdf-repeat", type=int, default=5, help="runs of the PDF")
    parser.add_argument("--open-repeat", type=int, default=5, help="openings of the HTML")
    args = parser.parse_args()

    scenario = planner.load_scenario(planner.scenario_presets()["default"])
    evaluate_s = timed(lambda: planner.evaluate(scenario).comparison, args.repeat)
    line("evaluate (for scale)", evaluate_s)

    def render_once(fmt: str) -> float:
        """Seconds to render ``fmt`` from a fresh Evaluation (frames are cached per instance)."""
        ev = planner.evaluate(scenario)
        t = time.perf_counter()
        report.render(ev, fmt)
        return time.perf_counter() - t

    blank_dir = tempfile.TemporaryDirectory()
    blank = Path(blank_dir.name) / "blank.html"
    blank.write_text("<!DOCTYPE html><p>mailplan</p>")
    peer_pdf: list[float] = []

    def blank_print() -> None:
        """The floor of any Chromium print: a one-line page, printed the same way."""
        print_to_pdf(blank, blank.with_suffix(".pdf"))

    results: dict[str, float] = {}
    for fmt in report.FORMATS:
        first = render_once(fmt)
        runs = []
        for _ in range(args.pdf_repeat if fmt == "pdf" else args.repeat):
            runs.append(render_once(fmt))
            if fmt == "pdf":  # interleaved, so both see the same load
                peer_pdf.extend(timed(blank_print, 1))
        results[fmt] = statistics.median(runs)
        goal = GOALS_S.get(fmt)
        extra = ""
        if goal is not None:
            verdict = "meets" if results[fmt] < goal else "MISSES"
            extra = f"  goal < {goal:g} s: {verdict}"
        line(f"render {fmt}", runs, first, extra)

    ev = planner.evaluate(scenario)
    page_bytes = report.render(ev, "html")
    size_mb = len(page_bytes) / 1e6
    verdict = "meets" if size_mb < HTML_GOAL_MB else "MISSES"
    print(
        f"{'html size':<34} {len(page_bytes):,} bytes ({size_mb:.2f} MB)"
        f"  goal < {HTML_GOAL_MB:g} MB: {verdict}"
    )
    n_charts = page_bytes.count(b'class="plotly-graph-div"')
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_bytes(page_bytes)
        opened, all_drawn = open_times(page_file, args.open_repeat)
    verdict = "meets" if statistics.median(opened) < OPEN_GOAL_S else "MISSES"
    line(
        "open html in Chromium (first screen)",
        opened,
        extra=f"  goal < {OPEN_GOAL_S:g} s: {verdict}",
    )
    line(f"  then all {n_charts} charts (scrolled)", all_drawn)

    fig = charts.cumulative_tco(ev)
    peer_html = timed(lambda: fig.to_html(include_plotlyjs=True), args.repeat)
    line("peer: plotly to_html, 1 chart", peer_html)
    line("peer: Chromium print of 1-line page", peer_pdf)
    pdf_file = Path(blank_dir.name) / "report.pdf"
    pdf_file.write_bytes(report.render(ev, "pdf"))
    info = subprocess.run(["pdfinfo", str(pdf_file)], capture_output=True, text=True).stdout
    pages = info.split("Pages:", 1)[1].split()[0] if "Pages:" in info else "?"
    print(f"{'pdf pages':<34} {pages}")
    blank_dir.cleanup()

    print()
    print(
        f"ratios: html / plotly to_html = {results['html'] / statistics.median(peer_html):.1f}x;"
        f" pdf / blank Chromium print = {results['pdf'] / statistics.median(peer_pdf):.2f}x"
    )


if __name__ == "__main__":
    main()
