"""Costs: what each option costs over the horizon, which is cheapest, and where they cross."""

from __future__ import annotations

import streamlit as st

from planner.dashboard import cached, views, widgets


def render() -> None:
    """Call-out, totals table, the three cost charts and the break-even table."""
    scenario, ev = widgets.current_evaluation()
    cur = scenario.currency
    widgets.page_header(
        "Costs", scenario, "total cost of ownership, NPV and break-even of every option"
    )

    call = views.cheapest_callout(ev)
    best = call.cheapest
    text = (
        f"Cheapest: **{widgets.plain(best.label)}** (`{best.id}`), NPV {views.money(best.npv, cur)}"
    )
    if call.runner_up is not None and call.saving_npv is not None:
        text += (
            f", saving **{views.money(call.saving_npv, cur)}** (NPV) over the next cheapest, "
            f"{widgets.plain(call.runner_up.label)} (`{call.runner_up.id}`)"
        )
    st.success(text + f"; among {call.among}.")

    head = views.headline_break_even(ev)
    cols = st.columns(4)
    cols[0].metric("Cheapest NPV", views.money(best.npv, cur), help="Discounted at the start.")
    cols[1].metric(
        "Saving over the next cheapest",
        "–" if call.saving_npv is None else views.money(call.saving_npv, cur),
    )
    cols[2].metric("Cheapest, per user-month", views.money(best.per_user_month, cur, 2))
    if head is not None:
        cols[3].metric(
            "Break-even year",
            str(head.year) if head.year else "none",
            help=f"First year in which cumulative {head.onprem} cost is at or below "
            f"{head.cloud} (the lowest-NPV on-prem and cloud options).",
        )

    st.subheader("Totals")
    st.table(views.totals_table(ev))
    for option in ev.comparison.options:
        for warning in option.warnings:
            st.caption(f"`{option.id}`: {warning}")

    st.subheader("Over the years")
    widgets.chart(cached.cumulative_tco(scenario), key="cumulative_tco")
    widgets.chart(cached.yearly_by_category(scenario), key="yearly_by_category")

    st.subheader("Break-even")
    widgets.chart(cached.break_even_map(scenario), key="break_even_map")
    if ev.break_even:
        st.table(views.break_even_table(ev))
        st.caption(
            "Break-even year: the first year whose cumulative on-prem cost is at or below the "
            "cloud's (undiscounted). Break-even users: the smallest starting user count at "
            "which on-prem NPV is at or below cloud NPV, everything else unchanged."
        )


render()
