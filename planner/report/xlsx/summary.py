"""The Summary sheet: each option's totals, NPV and cost per user-month read from its
sheet, the cheapest eligible option and the break-even years, all formulas; and a line
chart of cumulative cost per option."""

from __future__ import annotations

from xlsxwriter.worksheet import Worksheet

from planner.costs import CAPEX_CATEGORIES
from planner.evaluation import Evaluation
from planner.report.xlsx.book import BLANK, Book, cell
from planner.report.xlsx.options import (
    FIRST_YEAR_COL,
    YEAR_ROW,
    OptionSheet,
    discount_rate_expr,
)

__all__ = ["COLUMNS", "write_summary"]

# the options table: key -> (column, header, width)
COLUMNS = {
    "option": (0, "Option", 18),
    "kind": (1, "Kind", 16),
    "total": (2, "Total", 16),
    "npv": (3, "NPV", 16),
    "per_user_month": (4, "Per user-month", 14),
    "eligible": (5, "Eligible (1 yes)", 10),
    "ruled_out": (6, "Ruled out by (structural)", 22),
    "capex": (7, "Capex", 16),
    "opex": (8, "Opex", 16),
    "opportunity": (9, "Opportunity cost", 16),
    "total_vs_today": (10, "Total vs today", 16),
    "npv_vs_today": (11, "NPV vs today", 16),
    "npv_if_eligible": (12, "NPV if eligible", 16),
    "name": (13, "Name and plan path", 70),
}
_HEAD = 4  # header row of the options table


def _break_even(a: OptionSheet, c: OptionSheet, key: str, horizon: int) -> str:
    """First year whose cumulative ``key`` of a is at or below c's: nested IFs, "never"."""
    formula = '"never"'
    for y in reversed(range(horizon)):
        o, k = a.ref(key, y), c.ref(key, y)
        formula = f"IF({o}<={k}+1E-9*MAX(ABS({k}),1),{y + 1},{formula})"
    return "=" + formula


def write_summary(
    book: Book, ev: Evaluation, sheets: dict[str, OptionSheet], name: str = "Summary"
) -> None:
    """Write the Summary sheet (already added to the workbook as ``name``)."""
    ws = book.wb.get_worksheet_by_name(name)
    assert ws is not None
    cur = ev.scenario.currency
    ws.write_string(0, 0, f"Mail options for {ev.scenario.name}", book.fmt("title"))
    book.note(
        ws,
        1,
        f"{ev.horizon} years from {ev.start.isoformat()}, amounts in {cur}. Every figure is a "
        "formula on the option sheets, which are formulas on the Inputs sheet: change an input "
        "there and the totals, NPV and the cheapest option follow.",
        9,
        152,
    )
    book.header(ws, _HEAD, [header for _, header, _ in COLUMNS.values()])
    for col, _, width in COLUMNS.values():
        ws.set_column(col, col, width)
    c = {key: spec[0] for key, spec in COLUMNS.items()}
    current = ev.scenario.current
    first = _HEAD + 1
    last = first + len(ev.options) - 1
    for i, option in enumerate(ev.options):
        row = first + i
        s = sheets[option.id]
        ruled = ev.ruled_out_by(option.id)
        book.text(ws, row, c["option"], option.id, "bold")
        label = ev.path_label(option.id)
        book.text(ws, row, c["name"], label, "wrap")
        ws.set_row(row, 15 * max(1, -(-len(label) // 75)))
        book.text(ws, row, c["kind"], option.kind)
        book.text(ws, row, c["ruled_out"], ", ".join(ruled) or BLANK)
        book.number(ws, row, c["eligible"], 0 if ruled else 1, "int")
        opp = float(ev.opportunity[option.id].sum())
        lines = ev.lines[option.id]
        capex = float(sum(lines[k].sum() for k in CAPEX_CATEGORIES if k in lines))
        for key, value in (
            ("total", ev.total(option.id)),
            ("npv", ev.npv(option.id)),
            ("per_user_month", ev.per_user_month(option.id)),
            ("capex", capex),
            ("opex", ev.total(option.id) - capex),
            ("opportunity", opp),
        ):
            book.formula(ws, row, c[key], f"={s.total_ref(key)}", float(value), "money")
        npv_cell = cell(row, c["npv"])
        book.formula(
            ws,
            row,
            c["npv_if_eligible"],
            f'=IF({cell(row, c["eligible"])}=1,{npv_cell},"{BLANK}")',
            ev.npv(option.id) if not ruled else BLANK,
            "money",
        )
    for i, option in enumerate(ev.options):  # once every option's totals are written
        row = first + i
        if current is None:
            book.text(ws, row, c["total_vs_today"], BLANK)
            book.text(ws, row, c["npv_vs_today"], BLANK)
            continue
        today = first + [o.id for o in ev.options].index(current)
        for col, base, diff in (
            (c["total_vs_today"], c["total"], ev.total(option.id) - ev.total(current)),
            (c["npv_vs_today"], c["npv"], ev.npv(option.id) - ev.npv(current)),
        ):
            formula = f"={cell(row, base)}-{cell(today, base, absolute=True)}"
            book.formula(ws, row, col, formula, float(diff), "money")
    row = last + 2
    ids = f"{cell(first, 0, absolute=True)}:{cell(last, 0, absolute=True)}"
    col = c["npv_if_eligible"]
    eligible_npv = f"{cell(first, col, absolute=True)}:{cell(last, col, absolute=True)}"
    ws.write_string(row, 0, "Cheapest", book.fmt("bold"))
    ws.write_string(row, 4, "lowest NPV among the eligible options (none: every one ruled out)")
    book.formula(
        ws,
        row,
        2,
        f'=IF(COUNT({eligible_npv})=0,"none",INDEX({ids},MATCH(MIN({eligible_npv}),'
        f"{eligible_npv},0)))",
        ev.cheapest or "none",
        "bold",
    )
    ws.write_string(row + 1, 0, "Discount rate used", book.fmt("bold"))
    book.formula(ws, row + 1, 2, f"={discount_rate_expr(ev)}", float(ev.discount_rate), "pct")
    row += 3
    if ev.break_even:
        ws.write_string(row, 0, "Break-even", book.fmt("section"))
        row += 1
        book.header(
            ws,
            row,
            [
                "On-prem",
                "Cloud",
                "Year (cumulative cost)",
                "Year (cumulative NPV)",
                "Starting users (value)",
            ],
        )
        row += 1
        for b in ev.break_even:
            onprem, cloud = sheets[b.onprem], sheets[b.cloud]
            ws.write_string(row, 0, b.onprem)
            ws.write_string(row, 1, b.cloud)
            book.formula(
                ws,
                row,
                2,
                _break_even(onprem, cloud, "cumulative", ev.horizon),
                b.year if b.year is not None else "never",
                "int",
            )
            book.formula(
                ws,
                row,
                3,
                _break_even(onprem, cloud, "cumulative_discounted", ev.horizon),
                b.year_npv if b.year_npv is not None else "never",
                "int",
            )
            book.value(ws, row, 4, b.users, "int")
            row += 1
        book.note(
            ws,
            row,
            "A break-even year is the first year whose cumulative on-prem cost is at or below "
            "the cloud's. Break-even users (the smallest starting user count from 10 to "
            "100,000 at which on-prem NPV is at or below cloud NPV) is a value: finding it "
            "re-sizes the fleet for every user count; run mailplan again after changing inputs.",
            9,
            152,
        )
        row += 2
    _chart(book, ev, sheets, ws, row)
    ws.freeze_panes(_HEAD + 1, 1)


def _chart(
    book: Book, ev: Evaluation, sheets: dict[str, OptionSheet], ws: Worksheet, row: int
) -> None:
    """A line chart of each option's cumulative cost by year."""
    chart = book.wb.add_chart({"type": "line"})
    any_sheet = next(iter(sheets.values()))
    years = (
        f"='{any_sheet.name}'!{cell(YEAR_ROW, FIRST_YEAR_COL, absolute=True)}:"
        f"{cell(YEAR_ROW, FIRST_YEAR_COL + ev.horizon - 1, absolute=True)}"
    )
    for option in ev.options:
        s = sheets[option.id]
        chart.add_series(
            {
                "name": option.id,
                "categories": years,
                "values": "=" + s.span("cumulative"),
                "marker": {"type": "circle", "size": 5},
            }
        )
    chart.set_title({"name": f"Cumulative cost ({ev.scenario.currency})"})
    chart.set_x_axis({"name": "Year"})
    chart.set_y_axis(
        {"name": ev.scenario.currency, "num_format": "#,##0", "major_gridlines": {"visible": True}}
    )
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 900, "height": 420})
    ws.insert_chart(row, 0, chart)
