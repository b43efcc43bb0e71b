"""Every planner call the dashboard makes, behind ``st.cache_data``.

Arguments are hashed (pydantic models by their JSON), so an unchanged scenario is never
evaluated twice and a changed field is a miss. Callers get a copy of the result. The
evaluation is returned with its frames and comparison already computed, so a page that
reads them after a cache hit does no arithmetic at all.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planner import catalog as catalog_module
from planner import charts
from planner.catalog import dump_scenario, load_catalog, load_scenario, scenario_presets
from planner.dashboard import upload, views
from planner.evaluate import Evaluation, evaluate
from planner.models import Catalog, Scenario

__all__ = [
    "assumptions",
    "break_even_map",
    "catalog",
    "catalog_defaults",
    "comparison_json",
    "costs_csv",
    "cumulative_tco",
    "demand_vs_capacity",
    "evaluation",
    "parse_scenario",
    "presets",
    "qualitative_radar",
    "read_upload",
    "report",
    "report_formats",
    "scenario_text",
    "servers_by_year",
    "yearly_by_category",
]

_ENTRIES = 64  # distinct scenarios kept per function


@st.cache_data(show_spinner=False)
def catalog() -> Catalog:
    """The bundled price catalog."""
    return load_catalog()


@st.cache_data(show_spinner=False)
def presets() -> dict[str, Scenario]:
    """The bundled scenarios by name (``default``, ``office-25``, ...)."""
    return {name: load_scenario(path) for name, path in scenario_presets().items()}


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def parse_scenario(data: Any, *, name: str) -> Scenario:
    """``planner.parse_scenario``: the form's data as a Scenario (ScenarioError if invalid)."""
    return catalog_module.parse_scenario(data, name=name)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def evaluation(scenario: Scenario) -> Evaluation:
    """``planner.evaluate(scenario)`` with its frames, comparison and break-even computed."""
    ev = evaluate(scenario)
    for _ in (ev.costs, ev.sizing, ev.summary, ev.comparison):
        pass
    return ev


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def assumptions(scenario: Scenario) -> pd.DataFrame:
    """Every input with its origin, source and date (``Evaluation.assumptions``), as text."""
    return views.assumptions_table(evaluation(scenario))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def catalog_defaults(scenario: Scenario) -> dict[str, dict[str, views.Default]]:
    """Per option and field, the catalog value an empty field falls back to."""
    return views.catalog_defaults(scenario, load_catalog())


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def read_upload(name: str, data: bytes) -> Scenario:
    """An uploaded scenario file, validated (ScenarioError when it is not)."""
    return upload.read_upload(name, data, load_catalog())


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def scenario_text(scenario: Scenario, fmt: str) -> str:
    """The scenario file as YAML or JSON (``planner.dump_scenario``)."""
    return dump_scenario(scenario, fmt)


# region #### figures ####


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def cumulative_tco(scenario: Scenario) -> go.Figure:
    """``planner.charts.cumulative_tco``."""
    return charts.cumulative_tco(evaluation(scenario))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def yearly_by_category(scenario: Scenario) -> go.Figure:
    """``planner.charts.yearly_by_category``."""
    return charts.yearly_by_category(evaluation(scenario))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def break_even_map(scenario: Scenario) -> go.Figure:
    """``planner.charts.break_even_map``."""
    return charts.break_even_map(evaluation(scenario))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def demand_vs_capacity(scenario: Scenario, option_id: str) -> go.Figure:
    """``planner.charts.demand_vs_capacity`` for one on-prem option."""
    return charts.demand_vs_capacity(evaluation(scenario), option_id)


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def servers_by_year(scenario: Scenario) -> go.Figure:
    """``planner.charts.servers_by_year``."""
    return charts.servers_by_year(evaluation(scenario))


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def qualitative_radar(scenario: Scenario) -> go.Figure:
    """``planner.charts.qualitative_radar``."""
    return charts.qualitative_radar(evaluation(scenario))


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


def _report_module() -> ModuleType | None:
    try:
        return importlib.import_module("planner.report")
    except ImportError:
        return None


def report_formats() -> tuple[str, ...]:
    """The formats ``planner.report`` renders, or none when it is not installed."""
    module = _report_module()
    return tuple(module.FORMATS) if module is not None else ()


@st.cache_data(show_spinner=False, max_entries=_ENTRIES)
def report(scenario: Scenario, fmt: str) -> bytes:
    """``planner.report.render(evaluation, fmt)``."""
    module = _report_module()
    if module is None:
        raise RuntimeError("planner.report is not available")
    data: bytes = module.render(evaluation(scenario), fmt)
    return data
