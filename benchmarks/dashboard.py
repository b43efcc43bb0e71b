"""How fast the dashboard is as a user feels it, in Chromium, and how long its pages take
to rerun under Streamlit's AppTest.

In Chromium (Playwright, Debian's ``chromium``; never ``playwright install``):
``streamlit run app.py`` on a free loopback port (``planner.dashboard.serve``), warmed by
one visit of every page (the server's imports and the default scenario's caches, as after
any first visitor). Each measure is defined by its start and end events, median of
``--browser-runs`` (10):

- first page of a new session: navigation start (a new browser context, so an empty HTTP
  cache; and a new tab of a browser that has loaded the dashboard before) until drawn;
  the Costs page draws no chart until a chart section is opened (its charts made the
  browser load and compile plotly.js, 4.7 MB, before the first page was complete: 3.7-4.3
  s quiet), so the click on its first section until its two charts are drawn is timed
  after each cold load, plotly.js loaded then;
- switching pages: the click on a sidebar link until the new page is drawn;
- a field edit: the Enter that commits a new value (users on the Scenario page, the
  exchange rate in the sidebar on the Costs page) until the page is drawn again.

"Drawn": Streamlit connected and not running (its running indicator, the status widget,
gone; no stale element left), the page's title (and after a rate edit the new rate in
its caption) shown, and each of the page's plotly charts drawn (``.main-svg`` in place).
After a click or an edit, also only once a script run has started since the event. Times
are the page's own clock; "ws" is what the websocket brought. Each line gives the load
average when it was measured: the goals (first page < 2 s, switching and an edit
< 300 ms) are for a quiet machine.

Under AppTest, the Costs page (goal: under 300 ms) and the Risk page rerun after one input
changes: the Costs page on the bundled default scenario and the 5,000-user preset, the
Risk page on the preset with sourced ranges (``default-ranges``, 25 ranged inputs) at its
10,000 draws. For each it times, over ``--runs`` reruns:

- changed:   the sidebar exchange rate set to a value not seen before (every cached
             planner call misses: evaluation, break-even search, three figures);
- revisited: the rate set back to a value already seen (every cached call hits);
- unchanged: a rerun with no input changed.

It also times the planner work of one change without Streamlit, the share of "changed"
that caching cannot avoid: for Costs, evaluate, comparison with break-even and the three
figures; for Risk, the 10,000-draw simulation with its summary, the tornado of the
cheapest pair, the headline and the four figures.

Wall time is what a user waits; CPU time (this process, all threads) is what the rerun
costs, and is far less disturbed by other work on a shared machine.

Usage: .venv/bin/python benchmarks/dashboard.py [--only browser|apptest] [--browser-runs 10]
       [--runs 15]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Set
from pathlib import Path
from typing import NamedTuple

from playwright.sync_api import Browser, BrowserContext, WebSocket, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from streamlit.testing.v1 import AppTest

from planner import charts, evaluate, load_scenario, risk, scenario_presets
from planner.dashboard import serve
from planner.dashboard.fields import SIDEBAR
from planner.report.chromium import find_chromium

APP = Path(__file__).resolve().parent.parent / "app.py"
RISK_PAGE = "planner/dashboard/pages/risk.py"
PRESETS = ("default", "org-5000")
RISK_PRESET = "default-ranges"
RISK_DRAWS = 10_000  # the Risk page's own starting value
GOAL_MS = 300.0
SIDEBAR_RATE = SIDEBAR[1].title


def _ms(samples: list[tuple[float, float]]) -> str:
    def stats(values: list[float]) -> tuple[float, float, float]:
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        return statistics.median(ordered) * 1000, p90 * 1000, ordered[-1] * 1000

    wall = stats([w for w, _ in samples])
    cpu = stats([c for _, c in samples])
    return (
        f"wall median {wall[0]:6.1f} p90 {wall[1]:6.1f} max {wall[2]:6.1f} ms | "
        f"cpu median {cpu[0]:6.1f} p90 {cpu[1]:6.1f} ms"
    )


def _timed(step: Callable[[], object]) -> tuple[float, float]:
    """Wall time and this process's CPU time (all threads: AppTest runs the script in one)."""
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_app(
    preset: str, runs: int, offset: int, page: str | None = None
) -> dict[str, list[tuple[float, float]]]:
    """Rerun times of the Costs page (or ``page``) for one preset."""
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.sidebar.selectbox(key="picker").set_value(preset).run()
    title = "Costs"
    if page is not None:
        at.switch_page(page).run()
        title = "Risk"
    if at.exception or at.title[0].value != title:
        raise RuntimeError(f"the app did not show the {title} page of {preset}")
    if page is not None and at.number_input(key="risk_draws").value != RISK_DRAWS:
        raise RuntimeError(f"the Risk page did not start at {RISK_DRAWS:,} draws")

    def set_rate(value: float) -> None:
        at.number_input(key="f:usd_exchange_rate").set_value(value).run()
        if at.exception or at.error:
            raise RuntimeError(f"rerun with usd_exchange_rate={value} failed")

    out: dict[str, list[tuple[float, float]]] = {"changed": [], "revisited": [], "unchanged": []}
    for i in range(runs):
        new_rate = 1.0 + (offset + i + 1) / 1000  # never seen before: every cache misses
        out["changed"].append(_timed(lambda r=new_rate: set_rate(r)))  # type: ignore[misc]
        out["revisited"].append(_timed(lambda: set_rate(1.0)))
        out["unchanged"].append(_timed(at.run))
    return out


def bench_engine(preset: str, runs: int) -> list[tuple[float, float]]:
    """The planner work behind one changed input, without Streamlit."""
    scenario = load_scenario(scenario_presets()[preset])

    def work(i: int) -> None:
        sc = scenario.model_copy(update={"usd_exchange_rate": 2.0 + i / 1000})
        ev = evaluate(sc)
        _ = ev.costs, ev.summary, ev.comparison
        charts.cumulative_tco(ev)
        charts.yearly_by_category(ev)
        charts.break_even_map(ev)

    work(-1)  # warm imports and plotly's validators
    return [_timed(lambda i=i: work(i)) for i in range(runs)]  # type: ignore[misc]


def bench_risk_engine(runs: int) -> list[tuple[float, float]]:
    """The planner work behind one changed input on the Risk page, without Streamlit."""
    scenario = load_scenario(scenario_presets()[RISK_PRESET])

    def work(i: int) -> None:
        sc = scenario.model_copy(update={"usd_exchange_rate": 2.0 + i / 1000})
        sim = risk.simulate(sc, draws=RISK_DRAWS, seed=1)
        sens = risk.sensitivity(sc)
        _ = sim.summary, sens.summary, risk.headline(sim, sens)
        risk.charts.npv_distributions(sim)
        risk.charts.p_cheapest(sim)
        risk.charts.break_even_years(sim)
        risk.charts.tornado(sens)

    work(-1)
    return [_timed(lambda i=i: work(i)) for i in range(runs)]  # type: ignore[misc]


def _report(
    results: dict[str, list[tuple[float, float]]], engine: list[tuple[float, float]]
) -> None:
    for kind, samples in results.items():
        print(f"  {kind:<10} {_ms(samples)}")
    print(f"  {'engine':<10} {_ms(engine)}  (no Streamlit)")


# region #### in Chromium ####

WAIT_MS = 60_000
BROWSER_GOALS_MS = {"first": 2000.0, "switch": 300.0, "edit": 300.0}
PAGE_CHARTS = {"Costs": 0, "Scale": 2, "Compare": 1, "Scenario": 0, "Risk": 0, "Report": 0}
"""Plotly charts each page draws on the default scenario (the Risk page has no ranges; the
Costs page draws its three when their sections are opened)."""
COSTS_CHARTS = "Charts: cumulative cost and yearly cost by category"
"""The Costs page's first chart section (closed at first: its charts are drawn when open)."""
MEASURES = frozenset({"first", "switch", "edit"})
SWITCHES = ("Scale", "Compare", "Scenario", "Report", "Costs")
"""The sidebar tour of the switching measure, from the Costs page and back to it."""

_WATCH = """(event) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const mp = {t0: null, ran: false};
  window.__mp = mp;
  new MutationObserver(() => { mp.ran = true; })  // any change: a run was asked for
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  document.addEventListener(event, (e) => {
    if (mp.t0 === null && (event !== 'keydown' || e.key === 'Enter')) mp.t0 = performance.now();
  }, {capture: true});
}"""
"""Arms the end-of-action watch: the time of the user's event (a click, or Enter in a
field), and whether a script run has started since."""

_DRAWN = """([title, charts, text, armed]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (armed && !(window.__mp && window.__mp.ran)) return false;
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  if (!h1 || !h1.textContent.includes(title)) return false;
  if (text && !document.querySelector('[data-testid="stMain"]').textContent.includes(text))
    return false;
  const plots = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  if (plots.length !== charts) return false;
  for (const p of plots) {
    const gd = p.querySelector('.js-plotly-plot');
    if (!gd || !gd.querySelector('.main-svg') || !gd._fullData) return false;
  }
  return performance.now();
}"""
"""The end of every measure: connected, no script running (Streamlit's running indicator
gone, no stale element left), the page's title, ``text`` when given, and its ``charts``
plotly charts each drawn (``.main-svg`` in place, plotly's data laid out). Returns the
page's clock (ms since navigation start); ``armed``: only once a run has started since
the watch was armed."""


class Sample(NamedTuple):
    """One measure: ms until drawn, websocket bytes received, server CPU ms meanwhile."""

    ms: float
    ws: int
    cpu: float


def _server_pid() -> int | None:
    """The ``streamlit run`` child of this process (``serve.running``), from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            if (
                int(fields[1]) == os.getpid()
                and b"streamlit" in (stat.parent / "cmdline").read_bytes()
            ):
                return int(stat.parent.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


_SERVER: list[int | None] = [None]
"""The server's pid while ``bench_browser`` runs (None: not found, CPU not shown)."""


def _server_cpu_ms() -> float:
    """The server's user + system CPU time so far (ms); NaN when unknown."""
    pid = _SERVER[0]
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class _Tab:
    """One browser tab (a dashboard session) with the bytes its websocket received."""

    def __init__(self, browser: Browser, url: str, context: BrowserContext | None = None):
        self.own = context is None
        self.context = context or browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.url = url
        self.received = 0
        self.page.on("websocket", self._on_socket)

    def _on_socket(self, ws: WebSocket) -> None:
        ws.on("framereceived", self._count)

    def _count(self, payload: str | bytes) -> None:
        self.received += len(payload)

    def drawn(self, title: str, text: str = "", *, armed: bool, charts: int | None = None) -> float:
        """Wait until the page is drawn (see ``_DRAWN``) with ``charts`` plotly charts
        (default: the page's own); the page's clock then."""
        count = PAGE_CHARTS[title] if charts is None else charts
        handle = self.page.wait_for_function(
            _DRAWN, arg=[title, count, text, armed], polling="raf", timeout=WAIT_MS
        )
        return float(handle.json_value())

    def open(self, path: str, title: str) -> Sample:
        """Load ``path``: ms from navigation start until drawn, websocket bytes, server CPU."""
        self.received = 0
        cpu = _server_cpu_ms()
        self.page.goto(f"{self.url}/{path}")
        drawn = self.drawn(title, armed=False)
        return Sample(drawn, self.received, _server_cpu_ms() - cpu)

    def act(
        self,
        event: str,
        action: Callable[[], None],
        title: str,
        text: str = "",
        charts: int | None = None,
    ) -> Sample:
        """``action`` (which fires ``event``): ms from that event until drawn, bytes,
        server CPU."""
        self.page.evaluate(_WATCH, event)
        self.received = 0
        cpu = _server_cpu_ms()
        action()
        try:
            end = self.drawn(title, text, armed=True, charts=charts)
        except PlaywrightTimeout:
            print(f"  (not drawn within {WAIT_MS / 1000:.0f} s after the {event}: left out)")
            return Sample(math.nan, self.received, math.nan)
        cpu = _server_cpu_ms() - cpu
        start = self.page.evaluate("window.__mp.t0")
        if start is None:
            raise RuntimeError(f"no {event} event was seen")
        return Sample(end - float(start), self.received, cpu)

    def switch(self, title: str) -> Sample:
        """Click ``title`` in the sidebar navigation."""
        link = self.page.get_by_role("link", name=title, exact=True)
        return self.act("click", link.click, title)

    def edit(self, label: str, value: str, title: str, text: str = "") -> Sample:
        """Type ``value`` in the number field ``label`` and press Enter."""
        field = self.page.get_by_role("spinbutton", name=label, exact=True)
        field.fill(value)
        return self.act("keydown", lambda: field.press("Enter"), title, text)

    def close(self) -> None:
        if self.own:
            self.context.close()
        else:
            self.page.close()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _line(name: str, samples: list[Sample], goal: float | None = None) -> None:
    ms = sorted(s.ms for s in samples if not math.isnan(s.ms))
    if not ms:
        print(f"  {name:<34} no sample was drawn in time")
        return
    kb = statistics.median(s.ws for s in samples) / 1024
    cpus = [s.cpu for s in samples if not math.isnan(s.cpu)]
    cpu = f"  server CPU {statistics.median(cpus):4.0f} ms" if cpus else ""
    verdict = ""
    if goal is not None:
        verdict = f"  goal < {goal:.0f} ms: " + (
            "meets" if statistics.median(ms) < goal else "MISSES"
        )
    print(f"  {name:<34} median {statistics.median(ms):6.0f} ms  min {ms[0]:6.0f}  "
          f"max {ms[-1]:6.0f}  ws {kb:7.1f} KB{cpu}  load {_load()}{verdict}")  # fmt: skip


def bench_browser(runs: int, measures: Set[str] = MEASURES) -> None:
    """Median of ``runs`` of each measure (``first``, ``switch``, ``edit``), in Chromium."""
    with serve.running() as url, sync_playwright() as p:
        _SERVER[0] = _server_pid()
        browser = p.chromium.launch(
            executable_path=str(find_chromium()), headless=True, args=list(serve.BROWSER_ARGS)
        )
        try:
            _browser_measures(browser, url, runs, measures)
        finally:
            browser.close()


def _browser_measures(browser: Browser, url: str, runs: int, measures: Set[str]) -> None:
    # Warm up: the server's imports and caches of the default scenario, as after any
    # first visitor; then every figure is a visitor of a running dashboard.
    warm = _Tab(browser, url)
    warm.open("", "Costs")
    for title in SWITCHES:
        warm.switch(title)
    warm.close()

    if "first" in measures:
        _first_page(browser, url, runs)
    if "switch" in measures or "edit" in measures:
        _switch_and_edit(browser, url, runs, measures)


def _first_page(browser: Browser, url: str, runs: int) -> None:
    print("\nfirst page of a new session: navigation start until drawn (goal < 2 s)")
    charts = []
    for path, title in (("", "Costs"), ("scale", "Scale")):
        cold = []
        for _ in range(runs):
            tab = _Tab(browser, url)  # new browser context: empty HTTP cache
            cold.append(tab.open(path, title))
            if not path:  # then the Costs page's charts: plotly.js is loaded now
                section = tab.page.get_by_text(COSTS_CHARTS, exact=True)
                charts.append(tab.act("click", section.click, title, charts=2))
            tab.close()
        goal = BROWSER_GOALS_MS["first"] if not path else None
        _line(f"/{path} {title}, empty browser cache", cold, goal)
        if not path:
            _line("  then its first chart section opened", charts)
    shared = browser.new_context(viewport={"width": 1400, "height": 1000})
    _Tab(browser, url, shared).open("", "Costs")
    warm_cache = []
    for _ in range(runs):
        tab = _Tab(browser, url, shared)  # new tab, same browser: its HTTP cache is warm
        warm_cache.append(tab.open("", "Costs"))
        tab.close()
    shared.close()
    _line("/ Costs, warm browser cache", warm_cache)


def _switch_and_edit(browser: Browser, url: str, runs: int, measures: Set[str]) -> None:
    tab = _Tab(browser, url)
    tab.open("", "Costs")
    if "switch" in measures:
        _switching(tab, runs)
    if "edit" in measures:
        _editing(tab, runs)
    tab.close()


def _switching(tab: _Tab, runs: int) -> None:
    print("\nswitching pages in the sidebar: click until drawn (goal < 300 ms)")
    switched: dict[str, list[Sample]] = {t: [] for t in SWITCHES}
    for _ in range(runs):
        for title in SWITCHES:
            switched[title].append(tab.switch(title))
    for title in SWITCHES:
        _line(
            f"-> {title} ({PAGE_CHARTS[title]} charts)", switched[title], BROWSER_GOALS_MS["switch"]
        )
    _line("all switches", [s for v in switched.values() for s in v], BROWSER_GOALS_MS["switch"])


def _editing(tab: _Tab, runs: int) -> None:
    print("\na field edit: Enter until re-rendered (goal < 300 ms); every value new")
    tab.switch("Scenario")
    users = [tab.edit("Users at the start (users)", str(300 + i), "Scenario") for i in range(runs)]
    _line("users, Scenario page", users, BROWSER_GOALS_MS["edit"])
    tab.switch("Costs")
    rate = []
    for i in range(runs):
        value = f"{1.1 + (i + 1) / 1000:.4f}"
        rate.append(tab.edit(SIDEBAR_RATE, value, "Costs", f"USD × {float(value):g}"))
    _line("exchange rate (sidebar), Costs page", rate, BROWSER_GOALS_MS["edit"])


# endregion


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="AppTest reruns per measurement")
    parser.add_argument(
        "--browser-runs", type=int, default=10, help="Chromium runs per measurement"
    )
    parser.add_argument(
        "--only", choices=("browser", "apptest"), help="only the Chromium or AppTest figures"
    )
    parser.add_argument(
        "--measures",
        default="first,switch,edit",
        help="Chromium measures to take, comma-separated (first, switch, edit)",
    )
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    print(f"load average before: {_load()}, {os.cpu_count()} CPUs "
          "(shared machine: figures are noisy; the goals are for a quiet one)")  # fmt: skip
    if args.only != "apptest":
        print(f"\nIn Chromium (Playwright), median of {args.browser_runs}")
        bench_browser(args.browser_runs, set(args.measures.split(",")) & MEASURES)
    if args.only != "browser":
        bench_apptest(args.runs)
    print(f"\nload average after: {_load()}")


def bench_apptest(runs: int) -> None:
    """The Costs and Risk pages' reruns under AppTest, and their planner work alone."""
    print(f"\nCosts page rerun under AppTest, {runs} runs each; goal < {GOAL_MS:.0f} ms")
    for n, preset in enumerate(PRESETS):
        users = load_scenario(scenario_presets()[preset]).organization.users
        print(f"\n{preset} ({users:,} users)")
        results = bench_app(preset, runs, offset=n * 1000)
        _report(results, bench_engine(preset, runs))
        wall = statistics.median(w for w, _ in results["changed"]) * 1000
        cpu = statistics.median(c for _, c in results["changed"]) * 1000
        verdict = "meets" if wall < GOAL_MS else "MISSES"
        print(
            f"  changed input: median {wall:.0f} ms wall ({cpu:.0f} ms CPU) {verdict} "
            f"the {GOAL_MS:.0f} ms goal"
        )

    ranged = len(load_scenario(scenario_presets()[RISK_PRESET]).ranges)
    print(f"\nRisk page rerun under AppTest, {RISK_PRESET} ({ranged} ranged inputs), "
          f"{RISK_DRAWS:,} draws, {runs} runs each")  # fmt: skip
    results = bench_app(RISK_PRESET, runs, offset=len(PRESETS) * 1000, page=RISK_PAGE)
    _report(results, bench_risk_engine(runs))
    wall = statistics.median(w for w, _ in results["changed"]) * 1000
    cpu = statistics.median(c for _, c in results["changed"]) * 1000
    print(f"  changed input: median {wall:.0f} ms wall ({cpu:.0f} ms CPU)")


if __name__ == "__main__":
    main()
