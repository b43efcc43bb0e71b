"""Display tables, call-outs and downloads built from an Evaluation."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from planner import evaluate, load_catalog
from planner.dashboard import views
from tests.conftest import make_scenario

TWO_PLANS = [
    {"id": "cheap", "plan": "custom", "price_per_user_month": 6.0},
    {"id": "dear", "plan": "custom", "price_per_user_month": 8.0},
]
POSTFIX = {"id": "postfix", "stack": "postfix-dovecot", "server": "smb-1u"}


class TestMoney:
    @pytest.mark.parametrize(
        ("amount", "decimals", "text"),
        [(1234567.891, 0, "1,234,568 EUR"), (7.2, 2, "7.20 EUR"), (-50.0, 0, "-50 EUR")],
        ids=["thousands", "cents", "negative"],
    )
    def test_formats_with_separators_and_currency(self, amount, decimals, text):
        """Money has thousands separators, the asked decimals and the currency code."""
        assert views.money(amount, "EUR", decimals) == text


class TestCheapestCallout:
    def test_saving_is_the_npv_gap_to_the_next_cheapest(self):
        """100 users × 2 USD a user-month × 36 months, undiscounted: 7,200 saved."""
        ev = evaluate(make_scenario(cloud=TWO_PLANS))

        call = views.cheapest_callout(ev)

        assert (call.cheapest.id, call.runner_up.id, call.saving_npv) == ("cheap", "dear", 7200.0)

    def test_single_option_has_no_saving(self):
        """With one option there is nothing to save over."""
        call = views.cheapest_callout(evaluate(make_scenario()))

        assert (call.cheapest.id, call.runner_up, call.saving_npv) == ("flat", None, None)

    def test_ruled_out_options_are_not_the_runner_up(self):
        """When requirements rule options out, the next cheapest is an eligible one."""
        scenario = make_scenario(
            onprem=[POSTFIX], cloud=TWO_PLANS, qualitative={"requirements": ["data_on_premises"]}
        )
        call = views.cheapest_callout(evaluate(scenario))

        assert (call.cheapest.id, call.runner_up, call.among) == (
            "postfix",
            None,
            "eligible options",
        )


class TestTables:
    def test_totals_table_has_one_formatted_row_per_option(self):
        """Each option's total, NPV and cost per user-month, with separators."""
        ev = evaluate(make_scenario(cloud=TWO_PLANS))

        table = views.totals_table(ev)

        assert list(table.index) == ["cheap (cheapest)", "dear"]
        assert table.loc["dear", "Total, 3 years (USD)"] == "28,800"
        assert table.loc["dear", "Per user-month (USD)"] == "8.00"

    def test_break_even_table_spells_out_never(self):
        """A pair that never breaks even says so in words."""
        ev = evaluate(make_scenario(onprem=[POSTFIX], cloud=TWO_PLANS))

        table = views.break_even_table(ev)

        assert len(table) == 2
        never = table[table["Break-even year"].str.startswith("none")]
        assert set(never["Break-even year"]) <= {"none within 3 years"}

    def test_decision_matrix_ends_with_the_weighted_score(self):
        """Eight criteria and the engine's weighted score per option."""
        ev = evaluate(make_scenario(onprem=[POSTFIX]))

        matrix = views.decision_matrix(ev)

        assert len(matrix) == 9
        assert matrix.loc["Weighted score", "postfix"] == f"{ev.assessments['postfix'].score:.2f}"

    def test_capacity_rows_name_the_catalog_source(self):
        """A catalog capacity shows its server profile and the profile's source."""
        ev = evaluate(make_scenario(onprem=[POSTFIX]))
        fact = load_catalog().server("smb-1u").capacity_msgs_per_s

        row = views.capacity_rows(ev).iloc[0]

        assert (row["From"], row["Source"], row["As of"]) == ("catalog", fact.source, fact.as_of)

    def test_assumptions_values_are_text(self):
        """Every value of the assumptions table is text, so one column can hold them all."""
        table = views.assumptions_table(evaluate(make_scenario(onprem=[POSTFIX])))

        assert table["value"].map(type).eq(str).all()


class TestCatalogDefaults:
    def test_overridden_field_still_shows_the_catalog_value(self):
        """An inline server price does not hide the catalog price it replaces."""
        scenario = make_scenario(onprem=[{**POSTFIX, "server_price": 9999.0}])
        fact = load_catalog().server("smb-1u").server_price

        default = views.catalog_defaults(scenario, load_catalog())["postfix"]["server_price"]

        assert (default.value, default.origin, default.source, default.as_of) == (
            fact.value,
            "server smb-1u",
            fact.source,
            fact.as_of,
        )

    def test_custom_plan_defaults_to_zero(self):
        """A custom plan's unset fields default to zero, said so."""
        default = views.catalog_defaults(make_scenario(), load_catalog())["flat"]

        assert (default["migration_per_user"].value, default["migration_per_user"].note) == (
            0.0,
            "not given: 0",
        )


class TestExports:
    def test_costs_csv_is_the_cost_frame(self):
        """The CSV reads back as the engine's cost frame."""
        ev = evaluate(make_scenario(onprem=[POSTFIX]))

        frame = pd.read_csv(io.BytesIO(views.costs_csv(ev)))

        pd.testing.assert_frame_equal(frame, ev.costs, check_dtype=False)

    def test_comparison_json_is_the_compare_command_shape(self):
        """The JSON is ``mailplan compare --format json``."""
        ev = evaluate(make_scenario(cloud=TWO_PLANS))

        data = json.loads(views.comparison_json(ev))

        assert data == ev.comparison.model_dump(mode="json")
