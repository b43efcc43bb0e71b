"""The PDF: Chromium's print of the HTML report, A4, vector charts, the engine's totals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from planner import Evaluation
from planner.report import ChromiumNotFound, ReportError, render
from planner.report.chromium import DEBIAN_PACKAGE, ENV_VAR, Printer

pytestmark = pytest.mark.timeout(120)


def _text(pdf: Path, *flags: str) -> str:
    """The PDF's text by pdftotext (``-layout`` keeps table rows on one line)."""
    out = subprocess.run(
        ["pdftotext", *flags, str(pdf), "-"], capture_output=True, text=True, check=True
    )
    return out.stdout if flags else " ".join(out.stdout.split())


def test_totals_and_recommendation_are_in_the_text(default_pdf: Path, default_ev) -> None:
    """pdftotext finds every option's total and NPV and the recommended option."""
    ids = {o.id for o in default_ev.options}
    rows = [line.split() for line in _text(default_pdf, "-layout").splitlines()]
    table_rows = [r for r in rows if len(r) >= 5 and r[0] in ids]

    assert f"Recommended by cost: {default_ev.cheapest} (" in _text(default_pdf)
    for o in default_ev.options:
        ev = default_ev
        row = [o.id, o.kind, f"{ev.total(o.id):,.0f}", f"{ev.npv(o.id):,.0f}"]
        row.append(f"{ev.per_user_month(o.id):,.2f}")
        assert row in [r[:5] for r in table_rows], o.id
    recommended = [r[0] for r in table_rows if r[-1:] == ["recommended"]]
    assert recommended == [default_ev.cheapest]


def test_totals_carry_availability_downtime_and_today(default_pdf: Path, default_ev) -> None:
    """The printed totals table has the availability, downtime and vs-today columns, with
    the engine's figures in each option's row, and the summary names the bases."""
    text = _text(default_pdf)
    layout = _text(default_pdf, "-layout")  # table rows stay lines; the header comes first
    head = layout.split("Totals over", 1)[1].split("\npostfix-dovecot", 1)[0]
    for word in ("Availability", "Downtime", "h/yr", "vs", "today,"):  # headers wrap
        assert word in head
    assert f"Today's system: {default_ev.scenario.current} (" in text
    assert "Labour basis: paid for." in text
    assert "Price basis: real." in text
    lines = _text(default_pdf, "-layout").splitlines()
    current = default_ev.scenario.current
    for o in default_ev.comparison.options:
        (line,) = [ln for ln in lines if ln.split()[:2] == [o.id, o.kind]]
        assert f"{o.availability * 100:.3f}%" in line, o.id
        assert f"{o.downtime_hours_per_year:,.1f}" in line, o.id
        if o.id == current:
            assert "baseline" in line
        else:
            assert f"{o.vs_current.npv:+,.0f}" in line, o.id


def test_every_section_is_printed(default_pdf: Path) -> None:
    """The printed report reaches the formulas at the end."""
    text = _text(default_pdf)

    for heading in ("1. Executive summary", "3. Costs", "6. How the numbers are computed"):
        assert heading in text


def test_pages_are_a4(default_pdf: Path) -> None:
    """Every page is A4 (595 x 842 pt)."""
    out = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "999", str(default_pdf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sizes = {
        line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if line.startswith("Page") and "size:" in line
    }

    assert sizes
    assert all(s.startswith("594.96 x 841.92 pts") for s in sizes)


def test_charts_stay_vector(default_pdf: Path) -> None:
    """No raster images: the plotly charts are printed as vector paths and text."""
    out = subprocess.run(
        ["pdfimages", "-list", str(default_pdf)], capture_output=True, text=True, check=True
    ).stdout

    assert out.splitlines()[2:] == []
    assert "Cumulative cost of ownership" in _text(default_pdf)  # chart title is real text


def _pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(out.stdout.split("Pages:", 1)[1].split()[0])


def test_every_chart_is_printed(default_pdf: Path, default_ev) -> None:
    """Each chart of the report is drawn before the print: its title (SVG text drawn by
    plotly, not in the HTML source as text) is in the PDF, as many times as charts carry it."""
    from planner.report.content import build

    titles = [c.figure().layout.title.text for c in build(default_ev).charts()]
    text = _text(default_pdf)

    assert titles
    assert all(titles)
    for title in set(titles):
        assert text.count(" ".join(title.split())) >= titles.count(title), title


def test_page_count_stays_down(default_pdf: Path) -> None:
    """The default report prints on at most 36 pages (34 when measured, at full size;
    42 before the assumptions' sources and notes became endnotes, then shrunk to 91 %
    to fit a too-wide table): every page costs Chromium print time (PDF goal < 5 s)."""
    assert _pages(default_pdf) <= 36


def test_pages_are_printed_at_full_size(default_pdf: Path) -> None:
    """No table is wider than the A4 text width, so Chromium does not shrink the pages
    to fit it: the 14 pt heading "1. Executive summary" keeps its full height (its box,
    ascent to descent: 16.3 pt at full size, 13.9 pt when shrunk to fit)."""
    words = subprocess.run(
        ["pdftotext", "-bbox", "-f", "2", "-l", "2", str(default_pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    heading = next(ln for ln in words.splitlines() if ">Executive<" in ln)
    y_min, y_max = (float(heading.split(f'{k}="')[1].split('"')[0]) for k in ("yMin", "yMax"))
    assert y_max - y_min > 16.3 * 0.97, heading


def test_assumptions_cite_every_source_once(default_pdf: Path, default_ev) -> None:
    """Every source URL of the assumptions is printed, in the numbered notes after the
    table, once per distinct note (not once per row: 227 rows share 78 notes)."""
    text = _text(default_pdf)
    sources = set(default_ev.assumptions["source"].dropna())
    appendix = text[text.index("Inputs, sources and dates") :]
    assert sources
    for url in sources:
        # pdftotext breaks a long URL across lines (a space) and drops the hyphen it
        # was broken at: compare without either
        assert url.replace("-", "") in appendix.replace(" ", "").replace("-", ""), url
    notes = default_ev.assumptions[["source", "note"]].dropna(how="all").drop_duplicates()
    assert f"[{len(notes)}]" in appendix
    assert f"[{len(notes) + 1}]" not in appendix
    assert len(notes) < len(default_ev.assumptions) / 2


def test_printer_prints_pages_in_turn(tmp_path: Path) -> None:
    """One started Printer prints two pages, each a one-page A4 PDF with its own text, and
    its browser has exited once it is closed."""
    pages = []
    for word in ("first", "second"):
        page = tmp_path / f"{word}.html"
        page.write_text(f"<!DOCTYPE html><style>@page {{ size: A4 }}</style><p>{word} page")
        pages.append(page)
    with Printer() as printer:
        pdfs = [printer.print(page) for page in pages]
    assert printer._proc.poll() is not None
    for word, data in zip(("first", "second"), pdfs, strict=True):
        path = tmp_path / f"{word}.pdf"
        path.write_bytes(data)
        assert _pages(path) == 1
        assert _text(path) == f"{word} page"


def test_printer_names_a_page_it_cannot_open(tmp_path: Path) -> None:
    """A page that does not exist is a one-line ReportError naming Chromium's error."""
    with Printer() as printer, pytest.raises(ReportError) as exc:
        printer.print(tmp_path / "missing.html")
    assert "ERR_FILE_NOT_FOUND" in str(exc.value)


def test_printer_gives_up_on_a_page_that_never_loads(tmp_path: Path) -> None:
    """A page whose script never ends is a ReportError once the timeout is spent, and the
    browser is ended."""
    page = tmp_path / "hang.html"
    page.write_text("<!DOCTYPE html><script>for (;;) {}</script>")
    printer = Printer(timeout_s=3)
    with printer, pytest.raises(ReportError, match="within 3 s"):
        printer.print(page)
    assert printer._proc.poll() is not None


def test_missing_chromium_names_the_debian_package(
    default_ev: Evaluation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With MAILPLAN_CHROMIUM at a missing path, the error is one line naming 'chromium'."""
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-such-chromium"))

    with pytest.raises(ChromiumNotFound) as exc:
        render(default_ev, "pdf")

    (line,) = exc.value.lines
    assert f"Debian package '{DEBIAN_PACKAGE}'" in line
    assert ENV_VAR in line
