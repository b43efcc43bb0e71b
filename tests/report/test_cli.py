"""`mailplan report`, run as a user runs it: real files, exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import run
from planner.cli.report import ReportFormat
from planner.report import FORMATS
from planner.report.chromium import ENV_VAR

MAILPLAN = [sys.executable, "-m", "planner"]


def mailplan(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``mailplan ARGS`` in a subprocess and capture its output."""
    return subprocess.run(
        [*MAILPLAN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.fixture
def bad_scenario(tmp_path: Path) -> Path:
    """A scenario with two problems."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: Broken\norganization: {users: 0, peak_factor: 0.5}\n")
    return path


def test_format_choices_are_the_public_formats() -> None:
    """--format offers exactly planner.report.FORMATS."""
    assert tuple(f.value for f in ReportFormat) == FORMATS


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("r.html", ["r.html"]),
        ("r.md", ["r.md"]),
        ("r.csv", ["r.csv", "r.sizing.csv"]),
        ("r.xlsx", ["r.xlsx"]),
        ("r.json", ["r.json"]),
    ],
    ids=["html", "md", "csv", "xlsx", "json"],
)
def test_format_from_the_extension(scenario_file, tmp_path, capsys, name, written) -> None:
    """The extension picks the format; every file written is listed, nothing else is left."""
    rc = run(["report", str(scenario_file), "-o", str(tmp_path / name)])

    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in out] == [str(tmp_path / w) for w in written]


def test_format_option_overrides_the_extension(scenario_file, tmp_path) -> None:
    """--format md writes Markdown whatever the extension says."""
    out = tmp_path / "report.txt"

    assert run(["report", str(scenario_file), "-o", str(out), "--format", "md"]) == 0
    assert out.read_text().startswith("# Mail options for Acme, 250 staff")


def test_unknown_extension_is_one_line_exit_2(scenario_file, tmp_path, capsys) -> None:
    """An extension that names no format is one line, exit 2, and nothing is written."""
    rc = run(["report", str(scenario_file), "-o", str(tmp_path / "r.docx")])

    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1
    assert "r.docx" in err[0]
    assert "--format" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_bad_scenario_exit_2_with_the_validation_lines(bad_scenario, tmp_path) -> None:
    """A bad scenario prints its validation lines, exits 2 and writes no file at all."""
    out = tmp_path / "out"
    out.mkdir()

    r = mailplan("report", bad_scenario, "-o", out / "r.html")

    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"mailplan: {bad_scenario}: organization.users: "
        "Input should be greater than or equal to 1 (got 0)",
        f"mailplan: {bad_scenario}: organization.peak_factor: "
        "Input should be greater than or equal to 1 (got 0.5)",
    ]
    assert list(out.iterdir()) == []


@pytest.mark.timeout(60)
def test_missing_chromium_one_line_exit_2_no_file(scenario_file, tmp_path) -> None:
    """Without Chromium: one line naming the Debian package, exit 2, no PDF and no temp file."""
    env = {**os.environ, ENV_VAR: str(tmp_path / "missing" / "chromium")}
    out = tmp_path / "out"
    out.mkdir()

    r = mailplan("report", scenario_file, "-o", out / "r.pdf", env=env)

    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("mailplan: report: Chromium not found at ")
    assert "Debian package 'chromium'" in line
    assert list(out.iterdir()) == []
