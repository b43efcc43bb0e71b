"""Costs: what each option costs over the horizon, which is cheapest, and where they cross."""

from __future__ import annotations

import streamlit as st

from planner.dashboard import cached, views, widgets
from planner.recommendation import headline


def render() -> None:
    """Call-out, totals table, availability and cost structure, features, the three cost
    charts (each section drawn when opened) and the break-even table."""
    scenario, ev = widgets.current_evaluation()
    cur = scenario.currency
    widgets.page_header(
        "Costs", scenario, "total cost of ownership, NPV and break-even of every option"
    )

    call = views.cheapest_callout(ev)
    best = call.cheapest
    if best is None:
        st.error(widgets.plain(headline(ev)))
    else:
        st.success(widgets.plain(headline(ev)))

    head = views.headline_break_even(ev)
    cols = st.columns(4)
    cols[0].metric(
        "Cheapest NPV",
        "–" if best is None else views.money(best.npv, cur),
        help="Discounted at the start.",
    )
    cols[1].metric(
        "Saving over the next cheapest",
        "–" if call.saving_npv is None else views.money(call.saving_npv, cur),
    )
    cols[2].metric(
        "Cheapest, per user-month",
        "–" if best is None else views.money(best.per_user_month, cur, 2),
    )
    if head is not None:
        cols[3].metric(
            "Break-even year",
            views.break_even_metric(head.year),
            help=f"First year in which cumulative {head.onprem} cost is at or below "
            f"{head.cloud} (the lowest-NPV on-prem and cloud options); 'from year 1': "
            "cheaper from the start, nothing to catch up.",
        )
        st.caption(widgets.plain(views.break_even_line(ev) or ""))

    st.subheader("Totals")
    st.table(views.totals_table(ev))
    st.caption(
        "Options that cannot be bought for this organisation in some year (a seat cap with no "
        "successor plan, an end of support, a plan closed to new customers) or that fail a "
        "requirement are ruled out: listed last and never the cheapest. Catalog figures used "
        f"here were read on or after {ev.oldest_as_of or '–'} (the oldest date)."
    )
    for option in ev.comparison.options:
        for warning in option.warnings:
            st.caption(f"`{option.id}`: {warning}")

    st.subheader("Availability, today's system and cost structure")
    st.caption(widgets.plain(views.basis_line(ev)))
    st.table(views.details_table(ev))
    st.caption(widgets.plain(views.downtime_note(ev)))
    st.caption(
        "Availability is that of the plan each option runs on in year 1 (cloud: the vendor's "
        "SLA unless set; on-prem: one server's availability over the copies kept and a warm "
        "standby). "
        "vs today: the option's figure minus that of today's system (negative: cheaper than "
        "staying). Capex: hardware, set-up and migration, less the residual value; opex: "
        "everything else."
    )

    if ev.has_seat_mix and ev.resolved.cloud:
        st.subheader("Seats by plan")
        st.table(views.seats_table(ev))
        st.caption(
            "Segments of the organisation on their own plans (frontline) and shared mailboxes "
            "under the vendor's licence rule; the rest of the people on each option's plan."
        )

    st.subheader("What each option includes")
    st.table(views.parity_table(ev))

    st.subheader("Over the years")
    box = widgets.charts_section(
        "Charts: cumulative cost and yearly cost by category", key="costs_years"
    )
    if box is not None:
        with box:
            widgets.chart(cached.cumulative_tco(scenario), key="cumulative_tco")
            widgets.chart(cached.yearly_by_category(scenario), key="yearly_by_category")

    st.subheader("Break-even")
    box = widgets.charts_section(
        "Chart: cost per user-month by organisation size", key="costs_break_even"
    )
    if box is not None:
        with box:
            widgets.chart(cached.break_even_map(scenario), key="break_even_map")
    if ev.break_even:
        st.table(views.break_even_table(ev))
        st.caption(
            "Break-even year: the first year whose cumulative on-prem cost is at or below the "
            "cloud's (undiscounted; NPV: discounted). Break-even users: the smallest starting "
            "user count at which on-prem NPV is at or below cloud NPV, everything else "
            "unchanged."
        )


render()
