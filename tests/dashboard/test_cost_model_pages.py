"""The cost model's inputs on the Scenario form and its outputs on the Costs page (AppTest,
from the entrypoint): each new input is a field with the model's help, and setting it
changes what the Costs page shows as the engine says it should."""

from __future__ import annotations

import pytest

from planner import evaluate, load_catalog
from planner.dashboard import state, views
from planner.dashboard.fields import MIGRATION
from tests.dashboard.conftest import assert_clean, find_table

TOTAL = "Total, 5 years (USD)"
OPPORTUNITY = "Opportunity cost (USD)"
VS_NPV = "vs today, NPV (USD)"


def _details(app):
    """The Costs page's availability and cost-structure table, by option."""
    return find_table(app, column="Capex (USD)")


def _engine(app):
    """The engine's evaluation of the scenario in use."""
    return evaluate(state.current(app.session_state))


@pytest.fixture(name="form")
def _form(app, open_page):
    """The app on the Scenario page of the default scenario (Exchange 2019 runs today)."""
    return open_page(app, "scenario")


class TestGeneralFields:
    def test_today_labour_prices_and_downtime_are_fields(self, form):
        """What runs today, the servers' year, the labour and price bases, inflation and the
        downtime basis are on the form with the model's descriptions as help."""
        assert_clean(form)
        current = form.selectbox(key="f:current")
        assert current.value == "exchange-2019"
        assert current.options[0] == "nothing: a new installation"
        assert "exchange-2019 (on-prem)" in current.options
        assert "m365-basic (cloud)" in current.options
        bought = form.number_input(key="f:current_servers_bought")
        assert (bought.value, bought.proto.disabled) == (2021, False)
        assert form.selectbox(key="f:labour_cost").value == "cash"
        assert "opportunity cost" in form.selectbox(key="f:labour_cost").help
        assert form.selectbox(key="f:price_basis").value == "real"
        assert form.number_input(key="f:inflation").proto.disabled  # real prices: unused
        assert form.selectbox(key="f:downtime_basis").value == ""

    def test_move_fields_show_the_catalog_defaults(self, form):
        """Each 'Moving from today's system' field is empty with the catalog's default as
        its placeholder, and names the source in its help."""
        defaults = load_catalog().defaults
        facts = {
            "per_mailbox": defaults.migration_per_mailbox,
            "tool_per_mailbox": defaults.migration_tool_per_mailbox,
            "dual_running_months": defaults.dual_running_months,
            "training_hours_per_user": defaults.training_hours_per_user,
        }
        for spec in MIGRATION:
            widget = form.number_input(key=f"f:migration.{spec.name}")
            fact = facts[spec.name]
            assert widget.value is None
            assert widget.proto.placeholder == f"{fact.value:g} · defaults"
            assert spec.description in widget.help
            assert fact.source in widget.help

    def test_copies_and_disaster_recovery_are_choices(self, form):
        """Every on-prem option has a copies choice (1-3) and a disaster-recovery choice."""
        for i in range(3):
            assert form.selectbox(key=f"f:onprem[{i}].copies").value == ""
            assert form.selectbox(key=f"f:onprem[{i}].dr").value == ""
        assert [str(v) for v in form.selectbox(key="f:onprem[0].copies").options] == [
            "1 (default)",
            "1: a single copy",
            "2: a highly available pair",
            "3: site resilience",
        ]


class TestCostsFollowTheForm:
    def test_existing_staff_moves_labour_to_opportunity_cost(self, form, open_page):
        """Labour by existing staff leaves the totals and shows as each option's opportunity
        cost, as the engine computes them."""
        open_page(form, "costs")
        before = find_table(form, column=TOTAL)
        assert OPPORTUNITY not in _details(form)["postfix-dovecot"]
        open_page(form, "scenario")

        form.selectbox(key="f:labour_cost").set_value("existing_staff").run()
        assert state.current(form.session_state).labour_cost == "existing_staff"
        open_page(form, "costs")

        assert_clean(form)
        ev = _engine(form)
        details, totals = _details(form), find_table(form, column=TOTAL)
        for o in ev.comparison.options:
            assert o.opportunity_cost > 0
            assert details[o.id][OPPORTUNITY] == f"{o.opportunity_cost:,.0f}"
            assert totals[o.id][TOTAL] == f"{o.total:,.0f}"
            assert o.total < float(before[o.id][TOTAL].replace(",", ""))
        assert "existing staff" in " ".join(c.value for c in form.caption)

    def test_new_installation_has_no_comparison_with_today(self, form, open_page):
        """'Nothing' running today drops the servers' year and the vs-today columns."""
        open_page(form, "costs")
        assert VS_NPV in _details(form)["m365-basic"]
        open_page(form, "scenario")

        form.selectbox(key="f:current").set_value("").run()

        scenario = state.current(form.session_state)
        assert (scenario.current, scenario.current_servers_bought) == (None, None)
        assert form.number_input(key="f:current_servers_bought").proto.disabled
        open_page(form, "costs")
        assert VS_NPV not in _details(form)["m365-basic"]
        assert any(c.value.startswith("Nothing runs today") for c in form.caption)

    def test_a_cloud_system_today_has_no_servers_bought(self, form, open_page):
        """A cloud plan running today clears the on-prem servers' year (the model refuses
        it) and becomes the baseline of the vs-today columns."""
        form.selectbox(key="f:current").set_value("m365-basic").run()

        assert_clean(form)
        assert state.problems(form.session_state) == {}
        scenario = state.current(form.session_state)
        assert (scenario.current, scenario.current_servers_bought) == ("m365-basic", None)
        open_page(form, "costs")
        ev = _engine(form)
        details = _details(form)
        assert details["m365-basic"][VS_NPV] == "today's system"
        gws = next(o for o in ev.comparison.options if o.id == "gws-starter")
        assert details["gws-starter"][VS_NPV] == f"{gws.vs_current.npv:+,.0f}"

    def test_migration_per_mailbox_changes_the_move(self, form, open_page):
        """A dearer move per mailbox raises every other option's year-1 cost by users x the
        difference; today's system does not move, so it stays as it was."""
        open_page(form, "costs")
        before = find_table(form, column=TOTAL)
        open_page(form, "scenario")
        default = load_catalog().defaults.migration_per_mailbox.value

        form.number_input(key="f:migration.per_mailbox").set_value(100.0).run()

        assert state.current(form.session_state).migration.per_mailbox == 100.0
        open_page(form, "costs")
        ev = _engine(form)
        after, details = find_table(form, column=TOTAL), _details(form)
        growth = 250 * (100.0 - default)
        for o in ev.comparison.options:
            shown = float(after[o.id][TOTAL].replace(",", ""))
            was = float(before[o.id][TOTAL].replace(",", ""))
            assert shown == pytest.approx(o.total, abs=0.5)
            if o.id == "exchange-2019":
                assert shown == was
            else:
                assert shown - was == pytest.approx(growth, abs=1.0), o.id
                assert details[o.id][VS_NPV] == f"{o.vs_current.npv:+,.0f}"

    def test_tax_goes_into_the_totals(self, form, open_page):
        """Unrecoverable tax on capex and opex is a field pair with the model's help; set,
        the tax line is in the engine's totals, which the Costs page shows."""
        form.number_input(key="f:tax_pct.capex").set_value(0.2).run()
        form.number_input(key="f:tax_pct.opex").set_value(0.1).run()

        tax = state.current(form.session_state).tax_pct
        assert (tax.capex, tax.opex) == (0.2, 0.1)
        open_page(form, "costs")
        ev = _engine(form)
        totals = find_table(form, column=TOTAL)
        for o in ev.comparison.options:
            assert sum(y.by_category["tax"] for y in o.years) > 0
            assert totals[o.id][TOTAL] == f"{o.total:,.0f}"

    def test_downtime_cost_goes_into_the_totals(self, form, open_page):
        """A cost per user-hour of downtime adds the downtime line to the totals and the
        page says so; switching the basis moves the amount, 'not costed' drops it."""
        form.selectbox(key="f:downtime_basis").set_value("downtime_cost_per_user_hour").run()
        form.number_input(key="f:downtime_cost_per_user_hour").set_value(50.0).run()

        assert state.current(form.session_state).downtime_cost_per_user_hour == 50.0
        open_page(form, "costs")
        ev = _engine(form)
        assert any(c.value.startswith("Downtime is in the totals") for c in form.caption)
        totals = find_table(form, column=TOTAL)
        for o in ev.comparison.options:
            assert sum(y.by_category["downtime"] for y in o.years) > 0
            assert totals[o.id][TOTAL] == f"{o.total:,.0f}"
        open_page(form, "scenario")

        form.selectbox(key="f:downtime_basis").set_value("downtime_cost_per_hour").run()
        scenario = state.current(form.session_state)
        assert (scenario.downtime_cost_per_user_hour, scenario.downtime_cost_per_hour) == (
            None,
            50.0,
        )
        form.selectbox(key="f:downtime_basis").set_value("").run()
        scenario = state.current(form.session_state)
        assert (scenario.downtime_cost_per_user_hour, scenario.downtime_cost_per_hour) == (
            None,
            None,
        )

    def test_nominal_prices_use_inflation(self, form, open_page):
        """The nominal basis enables inflation; the NPVs shown are the engine's."""
        form.selectbox(key="f:price_basis").set_value("nominal").run()
        assert not form.number_input(key="f:inflation").proto.disabled
        form.number_input(key="f:inflation").set_value(0.03).run()

        scenario = state.current(form.session_state)
        assert (scenario.price_basis, scenario.inflation) == ("nominal", 0.03)
        open_page(form, "costs")
        ev = _engine(form)
        totals = find_table(form, column=TOTAL)
        for o in ev.comparison.options:
            assert totals[o.id]["NPV (USD)"] == f"{o.npv:,.0f}"
        assert any("nominal prices (inflation 3.0%" in c.value for c in form.caption)

    def test_warm_standby_raises_availability(self, form, open_page):
        """A warm standby for an on-prem option raises its availability and lowers its
        downtime on the Costs page, to the engine's figures."""
        open_page(form, "costs")
        before = _details(form)["postfix-dovecot"]
        open_page(form, "scenario")

        form.selectbox(key="f:onprem[0].dr").set_value("warm").run()

        assert state.current(form.session_state).onprem[0].dr == "warm"
        open_page(form, "costs")
        ev = _engine(form)
        row = _details(form)["postfix-dovecot"]
        assert row["Availability (%)"] == f"{ev.availability['postfix-dovecot'] * 100:.3f}"
        assert float(row["Availability (%)"]) > float(before["Availability (%)"])
        assert float(row["Downtime (hours/year)"]) < float(before["Downtime (hours/year)"])

    def test_costs_page_notes_say_what_the_figures_rest_on(self, app):
        """The default scenario's Costs page names today's system and says downtime is only
        reported; the details table is in the totals table's order."""
        ev = _engine(app)
        captions = [c.value for c in app.caption]
        assert any(c.startswith("Today's system: exchange-2019 (") for c in captions)
        assert any(c.startswith("Downtime is only reported") for c in captions)
        (table,) = [t for t in app.table if "Capex (USD)" in t.value.columns]
        assert list(table.value.index) == list(views.totals_table(ev).index)
