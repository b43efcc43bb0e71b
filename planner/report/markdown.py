"""The report as Markdown (CommonMark with GitHub pipe tables) for wikis and tickets.

The same sections and tables as the HTML report; charts are left out (their figures are
in the tables). Each table is introduced by its title in bold on its own line.
"""

from __future__ import annotations

from planner.report.content import (
    EMPTY,
    Block,
    Bullets,
    Chart,
    MarkdownText,
    Paragraph,
    Report,
    Subheading,
    Table,
)
from planner.report.labels import plain

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    """A table cell: pipes escaped, line breaks flattened."""
    text = plain(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()
    return text or EMPTY


def _table(t: Table) -> str:
    head = "| " + " | ".join(_cell(c) for c in t.columns) + " |"
    rule = "|" + "|".join("---:" if num else "---" for num in t.numeric) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in t.rows]
    out = f"**{t.title}**\n\n" + "\n".join([head, rule, *rows])
    if t.note:
        out += f"\n\n_{plain(t.note)}_"
    return out


def _block(b: Block) -> str | None:
    if isinstance(b, Paragraph):
        return plain(b.text)
    if isinstance(b, Subheading):
        return f"### {b.text}"
    if isinstance(b, Bullets):
        return "\n".join(f"- {plain(i)}" for i in b.items)
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Chart):
        return None
    if isinstance(b, MarkdownText):
        return b.text
    raise TypeError(f"unknown block {b!r}")


def render_markdown(report: Report) -> str:
    """The whole report as Markdown text."""
    facts = "\n".join(f"- {k}: {v}" for k, v in report.facts)
    toc = "\n".join(f"{n}. {s.title}" for n, s in enumerate(report.sections, 1))
    note = "_The charts are in the HTML and PDF versions of this report._"
    parts = [f"# {report.title}", facts, note, f"**Contents**\n\n{toc}"]
    for n, s in enumerate(report.sections, 1):
        parts.append(f"## {n}. {s.title}")
        parts.extend(text for b in s.blocks if (text := _block(b)) is not None)
    return "\n\n".join(parts) + "\n"
