"""``mailplan report SCENARIO -o OUT``: the comparison report as HTML, PDF, Markdown,
CSV, XLSX or JSON (format from the extension, or ``--format``)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from planner.cli.app import app
from planner.cli.plan import CatalogOpt, ScenarioArg


class ReportFormat(enum.StrEnum):
    """The report formats (the same as ``planner.report.FORMATS``)."""

    html = "html"
    pdf = "pdf"
    md = "md"
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


@app.command()
def report(
    scenario: ScenarioArg,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="OUT",
            help="File to write: .html, .pdf, .md, .csv (plus OUT.sizing.csv), .xlsx or .json.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        ReportFormat | None,
        typer.Option("--format", "-f", help="Format (default: from OUT's extension)."),
    ] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Write the comparison report for management: summary, sizing, costs, charts,
    qualitative comparison, every assumption with its source, and the formulas.

    The PDF is printed by headless Chromium (Debian package 'chromium'; set
    MAILPLAN_CHROMIUM to use another binary). Nothing is written when anything fails.
    """
    from planner import report as reports
    from planner.catalog import load_catalog, load_scenario
    from planner.evaluation import evaluate

    chosen = fmt.value if fmt is not None else reports.format_for(output)
    ev = evaluate(load_scenario(scenario), load_catalog(catalog) if catalog else None)
    for path in reports.write(ev, output, chosen):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
