"""The Excel report as a live model, written with XlsxWriter.

Sheets::

    Summary    totals, NPV, cost per user-month, the cheapest option and the break-even
               years: formulas on the option sheets; a chart of cumulative cost
    Inputs     every scenario input and catalog figure used, as named cells (unit, source,
               as-of date), then the structural choices as values
    <option>   one per option: demand, sizing results (values), every cost line a formula
    Sizing     the on-prem sizing by year (values)
    Risk       the Monte Carlo percentiles (values), for a scenario with ranged inputs

Every formula is written with mailplan's own value as its cached result, so a viewer
that does not recalculate shows the same numbers as ``mailplan compare``.

    book.py     formats, the named-input registry, cell helpers
    check.py    evaluates each formula as it is written: it must give mailplan's figure
    inputs.py   the Inputs sheet
    options.py  the option sheets: demand, escalation, sizing results, totals
    lines.py    the cost lines as formulas (planner.costs, written on the sheet)
    summary.py  the Summary sheet and its chart
    tables.py   the Sizing and Risk sheets
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from xlsxwriter.workbook import Workbook

from planner import __version__
from planner.evaluation import Evaluation
from planner.report.xlsx.book import Book, Unverified
from planner.report.xlsx.inputs import register_inputs, write_inputs_sheet
from planner.report.xlsx.options import OptionSheet, sheet_names, write_option
from planner.report.xlsx.summary import write_summary
from planner.report.xlsx.tables import write_risk, write_sizing

__all__ = ["SHEETS", "Unverified", "Written", "write_workbook", "xlsx_workbook"]

SHEETS = ("Summary", "Inputs", "Sizing", "Risk")  # the fixed sheets; option sheets between


@dataclass(frozen=True)
class Written:
    """A written workbook and the cells written as values because no formula of the
    workbook gave mailplan's figure (a cost line newer than the workbook; empty when every
    formula checks out)."""

    data: bytes
    unverified: tuple[Unverified, ...]


def xlsx_workbook(ev: Evaluation) -> bytes:
    """The workbook of ``ev`` as .xlsx bytes; amounts in the display currency."""
    return write_workbook(ev).data


def write_workbook(ev: Evaluation) -> Written:
    """The workbook of ``ev``, every formula checked against mailplan's figures as it is
    written (``planner.report.xlsx.check``)."""
    buf = io.BytesIO()
    wb = Workbook(buf, {"in_memory": True})
    wb.set_properties(
        {"title": f"Mail options for {ev.scenario.name}", "author": f"mailplan {__version__}"}
    )
    wb.set_calc_mode("auto")
    book = Book(wb, ev.scenario.currency)
    register_inputs(book, ev)
    wb.add_worksheet("Summary")
    write_inputs_sheet(book, ev, "Inputs")
    names = sheet_names(ev, set(SHEETS))
    worksheets = {oid: wb.add_worksheet(name) for oid, name in names.items()}
    sheets = {oid: OptionSheet(oid, name, ev.horizon) for oid, name in names.items()}
    current = ev.scenario.current
    order = sorted(ev.options, key=lambda o: o.id != current)  # today's system first
    for option in order:
        today = sheets[current] if current is not None and option.id != current else None
        write_option(book, worksheets[option.id], ev, sheets[option.id], today)
    write_summary(book, ev, sheets, "Summary")
    write_sizing(book, ev, "Sizing")
    write_risk(book, ev, "Risk")
    for ws in wb.worksheets():
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # as wide as one page, as long as it takes
    wb.get_worksheet_by_name("Summary").activate()
    wb.close()
    return Written(buf.getvalue(), tuple(book.unverified))
