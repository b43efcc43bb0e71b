"""Report: download the comparison as a report (HTML, PDF, Markdown, CSV, XLSX, JSON) and
the raw cost lines and comparison.

Every report comes from ``planner.report.render`` (through the cache) and is offered by
``widgets.download``: made before its button is drawn, so a format that cannot be made
says why in place of its button. The PDF needs Chromium and takes a few seconds, so it is
made on request, with a retry after a failure.
"""

from __future__ import annotations

import functools
import re

import streamlit as st

from planner.dashboard import cached, widgets
from planner.models import Scenario
from planner.report import MEDIA_TYPES

NAMES = {
    "html": "HTML",
    "pdf": "PDF",
    "md": "Markdown",
    "csv": "CSV",
    "xlsx": "Excel",
    "json": "JSON",
}
ABOUT = {
    "html": "one self-contained file with the charts; opens offline",
    "pdf": "A4, printed by headless Chromium",
    "md": "tables for wikis and tickets",
    "csv": "the cost lines (option, kind, year, category, amount, plan, capex or opex)",
    "xlsx": "a live model: named inputs, a yearly sheet of formulas per option, a Summary",
    "json": "everything in the report, for other tools",
}
# Session key: the scenario a PDF was asked for (the PDF is made for that one only). No
# docstrings on constants here: Streamlit's "magic" would draw them on the page.
PDF_FOR = "mp_pdf_for"


def _stem(scenario: Scenario) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", scenario.name).strip("-").lower() or "mailplan"


def _ask_pdf(scenario: Scenario) -> None:
    st.session_state[PDF_FOR] = scenario


def _pdf(scenario: Scenario, stem: str) -> None:
    """'Make the PDF', then its download, or why it could not be made and 'Try again'."""
    if st.session_state.get(PDF_FOR) != scenario:
        st.button(
            "Make the PDF",
            key="make_pdf",
            on_click=_ask_pdf,
            args=(scenario,),
            help="Prints the HTML report with headless Chromium (a few seconds).",
        )
        return
    with st.spinner("Printing the PDF with Chromium..."):
        made = widgets.download(
            "Report (PDF)",
            functools.partial(cached.report, scenario, "pdf"),
            file_name=f"{stem}.pdf",
            mime=MEDIA_TYPES["pdf"],
            key="report_pdf",
            hint="The other formats do not need Chromium.",
        )
    if not made:
        st.button("Try again", key="retry_pdf", on_click=_ask_pdf, args=(scenario,))


def render() -> None:
    """The report in every format, then the raw data."""
    scenario, _ = widgets.current_evaluation()
    widgets.page_header("Report", scenario, "downloads for management and spreadsheets")
    stem = _stem(scenario)

    st.subheader("Report")
    if scenario.ranges:
        st.caption(
            "This scenario has ranged inputs, so the report adds the risk section: the "
            "probability that the recommendation holds, the top sensitivities and the "
            "tornado (10,000 draws, seed 1)."
        )
    formats = cached.report_formats()
    for col, fmt in zip(st.columns(len(formats)), formats, strict=True):
        with col:
            if fmt == "pdf":
                _pdf(scenario, stem)
            else:
                with st.spinner(f"Making the {NAMES.get(fmt, fmt)} report..."):
                    widgets.download(
                        f"Report ({NAMES.get(fmt, fmt.upper())})",
                        functools.partial(cached.report, scenario, fmt),
                        file_name=f"{stem}.{fmt}",
                        mime=MEDIA_TYPES.get(fmt, "application/octet-stream"),
                        key=f"report_{fmt}",
                    )
            st.caption(ABOUT.get(fmt, ""))

    st.subheader("Data")
    left, right = st.columns(2)
    with left:
        widgets.download(
            "Download costs (CSV)",
            functools.partial(cached.costs_csv, scenario),
            file_name=f"{stem}-costs.csv",
            mime="text/csv",
            key="costs_csv",
        )
        st.caption(f"Every cost line: option, kind, year, category, amount ({scenario.currency}).")
    with right:
        widgets.download(
            "Download comparison (JSON)",
            functools.partial(cached.comparison_json, scenario),
            file_name=f"{stem}-comparison.json",
            mime="application/json",
            key="comparison_json",
        )
        st.caption("Totals, NPV, cost per user-month, break-even: `mailplan compare -f json`.")


render()
