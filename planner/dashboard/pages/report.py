"""Report: download the comparison, in every format this installation can produce."""

from __future__ import annotations

import functools
import re

import streamlit as st

from planner.dashboard import cached, widgets
from planner.models import Scenario

MIME = {
    "html": "text/html",
    "pdf": "application/pdf",
    "md": "text/markdown",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
NAMES = {
    "html": "HTML",
    "pdf": "PDF",
    "md": "Markdown",
    "csv": "CSV",
    "xlsx": "Excel",
    "json": "JSON",
}


def _stem(scenario: Scenario) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", scenario.name).strip("-").lower() or "mailplan"


def render() -> None:
    """The cost frame and comparison always; the report formats when ``planner.report`` is there."""
    scenario, _ = widgets.current_evaluation()
    widgets.page_header("Report", scenario, "downloads for management and spreadsheets")
    stem = _stem(scenario)

    st.subheader("Data")
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Download costs (CSV)",
            cached.costs_csv(scenario),
            file_name=f"{stem}-costs.csv",
            mime="text/csv",
            on_click="ignore",
            key="costs_csv",
        )
        st.caption(f"Every cost line: option, kind, year, category, amount ({scenario.currency}).")
    with right:
        st.download_button(
            "Download comparison (JSON)",
            cached.comparison_json(scenario),
            file_name=f"{stem}-comparison.json",
            mime="application/json",
            on_click="ignore",
            key="comparison_json",
        )
        st.caption("Totals, NPV, cost per user-month, break-even: `mailplan compare -f json`.")

    st.subheader("Report")
    formats = cached.report_formats()
    if not formats:
        st.info(
            "The report exporters (HTML, PDF, Markdown, XLSX) are not part of this "
            "installation; the data above is what can be downloaded."
        )
        return
    for col, fmt in zip(st.columns(len(formats)), formats, strict=True):
        col.download_button(
            f"Report ({NAMES.get(fmt, fmt.upper())})",
            functools.partial(cached.report, scenario, fmt),
            file_name=f"{stem}.{fmt}",
            mime=MIME.get(fmt, "application/octet-stream"),
            on_click="ignore",
            key=f"report_{fmt}",
        )
    st.caption("Each report is made when you click; a PDF takes a few seconds.")


render()
