"""The range editor: give an input a range, change its form or parameters, or turn it back
into a plain number. The Risk page and the Scenario form both use it.

A change goes through ``planner.risk.with_range`` (cached), which validates the whole
scenario; a valid result is put in use as ``edited`` and loaded into the form, so the
downloads, the other pages and the Scenario form all show it. A refused change is
explained under the editor and changes nothing. While the form holds changes with
problems the editor applies nothing (it would start from the last valid version and drop
them).
"""

from __future__ import annotations

import streamlit as st

from planner.dashboard import cached, failures, ranges_form, state, widgets
from planner.dashboard.fields import FieldSpec, Path, path_key
from planner.dashboard.ranges_form import FORM_LABELS, FORMS, NO_RANGE
from planner.errors import PlannerError
from planner.ranges import distribution_from

__all__ = ["cell", "editor", "picker"]

_PROBLEMS = "mp_range_problems"


@failures.callback("The range could not be applied")
def _apply(path: str, form: str, keys: dict[str, str]) -> None:
    ss = st.session_state
    params = {param: ss.get(key) for param, key in keys.items()}
    try:
        changed = cached.with_range(state.current(ss), path, ranges_form.range_data(form, params))
    except PlannerError as exc:
        ss[_PROBLEMS] = {path: list(exc.lines)}
        return
    ss[_PROBLEMS] = {}
    state.use(ss, changed)


def _param_format(spec: FieldSpec | None) -> tuple[float, str, str]:
    """Step, printf format and unit of a range parameter of the input (floats always)."""
    if spec is None:
        return 1.0, "%.4f", ""
    fmt = "%.1f" if spec.kind == "int" else spec.fmt
    return spec.step, fmt, spec.unit


def editor(path: str, *, key: str) -> None:
    """The range of the input at field ``path`` of the scenario in use: its form, its
    parameters and an Apply button; refused changes explained below it."""
    ss = st.session_state
    scenario, ev = widgets.current_evaluation()
    dist = scenario.ranges.get(path)
    number = ranges_form.current_value(scenario, ev, path)
    if number is None and dist is None:
        st.caption("This input has no value to start a range from.")
        return
    # Widget keys carry the current range (or number), so after a change, or on another
    # scenario, the inputs start again from what the scenario now holds.
    token = dist.describe() if dist is not None else f"{number:g}"
    forms = list(FORM_LABELS)
    form = st.selectbox(
        "Range",
        forms,
        index=forms.index(dist.dist if dist is not None else NO_RANGE),
        format_func=FORM_LABELS.__getitem__,
        key=f"{key}:form:{path}:{token}",
        help="How the input varies in the simulation; 'none' keeps one number. A new "
        "range starts with the same centre and low/high points as the current one (a "
        "plain number: zero width around it), so widen it from there.",
    )
    if form == NO_RANGE and dist is None:
        shown = widgets.number(number or 0.0)
        st.caption(f"A plain number: {shown}. Pick a form to give it a range.")
        return
    step, fmt, unit = _param_format(ranges_form.input_spec(path))
    start = ranges_form.starting_params(form, dist, number or 0.0) if form != NO_RANGE else {}
    keys: dict[str, str] = {}
    blocked = bool(state.problems(ss))
    with st.form(f"{key}:box:{path}:{token}", border=False):
        params = FORMS.get(form, ())
        for col, (param, label) in zip(st.columns(max(len(params), 1)), params, strict=False):
            keys[param] = f"{key}:{path}:{form}:{param}:{token}"
            col.number_input(
                f"{label} ({unit})" if unit else label,
                value=start[param],
                step=step,
                format=fmt,
                key=keys[param],
            )
        if form == NO_RANGE and dist is not None:
            typical = widgets.number(dist.center())
            st.caption(f"Drop the range and keep its typical value, {typical}.")
        st.form_submit_button(
            "Drop the range" if form == NO_RANGE else "Apply",
            on_click=_apply,
            args=(path, form, keys),
            disabled=blocked,
            key=f"{key}:apply:{path}",
        )
    if blocked:
        st.caption("The Scenario page has changes with problems; fix them to edit ranges.")
    for line in ss.get(_PROBLEMS, {}).get(path, []):
        st.error(widgets.plain(line))


def picker(*, key: str) -> None:
    """Pick any input of the scenario in use (ranged ones marked) and edit its range."""
    scenario = state.current(st.session_state)
    labels = ranges_form.input_labels(scenario)
    ranged = scenario.ranges
    pick = f"{key}:input"
    widgets.keep_choice(pick, list(labels))
    shown = {p: label + ("  ·  ranged" if p in ranged else "") for p, label in labels.items()}
    paths = list(labels)
    first = next((i for i, p in enumerate(paths) if p in ranged), 0)
    path = st.selectbox(
        "Input",
        paths,
        index=first,
        format_func=shown.__getitem__,
        key=pick,
        help="Any number of the organisation, the price changes or an option.",
    )
    if path is not None:
        editor(path, key=key)


def cell(path: Path, spec: FieldSpec) -> None:
    """A ranged field in the Scenario form's grid: its range, and an 'Edit range' popover
    with the editor (drawn only while open)."""
    ss = st.session_state
    raw = state.draft_value(ss, path)
    try:
        described = distribution_from(raw).describe()
    except (ValueError, TypeError, AttributeError):
        described = "a range"
    st.markdown(f"**{spec.title}**", help=spec.description)
    st.caption(widgets.plain(described))
    field = ranges_form.field_path(state.draft_value(ss, ()) or {}, path)
    if field is not None and state.current(ss).has_field(field):
        pop = st.popover("Edit range", key=f"pop:{path_key(path)}", on_change="rerun")
        with pop:
            if pop.open:
                editor(field, key="form")
    widgets.show_problems(path)
