"""Display tables, call-outs and downloads built from an Evaluation."""

from __future__ import annotations

import datetime as dt
import io
import json

import pandas as pd
import pytest

from planner import evaluate, load_catalog, load_scenario, scenario_presets
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
        [
            (1234567.891, None, "EUR 1,234,568"),
            (7.2, None, "EUR 7.20"),
            (-150.0, None, "EUR -150"),
            (1234.5, 2, "EUR 1,234.50"),
            (-0.001, 0, "EUR 0"),
        ],
        ids=["thousands", "cents-below-100", "negative", "asked-decimals", "no-minus-zero"],
    )
    def test_formats_with_separators_and_currency(self, amount, decimals, text):
        """Money is ``EUR 12,345``: the code first, thousands separators, cents only below
        100 unless decimals are asked for; the same function as the CLI's and the reports'."""
        from planner.cli import render
        from planner.report import content

        assert views.money(amount, "EUR", decimals) == text
        assert views.money is render.money is content.money


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

    def test_ruled_out_reasons_are_words(self):
        """An option past its end of support is ruled out in words ("support ends"), as
        the report says it, not by the rule's id; an eligible option shows "–"."""
        ev = evaluate(load_scenario(scenario_presets()["default"]), start=dt.date(2026, 1, 1))

        column = views.totals_table(ev)["Ruled out by"]

        assert column["exchange-2019"] == "support ends"
        assert column.filter(like="postfix-dovecot").item() == "–"

    def test_break_even_table_spells_out_never(self):
        """A pair that never breaks even says so in words."""
        ev = evaluate(make_scenario(onprem=[POSTFIX], cloud=TWO_PLANS))

        table = views.break_even_table(ev)

        assert len(table) == 2
        assert list(table["Break-even year (NPV)"]) == [
            views.break_even_year(b.year_npv, 3) for b in ev.break_even
        ]
        assert "does not catch up within 3 years" in set(table["Break-even year (NPV)"])

    @pytest.mark.parametrize(
        ("year", "words", "metric"),
        [
            (1, "cheaper from year 1", "from year 1"),
            (3, "catches up in year 3", "3"),
            (None, "does not catch up within 5 years", "none"),
        ],
        ids=["from-the-start", "catches-up", "never"],
    )
    def test_break_even_year_in_the_reports_words(self, year, words, metric):
        """A year-1 break-even reads "cheaper from year 1", never "catches up in year 1";
        the words are the report's (``catch_up_phrase``)."""
        from planner.report.content import catch_up_phrase

        assert views.break_even_year(year, 5) == words
        assert words in catch_up_phrase(year, 5)
        assert views.break_even_metric(year) == metric

    def test_break_even_line_says_cheaper_from_year_1(self):
        """When the cheapest on-prem option costs less from the first year, the Costs
        page's line says so instead of a catch-up year."""
        ev = evaluate(
            make_scenario(onprem=[POSTFIX], cloud=[TWO_PLANS[1]], organization={"users": 1000})
        )
        head = views.headline_break_even(ev)

        line = views.break_even_line(ev)

        assert head is not None
        assert head.year == 1
        assert line == (
            "Break-even against dear, the cheapest cloud option: postfix, the cheapest "
            "on-prem option, is cheaper from year 1 (cumulative cost)."
        )

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
        """Every value of the assumptions table is text, so one column can hold them all;
        no cell reads None or nan: an empty one is "–" (the source links, empty)."""
        table = views.assumptions_table(evaluate(make_scenario(onprem=[POSTFIX])))

        assert table["value"].map(type).eq(str).all()
        cells = table.drop(columns=["source"]).to_numpy().ravel().tolist()
        assert all(isinstance(c, str) and c not in ("", "None", "nan") for c in cells)
        assert "–" in cells
        assert set(table["estimate"]) <= {"yes", "no"}


class TestDetailsTable:
    def test_new_installation_has_availability_downtime_and_capex(self):
        """Without a current system and with paid labour: availability, downtime and the
        capex/opex split only, rows in the totals table's order."""
        ev = evaluate(make_scenario(onprem=[POSTFIX], cloud=TWO_PLANS))

        table = views.details_table(ev)

        assert list(table.index) == list(views.totals_table(ev).index)
        assert list(table.columns) == [
            "Availability (%)",
            "Downtime (hours/year)",
            "Capex (USD)",
            "Opex (USD)",
        ]
        postfix = next(o for o in ev.comparison.options if o.id == "postfix")
        row = table.loc["postfix"]
        assert row["Availability (%)"] == f"{postfix.availability * 100:.3f}"
        assert row["Downtime (hours/year)"] == f"{postfix.downtime_hours_per_year:,.1f}"
        assert row["Capex (USD)"] == f"{sum(y.capex for y in postfix.years):,.0f}"
        assert row["Opex (USD)"] == f"{sum(y.opex for y in postfix.years):,.0f}"
        assert table.loc["dear", "Availability (%)"] == "–"  # a custom plan states none

    def test_today_and_existing_staff_add_their_columns(self):
        """With a current system, the total and NPV against it (signed; today's row says
        so); with existing staff, the opportunity cost."""
        scenario = make_scenario(
            onprem=[POSTFIX], cloud=TWO_PLANS, current="dear", labour_cost="existing_staff"
        )
        ev = evaluate(scenario)

        table = views.details_table(ev)

        assert list(table.columns) == [
            "Availability (%)",
            "Downtime (hours/year)",
            "vs today, total (USD)",
            "vs today, NPV (USD)",
            "Opportunity cost (USD)",
            "Capex (USD)",
            "Opex (USD)",
        ]
        table.index = [str(i).removesuffix(" (cheapest)") for i in table.index]
        assert table.loc["dear", "vs today, NPV (USD)"] == "today's system"
        cheap = next(o for o in ev.comparison.options if o.id == "cheap")
        assert table.loc["cheap", "vs today, total (USD)"] == f"{cheap.vs_current.total:+,.0f}"
        assert table.loc["cheap", "vs today, NPV (USD)"].startswith("-")
        postfix = next(o for o in ev.comparison.options if o.id == "postfix")
        assert postfix.opportunity_cost > 0
        assert table.loc["postfix", "Opportunity cost (USD)"] == (
            f"{postfix.opportunity_cost:,.0f}"
        )


class TestNotes:
    def test_downtime_is_only_reported_without_a_cost(self):
        """No downtime cost: the note says downtime is reported, not in the totals."""
        note = views.downtime_note(evaluate(make_scenario()))

        assert note.startswith("Downtime is only reported, not in the totals")

    @pytest.mark.parametrize(
        ("key", "text"),
        [
            ("downtime_cost_per_user_hour", "EUR 25.00 per user for each hour"),
            ("downtime_cost_per_hour", "EUR 25.00 for each hour"),
        ],
        ids=["per-user-hour", "per-hour"],
    )
    def test_downtime_in_the_totals_in_the_display_currency(self, key, text):
        """A downtime cost puts downtime in the totals, at the display-currency rate."""
        scenario = make_scenario(**{key: 12.5}, currency="EUR", usd_exchange_rate=2.0)

        note = views.downtime_note(evaluate(scenario))

        assert note.startswith("Downtime is in the totals: ")
        assert text in note

    def test_basis_line_names_today_labour_and_prices(self):
        """Today's system, the labour basis and the price basis, in one line."""
        scenario = make_scenario(
            onprem=[POSTFIX],
            current="postfix",
            current_servers_bought=2024,
            labour_cost="existing_staff",
            price_basis="nominal",
            inflation=0.02,
        )
        line = views.basis_line(evaluate(scenario, start=dt.date(2026, 1, 1)))

        assert line.startswith("Today's system: postfix (")
        assert "servers bought in 2024" in line
        assert "existing staff" in line
        assert "nominal prices (inflation 2.0% a year" in line

    def test_basis_line_for_a_new_installation(self):
        """Without a current system the line says nothing runs today."""
        line = views.basis_line(evaluate(make_scenario()))

        assert line.startswith("Nothing runs today (a new installation)")
        assert "paid for (in the totals)" in line
        assert "real prices" in line


class TestMigrationDefaults:
    def test_from_the_catalog_defaults(self):
        """Each move field defaults to the catalog's figure, with its source."""
        catalog = load_catalog()
        fact = catalog.defaults.migration_tool_per_mailbox

        defaults = views.migration_defaults(catalog)

        assert set(defaults) == {
            "per_mailbox",
            "tool_per_mailbox",
            "dual_running_months",
            "training_hours_per_user",
        }
        tool = defaults["tool_per_mailbox"]
        assert (tool.value, tool.origin, tool.source, tool.as_of) == (
            fact.value,
            "defaults",
            fact.source,
            fact.as_of,
        )

    def test_absent_from_the_catalog_is_zero(self):
        """A catalog without a move default gives 0, and says so; per mailbox falls back to
        the cloud migration per user, as the engine does."""
        catalog = load_catalog()
        bare = catalog.model_copy(
            update={
                "defaults": catalog.defaults.model_copy(
                    update={"training_hours_per_user": None, "migration_per_mailbox": None}
                )
            }
        )

        defaults = views.migration_defaults(bare)

        assert (
            defaults["training_hours_per_user"].value,
            defaults["training_hours_per_user"].note,
        ) == (
            0.0,
            "the catalog gives none: 0",
        )
        assert defaults["per_mailbox"].value == catalog.defaults.migration_per_user.value


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

        assert (default["exit_cost"].value, default["exit_cost"].note) == (0.0, "not given: 0")


class TestExports:
    def test_costs_csv_is_the_cost_frame(self):
        """The CSV reads back as the engine's cost frame, then each row's plan and cost type
        (the report's CSV)."""
        ev = evaluate(make_scenario(onprem=[POSTFIX]))

        frame = pd.read_csv(io.BytesIO(views.costs_csv(ev)))

        assert list(frame.columns) == [*ev.costs.columns, "plan", "cost_type"]
        pd.testing.assert_frame_equal(frame[list(ev.costs.columns)], ev.costs, check_dtype=False)
        assert set(frame["cost_type"]) == {"capex", "opex"}
        assert set(frame.loc[frame["option"] == "postfix", "plan"]) == {"postfix-dovecot"}

    def test_comparison_json_is_the_compare_command_shape(self):
        """The JSON is ``mailplan compare --format json``."""
        ev = evaluate(make_scenario(cloud=TWO_PLANS))

        data = json.loads(views.comparison_json(ev))

        assert data == ev.comparison.model_dump(mode="json")


class TestWording:
    @pytest.mark.parametrize(
        ("n", "text"),
        [(0, "No input has a range yet"), (1, "1 input has a range"), (3, "3 inputs have ranges")],
        ids=["none", "one", "several"],
    )
    def test_ranged_count_in_plain_words(self, n, text):
        """The number of ranged inputs reads as a sentence, never "0 ranged input(s)"."""
        assert views.ranged_count(n) == text

    def test_organisation_caption_comes_from_the_scenario(self):
        """The Organisation caption gives the scenario's own users, growth and messages a
        day (the model docstring's fixed "30 sent / 75 received" is gone)."""
        from planner import load_scenario, scenario_presets

        scenario = load_scenario(scenario_presets()["default"])
        org = scenario.organization.model_copy(
            update={"users": 600, "messages_received_per_user_day": 120.0}
        )

        text = views.organisation_caption(scenario.model_copy(update={"organization": org}))

        assert "600 users (growing 8 % a year)" in text
        assert "sending 30 and receiving 120 messages a day" in text
        assert "75 received" not in text

    def test_escalation_caption_names_the_price_basis_in_words(self):
        """The price changes' caption says what the scenario's price basis means, never
        the raw ``price_basis: real``."""
        real = make_scenario()
        nominal = make_scenario(price_basis="nominal", inflation=0.02)

        texts = views.escalation_caption(real), views.escalation_caption(nominal)

        assert "Prices are real (today's money)" in texts[0]
        assert "inflation (2.0% a year) is added" in texts[1]
        assert not any("price_basis" in t for t in texts)

    def test_choice_words_replace_raw_values(self):
        """A model description's raw choice values read as the form's pickers show them."""
        from planner.models import Scenario

        text = views.choice_words(Scenario.model_fields["labour_cost"].description or "")

        assert text.startswith("paid for: admin and helpdesk labour is paid for; existing staff:")
        assert "cash" not in text
        assert "existing_staff" not in text
        assert views.choice_words("used with price_basis: nominal.") == (
            "used with the nominal price basis."
        )

    def test_radar_starts_with_the_cheapest_and_the_best_scored_other_kind(self):
        """The Compare radar starts with two options: the cheapest and the best-scored
        option of the other kind."""
        ev = evaluate(make_scenario(onprem=[POSTFIX], cloud=TWO_PLANS))
        cheapest = views.cheapest_callout(ev).cheapest

        picked = views.radar_default(ev)

        assert picked[0] == cheapest.id
        assert len(picked) == 2
        assert {ev.option(i).kind for i in picked} == {"onprem", "cloud"}

    def test_ranges_added_line(self):
        """What adding the default ranges did, in one sentence."""
        line = views.ranges_added_line(
            ["a", "b"], {"c": "not in this scenario"}, "Acme (with ranges)"
        )

        assert line == (
            "Added 2 ranges of 'Acme (with ranges)', each centred on this scenario's value "
            "(no figure of the typical case changed); 1 left out (not in this scenario)."
        )
