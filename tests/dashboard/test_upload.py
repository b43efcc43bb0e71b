"""Uploaded scenario files: size cap, safe parsing, validation against the catalog."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import ScenarioError, load_catalog, load_scenario, scenario_presets
from planner.catalog import MAX_PROBLEMS
from planner.dashboard.upload import MAX_ALIASES, read_upload
from tests.cli.hostile import HOSTILE_FILES, SUFFIXES


def test_bundled_preset_reads_back():
    """A bundled scenario file uploads to the same scenario."""
    path = scenario_presets()["company-250"]

    scenario = read_upload("company-250.yaml", path.read_bytes(), load_catalog())

    assert scenario == load_scenario(path)


def test_anchors_within_the_limit_are_fine():
    """A file that uses a few YAML anchors and aliases is read normally."""
    text = (
        "name: anchors\norganization: {users: 10}\n"
        "cloud:\n  - &plan {id: a, plan: custom, price_per_user_month: 5}\n"
        "  - {id: b, plan: custom, price_per_user_month: 5}\n"
        "qualitative: {scores: {a: &s {control: 2}, b: *s}}\n"
    )

    scenario = read_upload("a.yaml", text.encode(), load_catalog())

    assert scenario.qualitative.scores == {"a": {"control": 2}, "b": {"control": 2}}


# 73 aliases, under MAX_ALIASES, but nine levels of nine lists: 9**9 leaves.
_ALIAS_BOMB = (
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "name: x\norganization: {users: *i}\n"
).encode()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a: &a [1]\n" + b"".join(b"k%d: *a\n" % i for i in range(MAX_ALIASES + 1)), "more than"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"", "not a scenario (expected a mapping of keys to values at the top level, got empty)"),
        (b"name: x\norganization: {users: 5}\nbogus: 1\n", "bogus: unknown key"),
        (_ALIAS_BOMB, "more than 20,000 values once its YAML aliases expand"),
        (b"[" * 20_000 + b"]" * 20_000, "line 1, column 101: nested more than 100 levels deep"),
        (b"root:*:19000:0:99999:7:::\n", "the file is not a scenario"),
    ],
    ids=["aliases", "binary", "empty", "unknown-key", "alias-bomb", "deep", "shadow"],
)
def test_refused_with_one_line_per_problem(data, expected):
    """Each refused file raises ScenarioError whose lines name the file."""
    with pytest.raises(ScenarioError) as err:
        read_upload("f.yaml", data, load_catalog())

    assert all(line.startswith("f.yaml: ") for line in err.value.lines)
    assert any(expected in line for line in err.value.lines), err.value.lines
    assert "root" not in str(err.value.lines)


@pytest.mark.parametrize("kind", list(HOSTILE_FILES))
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_any_upload_is_read_or_refused_in_lines(catalog, kind: str, data: st.DataObject):
    """Whatever the bytes, read_upload returns a Scenario or raises ScenarioError whose lines
    name the file and are short; nothing else escapes to the generic error page."""
    content = data.draw(HOSTILE_FILES[kind], label="content")
    name = "upload" + data.draw(SUFFIXES, label="suffix")

    try:
        read_upload(name, content, catalog)
    except ScenarioError as exc:
        problems = exc.lines
    else:
        return
    assert 1 <= len(problems) <= MAX_PROBLEMS + 1
    for line in problems:
        assert line.startswith(f"{name}: "), line
        assert len(line) < 1000, line
        assert "\n" not in line
