"""What a reader sees in every report format: no ``None``/``nan`` cells, no Markdown syntax
showing through, no raw field paths, empty cells as "–", and wording that fits the case.

Checked on the HTML (its visible text and table cells), the PDF (pdftotext), the Markdown
(its prose and pipe tables) and the XLSX (every text cell), for each bundled scenario and
the report test cases. The formulas section ("How the numbers are computed") is left out
of the field-path check on purpose: it names the scenario file's keys, set as code, so a
reader can redo a figure by hand.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from planner import Evaluation, evaluate, load_scenario, scenario_presets
from planner.report import render
from tests.report.conftest import START
from tests.report.figures import html_tables, markdown_tables

FIELD_PATH = re.compile(r"(?<![\w/.@-])(organization|escalation|onprem|cloud)\.[\w.+-]+")
BLANK_WORDS = re.compile(r"\b(None|nan|NaN)\b")
URL = re.compile(r"https?://\S+")
DASH = "–"
FORMULAS_HEADING = "How the numbers are computed"


def _paths(text: str) -> list[str]:
    """Raw field paths in ``text`` (URLs are not paths: cloud.google.com is a host)."""
    return [m.group(0) for m in FIELD_PATH.finditer(URL.sub(" ", text))]


class _Visible(HTMLParser):
    """The text a reader sees: outside script and style; apart, the formulas section's."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.prose: list[str] = []
        self.formulas: list[str] = []
        self._skip = 0
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "section":
            self._section = dict(attrs).get("id") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            (self.formulas if self._section == "formulas" else self.prose).append(data)


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _split_formulas(text: str) -> tuple[str, str]:
    """(everything before the formulas section's heading, the formulas section)."""
    at = text.rfind(FORMULAS_HEADING)
    return (text, "") if at < 0 else (text[:at], text[at:])


def _check_text(where: str, text: str) -> None:
    assert "`" not in text, f"{where}: a backtick shows: ...{_around(text, '`')}..."
    assert _paths(text) == [], f"{where}: raw field paths {sorted(set(_paths(text)))[:5]}"
    assert not BLANK_WORDS.search(text), f"{where}: {BLANK_WORDS.search(text)}"


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 60) : at + 60]


def _check_cells(where: str, cells: Iterator[tuple[str, str]]) -> None:
    for title, cell in cells:
        assert cell.strip() not in ("None", "nan", "NaN", ""), f"{where}: {title!r}: {cell!r}"


@pytest.mark.timeout(120)
def test_html_has_readable_text_and_no_blank_cells(case_ev: Evaluation) -> None:
    """The HTML's visible text has no backtick, no raw field path, no None/nan; every table
    cell holds something (an empty one shows "–")."""
    page = render(case_ev, "html").decode("utf-8")
    seen = _Visible()
    seen.feed(page)
    _check_text("html", " ".join(seen.prose))
    assert "`" not in " ".join(seen.formulas)  # code spans are rendered, not shown as `...`
    tables = html_tables(page)
    _check_cells("html", ((t.title, c) for t in tables for row in t.rows for c in row))


@pytest.mark.timeout(120)
def test_markdown_has_readable_text_and_no_blank_cells(case_ev: Evaluation) -> None:
    """The Markdown, formulas aside, has no backtick, raw field path or None/nan; every
    table cell holds something ("–" for empty)."""
    text = render(case_ev, "md").decode("utf-8")
    prose, _ = _split_formulas(text)
    _check_text("md", prose)
    tables = markdown_tables(text)
    _check_cells("md", ((t.title, c) for t in tables for row in t.rows for c in row))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("preset", ["default-ranges", "seat-mix-600"])
def test_pdf_text_is_readable(preset: str, tmp_path: Path) -> None:
    """pdftotext of the PDF, formulas aside, has no backtick, raw field path or None/nan.
    The PDF is Chromium's print of the HTML checked above for every scenario; these two
    scenarios hold every section between them (the risk section, the seats by plan), and
    printing each of the others cost about 10 s of the suite."""
    ev = evaluate(load_scenario(scenario_presets()[preset]), start=START)
    prose, _ = _split_formulas(_pdf_text(render(ev, "pdf"), tmp_path))
    _check_text(f"pdf {preset}", prose)


@pytest.mark.timeout(120)
def test_xlsx_text_cells_are_readable(case_ev: Evaluation) -> None:
    """Every text cell of every sheet of the workbook (formulas aside) is free of None/nan,
    backticks and raw field paths."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(render(case_ev, "xlsx")))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and not value.startswith("="):
                    where = f"xlsx {sheet.title}!{cell.coordinate}"
                    assert value.strip() not in ("None", "nan", "NaN"), where
                    _check_text(where, value)


@pytest.mark.parametrize(
    ("year", "phrase"),
    [
        (1, "is cheaper from year 1"),
        (3, "catches up in year 3"),
        (None, "does not catch up within 5 years"),
    ],
)
def test_break_even_wording_fits_the_case(year: int | None, phrase: str) -> None:
    """An on-prem option cheaper from the start is "cheaper from year 1", never "catches up
    in year 1"; a later year catches up; none does not catch up."""
    from planner.report.content import catch_up_phrase

    assert catch_up_phrase(year, 5) == phrase


def test_money_is_one_format() -> None:
    """Money reads ``USD 12,345`` (cents only below 100) wherever the report writes it."""
    from planner.report.content import money

    assert money(12345.4, "USD") == "USD 12,345"
    assert money(9.534, "USD") == "USD 9.53"
    assert money(-0.2, "USD", 0) == "USD 0"
