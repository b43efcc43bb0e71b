"""The report's content: the formulas are the README's, and no chart hides a bad axis."""

from __future__ import annotations

from pathlib import Path

from planner.report.content import formulas_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_section(title: str) -> str:
    text = README.read_text("utf-8")
    body = text.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0].strip()


def test_readme_links_the_formulas() -> None:
    """The formulas live in one place, planner/report/formulas.md; the README links to it."""
    assert "(planner/report/formulas.md)" in _readme_section("How the numbers are computed")
    assert formulas_markdown().startswith("Every figure can be redone by hand")


def test_readme_has_a_reports_section_before_the_formulas() -> None:
    """The README documents `mailplan report` just before the formulas."""
    text = README.read_text("utf-8")

    assert "\n## Reports\n" in text
    assert text.index("\n## Reports\n") < text.index("\n## How the numbers are computed\n")
    assert "mailplan report" in _readme_section("Reports")
