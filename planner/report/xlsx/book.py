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

__all__ = ["BLANK", "Book", "InputRow", "cell", "sheet_ref"]

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


@dataclass
class Book:
    """An XlsxWriter workbook with the report's formats and the registry of named inputs."""

    wb: Workbook
    currency: str
    inputs: dict[str, InputRow] = field(default_factory=dict)
    formats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cur = self.currency.replace('"', "")
        spec: dict[str, dict[str, Any]] = {
            "header": {"bold": True, "bg_color": "#DDE4EE", "bottom": 1, "text_wrap": True},
            "title": {"bold": True, "font_size": 14},
            "section": {"bold": True, "italic": True, "font_color": "#1F3A5F"},
            "bold": {"bold": True},
            "text": {"text_wrap": False},
            "wrap": {"text_wrap": True, "valign": "top"},
            "note": {"italic": True, "font_color": "#555555"},
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

    @staticmethod
    def name_of(*parts: str | int) -> str:
        """A defined name from parts: letters, digits and underscores, never a cell ref."""
        return "in_" + "_".join(_NOT_NAME.sub("_", str(p)) for p in parts)

    def add_input(self, row: InputRow) -> str:
        """Register an input (written later by the Inputs sheet); returns its name."""
        self.inputs.setdefault(row.name, row)
        return row.name

    def formula(
        self,
        ws: Worksheet,
        row: int,
        col: int,
        formula: str,
        value: float | str,
        fmt: str = "money",
    ) -> None:
        """Write ``formula`` with ``value`` as its cached result."""
        cached: float | str = value
        if isinstance(value, float) and not math.isfinite(value):
            cached = 0.0
        ws.write_formula(row, col, formula, self.fmt(fmt), cached)

    def value(self, ws: Worksheet, row: int, col: int, value: Any, fmt: str = "number") -> None:
        """Write a value: a number (NaN and None as "–"), or text."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            ws.write_string(row, col, BLANK, self.fmt("text"))
        elif isinstance(value, bool):
            ws.write_string(row, col, "yes" if value else "no", self.fmt("text"))
        elif isinstance(value, int | float):
            ws.write_number(row, col, float(value), self.fmt(fmt))
        else:
            ws.write_string(row, col, str(value) or BLANK, self.fmt("text"))

    def header(self, ws: Worksheet, row: int, labels: list[str]) -> None:
        """A bold header row."""
        for col, label in enumerate(labels):
            ws.write_string(row, col, label, self.fmt("header"))
