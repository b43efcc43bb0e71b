"""Uploaded scenario files: size cap, safe parsing, validation against the catalog."""

from __future__ import annotations

import pytest

from planner import ScenarioError, load_catalog, load_scenario, scenario_presets
from planner.dashboard.upload import MAX_ALIASES, read_upload


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


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a: &a [1]\n" + b"".join(b"k%d: *a\n" % i for i in range(MAX_ALIASES + 1)), "more than"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"", "not a scenario (expected a mapping of keys to values at the top level, got empty)"),
        (b"name: x\norganization: {users: 5}\nbogus: 1\n", "bogus: unknown key"),
    ],
    ids=["aliases", "binary", "empty", "unknown-key"],
)
def test_refused_with_one_line_per_problem(data, expected):
    """Each refused file raises ScenarioError whose lines name the file."""
    with pytest.raises(ScenarioError) as err:
        read_upload("f.yaml", data, load_catalog())

    assert all(line.startswith("f.yaml: ") for line in err.value.problems)
    assert any(expected in line for line in err.value.problems), err.value.problems
