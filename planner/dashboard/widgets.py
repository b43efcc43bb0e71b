"""Shared UI pieces: form fields bound to the draft, problem messages, charts, page headers.

A form field is keyed by its scenario path (``state.widget_key``), takes its first value
from the draft, and on change writes the draft back through ``state.edit``, which
validates it. Its problems are shown right under it, never as a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from planner.dashboard import cached, failures, state
from planner.dashboard.fields import NONE, ChoiceSpec, FieldSpec, Path, path_key
from planner.dashboard.views import Default, choice_words
from planner.evaluation import Evaluation
from planner.models import Scenario

__all__ = [
    "NOT_SET",
    "chart",
    "charts_section",
    "check",
    "choice",
    "choice_field",
    "current_evaluation",
    "date_field",
    "default_help",
    "download",
    "keep",
    "keep_choice",
    "kept",
    "multi_field",
    "number",
    "number_field",
    "page_header",
    "plain",
    "plain_number",
    "score_field",
    "show_problems",
    "text_field",
]

NOT_SET = NONE
"""The choice that leaves a field unset (the catalog or model default applies)."""

_CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def check() -> state.Check:
    """The validation every form change goes through: parse, then evaluate (cached)."""
    return state.checker(cached.evaluation, cached.parse_scenario)


_MARKDOWN = re.compile(r"([\\`*_\[\]<>!$~|#])")


def plain(text: str) -> str:
    """``text`` escaped for Streamlit markdown, so that names and values taken from a
    scenario file render as written (no links, images, emphasis or maths)."""
    return _MARKDOWN.sub(r"\\\1", text)


def number(value: float) -> str:
    """A number for help texts: thousands separators, no needless decimals."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


@failures.callback("The change could not be applied")
def _on_change(path: Path, key: str) -> None:
    if key not in st.session_state:
        # Streamlit dropped the widget's state (a run that did not draw it ended between
        # the edit and this callback, e.g. a page switch under load): no value to apply,
        # and the draft keeps the last value that was applied.
        return
    value = st.session_state[key]
    if isinstance(value, dt.date):
        value = value.isoformat()
    state.edit(st.session_state, path, value, check())


def show_problems(path: Path | str) -> None:
    """The draft's problems at exactly this path, as error boxes."""
    key = path if isinstance(path, str) else path_key(path)
    for msg in state.problems(st.session_state).get(key, []):
        st.error(plain(f"{key or 'scenario'}: {msg}"))


def _prime(path: Path, value: Any) -> str:
    key = state.widget_key(path)
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def default_help(spec: FieldSpec, default: Default | None) -> str:
    """The field's description and where the value used when it is left empty comes from."""
    parts = [choice_words(spec.description)]
    if default is not None and isinstance(default.value, int | float):
        line = f"Left empty: **{number(default.value)}** {spec.unit}, from {default.origin}"
        if default.source:
            line += f"; source {default.source}"
        if default.as_of:
            line += f", as of {default.as_of}"
        parts.append(line + ".")
        if default.note:
            parts.append(("Estimate: " if default.estimate else "Note: ") + default.note)
    elif spec.default is not None:
        parts.append(f"mailplan default: {spec.default} {spec.unit}.")
    return "\n\n".join(p for p in parts if p)


def _placeholder(spec: FieldSpec, optional: bool, default: Default | None) -> str | None:
    """What an empty input shows: the catalog value it falls back to, the model default,
    or what leaving it empty means."""
    if optional and default is not None and isinstance(default.value, int | float):
        return f"{number(default.value)} · {default.origin.split()[0]}"
    if spec.empty:
        return spec.empty
    if optional:
        return "empty: 0"
    if isinstance(spec.default, int | float):
        return f"{number(spec.default)} · default"
    return None


def number_field(
    path: Path,
    spec: FieldSpec,
    *,
    optional: bool = False,
    default: Default | None = None,
    disabled: bool = False,
    help_extra: str = "",
) -> None:
    """A number input for ``spec`` at ``path``; ``optional`` ones may stay empty (catalog).
    A field holding a range is drawn by ``range_editor.cell`` instead."""
    value = state.draft_value(st.session_state, path)
    if value is None and not optional:
        value = spec.default
    if value is not None:
        value = int(value) if spec.kind == "int" else float(value)
    key = _prime(path, value)
    st.number_input(
        spec.title,
        value=None,  # the session value wins; None makes a cleared field read as empty, not 0
        key=key,
        step=1 if spec.kind == "int" else spec.step,
        format=spec.fmt,
        help=default_help(spec, default) + help_extra,
        placeholder=_placeholder(spec, optional, default),
        disabled=disabled,
        on_change=_on_change,
        args=(path, key),
    )
    show_problems(path)


def text_field(path: Path, label: str, *, help: str | None = None, placeholder: str = "") -> None:
    """A text input at ``path`` (empty removes the key)."""
    key = _prime(path, state.draft_value(st.session_state, path) or "")
    st.text_input(
        label,
        key=key,
        help=help,
        placeholder=placeholder or None,
        on_change=_on_change,
        args=(path, key),
    )
    show_problems(path)


def choice_field(
    path: Path,
    label: str,
    choices: Mapping[Any, str],
    *,
    help: str | None = None,
    on_change: Callable[[Path, str], None] | None = None,
) -> None:
    """A select box at ``path`` over ``choices`` (value -> text); NOT_SET leaves it unset.

    (A select box's None means "nothing selected", so "not set" is spelled NOT_SET.)
    ``on_change(path, key)`` replaces the usual write-back to the draft.
    """
    value = state.draft_value(st.session_state, path)
    options = list(choices)
    key = _prime(path, value if value in choices else options[0])
    st.selectbox(
        label,
        options,
        key=key,
        format_func=choices.__getitem__,
        help=help,
        on_change=on_change or _on_change,
        args=(path, key),
    )
    show_problems(path)


def choice(path: Path, spec: ChoiceSpec, *, help_extra: str = "") -> None:
    """A select box for ``spec`` at ``path``, its help from the model's description."""
    choice_field(path, spec.label, spec.texts, help=choice_words(spec.description) + help_extra)


def plain_number(
    path: Path, label: str, *, default: float, step: float, fmt: str, help: str | None = None
) -> None:
    """A number input at ``path`` for a value outside the field tables (a weight)."""
    value = state.draft_value(st.session_state, path)
    key = _prime(path, float(default if value is None else value))
    st.number_input(
        label,
        value=None,
        key=key,
        step=step,
        format=fmt,
        help=help,
        on_change=_on_change,
        args=(path, key),
    )
    show_problems(path)


def score_field(path: Path, label: str, *, default: int, help: str | None = None) -> None:
    """A 1-5 slider at ``path``."""
    value = state.draft_value(st.session_state, path)
    key = _prime(path, int(default if value is None else value))
    st.slider(label, 1, 5, key=key, step=1, help=help, on_change=_on_change, args=(path, key))
    show_problems(path)


def multi_field(
    path: Path, label: str, choices: Mapping[str, str], *, help: str | None = None
) -> None:
    """A multiselect at ``path`` over ``choices`` (value -> text); empty removes the key."""
    value = state.draft_value(st.session_state, path) or []
    key = _prime(path, [v for v in value if v in choices])
    st.multiselect(
        label,
        list(choices),
        key=key,
        format_func=choices.__getitem__,
        help=help,
        on_change=_on_change,
        args=(path, key),
    )
    show_problems(path)


def date_field(path: Path, label: str, *, help: str | None = None) -> None:
    """A date input at ``path`` that may stay empty."""
    value = state.draft_value(st.session_state, path)
    key = _prime(path, dt.date.fromisoformat(value) if isinstance(value, str) else None)
    st.date_input(label, value=None, key=key, help=help, on_change=_on_change, args=(path, key))
    show_problems(path)


_KEPT = "mp_kept"


def kept(key: str, default: Any) -> str:
    """``key`` for a page's own control whose value must outlive a visit to another page
    (Streamlit forgets a widget's value when its page is not drawn): primed from the value
    last kept, else ``default``. Pass ``on_change=keep, args=(key,)`` to the widget."""
    saved = st.session_state.setdefault(_KEPT, {})
    if key not in st.session_state:
        st.session_state[key] = saved.get(key, default)
    return key


def keep(key: str, value: Any = None) -> None:
    """Remember a control's value (or set it to ``value``) for the next visit of its page."""
    if value is not None:
        st.session_state[key] = value
    st.session_state.setdefault(_KEPT, {})[key] = st.session_state[key]


def keep_choice(key: str, options: list[str]) -> None:
    """Forget a picker's value that is no longer among its options (another scenario)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def current_evaluation() -> tuple[Scenario, Evaluation]:
    """The scenario in use and its (cached) evaluation."""
    scenario = state.current(st.session_state)
    return scenario, cached.evaluation(scenario)


def page_header(title: str, scenario: Scenario, what: str, *, warn: bool = True) -> None:
    """Page title, the scenario it shows, one line saying what the page does, and (with
    ``warn``) a warning when the form holds changes that were not applied."""
    st.title(title)
    st.caption(
        f"{plain(scenario.name)} · {scenario.horizon_years} years · amounts in {scenario.currency}"
        f" (USD × {scenario.usd_exchange_rate:g}) · {what}"
    )
    if warn and state.problems(st.session_state):
        st.warning(
            "The Scenario page has changes with problems; this page shows the last valid version."
        )


def chart(fig: go.Figure, key: str) -> None:
    """A plotly figure at full width with a trimmed mode bar."""
    st.plotly_chart(fig, key=key, config=_CHART_CONFIG)


def charts_section(label: str, key: str) -> Any | None:
    """An expander of charts, closed at first, whose charts are drawn only while it is
    open (use ``with`` on what it returns; None while closed). It stays as the user left
    it across reruns and page visits.

    Why closed: a page with a plotly chart makes the browser load and compile plotly.js
    (4.7 MB) before the page is complete; the first page of a session without one is
    drawn about twice as fast, and the charts are one click away."""
    box = st.expander(label, key=kept(key, False), on_change=keep, args=(key,))
    return box if box.open else None


def download(
    label: str,
    make: Callable[[], bytes | str],
    *,
    file_name: str,
    mime: str,
    key: str | None = None,
    hint: str = "",
) -> bool:
    """A download button for the file ``make()`` returns, or why it cannot be made.

    The file is made now (callers cache it), not when the button is clicked: a deferred
    download that fails does nothing in the browser. On failure an error says
    "``label`` could not be made: why" (then ``hint``); returns whether the button is there.
    """
    try:
        data = make()
    except Exception as exc:
        failures.show(f"{label} could not be made", exc, hint)
        return False
    st.download_button(label, data, file_name=file_name, mime=mime, on_click="ignore", key=key)
    return True
