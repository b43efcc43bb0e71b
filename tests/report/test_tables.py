"""CSV and JSON: the engine's frames and comparison, value for value (the XLSX model:
test_xlsx.py, test_xlsx_recalc.py)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from planner import Evaluation
from planner.costs import CAPEX_CATEGORIES
from planner.report import render, sizing_csv
from planner.report.tables import cost_frame


def _same(got: pd.DataFrame, expected: pd.DataFrame, rel: float = 0.0) -> None:
    """Frames equal cell for cell (numbers exactly, or within ``rel``; missing values alike)."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for col in expected.columns:
        for a, b in zip(got[col], expected[col], strict=True):
            if pd.isna(b) or b == "":  # a spreadsheet keeps an empty text as an empty cell
                assert a is None or a == "" or pd.isna(a), (col, a, b)
            elif isinstance(b, float | int) and not isinstance(b, bool):
                assert float(a) == pytest.approx(float(b), rel=rel, abs=0), (col, a, b)
            else:
                assert a == b or str(a) == str(b), (col, a, b)


class TestCsv:
    def test_costs_csv_is_the_tidy_cost_frame(self, case_ev: Evaluation) -> None:
        """OUT.csv reads back as ev.costs, every amount exact, then each row's plan and
        cost type."""
        got = pd.read_csv(io.BytesIO(render(case_ev, "csv")))

        assert list(got.columns) == [*case_ev.costs.columns, "plan", "cost_type"]
        _same(got[list(case_ev.costs.columns)], case_ev.costs)
        _same(got, cost_frame(case_ev))

    def test_plan_and_cost_type_follow_the_engine(self, default_ev: Evaluation) -> None:
        """Each row's plan is the one the option runs on that year; capex rows are the
        engine's capex categories, and they add up to each year's capex."""
        frame = pd.read_csv(io.BytesIO(render(default_ev, "csv")))
        for o in default_ev.comparison.options:
            rows = frame[frame["option"] == o.id]
            for y in o.years:
                year = rows[rows["year"] == y.year]
                assert set(year["plan"].fillna("")) == {y.plan or ""}
                capex = year.loc[year["cost_type"] == "capex", "amount"].sum()
                assert capex == pytest.approx(y.capex, abs=0.01)
                assert set(year.loc[year["cost_type"] == "capex", "category"]) <= set(
                    CAPEX_CATEGORIES
                )

    def test_sizing_csv_is_the_sizing_frame(self, case_ev: Evaluation) -> None:
        """The sizing CSV reads back as ev.sizing."""
        got = pd.read_csv(io.BytesIO(sizing_csv(case_ev)))

        _same(got, case_ev.sizing)


class TestJson:
    def test_comparison_part_equals_compare_json(self, case_ev: Evaluation) -> None:
        """Without the added keys, the document is `mailplan compare --format json`."""
        doc = json.loads(render(case_ev, "json"))
        added = {"sizing", "capacity", "qualitative", "assumptions", "risk", "generated"}
        base = {k: v for k, v in doc.items() if k not in added | {"mailplan_version"}}

        assert base == case_ev.comparison.model_dump(mode="json")

    def test_carries_the_cost_model_keys(self, default_ev: Evaluation) -> None:
        """Every option has availability, downtime hours, vs_current and opportunity cost;
        every year its plan, capex and opex; every break-even its year on NPV."""
        doc = json.loads(render(default_ev, "json"))

        for option in doc["options"]:
            assert {"availability", "downtime_hours_per_year", "vs_current"} <= set(option)
            assert "opportunity_cost" in option
            assert set(option["vs_current"]) == {"total", "npv"}
            for year in option["years"]:
                assert {"plan", "capex", "opex"} <= set(year)
        assert all("year_npv" in b for b in doc["break_even"])

    def test_sizing_and_assumptions_equal_the_frames(self, case_ev: Evaluation) -> None:
        """`sizing` and `assumptions` are the engine's frames, row for row."""
        doc = json.loads(render(case_ev, "json"))

        _same(pd.DataFrame(doc["sizing"], columns=list(case_ev.sizing.columns)), case_ev.sizing)
        _same(
            pd.DataFrame(doc["assumptions"], columns=list(case_ev.assumptions.columns)),
            case_ev.assumptions,
        )

    def test_capacity_and_scores(self, case_ev: Evaluation) -> None:
        """Capacity (with its source and kind) and qualitative scores come from the engine."""
        doc = json.loads(render(case_ev, "json"))

        assert doc["capacity"] == [
            {
                "option": o.id,
                "capacity_msgs_per_s": o.capacity_msgs_per_s,
                "capacity_source": o.capacity_source,
                "capacity_kind": o.capacity_kind,
            }
            for o in case_ev.resolved.onprem
        ]
        for oid, a in case_ev.assessments.items():
            assert doc["qualitative"][oid]["score"] == a.score
            assert doc["qualitative"][oid]["ruled_out_by"] == list(a.ruled_out_by)


def test_json_has_risk_for_ranged_scenarios(presets) -> None:
    """A ranged scenario's JSON report carries the simulation, tornado and headline."""
    import json

    from planner import evaluate, load_scenario, risk
    from planner.report import render

    scenario = load_scenario(presets["default-ranges"])
    data = json.loads(render(evaluate(scenario), "json"))
    sim = risk.simulate(scenario, draws=10_000, seed=1)
    assert data["risk"]["simulation"]["p_cheapest_holds"] == sim.summary.p_cheapest_holds
    assert data["risk"]["sensitivity"]["onprem"] == "postfix-dovecot"
    assert data["risk"]["headline"]
    plain = json.loads(render(evaluate(load_scenario(presets["default"])), "json"))
    assert "risk" not in plain
