"""Risk: how sure the choice is when inputs are ranges instead of numbers (Monte Carlo over
the ranges, one-at-a-time swings for a pair of options), and the ranges themselves."""

from __future__ import annotations

import streamlit as st

from planner.dashboard import (
    cached,
    failures,
    range_editor,
    ranges_form,
    risk_views,
    state,
    views,
    widgets,
)
from planner.dashboard.risk_views import DRAWS, FACTOR, MAX_DRAWS, SEED
from planner.dashboard.widgets import NOT_SET, keep, kept
from planner.errors import PlannerError
from planner.models import Scenario
from planner.recommendation import money

# The bundled preset with sourced ranges (data/scenarios/default-ranges.yaml). No
# docstrings on constants here: Streamlit's "magic" would draw them on the page.
DEFAULT_RANGES = "default-ranges"

_EXAMPLE = """\
organization:
  user_growth_per_year: {low: 0.0, typical: 0.08, high: 0.20}   # triangular
  peak_factor: {dist: uniform, low: 2.4, high: 5}
onprem:
  - id: postfix-dovecot
    admin_hours_per_month: {dist: lognormal, median: 16, p90: 40}
    electricity_per_kwh: {dist: normal, mean: 0.131, sd: 0.03}
correlations:            # optional: [field path, field path, rho]
  - [organization.messages_sent_per_user_day, organization.messages_received_per_user_day, 0.8]
"""


@failures.callback("The default ranges could not be loaded")
def _switch_to_default_ranges() -> None:
    state.select(st.session_state, DEFAULT_RANGES)


_ADDED = "mp_ranges_added"


@failures.callback("The default ranges could not be added")
def _add_default_ranges() -> None:
    ss = st.session_state
    source = cached.presets()[DEFAULT_RANGES]
    done = cached.add_ranges(state.current(ss), source)
    ss[_ADDED] = views.ranges_added_line(done.added, done.skipped, source.name)
    if done.added:
        state.use(ss, done.scenario)


@failures.callback("The range width could not be kept")
def _keep_width() -> None:
    ss = st.session_state
    factor = float(ss["risk_factor"])
    try:
        scaled = cached.scale_ranges(state.current(ss), factor)
    except PlannerError:
        return  # the page shows why
    state.use(ss, scaled)
    keep("risk_factor", FACTOR)


def _no_ranges() -> None:
    st.info(
        "This scenario has no ranges: every input is a single number, so there is nothing "
        "to simulate. Give the inputs you are least sure of a range (a low, typical and "
        "high value, or a distribution) and this page shows how likely the cheapest "
        "option is to stay the cheapest, and which inputs move the decision most."
    )
    st.markdown(
        "Three ways to add ranges: pick an input below and give it a range; on the "
        "Scenario page, under *Ranges on inputs*; or in the scenario file, then upload it:"
    )
    st.code(_EXAMPLE, language="yaml")
    if DEFAULT_RANGES in state.choices(st.session_state):
        source = cached.presets()[DEFAULT_RANGES]
        st.markdown(
            f"Or use the sourced ranges of the bundled scenario *{widgets.plain(source.name)}* "
            "(each source is in `data/scenarios/default-ranges.yaml`):"
        )
        cols = st.columns(2)
        cols[0].button(
            "Add the default ranges to this scenario",
            on_click=_add_default_ranges,
            disabled=bool(state.problems(st.session_state)),
            help="Keeps this scenario and every value in it: each input it shares with "
            "'default-ranges' gets that file's range, moved to centre on this scenario's "
            "value. Inputs it lacks are left out. The result is put in use as 'edited'.",
        )
        cols[1].button(
            "Switch to the 'default-ranges' scenario",
            on_click=_switch_to_default_ranges,
            help="Puts the bundled default scenario with ranges in use instead of this "
            "one, which stays in the sidebar's scenario picker (an edited one as 'edited').",
        )
    st.subheader("Give an input a range")
    range_editor.picker(key="risk")


def _flips(scenario: Scenario) -> None:
    """Where the answer flips, as sentences, nearest first."""
    st.subheader("Where the answer flips")
    what = "ranged input" if scenario.ranges else "input"
    st.caption(
        f"Each {what} in turn, the others at their typical values: the value at which "
        "another option becomes the cheapest, searched from a tenth to ten times its value "
        "(within its bounds); nearest first."
    )
    st.markdown("\n".join(f"- {widgets.plain(s)}" for s in cached.flip_sentences(scenario)))


def _controls(scenario: Scenario) -> tuple[Scenario, int, int]:
    """Draw count, seed and range width; the scenario with the width applied."""
    cols = st.columns([1, 1, 2, 1])
    draws = cols[0].number_input(
        "Draws",
        min_value=100,
        max_value=MAX_DRAWS,
        step=1000,
        key=kept("risk_draws", DRAWS),
        on_change=keep,
        args=("risk_draws",),
        help=f"Monte Carlo draws of the ranged inputs, at most {MAX_DRAWS:,}.",
    )
    seed = cols[1].number_input(
        "Seed",
        min_value=0,
        max_value=2**32 - 1,
        step=1,
        key=kept("risk_seed", SEED),
        on_change=keep,
        args=("risk_seed",),
        help="The same seed and draws give the same result (the reports use seed 1).",
    )
    factor = cols[2].slider(
        "Range width (× each range's spread around its typical value)",
        min_value=0.0,
        max_value=3.0,
        step=0.25,
        format="%.2f×",
        key=kept("risk_factor", FACTOR),
        on_change=keep,
        args=("risk_factor",),
        help="0 collapses every range to its typical value, 1 keeps them as they are, "
        "2 doubles their spread (kept within each field's bounds). Only this page uses "
        "it until you keep it.",
    )
    cols[3].button(
        "Keep this width",
        on_click=_keep_width,
        disabled=factor == FACTOR,
        help="Write the widened or narrowed ranges into the scenario (as 'edited').",
    )
    if factor == FACTOR:
        return scenario, int(draws), int(seed)
    try:
        view = cached.scale_ranges(scenario, float(factor))
    except PlannerError as exc:
        st.error(widgets.plain("; ".join(exc.lines)))
        view = scenario
    return view, int(draws), int(seed)


def _pair(view: Scenario) -> tuple[str | None, str | None] | None:
    """The on-prem/cloud pair the tornado compares (None: the cheapest of that kind)."""
    default = cached.default_pair(view)
    if default is None:
        st.info(
            "The tornado compares an on-prem option with a cloud option; this scenario "
            "lacks one of the two kinds."
        )
        return None
    picks: list[str | None] = []
    cols = st.columns(2)
    for col, kind, options, cheapest in (
        (cols[0], "onprem", [o.id for o in view.onprem], default[0]),
        (cols[1], "cloud", [o.id for o in view.cloud], default[1]),
    ):
        key = f"risk_{kind}"
        choices = {NOT_SET: f"the cheapest ({cheapest})", **{i: i for i in options}}
        widgets.keep_choice(key, list(choices))
        pick = col.selectbox(
            "On-prem option" if kind == "onprem" else "Cloud option",
            list(choices),
            format_func=choices.__getitem__,
            key=kept(key, NOT_SET),
            on_change=keep,
            args=(key,),
        )
        picks.append(pick or None)
    return picks[0], picks[1]


def render() -> None:
    """Controls, headline, NPV spread, P(cheapest), tornado, break-even years, ranges."""
    scenario = state.current(st.session_state)
    cur = scenario.currency
    widgets.page_header("Risk", scenario, "how sure the choice is, given ranges on the inputs")
    labels = ranges_form.input_labels(scenario)
    added = st.session_state.pop(_ADDED, None)
    if added:
        st.success(widgets.plain(added))
    if not scenario.ranges:
        _flips(scenario)
        _no_ranges()
        return

    view, draws, seed = _controls(scenario)
    summary = cached.simulation_summary(view, draws, seed)
    default = cached.default_pair(view)
    head = cached.risk_headline(view, draws, seed, None, None)  # the reports' pair

    cols = st.columns(3)
    cols[0].metric(
        "Recommendation holds",
        risk_views.share(head.p_holds),
        help=f"Share of the {draws:,} draws in which {head.recommendation}, the cheapest "
        "option by NPV in the typical case, is still the cheapest.",
    )
    cols[1].metric("Cheapest, typical case", head.recommendation)
    cols[2].metric(
        "Most often cheapest",
        head.most_often_cheapest,
        help="The option with the lowest NPV in the largest share of the draws.",
    )
    st.markdown("\n".join(f"- {widgets.plain(line)}" for line in head.lines))

    st.subheader("NPV of each option")
    widgets.chart(cached.risk_npv_distributions(view, draws, seed), key="risk_npv")
    st.table(risk_views.percentiles_table(summary, cached.catalog()))
    widgets.chart(cached.risk_p_cheapest(view, draws, seed), key="risk_p_cheapest")

    st.subheader("What moves the decision")
    pair = _pair(view)
    if pair is not None and default is not None:
        onprem, cloud = pair
        sens = cached.sensitivity_summary(view, onprem, cloud)
        st.caption(
            f"NPV gap {sens.onprem} − {sens.cloud} in the typical case: "
            f"{money(sens.base, cur)} (below 0: on-prem is cheaper). Each ranged input in "
            "turn at its low and high value (p10 and p90 for normal and lognormal), the "
            "others typical."
        )
        widgets.chart(cached.tornado(view, onprem, cloud), key="risk_tornado")
        st.dataframe(risk_views.tornado_table(sens, labels), hide_index=True)

    _flips(view)

    if summary.break_even:
        st.subheader("Break-even year")
        widgets.chart(cached.risk_break_even_years(view, draws, seed), key="risk_break_even")

    st.subheader("Ranges")
    st.caption(
        "The ranges of the scenario in use (the width slider above is not applied here). "
        "Pick an input to change its range, give another input one, or drop one."
    )
    st.dataframe(risk_views.ranges_table(cached.ranged_inputs(scenario), labels), hide_index=True)
    range_editor.picker(key="risk")


render()
