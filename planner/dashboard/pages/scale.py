"""Scale: demand against capacity per year, servers needed, and where the capacity came from."""

from __future__ import annotations

import streamlit as st

from planner.dashboard import cached, views, widgets


def render() -> None:
    """Servers step chart, demand vs capacity of one option, its sizing, capacity sources."""
    scenario, ev = widgets.current_evaluation()
    widgets.page_header("Scale", scenario, "peak load and storage against what the servers provide")
    onprem = [o.id for o in ev.resolved.onprem]
    if not onprem:
        st.info("This scenario has no on-prem options: add one on the Scenario page.")
        return

    labels = views.option_labels(ev)
    widgets.keep_choice("scale_option", onprem)
    option_id = st.selectbox(
        "On-prem option", onprem, format_func=labels.__getitem__, key="scale_option"
    )
    table = views.sizing_table(ev, option_id)
    servers, peak, storage = table["Servers"], table["Peak messages/s"], table["Storage (TB)"]
    cols = st.columns(4)
    cols[0].metric("Servers in year 1", f"{servers.iloc[0]:,}")
    cols[1].metric(f"Servers in year {ev.horizon}", f"{servers.iloc[-1]:,}")
    cols[2].metric(f"Peak in year {ev.horizon}", f"{peak.iloc[-1]:,.2f} msgs/s")
    cols[3].metric(f"Storage in year {ev.horizon}", f"{storage.iloc[-1]:,.2f} TB")

    st.markdown(ev.binding_sentence(option_id, ev.horizon))
    widgets.chart(cached.demand_vs_capacity(scenario, option_id), key="demand_vs_capacity")
    widgets.chart(cached.servers_by_year(scenario), key="servers_by_year")

    st.subheader("Sizing by year")
    st.dataframe(
        table, column_config={"Messages per day": st.column_config.NumberColumn(format="%,d")}
    )

    st.subheader("Where the capacity figure came from")
    st.dataframe(
        views.capacity_rows(ev),
        hide_index=True,
        column_config={"Source": st.column_config.LinkColumn("Source")},
    )
    st.caption(
        "catalog: the server profile's figure (times the stack's capacity scale); manual: set "
        "in the scenario; benchmark: a measured result applied with `mailplan bench apply` or "
        "the Benchmark page (its scenario key `capacity_origin` says so)."
    )


render()
