"""The browser dashboard: the only Streamlit code besides ``app.py``.

Opt-in: ``import planner`` does not load it. Modules:

- ``fields``  what each scenario field looks like in a form (label, unit, step); no Streamlit
- ``views``   display tables and call-outs built from an Evaluation; no Streamlit
- ``upload``  an uploaded scenario file, size-capped and validated; no Streamlit
- ``ranges_form`` what the range editor shows and builds (inputs, forms, parameters); no Streamlit
- ``risk_views`` display tables of the Risk page from ``planner.risk`` results; no Streamlit
- ``state``   the session: scenarios to pick from, the one in use, the form draft, its problems
- ``cached``  every planner call the UI makes, behind ``st.cache_data``
- ``widgets`` shared UI pieces: field inputs with help and errors, charts, money
- ``failures`` a failure as one line on the page (a bug's traceback in an expander)
- ``range_editor`` give an input a range, change it or drop it (Risk page, Scenario form)
- ``sidebar`` the frame's sidebar: scenario picker, upload, currency
- ``bench_form`` the Benchmark page's form: fields, bounds, what it hands the harness; no Streamlit
- ``bench_job`` a benchmark run in its own process, its progress and Stop; no Streamlit
- ``bench_views`` the Benchmark page's tables and charts; no Streamlit
- ``serve``   the dashboard in a child process on a free port, browser flags; no Streamlit
- ``heap``    the collector skips what was alive before a run (``app.py``); no Streamlit
- ``pages/``  one script per page (Scenario, Costs, Risk, Scale, Benchmark, Compare, Report)
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PAGES", "PAGES_DIR"]

PAGES_DIR = Path(__file__).resolve().parent / "pages"
"""Folder of the page scripts that ``app.py`` hands to ``st.navigation``."""

PAGES: tuple[tuple[str, str, str], ...] = (
    ("scenario.py", "Scenario", "scenario"),
    ("costs.py", "Costs", "costs"),
    ("risk.py", "Risk", "risk"),
    ("scale.py", "Scale", "scale"),
    ("benchmark.py", "Benchmark", "benchmark"),
    ("compare.py", "Compare", "compare"),
    ("report.py", "Report", "report"),
)
"""(file in ``pages/``, title, url path), in navigation order."""

DEFAULT_PAGE = "costs.py"
"""The page shown at ``/``."""
