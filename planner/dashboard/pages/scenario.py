"""Scenario: every field of the scenario file as a form, options chosen from the catalog,
download as YAML or JSON. Problems show under the field they concern."""

from __future__ import annotations

import functools
import re
from typing import Any

import streamlit as st

from planner.dashboard import PAGES_DIR, cached, failures, range_editor, state, views, widgets
from planner.dashboard.fields import (
    CLOUD_NUMBERS,
    COPIES,
    COPIES_CHOICE,
    CURRENT,
    CURRENT_SERVERS_BOUGHT,
    DOWNTIME,
    DOWNTIME_BASIS,
    DR_CHOICE,
    ESCALATION,
    GENERAL,
    INFLATION,
    LABOUR_COST,
    MIGRATION,
    ONPREM_NUMBERS,
    ORGANIZATION,
    PRICE_BASIS,
    TAX,
    FieldSpec,
    path_key,
)
from planner.dashboard.views import Default
from planner.dashboard.widgets import NOT_SET
from planner.models import CloudOption, OnPremOption
from planner.resolution import AUTO_SERVER

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
    for key in [k for k in st.session_state if str(k).startswith(f"{_OPEN}{kind}_")]:
        del st.session_state[key]  # the sections after it moved up: all start closed


def _problems_under(prefix: tuple[str | int, ...]) -> bool:
    """Whether the draft has problems in an option's section."""
    where = path_key(prefix)
    return any(
        p == where or p.startswith((where + ".", where + "["))
        for p in state.problems(st.session_state)
    )


_OPEN = "open_"


def _section(title: str, kind: str, i: int) -> Any:
    """An option's section: an expander whose fields are drawn only while it is open (an
    option has up to 50 fields; drawing every option's on each run made the page slow).
    It opens, and stays open, while the option has problems."""
    key = f"{_OPEN}{kind}_{i}"
    if _problems_under((kind, i)):
        st.session_state[key] = True
    return st.expander(title, key=key, on_change="rerun")


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
    _today_and_basis()
    st.subheader("Price changes per year")
    st.caption(views.escalation_caption(state.current(st.session_state)))
    _grid(ESCALATION, ("escalation",))


def _option_ids(kind: str) -> list[str]:
    options = state.draft_value(st.session_state, (kind,)) or []
    return [str(o["id"]) for o in options if isinstance(o, dict) and o.get("id")]


@failures.callback("What runs today could not be changed")
def _on_current(path: tuple[str | int, ...], key: str) -> None:
    """Set ``current``; a cloud system (or none) has no servers bought, so that goes."""
    value = st.session_state[key]
    changes: list[tuple[tuple[str | int, ...], object]] = [(path, value)]
    if value not in _option_ids("onprem"):
        changes.append((("current_servers_bought",), None))
    state.edit_many(st.session_state, changes, widgets.check(), keep=path)


_BASIS_KEY = state.widget_key(("downtime_basis",))


def _downtime_given() -> str:
    """Which downtime cost the draft gives (a DOWNTIME field name), or NOT_SET."""
    for spec in DOWNTIME:
        if state.draft_value(st.session_state, (spec.name,)) is not None:
            return spec.name
    return NOT_SET


@failures.callback("The downtime cost could not be changed")
def _on_downtime_basis() -> None:
    """Move the amount to the key of the basis picked (or drop it: not costed)."""
    ss = st.session_state
    given = _downtime_given()
    amount = state.draft_value(ss, (given,)) if given else None
    picked = ss[_BASIS_KEY]
    changes: list[tuple[tuple[str | int, ...], object]] = [((s.name,), None) for s in DOWNTIME]
    if picked:
        changes.append(((picked,), amount))
    state.edit_many(ss, changes, widgets.check())


def _today_and_basis() -> None:
    """What runs today, the labour and price bases, and the cost of downtime."""
    ss = st.session_state
    onprem, cloud = _option_ids("onprem"), _option_ids("cloud")
    choices = {
        NOT_SET: "nothing: a new installation",
        **{i: f"{i} (on-prem)" for i in onprem},
        **{i: f"{i} (cloud)" for i in cloud},
    }
    current = state.draft_value(ss, ("current",))
    cols = st.columns(_COLUMNS)
    with cols[0]:
        widgets.choice_field(
            ("current",),
            CURRENT.label,
            choices,
            help=CURRENT.description
            + " Every other option then pays the move (see 'Moving from today's system').",
            on_change=_on_current,
        )
    with cols[1]:
        widgets.number_field(
            ("current_servers_bought",),
            CURRENT_SERVERS_BOUGHT,
            optional=True,
            disabled=current not in onprem,
            help_extra="\n\nOnly for an on-prem system that runs today.",
        )
    with cols[2]:
        widgets.choice(("labour_cost",), LABOUR_COST)
    with cols[3]:
        widgets.choice(("price_basis",), PRICE_BASIS)
    cols = st.columns(_COLUMNS)
    with cols[0]:
        widgets.number_field(
            (INFLATION.name,),
            INFLATION,
            disabled=state.draft_value(ss, ("price_basis",)) != "nominal",
            help_extra="\n\nUsed only with the nominal price basis.",
        )
    given = _downtime_given()
    if _BASIS_KEY not in ss:
        ss[_BASIS_KEY] = given
    with cols[1]:
        st.selectbox(
            DOWNTIME_BASIS.label,
            list(DOWNTIME_BASIS.texts),
            key=_BASIS_KEY,
            format_func=DOWNTIME_BASIS.texts.__getitem__,
            help="What an hour of mail downtime costs: per user, or for the organisation as "
            "a whole (one of them). Not costed: each option's expected downtime is still "
            "reported on the Costs page, but not added to its totals.",
            on_change=_on_downtime_basis,
        )
    picked = ss[_BASIS_KEY] or given
    for spec in DOWNTIME:
        if spec.name == picked:
            with cols[2]:
                widgets.number_field((spec.name,), spec, optional=True)
    cols = st.columns(_COLUMNS)
    for i, spec in enumerate(TAX):
        with cols[i]:
            widgets.number_field(
                ("tax_pct", spec.name),
                spec,
                optional=True,
                help_extra="\n\nCatalog prices exclude tax; empty: none is added.",
            )


def _migration() -> None:
    st.subheader("Moving from today's system")
    st.caption(views.migration_caption(state.current(st.session_state)))
    defaults = cached.migration_defaults()
    cols = st.columns(_COLUMNS)
    for i, spec in enumerate(MIGRATION):
        with cols[i % _COLUMNS]:
            _field(("migration", spec.name), spec, optional=True, default=defaults.get(spec.name))


def _organization() -> None:
    st.subheader("Organisation")
    st.caption(views.organisation_caption(state.current(st.session_state)))
    _grid(ORGANIZATION, ("organization",))


def _onprem_option(
    i: int, option: dict[str, Any], defaults: dict[str, Default], labels: dict[str, str]
) -> None:
    cat = cached.catalog()
    prefix: tuple[str | int, ...] = ("onprem", i)
    name = option.get("label") or labels.get(option.get("id", ""), "")
    title = widgets.plain(f"On-prem: {option.get('id', '?')} — {name}")
    section = _section(title, "onprem", i)
    if not section.open:
        return
    with section:
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
                {
                    NOT_SET: "none: give hardware below",
                    AUTO_SERVER: "auto: the profile sizing picks for the load",
                    **{s.id: s.label for s in cat.servers},
                },
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
        cols = st.columns(_COLUMNS)
        with cols[0]:
            if isinstance(state.draft_value(st.session_state, (*prefix, "copies")), dict):
                range_editor.cell((*prefix, "copies"), COPIES)
            else:
                widgets.choice((*prefix, "copies"), COPIES_CHOICE)
        with cols[1]:
            widgets.choice((*prefix, "dr"), DR_CHOICE)
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
    section = _section(title, "cloud", i)
    if not section.open:
        return
    with section:
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
    ranged = views.ranged_count(len(state.current(st.session_state).ranges))
    st.caption(
        "Any number of the organisation, the price changes, the move or an option may be a "
        "range instead (triangular, uniform, normal or lognormal); the other pages use its "
        f"typical value and the Risk page simulates it. {ranged} in this scenario; a ranged "
        "field above shows its range and an 'Edit range' button."
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
    _migration()
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

    sources = st.expander("Where every value comes from", key="open_sources", on_change="rerun")
    if not sources.open:
        return
    with sources:
        st.dataframe(
            cached.assumptions(scenario),
            hide_index=True,
            column_config={"source": st.column_config.LinkColumn("source")},
        )


render()
