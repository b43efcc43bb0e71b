"""The Excel model without a spreadsheet engine: its layout, its named inputs, and the
values cached with its formulas, which must be the engine's (what pandas or a mail
preview shows). The recalculation itself: test_xlsx_recalc.py."""

from __future__ import annotations

import io
import math
import re
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from planner import Evaluation
from planner.report import render
from planner.report.xlsx import Written, write_workbook
from planner.report.xlsx.book import BLANK
from planner.report.xlsx.check import FormulaError
from planner.report.xlsx.check import evaluate as evaluate_formula
from planner.report.xlsx.options import line_label
from planner.report.xlsx.summary import COLUMNS

COL = {key: spec[0] for key, spec in COLUMNS.items()}  # the Summary's options table

EXACT = 1e-9  # cached values are the engine's floats, written at full precision
FIELD_PATH = re.compile(r"(organization|escalation|onprem|cloud)\.[\w.+-]+")
# Cases whose every line has a formula. A case newer than the workbook (a cost line or
# demand rule it has no formula for yet) gets mailplan's figures as values in those cells.
FORMULA_CASES = (
    "company-250",
    "default-ranges",
    "default",
    "office-25",
    "org-5000",
    "default+benchmark",
    "cloud-only-unweighted",
    "onprem-only",
    "staff-nominal-downtime",
)


def _books(data: bytes) -> tuple[Workbook, Workbook]:
    """The workbook read twice: its formulas, and the values cached with them."""
    return load_workbook(io.BytesIO(data)), load_workbook(io.BytesIO(data), data_only=True)


@pytest.fixture(scope="module", name="checked")
def _checked(case_ev: Evaluation) -> Written:
    """Each bundled case's workbook, as written, with the cells its formulas did not give
    mailplan's figure for."""
    return write_workbook(case_ev)


@pytest.fixture(scope="module", name="written")
def _written(checked: Written) -> bytes:
    """Each bundled case's workbook, as written."""
    return checked.data


@pytest.fixture(scope="module", name="books")
def _case_books(case_ev: Evaluation, written: bytes) -> tuple[Evaluation, Workbook, Workbook]:
    """Each bundled case's workbook: (evaluation, formulas, cached values)."""
    formulas, values = _books(written)
    return case_ev, formulas, values


VALUE_NOTE = re.compile(r" \(values? (where|: ).*")  # a row written (partly) as values


def _rows(ws: Any) -> dict[str, tuple[Any, ...]]:
    """A sheet's rows by the label in column A (the first row with that label), without
    the note of a row written as values."""
    out: dict[str, tuple[Any, ...]] = {}
    for row in ws.iter_rows(values_only=True):
        if row and isinstance(row[0], str):
            out.setdefault(VALUE_NOTE.sub("", row[0]), row)
    return out


def _summary(ws: Any) -> dict[str, tuple[Any, ...]]:
    """The Summary's options table by option id, and its Cheapest row."""
    out: dict[str, tuple[Any, ...]] = {}
    for row in ws.iter_rows(min_row=6, values_only=True):
        if row[0]:
            out.setdefault(row[0], row)
        if row[0] == "Cheapest":
            break
    return out


def _categories(ev: Evaluation, option_id: str) -> list[str]:
    return list(ev.lines[option_id])


class TestLayout:
    def test_sheets(self, books) -> None:
        """Summary and Inputs first, one sheet per option, Sizing, then Risk only for a
        scenario with ranged inputs."""
        ev, wb, _ = books
        ids = [o.id[:31] for o in ev.options]
        risk = ["Risk"] if ev.scenario.ranges else []

        assert wb.sheetnames == ["Summary", "Inputs", *ids, "Sizing", *risk]

    def test_headers_frozen_and_columns_sized(self, books) -> None:
        """Every sheet keeps its header rows in view and sets its column widths."""
        _, wb, _ = books
        for ws in wb.worksheets:
            assert ws.freeze_panes is not None, ws.title
            assert ws.column_dimensions["A"].width > 10, ws.title

    def test_number_formats(self, books) -> None:
        """Money with the currency and thousands separators, rates as percentages."""
        ev, wb, _ = books
        cur = ev.scenario.currency
        summary = wb["Summary"]
        assert summary.cell(6, COL["total"] + 1).number_format == f'"{cur} "#,##0.00'
        inputs = _rows(wb["Inputs"])
        rate_row = next(r for r in wb["Inputs"].iter_rows() if r[0].value == "in_discount_rate")
        assert rate_row[2].number_format == "0.00%"
        assert "in_fx" in inputs

    def test_a_native_chart_of_cumulative_cost(self, books, written) -> None:
        """The Summary holds a line chart with one series per option, drawn from each
        option sheet's cumulative-cost row."""
        ev, _, _ = books
        with zipfile.ZipFile(io.BytesIO(written)) as z:
            charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
            xml = z.read(charts[0]).decode()
        assert len(charts) == 1
        assert "<c:lineChart>" in xml
        assert xml.count("<c:ser>") == len(ev.options)


class TestInputs:
    def test_inputs_are_named_cells_with_unit_source_and_as_of(self, books) -> None:
        """Every defined name is a value cell in the Inputs sheet's Value column, with a
        label, unit, source and as-of date beside it ("–" where there is none)."""
        _, wb, _ = books
        ws = wb["Inputs"]
        assert len(wb.defined_names) > 50
        for name, defined in wb.defined_names.items():
            sheet, coord = defined.attr_text.rsplit("!", 1)
            assert sheet.strip("'") == "Inputs"
            row = ws[coord.replace("$", "")].row
            cells = [c.value for c in ws[row]]
            assert cells[0] == name
            assert isinstance(cells[2], int | float), name
            assert all(isinstance(v, str) and v for v in cells[3:6]), (name, cells)

    def test_the_price_and_rate_inputs_are_the_engines(self, books) -> None:
        """The discount rate, exchange rate and each cloud option's first plan price are
        the scenario's and the resolved option's figures."""
        ev, wb, _ = books
        value = {r[0]: r[2] for r in wb["Inputs"].iter_rows(min_row=5, values_only=True)}
        assert value["in_discount_rate"] == ev.scenario.discount_rate
        assert value["in_fx"] == ev.scenario.usd_exchange_rate
        for option in ev.resolved.cloud:
            name = f"in_{option.id.replace('-', '_')}_0_price_per_user_month"
            assert value[name] == option.price_per_user_month

    def test_structural_choices_are_values(self, books) -> None:
        """The plan each year, the server profile and what rules an option out are listed
        as values below the inputs, not as inputs."""
        ev, wb, _ = books
        rows = _rows(wb["Inputs"])
        assert "Structural choices (values, not formulas)" in rows
        for option in ev.options:
            text = rows[option.id][1]
            assert "plan by year: y1 " in text
            assert ("ruled out by" in text) == bool(ev.ruled_out_by(option.id))
            server = getattr(option, "server", None)
            if server:
                assert f"server profile {server}" in text


class TestCachedValues:
    def test_cost_lines_are_the_engines(self, books) -> None:
        """Each option sheet's cost lines, yearly cost, total and NPV, as cached, are the
        engine's numbers."""
        ev, _, values = books
        for option in ev.options:
            rows = _rows(values[option.id[:31]])
            for cat in _categories(ev, option.id):
                got = rows[line_label(cat)][2 : 2 + ev.horizon]
                assert list(got) == pytest.approx(list(ev.lines[option.id][cat]), abs=EXACT)
            cost = rows["Cost"][2 : 2 + ev.horizon]
            assert list(cost) == pytest.approx(list(ev.yearly(option.id)), abs=EXACT)
            assert rows["NPV"][2 + ev.horizon] == pytest.approx(ev.npv(option.id), abs=EXACT)

    def test_summary_is_the_comparison(self, books) -> None:
        """The Summary's totals, NPVs and per user-month round to `mailplan compare`'s, and
        its cheapest option is the engine's."""
        ev, _, values = books
        summary = _summary(values["Summary"])
        for option in ev.comparison.options:
            row = summary[option.id]
            got = (row[COL["total"]], row[COL["npv"]], row[COL["per_user_month"]])
            assert tuple(round(v, 2) for v in got) == (
                option.total,
                option.npv,
                option.per_user_month,
            )
        assert summary["Cheapest"][2] == (ev.cheapest or "none")

    def test_break_even_years_are_the_engines(self, books) -> None:
        """The break-even table's years (cumulative cost and NPV) are the engine's."""
        ev, _, values = books
        found = {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in values["Summary"].iter_rows(values_only=True)
            if r[0] in ev.servers and isinstance(r[1], str) and r[1] in ev.lines
        }
        for b in ev.break_even:
            assert found[(b.onprem, b.cloud)] == (
                b.year or "never",
                b.year_npv or "never",
                b.users if b.users is not None else BLANK,
            )

    def test_every_formula_has_a_cached_value(self, books) -> None:
        """No formula cell is left without a cached value (a viewer would show 0 or
        nothing), and none caches NaN."""
        _, formulas, values = books
        for ws in formulas.worksheets:
            cached = values[ws.title]
            for row in ws.iter_rows():
                for c in row:
                    if isinstance(c.value, str) and c.value.startswith("="):
                        v = cached[c.coordinate].value
                        assert v is not None, (ws.title, c.coordinate, c.value)
                        assert not (isinstance(v, float) and math.isnan(v)), (ws.title, c)

    def test_no_cell_reads_none_nan_or_a_field_path(self, books) -> None:
        """No text cell reads "None" or "nan", and none shows a raw field path such as
        organization.users."""
        _, _, values = books
        for ws in values.worksheets:
            for row in ws.iter_rows(values_only=True):
                for v in row:
                    if isinstance(v, str):
                        assert v.strip() not in ("None", "nan", "NaN"), (ws.title, row)
                        assert not FIELD_PATH.search(v), (ws.title, v)


class TestFormulas:
    def test_every_cost_line_is_a_formula(self, books) -> None:
        """Every non-zero cost of every option and year is a formula (the sizing rows are
        the values), unless its row says it holds values."""
        ev, formulas, _ = books
        for option in ev.options:
            ws = formulas[option.id[:31]]
            rows = _rows(ws)
            for cat in _categories(ev, option.id):
                row = rows[line_label(cat)]
                if VALUE_NOTE.search(row[0]):
                    continue
                for y, amount in enumerate(ev.lines[option.id][cat]):
                    cell = row[2 + y]
                    if amount != 0.0:
                        assert isinstance(cell, str), (cat, y, cell)
                        assert cell.startswith("="), (cat, y, cell)

    def test_summary_figures_are_formulas(self, books) -> None:
        """Totals, NPV, per user-month, cheapest and break-even years are formulas."""
        ev, formulas, _ = books
        summary = _summary(formulas["Summary"])
        for option in ev.options:
            keys = ("total", "npv", "per_user_month", "capex", "opex", "opportunity")
            assert all(str(summary[option.id][COL[k]]).startswith("=") for k in keys)
        assert str(summary["Cheapest"][2]).startswith("=IF(COUNT(")

    def test_cost_lines_read_named_inputs(self, default_ev: Evaluation) -> None:
        """The subscription reads the plan's price and the discount rate reaches the NPV
        through the named inputs, not through copied numbers."""
        formulas, _ = _books(render(default_ev, "xlsx"))
        rows = _rows(formulas["m365-basic"])
        assert "in_m365_basic_0_price_per_user_month" in rows["Subscription"][2]
        assert "in_m365_basic_1_price_per_user_month" in rows["Subscription"][2 + 3]
        factor = next(v for k, v in rows.items() if k.startswith("Discount factor"))
        assert "in_discount_rate" in factor[3]

    def test_sender_auth_reads_domains_hours_and_the_labour_switch(
        self, default_ev: Evaluation
    ) -> None:
        """The sender-authentication time is sending domains x (hours per domain-month x 12,
        plus the set-up hours in year 1 only) x the admin rate; its cost line is that time
        times the cash/staff switch, and the opportunity cost adds it."""
        formulas, values = _books(render(default_ev, "xlsx"))
        rows = _rows(formulas["postfix-dovecot"])
        staff = next(v for k, v in rows.items() if k.startswith("Sender authentication time"))
        names = (
            "in_org_sending_domains",
            "sender_auth_hours_per_domain_month",
            "admin_hourly_cost",
        )
        assert all(n in staff[2] for n in names)
        assert "sender_auth_setup_hours_per_domain" in staff[2]
        assert "sender_auth_setup_hours_per_domain" not in staff[3]
        assert rows["Sender authentication"][2].startswith("=in_labour_in_cash*")
        opportunity = next(v for k, v in rows.items() if k.startswith("Opportunity cost"))
        row = next(
            i
            for i, r in enumerate(formulas["postfix-dovecot"].iter_rows(values_only=True), 1)
            if r[0] and str(r[0]).startswith("Sender authentication time")
        )
        assert f"C{row}" in opportunity[2]
        cached = _rows(values["postfix-dovecot"])["Sender authentication"]
        assert cached[2] == pytest.approx(default_ev.lines["postfix-dovecot"]["sender_auth"][0])


def test_every_formula_gives_the_engines_figure(
    request: pytest.FixtureRequest, checked: Written
) -> None:
    """Each formula, evaluated on the cells and inputs it reads as it is written, gives
    mailplan's figure: no cell of the FORMULA_CASES had to be written as a value. A newer
    case (seat mix: its seats by plan have no formula yet) may have lines written as
    values, on the option sheets only: the Summary's totals and NPV stay formulas."""
    case = request.node.callspec.params["case_ev"]
    if case not in FORMULA_CASES:
        assert {u.sheet for u in checked.unverified} <= set(checked_option_sheets(checked))
        return

    assert checked.unverified == (), checked.unverified[:5]


def checked_option_sheets(checked: Written) -> list[str]:
    """The sheets of the written workbook other than Summary, Inputs, Sizing and Risk."""
    book = load_workbook(io.BytesIO(checked.data), read_only=True)
    return [n for n in book.sheetnames if n not in {"Summary", "Inputs", "Sizing", "Risk"}]


class TestCheck:
    @pytest.mark.parametrize(
        ("formula", "value"),
        [
            ("=1+2*3^2", 19.0),
            ("=-2^2", 4.0),  # a spreadsheet negates before it raises to a power
            ("=INT(2.7)+ROUNDUP(2.0000001,0)+MAX(1,in_x)", 2.0 + 3.0 + 5.0),
            ('=IF(COUNT(A1:A2)=0,"none",INDEX(A1:A2,MATCH(MIN(A1:A2),A1:A2,0)))', "none"),
            ('=IF(AND(in_x>1,B1<=2),"yes","no")', "yes"),
            ("='Other sheet'!C3*2", 6.0),
        ],
    )
    def test_evaluates_what_the_workbook_writes(self, formula: str, value: object) -> None:
        """The checker computes the workbook's formulas as a spreadsheet does; IF steps
        around an error (MATCH finding nothing) in the branch it does not take."""
        cells = {"S": {(0, 0): "a", (1, 0): "b", (0, 1): 2.0}, "Other sheet": {(2, 2): 3.0}}

        assert evaluate_formula(formula, "S", cells, {"in_x": 5.0}) == value

    def test_an_error_or_an_unknown_name_is_reported(self) -> None:
        """A formula whose result is an error, or that reads an unknown name, raises."""
        with pytest.raises(FormulaError):
            evaluate_formula("=1/0", "S", {}, {})
        with pytest.raises(FormulaError):
            evaluate_formula("=in_nope*2", "S", {}, {})


class TestValueSheets:
    def test_sizing_sheet_is_the_sizing_frame(self, books) -> None:
        """The Sizing sheet holds the engine's sizing frame, row for row ("–" for NaN)."""
        ev, _, values = books
        rows = list(values["Sizing"].iter_rows(min_row=5, values_only=True))
        frame = ev.sizing
        if frame.empty:
            return
        assert len(rows) == len(frame)
        for got, want in zip(rows, frame.itertuples(index=False), strict=True):
            for a, b in zip(got, want, strict=False):
                if isinstance(b, float) and math.isnan(b):
                    assert a == BLANK
                elif isinstance(b, str):
                    assert a == b
                else:
                    assert a == pytest.approx(float(b), rel=1e-12)

    def test_risk_sheet_holds_the_simulations_percentiles(self, books) -> None:
        """For a scenario with ranges, the Risk sheet lists every option's NPV and total
        percentiles and its probability of being the cheapest, as the report's simulation
        gives them, with a note on how they were made."""
        ev, _, values = books
        if not ev.scenario.ranges:
            return
        from planner.report.content import risk_analysis

        analysis = risk_analysis(ev)
        assert analysis is not None
        ws = values["Risk"]
        assert "Monte Carlo" in ws["A1"].value
        assert "percentiles" in ws["A2"].value
        rows = _rows(ws)
        for o in analysis.simulation.summary.options:
            row = rows[o.id]
            assert row[2:10] == (
                o.npv.p10,
                o.npv.p50,
                o.npv.p90,
                o.npv.mean,
                o.total.p10,
                o.total.p50,
                o.total.p90,
                o.p_cheapest,
            )


def test_mailplan_report_writes_the_live_model(scenario_file, tmp_path) -> None:
    """`mailplan report SCENARIO --format xlsx -o OUT` writes this workbook: named
    inputs, and the Summary's NPV a formula."""
    from planner.cli import run

    out = tmp_path / "acme.xlsx"
    assert run(["report", str(scenario_file), "--format", "xlsx", "-o", str(out)]) == 0

    wb = load_workbook(out)
    assert "in_discount_rate" in wb.defined_names
    assert str(wb["Summary"].cell(6, COL["npv"] + 1).value).startswith("=")


def test_inputs_sheet_carries_the_seat_mix() -> None:
    """The seat-mix scenario's Inputs sheet lists each segment, the shared mailboxes and
    the seats each cloud option buys per plan, as the engine counts them."""
    from planner import evaluate, load_scenario, scenario_presets

    ev = evaluate(load_scenario(scenario_presets()["seat-mix-600"]))
    book = load_workbook(io.BytesIO(render(ev, "xlsx")), read_only=True)
    rows = {r[0]: r[1] for r in book["Inputs"].iter_rows(values_only=True) if r[0]}
    seg = ev.scenario.organization.segments[0]
    assert rows[f"Segment: {seg.name}"].startswith(f"{seg.users:,} people; ")
    shared = ev.scenario.organization.shared_mailboxes
    assert rows["Shared mailboxes"].startswith(f"{shared.count:,} of ")
    for o in ev.resolved.cloud:
        year1 = ev.seats_by_year(o.id)[0]
        assert rows[f"Seats in year 1: {o.id}"] == ", ".join(
            f"{plan} {n:,}" for plan, n in year1.items() if n > 0
        )
