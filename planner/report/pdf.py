"""The report as PDF: the HTML report printed by headless Chromium (A4, vector charts).

plotly draws its SVG charts while the page loads, so Chromium prints them as vectors
with selectable text; the HTML's print stylesheet keeps charts and table rows whole.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from planner.report.chromium import Printer
from planner.report.errors import ReportError

__all__ = ["render_pdf"]


def render_pdf(html: str, printer: Printer | None = None) -> bytes:
    """Print the HTML document ``html`` to PDF bytes with ``printer`` (already started),
    or a Chromium started now (needs Chromium, see ``chromium.py``)."""
    with tempfile.TemporaryDirectory(prefix="mailplan-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        if printer is not None:
            data = printer.print(page)
        else:
            with Printer() as own:
                data = own.print(page)
    if not data.startswith(b"%PDF-"):
        raise ReportError("report: Chromium wrote something that is not a PDF")
    return data
