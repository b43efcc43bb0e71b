"""Parse the tables of a rendered report and check every figure against the engine.

The parsers read what a reader sees (HTML ``<table>`` cells, Markdown pipe tables) and
``check_tables`` compares each displayed number with the Evaluation's own figure, to
the precision it is displayed with. It never uses ``planner.report.content``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pandas as pd

from planner import Evaluation
from planner.report.labels import SCOPE_TITLES, field_title


@dataclass
class ParsedTable:
    """A table as a reader sees it: its title, column headers and cell texts, and the
    numbered notes its cells cite ("[3]" -> the note's text; HTML only)."""

    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    def by_first_column(self) -> dict[str, dict[str, str]]:
        """Rows keyed by their first cell, each a dict column -> cell."""
        return {r[0]: dict(zip(self.columns, r, strict=True)) for r in self.rows}


# region #### parsers ####


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[ParsedTable] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._row: list[str] | None = None
        self._in_head = False
        self._in_notes = False
        self._note: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(ParsedTable(title=""))
        elif tag == "caption":
            self._caption = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "ol" and dict(attrs).get("class") == "endnotes":
            self._in_notes = True
        elif tag == "li" and self._in_notes:
            self._note = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self.tables[-1].title = "".join(self._caption).strip()
            self._caption = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "ol":
            self._in_notes = False
        elif tag == "li" and self._note is not None:
            notes = self.tables[-1].notes
            notes[f"[{len(notes) + 1}]"] = " ".join("".join(self._note).split())
            self._note = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self.tables[-1].columns = self._row
            else:
                self.tables[-1].rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None:
            self._caption.append(data)
        elif self._note is not None:
            self._note.append(data)


def html_tables(text: str) -> list[ParsedTable]:
    """Every ``<table>`` of an HTML document."""
    parser = _TableParser()
    parser.feed(text)
    parser.close()
    return parser.tables


_PIPE = re.compile(r"(?<!\\)\|")


def _md_cells(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [c.strip().replace("\\|", "|").replace("\\\\", "\\") for c in _PIPE.split(inner)]


def markdown_tables(text: str) -> list[ParsedTable]:
    """Every pipe table of a Markdown document, titled by the bold line above it."""
    lines = text.splitlines()
    tables: list[ParsedTable] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|--"):
            title = ""
            for back in range(i - 1, max(i - 3, -1), -1):
                if lines[back].startswith("**") and lines[back].endswith("**"):
                    title = lines[back].strip("*")
                    break
            table = ParsedTable(title=title, columns=_md_cells(line))
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                table.rows.append(_md_cells(lines[i]))
                i += 1
            tables.append(table)
        else:
            i += 1
    return tables


# endregion
# region #### checks ####


def num(text: str) -> float | None:
    """A displayed number ('127,231', '-4,000', '70%') as a float; '–', '-' or '' as None."""
    t = text.strip().replace(",", "")
    if t in ("", "-", "–"):
        return None
    if t.endswith("%"):
        return float(t[:-1]) / 100
    return float(t)


def close(text: str, value: float, decimals: int) -> bool:
    """True when ``text`` shows ``value`` rounded to ``decimals`` places."""
    shown = num(text)
    return shown is not None and abs(shown - value) <= 0.5 * 10.0**-decimals + 1e-9


def _one(tables: list[ParsedTable], prefix: str) -> ParsedTable:
    found = [t for t in tables if t.title.startswith(prefix)]
    assert len(found) == 1, f"expected one table titled {prefix!r}, found {len(found)}"
    return found[0]


def check_totals(tables: list[ParsedTable], ev: Evaluation) -> None:
    """Total, NPV, cost per user-month, the differences to today's system (only with a
    ``current``), the opportunity cost (only with existing staff), availability, downtime
    hours and score of every option; the recommended and the ruled-out ones."""
    table = _one(tables, "Totals over")
    cur = ev.scenario.currency
    rows = table.by_first_column()
    assert sorted(rows) == sorted(o.id for o in ev.options)
    vs_total, vs_npv = f"vs today, total ({cur})", f"vs today, NPV ({cur})"
    staff = f"Opportunity cost ({cur})"
    assert (vs_total in table.columns) == (vs_npv in table.columns) == bool(ev.scenario.current)
    assert (staff in table.columns) == (ev.scenario.labour_cost == "existing_staff")
    assert table.columns[-1] == "Status"
    by_id = {o.id: o for o in ev.comparison.options}
    for oid, row in rows.items():
        o = by_id[oid]
        assert close(row[f"Total ({cur})"], ev.total(oid), 0), (oid, row)
        assert close(row[f"NPV ({cur})"], ev.npv(oid), 0), (oid, row)
        assert close(row[f"Per user-month ({cur})"], ev.per_user_month(oid), 2), (oid, row)
        if ev.scenario.current:
            if oid == ev.scenario.current:
                assert row[vs_total] == row[vs_npv] == "baseline"
            else:
                assert o.vs_current is not None
                # the report rounds the cent-rounded figure (1,204,463.498 -> .50 -> 464)
                vs_total_value = ev.total(oid) - ev.total(ev.scenario.current)
                vs_npv_value = ev.npv(oid) - ev.npv(ev.scenario.current)
                assert abs(o.vs_current.total - vs_total_value) <= 0.005 + 1e-9
                assert abs(o.vs_current.npv - vs_npv_value) <= 0.005 + 1e-9
                assert close(row[vs_total], o.vs_current.total, 0)
                assert close(row[vs_npv], o.vs_current.npv, 0)
        if staff in row:
            assert close(row[staff], float(ev.opportunity[oid].sum()), 0), (oid, row[staff])
        avail = ev.availability[oid]
        if avail is None:
            assert row["Availability"] == row["Downtime h/yr"] == "–"
        else:
            assert row["Availability"].endswith("%")
            assert close(row["Availability"], avail, 5), (oid, row["Availability"])
            assert close(row["Downtime h/yr"], (1 - avail) * 8760, 1), (oid, row)
        expected = ev.assessments[oid].score
        score = row["Score (1-5)"]
        assert (num(score) is None) if expected is None else close(score, expected, 2)
        status = row["Status"]
        assert status.startswith("recommended") == (oid == ev.cheapest)
        assert ("ruled out" in status) == bool(ev.ruled_out_by(oid))


def check_yearly(tables: list[ParsedTable], ev: Evaluation) -> None:
    """Every cost line of every option and year, the category totals and the yearly totals,
    the capex and opex lines, and (with existing staff) the opportunity cost line."""
    staff = ev.scenario.labour_cost == "existing_staff"
    extra = {"total", "of which capex", "of which opex"}
    if staff:
        extra.add("opportunity cost (not in the total)")
    by_id = {o.id: o for o in ev.comparison.options}
    for o in ev.options:
        table = _one(tables, f"{o.id}: cost per year")
        frame = ev.costs[ev.costs["option"] == o.id]
        rows = table.by_first_column()
        assert set(rows) == {c.replace("_", " ") for c in frame["category"]} | extra
        for r in frame.itertuples():
            cell = rows[str(r.category).replace("_", " ")][f"Year {r.year}"]
            assert close(cell, float(r.amount), 0), (o.id, r.category, r.year, cell)
        for category, amounts in frame.groupby("category"):
            cell = rows[str(category).replace("_", " ")]["All years"]
            assert close(cell, float(amounts["amount"].sum()), 0)
        for y, cost in enumerate(ev.yearly(o.id), 1):
            assert close(rows["total"][f"Year {y}"], float(cost), 0)
        assert close(rows["total"]["All years"], ev.total(o.id), 0)
        years = by_id[o.id].years
        for kind in ("capex", "opex"):
            row = rows[f"of which {kind}"]
            for y in years:
                assert close(row[f"Year {y.year}"], getattr(y, kind), 0), (o.id, kind, y.year)
            assert close(row["All years"], sum(getattr(y, kind) for y in years), 0)
        if staff:
            row = rows["opportunity cost (not in the total)"]
            for y, amount in enumerate(ev.opportunity[o.id], 1):
                assert close(row[f"Year {y}"], float(amount), 0)


def check_sizing(tables: list[ParsedTable], ev: Evaluation) -> None:
    """Users, messages, peak rate, storage and servers of every year and on-prem option."""
    table = _one(tables, "Demand and servers per year")
    rows = table.by_first_column()
    users = {y.year: y.users for y in ev.comparison.options[0].years}
    assert sorted(int(k) for k in rows) == list(range(1, ev.horizon + 1))
    for r in ev.sizing.itertuples():
        row = rows[str(r.year)]
        assert num(row["Users"]) == users[int(r.year)] == r.users
        assert close(row["Messages/day"], float(r.messages_per_day), 0)
        assert close(row["Peak msgs/s"], float(r.peak_msgs_per_s), 2)
        assert close(row["Storage TB"], float(r.storage_tb), 2)
        assert num(row[f"Servers {r.option}"]) == r.servers
    if not ev.resolved.onprem:
        assert [t for t in tables if t.title.startswith("Capacity per server")] == []
        return
    cap = _one(tables, "Capacity per server").by_first_column()
    for o in ev.resolved.onprem:
        assert close(cap[o.id]["Msgs/s per server"], o.capacity_msgs_per_s, 2)
        assert cap[o.id]["Source"] == o.capacity_source
        assert cap[o.id]["Kind"] == o.capacity_kind


def check_break_even(tables: list[ParsedTable], ev: Evaluation) -> None:
    """Break-even year and users of every on-prem/cloud pair."""
    if not ev.break_even:
        assert [t for t in tables if t.title.startswith("Break-even:")] == []
        return
    rows = _one(tables, "Break-even:").rows
    got = [(a, b, num(y), num(yn), num(u)) for a, b, y, yn, u in rows]
    assert got == [(b.onprem, b.cloud, b.year, b.year_npv, b.users) for b in ev.break_even]


def check_qualitative(tables: list[ParsedTable], ev: Evaluation) -> None:
    """Every weight and score of the decision matrix, and the weighted scores."""
    labels = {c.id: c.label for c in ev.catalog.qualitative.criteria}
    rows = _one(tables, "Decision matrix").by_first_column()
    for o in ev.options:
        a = ev.assessments[o.id]
        for cell in a.criteria:
            row = rows[labels[cell.criterion]]
            assert num(row[o.id]) == cell.score
            assert num(row["Weight"]) == cell.weight
        shown = rows["Weighted score"][o.id]
        assert num(shown) is None if a.score is None else close(shown, a.score, 2)


def check_assumptions(tables: list[ParsedTable], ev: Evaluation) -> None:
    """Every input with its value, origin, source and date. The HTML cites the source
    and note of each row as a numbered note printed after the table ("[3]")."""
    table = _one(tables, "Inputs, sources and dates")
    rows = table.rows
    frame = ev.assumptions
    assert len(rows) == len(frame)
    for shown, r in zip(rows, frame.itertuples(), strict=True):
        if table.notes:
            scope, field_, value, origin, cite, as_of, estimate = shown
            note = table.notes.get(cite, "")
            if pd.isna(r.source):
                assert "Source:" not in note, (r.scope, r.field, cite)
            else:
                assert note.startswith(f"Source: {r.source}"), (r.scope, r.field, cite)
            if not pd.isna(r.note):
                assert " ".join(str(r.note).split()) in note, (r.scope, r.field, cite)
            source = "–" if pd.isna(r.source) else r.source
        else:
            scope, field_, value, origin, source, as_of, estimate, _note = shown
        kind = r.scope if r.scope in SCOPE_TITLES else ev.option(r.scope).kind
        assert scope == SCOPE_TITLES.get(r.scope, r.scope)
        assert (field_, origin) == (field_title(kind, r.field), r.origin)
        assert source == ("–" if pd.isna(r.source) else r.source)
        assert as_of == ("–" if pd.isna(r.as_of) else r.as_of)
        assert estimate == ("yes" if r.estimate else "no")
        if isinstance(r.value, int | float) and not isinstance(r.value, bool):
            assert num(value) == r.value, (r.scope, r.field, value)
        elif r.value is not None:
            assert value == str(r.value)


def check_benchmark(tables: list[ParsedTable], ev: Evaluation) -> None:
    """The benchmark table lists exactly the options sized from a benchmark."""
    measured = {o.id: o for o in ev.resolved.onprem if o.capacity_kind == "benchmark"}
    found = [t for t in tables if t.title.startswith("Measured capacity")]
    if not measured:
        assert found == []
        return
    rows = _one(tables, "Measured capacity").by_first_column()
    assert set(rows) == set(measured)
    for oid, o in measured.items():
        assert rows[oid]["Benchmark"] == o.capacity_source
        assert close(rows[oid]["Msgs/s per server"], o.capacity_msgs_per_s, 2)


def check_tables(tables: list[ParsedTable], ev: Evaluation) -> None:
    """Every figure shown in the report's tables equals the engine's."""
    check_totals(tables, ev)
    check_yearly(tables, ev)
    check_sizing(tables, ev)
    check_break_even(tables, ev)
    check_qualitative(tables, ev)
    check_assumptions(tables, ev)
    check_benchmark(tables, ev)


# endregion
