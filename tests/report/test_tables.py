"""CSV, XLSX and JSON: the engine's frames and comparison, value for value."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from openpyxl import load_workbook

from planner import Evaluation
from planner.report import render, sizing_csv


def _sheet_frame(ws) -> pd.DataFrame:
    rows = list(ws.values)
    return pd.DataFrame(rows[1:], columns=list(rows[0]))


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
        """OUT.csv reads back as ev.costs, every amount exact."""
        got = pd.read_csv(io.BytesIO(render(case_ev, "csv")))

        _same(got, case_ev.costs)

    def test_sizing_csv_is_the_sizing_frame(self, case_ev: Evaluation) -> None:
        """The sizing CSV reads back as ev.sizing."""
        got = pd.read_csv(io.BytesIO(sizing_csv(case_ev)))

        _same(got, case_ev.sizing)


@pytest.fixture(scope="module", name="workbook")
def _workbook(default_ev: Evaluation):
    """The default scenario's XLSX report, opened with openpyxl."""
    return load_workbook(io.BytesIO(render(default_ev, "xlsx")), read_only=True)


class TestXlsx:
    def test_has_one_sheet_per_frame(self, workbook) -> None:
        """The workbook has the summary, costs, sizing, assumptions and break-even sheets."""
        assert workbook.sheetnames == ["summary", "costs", "sizing", "assumptions", "break_even"]

    @pytest.mark.parametrize("sheet", ["summary", "costs", "sizing", "assumptions"])
    def test_sheet_equals_the_engine_frame(self, workbook, default_ev, sheet) -> None:
        """Each sheet holds the engine's frame of the same name, value for value (to the 15
        significant digits a spreadsheet keeps)."""
        _same(_sheet_frame(workbook[sheet]), getattr(default_ev, sheet), rel=1e-14)

    def test_break_even_sheet(self, workbook, default_ev) -> None:
        """The break-even sheet lists every on-prem/cloud pair with year and users."""
        rows = list(workbook["break_even"].values)

        assert rows[0] == ("onprem", "cloud", "year", "users")
        assert rows[1:] == [(b.onprem, b.cloud, b.year, b.users) for b in default_ev.break_even]


class TestJson:
    def test_comparison_part_equals_compare_json(self, case_ev: Evaluation) -> None:
        """Without the added keys, the document is `mailplan compare --format json`."""
        doc = json.loads(render(case_ev, "json"))
        added = {"sizing", "capacity", "qualitative", "assumptions", "risk", "generated"}
        base = {k: v for k, v in doc.items() if k not in added | {"mailplan_version"}}

        assert base == case_ev.comparison.model_dump(mode="json")

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
