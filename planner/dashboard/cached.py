"""Every planner call the dashboard makes, behind ``st.cache_data`` or ``st.cache_resource``.

Arguments are hashed (pydantic models by their JSON), so an unchanged scenario is never
evaluated twice and a changed field is a miss.

What every run of a page reads (the catalog, the presets, the evaluation, the figures) is
kept once per process (``cache_resource``) and handed out as is, not copied: unpickling a
copy of the evaluation and rebuilding a figure from its pickle took 50-300 ms of every
rerun on a busy machine. These are read only: the models are frozen, the pages only read
an evaluation's frames, and ``st.plotly_chart`` copies a figure before sending it. The rest
(tables, downloads, summaries) is small or rarely read and stays a copy (``cache_data``).
"""

from __future__ import annotations

import atexit
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planner import catalog as catalog_module
from planner import charts, risk
from planner import report as report_module
from planner.bench.apply import apply_capacity
from planner.bench.result import BenchmarkResult, capacity_from_benchmark
from planner.catalog import dump_scenario, load_catalog, load_scenario, scenario_presets
from planner.dashboard import bench_views, ranges_form, upload, views
from planner.dashboard.bench_job import JobBoard
from planner.evaluation import Evaluation, evaluate
from planner.models import Catalog, Scenario

__all__ = [
    "add_ranges",
    "assumptions",
    "bench_board",
    "bench_capacity",
    "bench_chart",
    "break_even_map",
    "catalog",
    "catalog_defaults",
    "comparison_json",
    "costs_csv",
    "cumulative_tco",
    "default_pair",
    "demand_vs_capacity",
    "evaluation",
    "flip_sentences",
    "migration_defaults",
    "parse_scenario",
    "presets",
    "qualitative_radar",
    "ranged_inputs",
    "read_upload",
    "report",
    "report_formats",
    "risk_break_even_years",
    "risk_headline",
    "risk_npv_distributions",
    "risk_p_cheapest",
    "scale_ranges",
    "scenario_text",
    "sensitivity_summary",
    "servers_by_year",
    "simulation_summary",
    "tornado",
    "with_bench_capacity",
    "with_range",
    "yearly_by_category",
]

_ENTRIES = 64  # distinct scenarios kept per function


@st.cache_resource(show_spinner=False)
def catalog() -> Catalog:
    """The bundled price catalog."""
    return load_catalog()


@st.cache_resource(show_spinner=False)
def presets() -> dict[str, Scenario]:
    """The bundled scenarios by name (``default``, ``office-25``, ...)."""
    return {name: load_scenario(path) for name, path in scenario_presets().items()}


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def parse_scenario(data: Any, *, name: str) -> Scenario:
    """``planner.parse_scenario``: the form's data as a Scenario (ScenarioError if invalid)."""
    return catalog_module.parse_scenario(data, name=name)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def evaluation(scenario: Scenario) -> Evaluation:
    """``planner.evaluate(scenario)``, shared by every session (read only).

    Its frames and comparison are computed when a page first reads them and then kept on
    the shared object, so checking a form change (which needs only the evaluation to be
    built) does not pay for the cost frame and the break-even search (most of the work);
    they are deterministic, so two sessions computing one at the same time get the same
    value."""
    return evaluate(scenario)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def assumptions(scenario: Scenario) -> pd.DataFrame:
    """Every input with its origin, source and date (``Evaluation.assumptions``), as text."""
    return views.assumptions_table(evaluation(scenario))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def catalog_defaults(scenario: Scenario) -> dict[str, dict[str, views.Default]]:
    """Per option and field, the catalog value an empty field falls back to."""
    return views.catalog_defaults(scenario, load_catalog())


@st.cache_data(show_spinner=False)
def migration_defaults() -> dict[str, views.Default]:
    """Per ``migration`` field, the catalog default an empty field falls back to."""
    return views.migration_defaults(load_catalog())


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def read_upload(name: str, data: bytes) -> Scenario:
    """An uploaded scenario file, validated (ScenarioError when it is not)."""
    return upload.read_upload(name, data, load_catalog())


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def scenario_text(scenario: Scenario, fmt: str) -> str:
    """The scenario file as YAML or JSON (``planner.dump_scenario``)."""
    return dump_scenario(scenario, fmt)


# region #### figures ####
#
# Shared (cache_resource): ``widgets.chart`` only reads them.


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def cumulative_tco(scenario: Scenario) -> go.Figure:
    """``planner.charts.cumulative_tco``."""
    return charts.cumulative_tco(evaluation(scenario))


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def yearly_by_category(scenario: Scenario) -> go.Figure:
    """``planner.charts.yearly_by_category``."""
    return charts.yearly_by_category(evaluation(scenario))


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def break_even_map(scenario: Scenario) -> go.Figure:
    """``planner.charts.break_even_map``."""
    return charts.break_even_map(evaluation(scenario))


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def demand_vs_capacity(scenario: Scenario, option_id: str) -> go.Figure:
    """``planner.charts.demand_vs_capacity`` for one on-prem option."""
    return charts.demand_vs_capacity(evaluation(scenario), option_id)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def servers_by_year(scenario: Scenario) -> go.Figure:
    """``planner.charts.servers_by_year``."""
    return charts.servers_by_year(evaluation(scenario))


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def qualitative_radar(scenario: Scenario, options: tuple[str, ...]) -> go.Figure:
    """``planner.charts.qualitative_radar`` of these options."""
    return charts.qualitative_radar(evaluation(scenario), options)


# endregion
# region #### risk ####
#
# A simulation holds every draw of every input and option (about 5 MB per 10,000 draws),
# so the Simulation object is kept once per process (cache_resource, never copied; its
# lazily computed properties are deterministic, so two sessions computing one at the same
# time get the same value) and only what a page shows goes through cache_data.

_SIMULATIONS = 4  # simulations kept in memory (a 100,000-draw one is about 50 MB)


@st.cache_resource(show_spinner=False, max_entries=_SIMULATIONS)
def _simulation(scenario: Scenario, draws: int, seed: int) -> risk.Simulation:
    return risk.simulate(scenario, draws=draws, seed=seed)


@st.cache_resource(show_spinner=False, max_entries=_ENTRIES)
def _sensitivity(scenario: Scenario, onprem: str | None, cloud: str | None) -> risk.Sensitivity:
    return risk.sensitivity(scenario, onprem=onprem, cloud=cloud)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def ranged_inputs(scenario: Scenario) -> pd.DataFrame:
    """``planner.risk.ranged_inputs``: input, dist, range, typical, low, high."""
    return risk.ranged_inputs(scenario)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def with_range(scenario: Scenario, path: str, value: dict[str, Any] | float | None) -> Scenario:
    """``planner.risk.with_range``: the scenario with the input at ``path`` set to a range
    (its data), a number, or its typical value (None); ScenarioError when invalid."""
    changed = risk.with_range(scenario, path, value)
    evaluation(changed)  # unknown ids and missing inputs are found here, not on a page
    return changed


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def add_ranges(scenario: Scenario, source: Scenario) -> ranges_form.Added:
    """``ranges_form.add_ranges``: ``source``'s ranges on this scenario's inputs, each moved
    to the input's value here (the typical case unchanged)."""
    return ranges_form.add_ranges(scenario, evaluation(scenario), source)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def scale_ranges(scenario: Scenario, factor: float) -> Scenario:
    """``planner.risk.scale_ranges``: every range widened (factor > 1) or narrowed."""
    return risk.scale_ranges(scenario, factor)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def default_pair(scenario: Scenario) -> tuple[str, str] | None:
    """``planner.risk.default_pair``: the cheapest on-prem and cloud option, or None when
    the scenario lacks one of the two kinds."""
    ev = evaluation(scenario)
    if not ev.resolved.onprem or not ev.resolved.cloud:
        return None
    return risk.default_pair(ev)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def simulation_summary(scenario: Scenario, draws: int, seed: int) -> risk.SimulationSummary:
    """``planner.risk.simulate(...).summary``: percentiles, P(cheapest), break-even years."""
    return _simulation(scenario, draws, seed).summary


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def risk_npv_distributions(scenario: Scenario, draws: int, seed: int) -> go.Figure:
    """``planner.risk.charts.npv_distributions``."""
    return risk.charts.npv_distributions(_simulation(scenario, draws, seed))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def risk_p_cheapest(scenario: Scenario, draws: int, seed: int) -> go.Figure:
    """``planner.risk.charts.p_cheapest``."""
    return risk.charts.p_cheapest(_simulation(scenario, draws, seed))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def risk_break_even_years(scenario: Scenario, draws: int, seed: int) -> go.Figure:
    """``planner.risk.charts.break_even_years``."""
    return risk.charts.break_even_years(_simulation(scenario, draws, seed))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def sensitivity_summary(
    scenario: Scenario, onprem: str | None, cloud: str | None
) -> risk.SensitivitySummary:
    """``planner.risk.sensitivity(...).summary`` for the pair (None: the cheapest of a kind)."""
    return _sensitivity(scenario, onprem, cloud).summary


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def flip_sentences(scenario: Scenario) -> list[str]:
    """``planner.risk.flips.flip_sentences``: where the cheapest option changes, nearest
    first (the ranged inputs when the scenario has ranges, else every numeric input)."""
    from planner.risk.flips import flip_points
    from planner.risk.flips import flip_sentences as sentences

    ev = evaluate(scenario)
    return sentences(ev, flip_points(ev))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def tornado(scenario: Scenario, onprem: str | None, cloud: str | None) -> go.Figure:
    """``planner.risk.charts.tornado`` for the pair, inputs named by their titles
    (``ranges_form.input_labels``, the report's labeller)."""
    labels = ranges_form.input_labels(scenario)
    return risk.charts.tornado(_sensitivity(scenario, onprem, cloud), labels=labels)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def risk_headline(
    scenario: Scenario, draws: int, seed: int, onprem: str | None, cloud: str | None
) -> risk.RiskHeadline:
    """``planner.risk.headline``: the probability that the recommendation holds and the top
    sensitivities of the pair (without them when the scenario lacks an option kind)."""
    sens = _sensitivity(scenario, onprem, cloud) if default_pair(scenario) else None
    return risk.headline(_simulation(scenario, draws, seed), sens)


# endregion
# region #### downloads ####


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def costs_csv(scenario: Scenario) -> bytes:
    """The cost frame as CSV."""
    return views.costs_csv(evaluation(scenario))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def comparison_json(scenario: Scenario) -> bytes:
    """The comparison as JSON (``mailplan compare --format json``)."""
    return views.comparison_json(evaluation(scenario))


def report_formats() -> tuple[str, ...]:
    """The formats ``planner.report`` renders (HTML, PDF, Markdown, CSV, XLSX, JSON)."""
    return report_module.FORMATS


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def report(scenario: Scenario, fmt: str) -> bytes:
    """``planner.report.render(evaluation, fmt)``: the report as bytes. A ranged scenario's
    report has the risk section. Raises ReportError (ChromiumNotFound for a PDF without
    Chromium); errors are not cached, so a retry after installing Chromium works."""
    return report_module.render(evaluation(scenario), fmt)


# region #### benchmark ####


@st.cache_resource(show_spinner=False)
def bench_board() -> JobBoard:
    """The benchmark jobs of this dashboard process (one running at a time, whichever tab
    started it); running ones are stopped when the process exits."""
    board = JobBoard()
    atexit.register(board.stop_all)
    return board


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def bench_capacity(result: BenchmarkResult) -> tuple[float, str]:
    """``planner.bench.result.capacity_from_benchmark``: (capacity_msgs_per_s,
    capacity_source), or BenchmarkError when the result gives no capacity."""
    return capacity_from_benchmark(result)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def with_bench_capacity(scenario: Scenario, result: BenchmarkResult, option_id: str) -> Scenario:
    """``planner.bench.apply.apply_capacity`` (what ``mailplan bench apply`` writes), the
    changed scenario checked by evaluating it."""
    changed = apply_capacity(scenario, result, option_id)
    evaluation(changed)
    return changed


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def bench_chart(result: BenchmarkResult) -> go.Figure:
    """A saved result's throughput and p99 per second."""
    return bench_views.throughput_latency_chart(
        bench_views.timeseries_frame(result),
        f"Result #{result.id}: each second of the measured run",
        result.latency_phase,
    )


# endregion
