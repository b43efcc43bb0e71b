"""The frame's sidebar, drawn by ``app.py`` on every page so its widgets persist across pages:
the scenario picker (bundled presets, uploaded files, the current edit), the upload, and
the display currency with its exchange rate."""

from __future__ import annotations

import streamlit as st

from planner.dashboard import cached, failures, state, widgets
from planner.dashboard.fields import SIDEBAR
from planner.dashboard.upload import MAX_UPLOAD_BYTES
from planner.errors import ScenarioError

__all__ = ["UPLOADER", "render"]

UPLOADER = "upload"
"""Widget key of the scenario file uploader."""


@failures.callback("Switching the scenario failed")
def _on_pick() -> None:
    state.select(st.session_state, st.session_state[state.PICKER])


@failures.callback("The upload could not be read")
def _on_upload() -> None:
    uploaded = st.session_state[UPLOADER]
    if uploaded is None:
        return
    try:
        scenario = cached.read_upload(uploaded.name, uploaded.getvalue())
    except ScenarioError as exc:
        state.upload_problems(st.session_state, list(exc.lines))
        return
    state.add_upload(st.session_state, uploaded.name, scenario)


def render() -> None:
    """Start the session on the default preset if new, then draw the sidebar."""
    ss = st.session_state
    state.init(ss, cached.presets())
    names = {label: state.describe(ss, label) for label in state.choices(ss)}
    with st.sidebar:
        st.selectbox(
            "Scenario",
            list(names),
            key=state.PICKER,
            format_func=names.__getitem__,
            on_change=_on_pick,
            help="A bundled preset, a file you uploaded, or your edits (`edited`). "
            "Every page shows this scenario.",
        )
        st.file_uploader(
            "Upload a scenario (YAML or JSON)",
            type=["yaml", "yml", "json"],
            key=UPLOADER,
            on_change=_on_upload,
            help=f"At most {MAX_UPLOAD_BYTES // 1024} KB; checked like `mailplan validate`.",
        )
        for line in state.upload_problems(ss):
            st.error(widgets.plain(line))
        currency, rate = SIDEBAR
        widgets.text_field(
            ("currency",),
            currency.title,
            help=currency.description + " Catalog prices stay in USD.",
        )
        widgets.number_field(("usd_exchange_rate",), rate)
        if state.problems(ss):
            st.warning("Some changes have problems (see the Scenario page); not applied.")
