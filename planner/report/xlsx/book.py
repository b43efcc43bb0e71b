"""The workbook being written: its formats, its named inputs and cell helpers.

Every formula goes through :meth:`Book.formula` with the value mailplan computed for it, so
a viewer that does not recalculate (a mail preview, pandas) shows that value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from planner.report.xlsx.check import FormulaError, evaluate, matches

__all__ = ["BLANK", "Book", "InputRow", "Unverified", "cell", "sheet_ref"]

BLANK = "–"  # what an empty text cell shows

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def cell(row: int, col: int, *, absolute: bool = False) -> str:
    """A1 reference of a zero-based (row, col)."""
    return str(xl_rowcol_to_cell(row, col, row_abs=absolute, col_abs=absolute))


def sheet_ref(sheet: str, row: int, col: int) -> str:
    """A reference to a cell of another sheet: 'Sheet'!C5."""
    return f"'{sheet}'!{cell(row, col)}"


@dataclass(frozen=True)
class InputRow:
    """One named input on the Inputs sheet."""

    name: str
    label: str
    value: float | str
    unit: str
    source: str
    as_of: str
    note: str = ""
    kind: str = "number"  # number, money, pct, text (a structural value)


@dataclass(frozen=True)
class Unverified:
    """A cell written as a value because its formula did not give mailplan's figure."""

    sheet: str
    cell: str
    formula: str
    got: Any
    want: Any


@dataclass
class Book:
    """An XlsxWriter workbook with the report's formats, the registry of named inputs and
    every value written so far (what :mod:`planner.report.xlsx.check` reads)."""

    wb: Workbook
    currency: str
    inputs: dict[str, InputRow] = field(default_factory=dict)
    formats: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, dict[tuple[int, int], Any]] = field(default_factory=dict)
    names: dict[str, Any] = field(default_factory=dict)
    unverified: list[Unverified] = field(default_factory=list)
    option_keys: dict[str, str] = field(default_factory=dict)  # option id -> name part

    def __post_init__(self) -> None:
        cur = self.currency.replace('"', "")
        spec: dict[str, dict[str, Any]] = {
            "header": {"bold": True, "bg_color": "#DDE4EE", "bottom": 1, "text_wrap": True},
            "title": {"bold": True, "font_size": 14},
            "section": {"bold": True, "italic": True, "font_color": "#1F3A5F"},
            "bold": {"bold": True},
            "text": {"text_wrap": False},
            "wrap": {"text_wrap": True, "valign": "top"},
            "note": {"italic": True, "font_color": "#555555", "text_wrap": True, "valign": "top"},
            "money": {"num_format": f'"{cur} "#,##0.00'},
            "money_bold": {"num_format": f'"{cur} "#,##0.00', "bold": True},
            "usd": {"num_format": '"USD "#,##0.00##'},
            "int": {"num_format": "#,##0"},
            "number": {"num_format": "#,##0.00##"},
            "pct": {"num_format": "0.00%"},
            "factor": {"num_format": "0.000000"},
            "input": {"num_format": "#,##0.00####", "bg_color": "#FFF7D6"},
            "input_pct": {"num_format": "0.00%", "bg_color": "#FFF7D6"},
            "input_money": {"num_format": '"USD "#,##0.00##', "bg_color": "#FFF7D6"},
            "input_text": {"bg_color": "#EEEEEE"},
        }
        self.formats = {k: self.wb.add_format(v) for k, v in spec.items()}

    def fmt(self, name: str) -> Any:
        """The cell format called ``name``."""
        return self.formats[name]

    def option_name(self, option_id: str, stage: int, field_name: str) -> str:
        """The defined name of an option's input: ``in_<option>_<stage>_<field>``, the
        option id made a valid name (letters, digits, underscores) and unique."""
        key = self.option_keys.get(option_id)
        if key is None:
            base = _NOT_NAME.sub("_", option_id)
            key, n = base, 2
            while key in self.option_keys.values():
                key, n = f"{base}_{n}", n + 1
            self.option_keys[option_id] = key
        return f"in_{key}_{stage}_{field_name}"

    def add_input(self, row: InputRow) -> str:
        """Register an input (written later by the Inputs sheet); returns its name."""
        if row.name not in self.inputs:
            self.inputs[row.name] = row
            self.names[row.name] = row.value
        return row.name

    def _keep(self, ws: Worksheet, row: int, col: int, value: Any) -> None:
        self.cells.setdefault(ws.name, {})[(row, col)] = value

    def formula(
        self,
        ws: Worksheet,
        row: int,
        col: int,
        formula: str,
        value: float | str,
        fmt: str = "money",
    ) -> bool:
        """Write ``formula`` with ``value``, mailplan's figure, as its cached result.

        The formula is first evaluated on the cells and inputs it reads; if it does not
        give ``value`` (or cannot be evaluated), ``value`` is written instead and recorded
        in ``unverified``. Returns whether the formula was written.
        """
        cached: float | str = value
        if isinstance(value, float) and not math.isfinite(value):
            cached = 0.0
        try:
            got: Any = evaluate(formula, ws.name, self.cells, self.names)
        except FormulaError as exc:
            got = f"error: {exc}"
        if not matches(got, cached):
            self.unverified.append(Unverified(ws.name, cell(row, col), formula, got, cached))
            if isinstance(cached, str):
                self.text(ws, row, col, cached, "text")
            else:
                self.number(ws, row, col, cached, fmt)
            return False
        ws.write_formula(row, col, formula, self.fmt(fmt), cached)
        self._keep(ws, row, col, cached)
        return True

    def number(self, ws: Worksheet, row: int, col: int, value: float, fmt: str = "number") -> None:
        """Write a number."""
        ws.write_number(row, col, float(value), self.fmt(fmt))
        self._keep(ws, row, col, float(value))

    def text(self, ws: Worksheet, row: int, col: int, value: str, fmt: str = "text") -> None:
        """Write text ("–" for none)."""
        ws.write_string(row, col, value or BLANK, self.fmt(fmt))
        self._keep(ws, row, col, value or BLANK)

    def value(self, ws: Worksheet, row: int, col: int, value: Any, fmt: str = "number") -> None:
        """Write a value: a number (NaN and None as "–"), or text."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            self.text(ws, row, col, BLANK)
        elif isinstance(value, bool):
            self.text(ws, row, col, "yes" if value else "no")
        elif isinstance(value, int | float):
            self.number(ws, row, col, float(value), fmt)
        else:
            self.text(ws, row, col, str(value))

    def note(self, ws: Worksheet, row: int, text: str, last_col: int, width: float) -> None:
        """A wrapped note over columns A to ``last_col`` (``width`` characters wide in all),
        its row as tall as the text needs."""
        lines = max(1, math.ceil(len(text) * 1.1 / max(width, 10.0)))
        ws.merge_range(row, 0, row, last_col, text, self.fmt("note"))
        ws.set_row(row, 15 * lines)

    def header(self, ws: Worksheet, row: int, labels: list[str]) -> None:
        """A bold header row."""
        for col, label in enumerate(labels):
            ws.write_string(row, col, label, self.fmt("header"))
