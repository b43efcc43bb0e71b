"""Scenario: every field of the scenario file as a form, options chosen from the catalog,
download as YAML or JSON. Problems show under the field they concern."""

from __future__ import annotations

import functools
import re
from typing import Any

import streamlit as st

from planner.dashboard import PAGES_DIR, cached, failures, range_editor, state, widgets
from planner.dashboard.fields import (
    CLOUD_NUMBERS,
    ESCALATION,
    GENERAL,
    ONPREM_NUMBERS,
    ORGANIZATION,
    FieldSpec,
    path_key,
)
from planner.dashboard.views import Default
from planner.dashboard.widgets import NOT_SET
from planner.models import CloudOption, OnPremOption, Organization

_COLUMNS = 4


def _field(path: tuple[str | int, ...], spec: FieldSpec, **kw: Any) -> None:
    """A number input, or for a field holding a range the range with its editor."""
    if isinstance(state.draft_value(st.session_state, path), dict):
        range_editor.cell(path, spec)
    else:
        widgets.number_field(path, spec, **kw)


def _grid(specs: tuple[FieldSpec, ...], prefix: tuple[str | int, ...], **kw: Any) -> None:
    cols = st.columns(_COLUMNS)
    for i, spec in enumerate(specs):
        with cols[i % _COLUMNS]:
            _field((*prefix, spec.name), spec, **kw)


def _option_grid(
    specs: tuple[FieldSpec, ...], prefix: tuple[str | int, ...], defaults: dict[str, Default]
) -> None:
    cols = st.columns(_COLUMNS)
    for i, spec in enumerate(specs):
        with cols[i % _COLUMNS]:
            _field((*prefix, spec.name), spec, optional=True, default=defaults.get(spec.name))


@failures.callback("The on-prem option could not be added")
def _add_onprem() -> None:
    ss = st.session_state
    stack, server = ss["add_stack"], ss["add_server"]
    state.add_option(ss, "onprem", {"id": stack, "stack": stack, "server": server}, widgets.check())


@failures.callback("The cloud option could not be added")
def _add_cloud() -> None:
    ss = st.session_state
    plan = ss["add_plan"]
    state.add_option(ss, "cloud", {"id": plan, "plan": plan}, widgets.check())


@failures.callback("The option could not be removed")
def _remove(kind: str, index: int) -> None:
    state.remove_option(st.session_state, kind, index, widgets.check())


def _open(prefix: tuple[str | int, ...]) -> bool:
    """Whether an option's section starts open: when it has problems."""
    where = path_key(prefix)
    return any(
        p == where or p.startswith((where + ".", where + "["))
        for p in state.problems(st.session_state)
    )


def _general() -> None:
    st.subheader("General")
    cols = st.columns(_COLUMNS)
    name, horizon, discount = GENERAL
    with cols[0]:
        widgets.text_field(("name",), name.title, help="Shown in reports and the sidebar.")
    for col, spec in zip(cols[1:3], (horizon, discount), strict=True):
        with col:
            widgets.number_field((spec.name,), spec)
    with cols[3]:
        widgets.date_field(
            ("start_date",),
            "Start of year 1 (date)",
            help="First day of year 1; empty means today. Used to check end-of-life dates.",
        )
    st.caption("Currency and exchange rate are in the sidebar, on every page.")
    st.subheader("Price changes per year")
    _grid(ESCALATION, ("escalation",))


def _organization() -> None:
    st.subheader("Organisation")
    st.caption(" ".join((Organization.__doc__ or "").split()))
    _grid(ORGANIZATION, ("organization",))


def _onprem_option(
    i: int, option: dict[str, Any], defaults: dict[str, Default], labels: dict[str, str]
) -> None:
    cat = cached.catalog()
    prefix: tuple[str | int, ...] = ("onprem", i)
    name = option.get("label") or labels.get(option.get("id", ""), "")
    title = widgets.plain(f"On-prem: {option.get('id', '?')} — {name}")
    with st.expander(title, expanded=_open(prefix)):
        widgets.show_problems(prefix)
        cols = st.columns(_COLUMNS + 1)
        with cols[0]:
            widgets.text_field((*prefix, "id"), "Id", help=_desc(OnPremOption, "id"))
        with cols[1]:
            widgets.text_field(
                (*prefix, "label"),
                "Label",
                help=_desc(OnPremOption, "label"),
                placeholder="from the stack and server",
            )
        with cols[2]:
            widgets.choice_field(
                (*prefix, "stack"),
                "Software stack",
                {NOT_SET: "none", **{s.id: s.label for s in cat.stacks}},
                help=_desc(OnPremOption, "stack"),
            )
        with cols[3]:
            widgets.choice_field(
                (*prefix, "server"),
                "Server profile",
                {NOT_SET: "none: give hardware below", **{s.id: s.label for s in cat.servers}},
                help=_desc(OnPremOption, "server"),
            )
        with cols[4]:
            widgets.choice_field(
                (*prefix, "relay"),
                "Outbound relay",
                {NOT_SET: "none: deliver directly", **{r.id: r.label for r in cat.relays}},
                help=_desc(OnPremOption, "relay"),
            )
        cols = st.columns([1, 3])
        redundancy = defaults.get("redundancy")
        with cols[0]:
            catalog_value = redundancy.value if redundancy else "catalog"
            widgets.choice_field(
                (*prefix, "redundancy"),
                "Redundancy",
                {NOT_SET: f"{catalog_value} (catalog)", "none": "none", "n+1": "n+1", "2n": "2n"},
                help=_desc(OnPremOption, "redundancy") + _source_line(redundancy),
            )
        with cols[1]:
            capacity = defaults.get("capacity_source")
            widgets.text_field(
                (*prefix, "capacity_source"),
                "Where the capacity figure comes from",
                help=_desc(OnPremOption, "capacity_source")
                + " Start it with 'benchmark' for a measured figure.",
                placeholder=str(capacity.value) if capacity else "",
            )
        st.caption("Empty fields use the catalog value shown in grey (hover ? for its source).")
        _option_grid(ONPREM_NUMBERS, prefix, defaults)
        st.button(
            "Remove this option", key=f"remove_onprem_{i}", on_click=_remove, args=("onprem", i)
        )


_BILLING = {
    NOT_SET: "annual (default)",
    "annual": "annual",
    "annual_billed_monthly": "annual, billed monthly",
    "monthly": "monthly",
}


def _cloud_option(
    i: int, option: dict[str, Any], defaults: dict[str, Default], labels: dict[str, str]
) -> None:
    cat = cached.catalog()
    prefix: tuple[str | int, ...] = ("cloud", i)
    plan = cat.plan(str(option.get("plan", "")))
    name = option.get("label") or labels.get(option.get("id", ""), "")
    title = widgets.plain(f"Cloud: {option.get('id', '?')} — {name}")
    with st.expander(title, expanded=_open(prefix)):
        widgets.show_problems(prefix)
        cols = st.columns(_COLUMNS)
        with cols[0]:
            widgets.text_field((*prefix, "id"), "Id", help=_desc(CloudOption, "id"))
        with cols[1]:
            widgets.text_field(
                (*prefix, "label"),
                "Label",
                help=_desc(CloudOption, "label"),
                placeholder="the plan's name",
            )
        plans = {p.id: p.label + ("" if p.selectable else " (legacy)") for p in cat.plans}
        plans["custom"] = "custom: give the price below"
        with cols[2]:
            widgets.choice_field(
                (*prefix, "plan"),
                "Plan",
                plans,
                help=_desc(CloudOption, "plan")
                + (f"\n\n{plan.notes}" if plan and plan.notes else ""),
            )
        with cols[3]:
            widgets.choice_field(
                (*prefix, "billing"), "Billing", _BILLING, help=_desc(CloudOption, "billing")
            )
        st.caption("Empty fields use the plan's value shown in grey (hover ? for its source).")
        _option_grid(CLOUD_NUMBERS, prefix, defaults)
        st.button(
            "Remove this option", key=f"remove_cloud_{i}", on_click=_remove, args=("cloud", i)
        )


def _desc(model: type[OnPremOption] | type[CloudOption], field: str) -> str:
    return model.model_fields[field].description or ""


def _source_line(default: Default | None) -> str:
    if default is None or not default.source:
        return ""
    return f"\n\nCatalog: {default.value}, source {default.source}, as of {default.as_of}."


def _add_options() -> None:
    cat = cached.catalog()
    st.subheader("Add an option from the catalog")
    left, right = st.columns(2)
    with left:
        stacks = {s.id: s.label for s in cat.stacks}
        servers = {s.id: s.label for s in cat.servers}
        cols = st.columns(2)
        cols[0].selectbox("Stack", list(stacks), format_func=stacks.__getitem__, key="add_stack")
        cols[1].selectbox(
            "Server", list(servers), format_func=servers.__getitem__, key="add_server"
        )
        st.button("Add on-prem option", on_click=_add_onprem)
    with right:
        plans = {p.id: p.label for p in cat.plans if p.selectable}
        st.selectbox("Plan", list(plans), format_func=plans.__getitem__, key="add_plan")
        st.button("Add cloud option", on_click=_add_cloud)


def _downloads() -> None:
    scenario = state.current(st.session_state)
    stem = re.sub(r"[^A-Za-z0-9]+", "-", scenario.name).strip("-").lower() or "scenario"
    cols = st.columns([1, 1, 4])
    for col, fmt, mime in (
        (cols[0], "yaml", "application/yaml"),
        (cols[1], "json", "application/json"),
    ):
        with col:
            widgets.download(
                f"Download {fmt.upper()}",
                functools.partial(cached.scenario_text, scenario, fmt),
                file_name=f"{stem}.{fmt}",
                mime=mime,
            )
    cols[2].caption("The scenario in use, as a file for `mailplan compare` or a later upload.")


def _ranges() -> None:
    st.subheader("Ranges on inputs")
    ranged = len(state.current(st.session_state).ranges)
    st.caption(
        "Any number of the organisation, the price changes or an option may be a range "
        "instead (triangular, uniform, normal or lognormal); the other pages use its "
        f"typical value and the Risk page simulates it. This scenario has {ranged} ranged "
        "input(s); a ranged field above shows its range and an 'Edit range' button."
    )
    range_editor.picker(key="scenario")
    st.page_link(PAGES_DIR / "risk.py", label="What the ranges do: the Risk page →")


def render() -> None:
    """The whole form, then the table of where every value came from."""
    ss = st.session_state
    scenario, ev = widgets.current_evaluation()
    widgets.page_header("Scenario", scenario, "every input of the plan", warn=False)
    problems = state.problems(ss)
    if problems:
        lines = [f"{path or 'scenario'}: {m}" for path, ms in problems.items() for m in ms]
        st.error(
            "Not applied, the pages show the last valid version. Problems: "
            + widgets.plain("; ".join(lines))
        )
    _downloads()
    _general()
    _organization()
    defaults = cached.catalog_defaults(scenario)
    labels = {o.id: o.label for o in ev.options}

    st.subheader("On-prem options")
    for i, option in enumerate(state.draft_value(ss, ("onprem",)) or []):
        _onprem_option(i, option, defaults.get(option.get("id", ""), {}), labels)
    st.subheader("Cloud options")
    for i, option in enumerate(state.draft_value(ss, ("cloud",)) or []):
        _cloud_option(i, option, defaults.get(option.get("id", ""), {}), labels)
    widgets.show_problems("")
    _add_options()
    st.caption("Weights, scores and hard requirements are edited on the Compare page.")
    _ranges()

    with st.expander("Where every value comes from"):
        st.dataframe(
            cached.assumptions(scenario),
            hide_index=True,
            column_config={"source": st.column_config.LinkColumn("source")},
        )


render()
