"""planner.report.write: the files it makes, atomically, and the public interface."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import planner.report
from planner import Evaluation
from planner.report import FORMATS, MEDIA_TYPES, ReportError, render, sizing_csv, write
from planner.report.chromium import ENV_VAR


def test_formats_are_the_published_tuple() -> None:
    """FORMATS is exactly the tuple the dashboard codes against."""
    assert FORMATS == ("html", "pdf", "md", "csv", "xlsx", "json")


def test_every_format_has_a_media_type() -> None:
    """MEDIA_TYPES gives a media type for each format (for download buttons)."""
    assert set(MEDIA_TYPES) == set(FORMATS)


def test_all_names_the_public_interface() -> None:
    """planner.report.__all__ holds the interface the dashboard uses, and every name exists."""
    assert {"FORMATS", "render", "write", "sizing_csv"} <= set(planner.report.__all__)
    for name in planner.report.__all__:
        assert hasattr(planner.report, name), name


@pytest.mark.parametrize("fmt", ["md", "json", "csv"])
def test_writes_what_render_gives(default_ev: Evaluation, tmp_path: Path, fmt: str) -> None:
    """The file holds render()'s bytes (apart from the generation time)."""
    (path, *rest) = write(default_ev, tmp_path / f"r.{fmt}")

    assert path == tmp_path / f"r.{fmt}"
    if fmt == "csv":
        assert path.read_bytes() == render(default_ev, "csv")
        assert rest == [tmp_path / "r.sizing.csv"]
        assert rest[0].read_bytes() == sizing_csv(default_ev)
    elif fmt == "json":  # 'generated' is to the second: two renders may straddle one
        assert rest == []
        written, again = json.loads(path.read_bytes()), json.loads(render(default_ev, fmt))
        assert written.pop("generated") <= again.pop("generated")
        assert written == again
    else:
        assert rest == []
        assert path.read_bytes().splitlines()[2:] == render(default_ev, fmt).splitlines()[2:]


def test_failure_keeps_the_old_report_and_leaves_no_temp_file(
    default_ev: Evaluation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PDF that cannot be made leaves an existing OUT.pdf as it was, and nothing else."""
    old = tmp_path / "r.pdf"
    old.write_bytes(b"%PDF-old")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-chromium"))

    with pytest.raises(ReportError):
        write(default_ev, old)

    assert old.read_bytes() == b"%PDF-old"
    assert os.listdir(tmp_path) == ["r.pdf"]


def test_missing_folder_is_a_report_error(default_ev: Evaluation, tmp_path: Path) -> None:
    """An output folder that does not exist is one line naming it."""
    with pytest.raises(ReportError, match="does not exist"):
        write(default_ev, tmp_path / "nowhere" / "r.md")


def test_unknown_format_is_a_report_error(default_ev: Evaluation, tmp_path: Path) -> None:
    """An unknown format is refused before anything is written."""
    with pytest.raises(ReportError, match="unknown format 'docx'"):
        write(default_ev, tmp_path / "r.md", "docx")
    assert list(tmp_path.iterdir()) == []


def test_written_file_is_readable_by_others(default_ev: Evaluation, tmp_path: Path) -> None:
    """The atomic temp file does not leave the report private (mode 0644)."""
    (path,) = write(default_ev, tmp_path / "r.json")

    assert path.stat().st_mode & 0o777 == 0o644
