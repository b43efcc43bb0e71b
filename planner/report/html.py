"""The report as one self-contained HTML file: plotly.js inline, no outside scripts or fonts.

The plotly.js inlined is the vendored partial bundle ``vendor/plotly-basic.min.js``
(trace types bar, pie and scatter; 1.2 MB instead of the full 4.8 MB), at the version the
installed Python plotly targets; ``BUNDLE_TRACES`` lists what it can draw and every chart
of the report keeps to it (the qualitative scores are bars, not a radar).

The page is laid out for an A4 print as much as for a screen: charts have a fixed size
that fits the printed page (``CHART_WIDTH_PX``), and the print stylesheet keeps charts,
table rows and headings whole across page breaks (the PDF is this page printed by
Chromium, see ``pdf.py``). Links to sources are plain ``<a href>``; nothing is loaded
from the network.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from functools import cache
from importlib import resources

import plotly.io.json
from markdown_it import MarkdownIt

from planner.report.content import (
    EMPTY,
    Block,
    Bullets,
    Chart,
    MarkdownText,
    Paragraph,
    Report,
    Section,
    Subheading,
    Table,
)
from planner.report.labels import plain

__all__ = ["BUNDLE", "BUNDLE_TRACES", "plotly_js", "render_html"]

BUNDLE = "plotly-basic.min.js"
BUNDLE_TRACES = frozenset({"bar", "pie", "scatter"})

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
       font-size: 10pt; line-height: 1.4; color: #1a1a1a; max-width: 186mm;
       margin: 1.5em auto; padding: 0 1em;
       hyphens: manual; overflow-wrap: normal; word-break: normal; }
h1 { font-size: 20pt; margin: 0 0 0.4em; }
h2 { font-size: 14pt; margin: 1.6em 0 0.5em; border-bottom: 2px solid #2b5d8a;
     padding-bottom: 0.15em; }
h3 { font-size: 11.5pt; margin: 1.2em 0 0.4em; }
h1, h2, h3, caption { break-after: avoid; page-break-after: avoid; }
header.title-page { margin-bottom: 2em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.25em 1.2em;
           margin: 1em 0 2em; }
dl.facts dt { font-weight: bold; color: #555; }
dl.facts dd { margin: 0; }
nav h2 { border: none; font-size: 13pt; margin-top: 0; }
nav ol { margin: 0.3em 0 1em; padding-left: 1.6em; line-height: 1.7; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0 0.2em; font-size: 8.5pt; }
caption { caption-side: top; text-align: left; font-weight: bold; font-size: 9.5pt;
          padding: 0 0 0.3em; }
th, td { border-bottom: 1px solid #d0d0d0; padding: 2px 5px; vertical-align: top;
         text-align: left; }
th { background: #eef2f6; border-bottom: 1px solid #888; font-weight: bold; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap, span.nowrap, td.num { white-space: nowrap; }
td.num.wrap { white-space: normal; }
table.fixed { table-layout: fixed; }
tr.total td { font-weight: bold; border-top: 1px solid #888; }
thead { display: table-header-group; }
tr, li { break-inside: avoid; page-break-inside: avoid; }
p.note { color: #555; font-size: 8.5pt; margin: 0.1em 0 0.8em; break-before: avoid; }
table.small { font-size: 8pt; line-height: 1.2; }
table.small th, table.small td { padding: 1px 3px; }
div.keep { break-inside: avoid; page-break-inside: avoid; }
a.url { overflow-wrap: anywhere; }
ol.endnotes { font-size: 8pt; line-height: 1.25; margin: 0.6em 0; padding-left: 2.6em; }
ol.endnotes li { margin: 0 0 0.25em; }
ol.endnotes span.label { color: #555; }
figure.chart { margin: 0.8em 0; break-inside: avoid; page-break-inside: avoid; }
a { color: #2b5d8a; text-decoration: none; }
code { font-size: 9pt; }
@media print {
  body { margin: 0; padding: 0; max-width: none; }
  header.title-page { break-after: page; page-break-after: always; padding-top: 30mm; }
  section { break-before: page; page-break-before: always; }
  h2 { margin-top: 0; }
}
"""

_URL = re.compile(r"https?://\S+\Z")
_NOWRAP_CHARS = 16  # numbers up to this long never wrap
_NOWRAP_ID_CHARS = 24  # option ids up to this long never wrap in the tables keyed by them
_KEYED_BY_OPTION = {"totals", "break-even", "capacity", "benchmark", "risk-options"}
_KEEP_ROWS = 32  # tables up to this many rows (a yearly cost table) are not split across pages
_SMALL = {"assumptions", "qualitative-reasons"}  # long text: a smaller font
# as many columns as this (a column per option): a smaller font too, so that the table
# fits the A4 width; a wider table makes Chromium shrink every page of the PDF to fit it
_SMALL_COLUMNS = 7
_COLUMN_WIDTHS_PCT = {  # fixed layouts for the tables with long text and URLs
    # sources and notes are endnotes (``Table.endnotes``): scope, input, value, origin,
    # the note cited, as of, estimate
    "assumptions": (13, 34, 9, 18, 7, 10, 9),
    "qualitative-reasons": (15, 15, 6, 8, 56),
}
_HYPHENATED = re.compile(r"\S*-\S*")


def _header(text: str) -> str:
    """A column header that wraps between words only (never at an id's hyphen)."""
    return _HYPHENATED.sub(
        lambda m: f'<span class="nowrap">{m.group(0)}</span>', html.escape(plain(text))
    )


@cache
def plotly_js() -> str:
    """The vendored partial plotly.js bundle (``vendor/``; no network)."""
    return resources.files("planner.report").joinpath("vendor", BUNDLE).read_text("utf-8")


def _cell(text: str) -> str:
    if _URL.match(text):
        url = html.escape(text)
        return f'<a class="url" href="{url}">{url}</a>'
    return html.escape(plain(text))


def _endnoted(t: Table) -> tuple[Table, str, int]:
    """``t`` with its ``endnotes`` columns replaced by one column citing a numbered note
    ("[3]"), the notes as an ordered list, and the index of the citing column (-1: no
    endnotes); each distinct combination of those columns' texts is one note, numbered
    in order of first citation. A row whose texts are all empty cites none ("–")."""
    if not t.endnotes:
        return t, "", -1
    at = t.endnotes[0]
    kept = [i for i in range(len(t.columns)) if i not in t.endnotes]
    kept.insert(sum(i < at for i in kept), -1)  # the citing column, where the first was
    numbers: dict[tuple[str, ...], int] = {}
    rows = []
    for row in t.rows:
        texts = tuple(row[i] for i in t.endnotes)
        if all(v == EMPTY for v in texts):
            cite = EMPTY
        else:
            cite = f"[{numbers.setdefault(texts, len(numbers) + 1)}]"
        rows.append(tuple(cite if i < 0 else row[i] for i in kept))
    items = []
    for texts, n in numbers.items():
        parts = [
            f'<span class="label">{html.escape(t.columns[i])}:</span> {_cell(v)}'
            for i, v in zip(t.endnotes, texts, strict=True)
            if v != EMPTY
        ]
        items.append(f'<li id="{html.escape(t.key)}-note-{n}">{" ".join(parts)}</li>')
    table = replace(
        t,
        columns=tuple(t.endnotes_title if i < 0 else t.columns[i] for i in kept),
        rows=tuple(rows),
        numeric=tuple(False if i < 0 else t.numeric[i] for i in kept),
        endnotes=(),
    )
    notes = (
        f'<ol class="endnotes" id="{html.escape(t.key)}-notes" '
        f'aria-label="{html.escape(t.endnotes_title)}">{"".join(items)}</ol>'
    )
    return table, notes, kept.index(-1)


def _table(t: Table) -> str:
    t, notes, cites = _endnoted(t)

    def cls(i: int, text: str = "") -> str:
        if not t.numeric[i]:
            keyed = t.key in _KEYED_BY_OPTION and i == 0 and text
            return ' class="nowrap"' if keyed and len(text) <= _NOWRAP_ID_CHARS else ""
        return ' class="num"' if len(text) <= _NOWRAP_CHARS else ' class="num wrap"'

    def cell(i: int, text: str) -> str:
        if i == cites and text != EMPTY:  # "[3]": a link to note 3
            return f'<a href="#{html.escape(t.key)}-note-{text[1:-1]}">{text}</a>'
        return _cell(text)

    head = "".join(f"<th{cls(i)}>{_header(c)}</th>" for i, c in enumerate(t.columns))
    body = []
    for row in t.rows:
        total = ' class="total"' if row[0] in ("total", "Weighted score") else ""
        cells = "".join(f"<td{cls(i, v)}>{cell(i, v)}</td>" for i, v in enumerate(row))
        body.append(f"<tr{total}>{cells}</tr>")
    classes = []
    if t.key in _SMALL or len(t.columns) >= _SMALL_COLUMNS:
        classes.append("small")
    cols = ""
    if (widths := _COLUMN_WIDTHS_PCT.get(t.key)) and len(widths) == len(t.columns):
        classes.append("fixed")
        cols = "<colgroup>" + "".join(f'<col style="width:{w}%">' for w in widths) + "</colgroup>"
    out = (
        f'<table id="{html.escape(t.key)}" class="{" ".join(classes)}">'
        f"<caption>{html.escape(t.title)}</caption>{cols}"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    if t.note:
        out += f'<p class="note">{html.escape(plain(t.note))}</p>'
    out += notes
    # Chromium does not keep a table whole across a page break; a block around it, with
    # its note, it does
    keep = " keep" if len(t.rows) <= _KEEP_ROWS else ""
    return f'<div class="table{keep}">{out}</div>'


_CONFIG = '{"displayModeBar":false,"responsive":false}'
# for the PDF: a static plot has no hover, zoom or drag layers to build, so it draws faster
_PRINT_CONFIG = '{"displayModeBar":false,"responsive":false,"staticPlot":true}'


def _json(obj: object) -> str:
    """Compact plotly JSON, safe inside a <script> element."""
    return str(plotly.io.json.to_json_plotly(obj)).replace("</", "<\\/")


def _chart(c: Chart, templates: dict[str, int], printed: bool) -> str:
    """The chart's div and the script that draws it. Its template (the same for most
    charts, 3 KB each) is written once per page (``_templates``) and referred to; a
    ``printed`` chart is static (``_PRINT_CONFIG``)."""
    spec = c.figure().to_plotly_json()
    layout = dict(spec["layout"])
    template = _json(layout.pop("template", {}))
    n = templates.setdefault(template, len(templates))
    key = f"chart-{c.key}"
    draw = (
        f'Plotly.newPlot("{key}",{_json(spec["data"])},'
        f"Object.assign({{template:MAILPLAN_TEMPLATES[{n}]}},{_json(layout)}),"
        f"{_PRINT_CONFIG if printed else _CONFIG})"
    )
    if not printed:  # drawn when scrolled near (``_DEFER``)
        draw = f'MAILPLAN_CHART("{key}",function(){{return {draw};}})'
    return (
        f'<figure class="chart" id="figure-{html.escape(c.key)}">'
        f'<div id="{key}" class="plotly-graph-div" style="height:{c.height}px"></div>'
        f"<script>{draw};</script></figure>"
    )


# On screen a chart is drawn when it comes within a screen of the viewport (an
# IntersectionObserver), so opening the page draws none of the charts below the fold;
# before a print from the browser every chart left is drawn. The PDF's page draws every
# chart as the page loads, before Chromium prints it.
_DEFER = (
    "var MAILPLAN_PENDING=new Map();"
    "function MAILPLAN_DRAW(el){var f=MAILPLAN_PENDING.get(el);if(!f)return;"
    "MAILPLAN_PENDING.delete(el);if(MAILPLAN_SEEN)MAILPLAN_SEEN.unobserve(el);f();}"
    "var MAILPLAN_SEEN=window.IntersectionObserver?new IntersectionObserver(function(es){"
    "es.forEach(function(e){if(e.isIntersecting)MAILPLAN_DRAW(e.target);});},"
    "{rootMargin:'100% 0px'}):null;"
    "function MAILPLAN_CHART(id,draw){var el=document.getElementById(id);"
    "MAILPLAN_PENDING.set(el,draw);if(MAILPLAN_SEEN)MAILPLAN_SEEN.observe(el);"
    "else MAILPLAN_DRAW(el);}"
    "window.addEventListener('beforeprint',function(){"
    "Array.from(MAILPLAN_PENDING.keys()).forEach(MAILPLAN_DRAW);});"
)


def _templates(templates: dict[str, int], printed: bool) -> str:
    """The charts' templates, once, before the first chart (and on screen ``_DEFER``)."""
    defer = "" if printed else _DEFER
    return f"<script>var MAILPLAN_TEMPLATES=[{','.join(templates)}];{defer}</script>"


def _block(b: Block, templates: dict[str, int], printed: bool) -> str:
    if isinstance(b, Paragraph):
        return f"<p>{html.escape(plain(b.text))}</p>"
    if isinstance(b, Subheading):
        return f"<h3>{html.escape(b.text)}</h3>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{html.escape(plain(i))}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Chart):
        return _chart(b, templates, printed)
    if isinstance(b, MarkdownText):
        return str(MarkdownIt("commonmark").render(b.text))
    raise TypeError(f"unknown block {b!r}")


def _section(s: Section, n: int, templates: dict[str, int], printed: bool) -> str:
    body = "\n".join(_block(b, templates, printed) for b in s.blocks)
    return (
        f'<section class="{s.key}" id="{s.key}">'
        f"<h2>{n}. {html.escape(s.title)}</h2>\n{body}</section>"
    )


def _title_page(report: Report) -> str:
    """The title, the facts (scenario, date, catalog as-of date, ...) and the contents; a
    page of its own in print."""
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in report.facts)
    toc = "".join(
        f'<li><a href="#{s.key}">{html.escape(s.title)}</a></li>' for s in report.sections
    )
    return (
        f'<header class="title-page"><h1>{html.escape(report.title)}</h1>'
        f'<dl class="facts">{facts}</dl>'
        f'<nav aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav></header>'
    )


def render_html(report: Report, printed: bool = False) -> str:
    """The whole report as one HTML document (UTF-8 text, about 1.5 MB with plotly.js).

    ``printed``: the page is for the PDF, its charts static (no hover or zoom).
    """
    templates: dict[str, int] = {}  # template JSON -> its index, filled by the charts
    sections = "\n".join(
        _section(s, i, templates, printed) for i, s in enumerate(report.sections, 1)
    )
    script = ""
    if report.charts():
        script = (
            f'<script type="text/javascript">{plotly_js()}</script>{_templates(templates, printed)}'
        )
    title = html.escape(report.title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="mailplan {html.escape(report.version)}">'
        f"<title>{title}</title><style>{_CSS}</style>{script}</head>\n"
        f"<body>{_title_page(report)}\n{sections}\n</body></html>\n"
    )
