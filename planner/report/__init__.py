"""Comparison reports for management: HTML, PDF, Markdown, CSV, XLSX and JSON.

One report, several formats, every figure from :func:`planner.evaluate`::

    content.py   Evaluation -> Report (sections of paragraphs, tables, charts, formulas)
    html.py      Report -> one self-contained HTML file (plotly.js inline)
    pdf.py       HTML -> PDF, printed by headless Chromium (chromium.py finds and runs it)
    markdown.py  Report -> Markdown with pipe tables
    tables.py    Evaluation -> CSV (tidy cost frame; sizing frame apart), JSON
    xlsx/        Evaluation -> XLSX, a live model: named inputs, cost lines as formulas

Usage::

    from planner import evaluate, load_scenario, report
    ev = evaluate(load_scenario("data/scenarios/default.yaml"))
    report.render(ev, "md")                     # bytes
    report.write(ev, Path("out/acme.pdf"))      # [Path("out/acme.pdf")], written atomically
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from planner.evaluation import Evaluation
from planner.report.errors import ChromiumNotFound, ReportError
from planner.report.tables import sizing_csv

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "ChromiumNotFound",
    "ReportError",
    "format_for",
    "output_paths",
    "render",
    "sizing_csv",
    "write",
]

FORMATS: tuple[str, ...] = ("html", "pdf", "md", "csv", "xlsx", "json")
MEDIA_TYPES: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}

_SUFFIXES = {
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".json": "json",
}


def format_for(path: Path) -> str:
    """The format named by ``path``'s extension; raises ReportError for any other."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(_SUFFIXES)
        raise ReportError(
            f"report: cannot tell the format of '{path}' from its extension "
            f"(use {known}, or --format)"
        )
    return fmt


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ReportError(f"report: unknown format '{fmt}' (known: {', '.join(FORMATS)})")


def render(ev: Evaluation, fmt: str) -> bytes:
    """The report of ``ev`` in ``fmt`` (one of FORMATS) as bytes; for "csv" the tidy cost
    frame (the sizing frame: :func:`sizing_csv`). Text formats are UTF-8."""
    _check_format(fmt)
    if fmt == "xlsx":
        from planner.report.xlsx import xlsx_workbook

        return xlsx_workbook(ev)
    if fmt in ("csv", "json"):
        from planner.report import tables

        return tables.costs_csv(ev) if fmt == "csv" else tables.json_report(ev)
    from planner.report.content import build

    if fmt == "md":
        from planner.report.markdown import render_markdown

        return render_markdown(build(ev)).encode("utf-8")
    from planner.report.html import render_html

    if fmt == "html":
        return render_html(build(ev)).encode("utf-8")
    from planner.report.chromium import Printer
    from planner.report.pdf import render_pdf

    # the browser starts (or fails: no Chromium) before the page is built, and starts up
    # on the other core while Python builds it
    with Printer() as printer:
        return render_pdf(render_html(build(ev), printed=True), printer)


def output_paths(path: Path, fmt: str) -> list[Path]:
    """The files ``write`` produces: ``path``, and for CSV ``OUT.sizing.csv`` beside it."""
    if fmt == "csv":
        return [path, path.with_name(f"{path.stem}.sizing.csv")]
    return [path]


def write(ev: Evaluation, path: Path, fmt: str | None = None) -> list[Path]:
    """Write the report of ``ev`` to ``path`` (format from the extension unless ``fmt``).

    Atomic: everything is rendered first, each file is written to a temporary file in the
    target folder and renamed over the target, so a failure leaves no partial output (and
    an older report in place). Returns the paths written. Raises ReportError.
    """
    fmt = fmt if fmt is not None else format_for(path)
    _check_format(fmt)
    folder = path.parent
    if not folder.is_dir():
        raise ReportError(f"report: output folder '{folder}' does not exist")
    targets = output_paths(path, fmt)
    payloads = [render(ev, fmt)]
    if fmt == "csv":
        payloads.append(sizing_csv(ev))
    temps: list[Path] = []
    try:
        for target, data in zip(targets, payloads, strict=True):
            fd, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
            temps.append(Path(name))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(name, 0o644)
        for tmp, target in zip(temps, targets, strict=True):
            os.replace(tmp, target)
    except OSError as exc:
        raise ReportError(f"report: cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return targets
