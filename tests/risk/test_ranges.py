"""Ranges in the scenario file: typical values, round trips, the schema and clear errors."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from planner import (
    Scenario,
    ScenarioError,
    dump_scenario,
    evaluate,
    load_scenario,
    parse_scenario,
    with_capacity,
)
from planner.catalog import read_document
from planner.ranges import LogNormal, Normal, Triangular, Uniform
from tests.conftest import make_scenario
from tests.risk.conftest import box_scenario


class TestTypicalValue:
    @pytest.mark.parametrize(
        ("form", "typical", "kind"),
        [
            ({"low": 2, "typical": 5, "high": 20}, 5.0, Triangular),
            ({"dist": "uniform", "low": 2, "high": 20}, 11.0, Uniform),
            ({"dist": "normal", "mean": 7, "sd": 1}, 7.0, Normal),
            ({"dist": "lognormal", "median": 6, "p90": 12}, 6.0, LogNormal),
        ],
        ids=["triangular", "uniform", "normal", "lognormal"],
    )
    def test_field_holds_typical_value(self, form: dict[str, Any], typical: float, kind: type):
        """The field holds the range's typical value; the range is kept by field path."""
        s = box_scenario(box={"admin_hours_per_month": form})
        assert s.onprem[0].admin_hours_per_month == typical
        assert isinstance(s.ranges["onprem.box.admin_hours_per_month"], kind)

    @pytest.mark.parametrize(
        ("field", "form", "expected"),
        [
            ("users", {"low": 100, "typical": 250.5, "high": 300}, 251),
            ("users", {"dist": "uniform", "low": 100, "high": 301}, 201),
            ("users", {"dist": "normal", "mean": 249.49, "sd": 5}, 249),
        ],
        ids=["half-up", "uniform-midpoint", "normal-mean"],
    )
    def test_integer_field_rounds_half_up(self, field: str, form: dict[str, Any], expected: int):
        """An integer field holds its range's typical value rounded half up."""
        s = make_scenario(organization={field: form})
        assert getattr(s.organization, field) == expected
        assert isinstance(getattr(s.organization, field), int)

    def test_plain_numbers_keep_working(self, presets):
        """A scenario without ranges has no ranges and no correlations."""
        s = load_scenario(presets["default"])
        assert s.ranges == {}
        assert s.correlations == []

    def test_ranged_default_evaluates_like_default(self, presets, ranged_default):
        """The typical case of default-ranges.yaml is exactly default.yaml."""
        plain = evaluate(load_scenario(presets["default"])).comparison
        typical = evaluate(ranged_default).comparison
        assert [(o.id, o.total, o.npv) for o in typical.options] == [
            (o.id, o.total, o.npv) for o in plain.options
        ]

    def test_escalation_and_cloud_fields_take_ranges(self):
        """Ranges work on escalation and cloud option fields too."""
        s = box_scenario(
            flat={"price_per_user_month": {"low": 5, "typical": 6, "high": 8}},
            escalation={"labour": {"dist": "uniform", "low": 0, "high": 0.04}},
        )
        assert s.cloud[0].price_per_user_month == 6
        assert s.escalation.labour == pytest.approx(0.02)
        assert set(s.ranges) == {"cloud.flat.price_per_user_month", "escalation.labour"}


class TestRoundTrip:
    def test_dump_writes_ranges_in_place(self, ranged_default):
        """dump_scenario writes each range where its number would be, and reads back equal."""
        text = dump_scenario(ranged_default)
        data = yaml.safe_load(text)
        assert data["organization"]["user_growth_per_year"] == {
            "low": 0.0,
            "typical": 0.08,
            "high": 0.2,
        }
        assert data["onprem"][0]["admin_hours_per_month"] == {
            "dist": "lognormal",
            "median": 14.0,
            "p90": 35.0,
        }
        again = parse_scenario(data)
        assert again == ranged_default
        assert again.ranges == ranged_default.ranges

    def test_json_dump_round_trips(self, ranged_default):
        """The JSON dump reads back to the same scenario, ranges and correlations included."""
        again = parse_scenario(yaml.safe_load(dump_scenario(ranged_default, "json")))
        assert again.ranges == ranged_default.ranges
        assert again.correlations == ranged_default.correlations

    def test_file_and_dump_agree(self, presets, ranged_default):
        """The dump holds the same ranges as the file it was read from."""
        original = read_document(presets["default-ranges"])
        dumped = yaml.safe_load(dump_scenario(ranged_default))
        assert dumped["onprem"][1]["pue"] == original["onprem"][1]["pue"]
        assert [list(c) for c in dumped["correlations"]] == original["correlations"]

    def test_with_capacity_replaces_a_ranged_capacity(self):
        """A measured capacity replaces a range on capacity and keeps the other ranges."""
        s = box_scenario(
            box={
                "capacity_msgs_per_s": {"low": 50, "typical": 100, "high": 150},
                "setup_cost": {"low": 0, "typical": 1000, "high": 3000},
            }
        )
        measured = with_capacity(s, "box", 321.0, "benchmark: test")
        assert measured.onprem[0].capacity_msgs_per_s == 321.0
        assert set(measured.ranges) == {"onprem.box.setup_cost"}

    def test_a_changed_field_drops_its_range(self):
        """A field changed with model_copy no longer follows its old range (the source's
        ranges, read first, are not carried over to the copy)."""
        s = make_scenario(organization={"users": {"low": 50, "typical": 100, "high": 200}})
        assert set(s.ranges) == {"organization.users"}
        org = s.organization.model_copy(update={"users": 120})
        edited = s.model_copy(update={"organization": org})
        assert edited.ranges == {}
        assert yaml.safe_load(dump_scenario(edited))["organization"]["users"] == 120


class TestSchema:
    def test_schema_offers_the_range_forms(self):
        """mailplan schema lists the range forms on numeric fields, not on others."""
        schema = Scenario.model_json_schema()
        users = schema["$defs"]["Organization"]["properties"]["users"]["anyOf"]
        assert {"$ref": "#/$defs/RangeTriangular"} in users
        assert {"$ref": "#/$defs/RangeLogNormal"} in users
        stack = schema["$defs"]["OnPremOption"]["properties"]["stack"]
        assert not any("$ref" in form for form in stack.get("anyOf", []))
        assert "correlations" in schema["properties"]

    def test_ranged_file_validates_against_schema(self, presets):
        """default-ranges.yaml is valid against the published JSON Schema."""
        jsonschema.validate(read_document(presets["default-ranges"]), Scenario.model_json_schema())


def _org_range(field: str, form: Any) -> dict[str, Any]:
    return {"organization": {field: form}}


def _box_range(field: str, form: Any) -> dict[str, Any]:
    return {"box": {field: form}}


class TestRangeErrors:
    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (
                _org_range("user_growth_per_year", {"low": 0.2, "typical": 0.1, "high": 0.3}),
                "organization.user_growth_per_year: needs low <= typical <= high (got 0.2, 0.1, 0.3)",
            ),
            (
                _org_range("peak_factor", {"dist": "uniform", "low": 4, "high": 2}),
                "organization.peak_factor: needs low <= high (got 4, 2)",
            ),
            (
                _box_range("admin_hours_per_month", {"low": -1, "typical": 10, "high": 20}),
                "onprem[0].admin_hours_per_month.low: Input should be greater than or equal to 0 (got -1.0)",
            ),
            (
                _box_range("pue", {"low": 0.9, "typical": 1.5, "high": 2}),
                "onprem[0].pue.low: Input should be greater than or equal to 1 (got 0.9)",
            ),
            (
                _org_range("outbound_share", {"low": 0.5, "typical": 0.6, "high": 1.2}),
                "organization.outbound_share.high: Input should be less than or equal to 1 (got 1.2)",
            ),
            (
                _box_range("admin_hours_per_month", {"dist": "normal", "mean": 5, "sd": 10}),
                "onprem[0].admin_hours_per_month.sd: p10 (mean - 1.2816 sd) is -7.816; it should be greater than or equal to 0",
            ),
            (
                _box_range("pue", {"dist": "lognormal", "median": 1.2, "p90": 2}),
                "onprem[0].pue.p90: p10 (median² / p90) is 0.72; it should be greater than or equal to 1",
            ),
            (
                _box_range("setup_cost", {"dist": "lognormal", "median": 10, "p90": 5}),
                "onprem[0].setup_cost: needs p90 >= median (got 10, 5)",
            ),
            (
                _box_range("setup_cost", {"dist": "beta", "a": 2}),
                "onprem[0].setup_cost.dist: Input should be 'triangular', 'uniform', 'normal' or 'lognormal' (got 'beta')",
            ),
            (
                _box_range("setup_cost", {"low": 0, "typical": 1, "hihg": 2}),
                "onprem[0].setup_cost.hihg: unknown key (check the spelling; see 'mailplan schema')",
            ),
            (
                _org_range("users", {"low": 1, "typical": "many", "high": 2}),
                "organization.users.typical: Input should be a valid number",
            ),
        ],
        ids=[
            "low-above-typical",
            "uniform-reversed",
            "negative-hours",
            "pue-below-1",
            "share-above-1",
            "normal-p10-negative",
            "lognormal-p10-below-bound",
            "lognormal-p90-below-median",
            "unknown-dist",
            "unknown-key",
            "not-a-number",
        ],
    )
    def test_bad_range_names_the_field(self, change: dict[str, Any], expected: str):
        """A bad range is one line naming the field path (and the range key) and the reason."""
        with pytest.raises(ScenarioError) as info:
            box_scenario(**change)
        assert any(line.startswith(f"scenario: {expected}") for line in info.value.lines), (
            info.value.lines
        )

    def test_range_problems_come_with_other_problems(self):
        """A bad range and an unrelated bad field are both reported."""
        with pytest.raises(ScenarioError) as info:
            box_scenario(
                organization={"users": 0},
                box={"pue": {"low": 0.5, "typical": 1.5, "high": 2}},
            )
        assert info.value.lines == (
            "scenario: onprem[0].pue.low: Input should be greater than or equal to 1 (got 0.5)",
            "scenario: organization.users: Input should be greater than or equal to 1 (got 0)",
        )

    @pytest.mark.parametrize(
        ("correlations", "expected"),
        [
            (
                [["onprem.box.setup_cost", "organization.bogus", 0.5]],
                "correlations[0][1]: unknown field path 'organization.bogus' (ranged inputs: onprem.box.setup_cost, onprem.box.admin_hours_per_month)",
            ),
            (
                [["onprem.box.setup_cost", "organization.users", 0.5]],
                "correlations[0][1]: organization.users has no range; give it a range to correlate it",
            ),
            (
                [["onprem.box.setup_cost", "onprem.box.admin_hours_per_month", 1.5]],
                "correlations[0][2]: Input should be less than or equal to 1 (got 1.5)",
            ),
            (
                [["onprem.box.setup_cost", "onprem.box.setup_cost", 0.5]],
                "correlations[0]: onprem.box.setup_cost is paired with itself",
            ),
            (
                [
                    ["onprem.box.setup_cost", "onprem.box.admin_hours_per_month", 0.5],
                    ["onprem.box.admin_hours_per_month", "onprem.box.setup_cost", 0.4],
                ],
                "correlations[1]: repeats the pair onprem.box.admin_hours_per_month, onprem.box.setup_cost (first given as correlations[0])",
            ),
        ],
        ids=["unknown-path", "unranged-field", "rho-above-1", "self-pair", "repeated-pair"],
    )
    def test_bad_correlation_names_the_entry(self, correlations: list[Any], expected: str):
        """A bad correlation is one line naming the entry and the reason."""
        with pytest.raises(ScenarioError) as info:
            box_scenario(
                box={
                    "setup_cost": {"low": 0, "typical": 1000, "high": 3000},
                    "admin_hours_per_month": {"low": 5, "typical": 10, "high": 20},
                },
                correlations=correlations,
            )
        assert info.value.lines == (f"scenario: {expected}",)

    def test_contradictory_correlations(self):
        """Correlations that no joint distribution can have are refused."""
        ranged = {"low": 1, "typical": 2, "high": 3}
        with pytest.raises(ScenarioError) as info:
            box_scenario(
                organization={"peak_factor": ranged, "messages_sent_per_user_day": ranged},
                box={"setup_cost": ranged},
                correlations=[
                    ["organization.peak_factor", "organization.messages_sent_per_user_day", 0.9],
                    ["organization.peak_factor", "onprem.box.setup_cost", 0.9],
                    ["organization.messages_sent_per_user_day", "onprem.box.setup_cost", -0.9],
                ],
            )
        assert info.value.lines == (
            "scenario: correlations: these correlations contradict each other: the correlation "
            "matrix is not positive semi-definite (smallest eigenvalue -0.8)",
        )

    def test_perfect_correlation_is_allowed(self):
        """rho = 1 (a singular but valid matrix) is accepted."""
        ranged = {"low": 1, "typical": 2, "high": 3}
        s = box_scenario(
            organization={"peak_factor": ranged, "messages_sent_per_user_day": ranged},
            correlations=[
                ["organization.peak_factor", "organization.messages_sent_per_user_day", 1.0]
            ],
        )
        assert s.correlations == [
            ("organization.peak_factor", "organization.messages_sent_per_user_day", 1.0)
        ]
