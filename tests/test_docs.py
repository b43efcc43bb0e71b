"""The README and docs/: short, linked, generated where measured, and true to the CLI."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import typer

from planner.cli import app, load_commands

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
REGENERATE = ".venv/bin/python benchmarks/tables.py --write"

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose(text: str) -> str:
    """``text`` without its fenced code blocks (links and headings there are not real)."""
    out, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return "\n".join(out)


def _blocks(text: str, *langs: str) -> Iterator[str]:
    """The contents of the fenced blocks of ``text`` opened with one of ``langs``."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m and lines[i][3:].strip() in langs:
            j = i + 1
            while not lines[j].startswith(m.group(1)):
                j += 1
            yield "\n".join(lines[i + 1 : j])
            i = j
        elif m:  # skip a block of another language
            i += 1
            while not lines[i].startswith(m.group(1)):
                i += 1
        i += 1


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (``-1``, ``-2`` for repeated headings)."""
    seen: dict[str, int] = {}
    for line in _prose(path.read_text("utf-8")).splitlines():
        m = _HEADING.match(line)
        if m:
            slug = _slug(m.group(2))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            if n:
                seen[f"{slug}-{n}"] = 1
    return set(seen)


def _relative_links(path: Path) -> Iterator[str]:
    for target in _LINK.findall(_prose(path.read_text("utf-8"))):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            yield target


def test_readme_is_a_front_door() -> None:
    """The README stays short (under 200 lines); the rest lives in docs/."""
    lines = README.read_text("utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    """Every relative link of the README and docs/*.md names a file that exists, and its
    #anchor (when it has one and points into Markdown) a heading of that file."""
    broken = []
    for target in _relative_links(page):
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_every_docs_page_is_linked_from_the_readme() -> None:
    """The README's Documentation list names every file of docs/."""
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _relative_links(README)}
    missing = [p.name for p in DOCS if p.resolve() not in linked]
    assert not missing, f"README.md does not link docs/{', docs/'.join(missing)}"


def _tables_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_tables", ROOT / "benchmarks/tables.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_table_matches_the_saved_results() -> None:
    """The measured-figures table of docs/benchmarks.md is exactly what benchmarks/tables.py
    makes of data/benchmarks/*.json, so nobody types a figure by hand."""
    tables = _tables_module()
    committed = tables.committed_block(tables.DOC.read_text("utf-8"))
    assert committed == tables.generated_markdown(), (
        "docs/benchmarks.md's generated table differs from data/benchmarks/*.json: "
        f"regenerate it with `{REGENERATE}`"
    )


def test_the_table_generator_rewrites_only_its_block() -> None:
    """``--write`` replaces what lies between the markers and keeps the text around them."""
    tables = _tables_module()
    text = f"before\n{tables.BEGIN}\nold table\n{tables.END}\nafter\n"
    new = tables.replace_block(text, "new table")
    assert new == f"before\n{tables.BEGIN}\nnew table\n{tables.END}\nafter\n"
    assert tables.committed_block(new) == "new table"


def test_readme_compare_output_is_what_mailplan_prints() -> None:
    """The output shown under ``$ mailplan compare ...`` in the README is the command's real
    output (piped, so 120 columns), line for line up to the ``...``."""
    block = next(
        b for b in _blocks(README.read_text("utf-8"), "console") if b.startswith("$ mailplan")
    )
    command, *shown = block.splitlines()
    shown = shown[: shown.index("...")] if "..." in shown else shown
    run = subprocess.run(
        [sys.executable, "-m", "planner", *shlex.split(command)[2:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    printed = [line.rstrip() for line in run.stdout.splitlines()]
    assert printed[: len(shown)] == shown, (
        f"README.md shows stale output for `{command[2:]}`: paste the first {len(shown)} "
        f"lines of `{command[2:]} | cat` (trailing blanks removed)"
    )


def _command_lines() -> Iterator[tuple[str, str]]:
    """``(page, line)`` for every ``mailplan ...`` command in a shell or console block."""
    for page in PAGES:
        text = page.read_text("utf-8")
        for block in _blocks(text, "sh", "console"):
            joined = block.replace("\\\n", " ")
            for line in joined.splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("mailplan "):
                    yield str(page.relative_to(ROOT)), line


def test_documented_commands_and_options_exist() -> None:
    """Every ``mailplan`` command in the README's and docs' code blocks names a real
    command, and each of its ``--options`` is one that command takes."""
    load_commands()
    root = typer.main.get_command(app)
    problems = []
    for page, line in _command_lines():
        tokens = shlex.split(line.split("<<<")[0], comments=True)
        command, path = root, ["mailplan"]
        for token in tokens[1:]:
            sub = getattr(command, "commands", None)
            if token.startswith("-"):
                name = token.split("=")[0]
                opts = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
                if name not in opts | {"--help"}:
                    problems.append(f"{page}: `{' '.join(path)}` has no option {name}")
            elif isinstance(sub, dict):
                if token not in sub:
                    problems.append(f"{page}: `{' '.join(path)}` has no command {token!r}")
                    break
                command = sub[token]
                path.append(token)
    assert not problems, "\n".join(problems)


def test_make_targets_named_in_the_readme_exist() -> None:
    """Each ``make TARGET`` the README names is a target of the Makefile."""
    makefile = (ROOT / "Makefile").read_text("utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    named = set(re.findall(r"\bmake (\w+)", README.read_text("utf-8")))
    assert named, "the README names no make target"
    assert named <= targets, f"not in the Makefile: {sorted(named - targets)}"
