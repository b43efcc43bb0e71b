"""mailplan's browser dashboard: the router and the frame.

Run with ``make run`` (``streamlit run app.py --server.address 127.0.0.1
--browser.gatherUsageStats false``) and open http://localhost:8501. The pages live in
``planner/dashboard/pages/``; the sidebar drawn here (scenario picker, upload, currency)
stays the same on every page.
"""

from __future__ import annotations

import streamlit as st

from planner.dashboard import DEFAULT_PAGE, PAGES, PAGES_DIR, failures, heap, sidebar


def run() -> None:
    """Register the pages, draw the frame, run the chosen page.

    A failure in the sidebar or the page is shown in its place as one line (and, for a
    bug, an expander with the traceback), never as Streamlit's error page. First the
    collector is told to skip what this run finds alive (``heap``): the full collection
    Streamlit runs after the script then looks only at what the run made.
    """
    heap.before_run()
    page = st.navigation(
        [
            st.Page(PAGES_DIR / file, title=title, url_path=url, default=file == DEFAULT_PAGE)
            for file, title, url in PAGES
        ]
    )
    st.set_page_config(page_title=f"mailplan · {page.title}", layout="wide")
    failures.show_pending()
    with failures.guarded("The sidebar could not be drawn"):
        sidebar.render()
    with failures.guarded(f"The {page.title} page could not be shown"):
        page.run()


if __name__ == "__main__":
    run()
