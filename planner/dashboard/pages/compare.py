"""Compare: the side the numbers miss, as a weighted decision matrix with hard requirements."""

from __future__ import annotations

import streamlit as st

from planner.dashboard import cached, failures, state, views, widgets
from planner.models import CRITERIA, FeatureInfo, Requirement

_COLUMNS = 4


_RADAR = "compare_radar"
_RADAR_KEPT = "mp_compare_radar"


def _keep_radar() -> None:
    st.session_state[_RADAR_KEPT] = list(st.session_state[_RADAR])


@failures.callback("The scores could not be reset")
def _reset(option_id: str) -> None:
    state.reset_scores(st.session_state, option_id, widgets.check())


def render() -> None:
    """Requirements, weights, the matrix and radar, then one option's scores with reasons."""
    scenario, ev = widgets.current_evaluation()
    widgets.page_header(
        "Compare", scenario, "control, effort, confidentiality and the rest, weighed"
    )
    qual = ev.catalog.qualitative
    criteria = {c.id: c for c in qual.criteria}

    st.subheader("Hard requirements")
    needs: list[Requirement | FeatureInfo] = [*qual.requirements, *ev.catalog.features]
    widgets.multi_field(
        ("qualitative", "requirements"),
        "Options must meet or include",
        {r.id: r.label for r in needs},
        help="\n\n".join(f"**{r.label}**: {r.description}" for r in needs)
        + "\n\nAn option without a required feature buys the vendor's add-on where one is "
        "sold (cost category feature_addons), or is ruled out.",
    )
    ruled_out = views.requirement_table(ev)
    if ruled_out.empty:
        st.caption("No option is ruled out.")
    else:
        st.table(ruled_out.set_index("Option"))

    st.subheader("What each option includes")
    st.table(views.parity_table(ev))

    st.subheader("Weights")
    st.caption("How much each criterion counts; 0 leaves it out.")
    cols = st.columns(_COLUMNS)
    for i, c in enumerate(CRITERIA):
        with cols[i % _COLUMNS]:
            widgets.plain_number(
                ("qualitative", "weights", c),
                f"{criteria[c].label} (weight)",
                default=1.0,
                step=0.5,
                fmt="%.1f",
                help=criteria[c].description,
            )

    st.subheader("Decision matrix")
    st.table(views.decision_matrix(ev))
    st.caption("Scores 1 (poor) to 5 (best); weighted score = Σ weight × score / Σ weight.")
    labels = views.option_labels(ev)
    st.session_state[_RADAR] = [
        o for o in st.session_state.get(_RADAR_KEPT, views.radar_default(ev)) if o in labels
    ]
    picked = st.multiselect(
        "Options on the radar",
        list(labels),
        format_func=labels.__getitem__,
        key=_RADAR,
        on_change=_keep_radar,
        help="Two or three at a time read best; it starts with the cheapest option and the "
        "best-scored option of the other kind.",
    )
    if picked:
        widgets.chart(cached.qualitative_radar(scenario, tuple(picked)), key="qualitative_radar")

    st.subheader("Scores and reasons")
    widgets.keep_choice("compare_option", list(labels))
    option_id = st.selectbox(
        "Option", list(labels), format_func=labels.__getitem__, key="compare_option"
    )
    cells = {cell.criterion: cell for cell in ev.assessments[option_id].criteria}
    halves = st.columns(2)
    for i, c in enumerate(CRITERIA):
        cell = cells[c]
        with halves[i % 2]:
            widgets.score_field(
                ("qualitative", "scores", option_id, c),
                criteria[c].label,
                default=cell.score,
                help=criteria[c].description,
            )
            st.caption(f"{cell.origin}: {cell.reason}")
    st.button(
        "Back to the catalog's scores for this option",
        on_click=_reset,
        args=(option_id,),
        key="reset_scores",
    )


render()
