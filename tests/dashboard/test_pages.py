"""Every page under AppTest, started from the entrypoint: inputs change what the engine says
they should, bad input gives a message next to the field, never an exception."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from planner import evaluate, load_catalog, load_scenario, parse_scenario, scenario_presets
from planner.dashboard import state, views
from planner.dashboard.fields import (
    CLOUD_NUMBERS,
    CURRENT_SERVERS_BOUGHT,
    ESCALATION,
    GENERAL,
    INFLATION,
    MIGRATION,
    ONPREM_NUMBERS,
    ORGANIZATION,
)
from tests.dashboard.conftest import (
    ONPREM,
    PAGES,
    assert_clean,
    chart_specs,
    errors,
    find_table,
    metric,
    open_sections,
    scenario_yaml,
    table_rows,
)

TOTAL = "Total, 3 years (USD)"
ZERO_USERS = "zero.yaml: organization.users: Input should be greater than or equal to 1"


class TestFrame:
    def test_opens_on_costs_with_the_default_scenario(self, app):
        """The first page is Costs, showing the bundled default scenario."""
        assert_clean(app)
        assert app.title[0].value == "Costs"
        assert app.sidebar.selectbox(key=state.PICKER).value == "default"
        assert app.caption[0].value.startswith("Acme, 250 staff")

    def test_picker_offers_every_preset(self, app):
        """The sidebar picker lists every bundled scenario."""
        options = app.sidebar.selectbox(key=state.PICKER).options
        for name, path in scenario_presets().items():
            assert f"{name}: {load_scenario(path).name}" in options

    def test_picked_scenario_persists_across_pages(self, app, open_page):
        """A preset picked in the sidebar is the one every page shows."""
        app.sidebar.selectbox(key=state.PICKER).set_value("org-5000").run()
        for page in ("scale", "compare", "report", "scenario"):
            open_page(app, page)
            assert_clean(app)
            assert app.caption[0].value.startswith("Large organisation, 5,000 staff"), page

    def test_exchange_rate_scales_every_amount(self, app, upload):
        """Doubling usd_exchange_rate doubles the totals shown."""
        upload(app, "flat.yaml", scenario_yaml())
        assert table_rows(app)["flat"][TOTAL] == "21,600"
        app.number_input(key="f:usd_exchange_rate").set_value(2.0).run()
        assert table_rows(app)["flat"][TOTAL] == "43,200"

    def test_currency_relabels_the_amounts(self, app, upload):
        """The sidebar currency names the amounts' currency."""
        upload(app, "flat.yaml", scenario_yaml())
        app.text_input(key="f:currency").set_value("EUR").run()
        assert "Total, 3 years (EUR)" in app.table[0].value.columns

    def test_bad_currency_is_refused_next_to_the_field(self, app):
        """A currency that is not an ISO code shows an error in the sidebar; nothing changes."""
        app.text_input(key="f:currency").set_value("euro").run()
        assert_clean(app)
        assert any(
            e.startswith("currency: String should match pattern '^[A-Z]{3}$' (got 'euro')")
            for e in errors(app.sidebar)
        )
        assert app.sidebar.selectbox(key=state.PICKER).value == "default"
        assert app.caption[0].value.endswith(
            "total cost of ownership, NPV and break-even of every option"
        )
        assert "(USD)" in app.table[0].value.columns[2]


@pytest.mark.parametrize("preset", sorted(scenario_presets()))
def test_every_page_renders_every_preset(app, open_page, preset):
    """Each bundled scenario draws on every page without an exception."""
    app.sidebar.selectbox(key=state.PICKER).set_value(preset).run()
    for page in PAGES:
        open_page(app, page)
        assert_clean(app)
        assert app.title[0].value == page.capitalize()


def test_on_prem_only_scenario_renders_every_page(app, open_page, upload):
    """A scenario with no cloud option (no break-even pairs) draws on every page."""
    upload(app, "onprem.yaml", scenario_yaml(onprem=[ONPREM], cloud=[]))
    assert app.caption[0].value.startswith("test")
    for page in PAGES:
        open_page(app, page)
        assert_clean(app)


class TestUpload:
    def test_valid_file_is_put_in_use(self, app, upload):
        """An uploaded scenario joins the picker and is shown."""
        upload(app, "flat.yaml", scenario_yaml(name="Uploaded org"))
        assert_clean(app)
        assert app.sidebar.selectbox(key=state.PICKER).value == "upload: flat.yaml"
        assert app.caption[0].value.startswith("Uploaded org")

    def test_names_from_a_file_are_shown_as_text(self, app, upload):
        """Markdown in an uploaded scenario's name is escaped, not rendered (no image fetch)."""
        upload(app, "md.yaml", scenario_yaml(name="![x](http://example.invalid/x.png) **b**"))
        assert app.caption[0].value.startswith(r"\!\[x\](http://example.invalid/x.png) \*\*b\*\*")

    def test_json_file_is_accepted(self, app, upload):
        """A JSON scenario is read as JSON."""
        data = yaml.safe_load(scenario_yaml(name="From JSON"))
        upload(app, "s.json", json.dumps(data).encode())
        assert app.caption[0].value.startswith("From JSON")

    @pytest.mark.parametrize(
        ("name", "data", "expected"),
        [
            ("bad.yaml", b"name: [unclosed", "bad.yaml: line 1, column"),
            ("zero.yaml", scenario_yaml(organization={"users": 0}), ZERO_USERS),
            (
                "plan.yaml",
                scenario_yaml(cloud=[{"id": "x", "plan": "m365-bogus"}]),
                "plan.yaml: cloud[0].plan: unknown plan 'm365-bogus'",
            ),
            ("list.yaml", b"- a\n- b\n", "list.yaml: the file is not a scenario"),
            ("bad.json", b"{nope", "bad.json: line 1, column 2: not valid JSON"),
            ("latin1.yaml", "name: caf\xe9".encode("latin-1"), "latin1.yaml: not UTF-8 text"),
            ("big.yaml", b"#" * 1_100_000, "big.yaml: 1,100,000 bytes is larger than the 1024 KB"),
            (
                "bomb.yaml",
                b"a: &a [x, x]\n" + b"".join(b"b%d: &b%d [*a, *a]\n" % (i, i) for i in range(60)),
                "bomb.yaml: ",
            ),
        ],
        ids=[
            "yaml-syntax",
            "invalid-field",
            "unknown-plan",
            "not-a-mapping",
            "json-syntax",
            "not-utf8",
            "too-large",
            "alias-bomb",
        ],
    )
    def test_bad_file_gives_a_message_and_keeps_the_scenario(
        self, app, upload, name, data, expected
    ):
        """A bad upload is explained in the sidebar; the scenario in use stays."""
        upload(app, name, data)
        assert_clean(app)
        assert any(e.startswith(expected) for e in errors(app.sidebar)), errors(app.sidebar)
        if name == "bomb.yaml":  # where in the file the parser stops may vary
            assert any("more than 100 YAML aliases" in e for e in errors(app.sidebar))
        assert app.sidebar.selectbox(key=state.PICKER).value == "default"


class TestScenarioPage:
    def test_every_field_has_an_input_with_its_unit(self, app, open_page):
        """Every general, escalation, organisation, migration, on-prem and cloud number has a
        labelled input with the model's description as help."""
        open_page(app, "scenario")
        assert_clean(app)
        paths = [((s.name,), s) for s in (*GENERAL[1:], CURRENT_SERVERS_BOUGHT, INFLATION)]
        paths += [(("escalation", s.name), s) for s in ESCALATION]
        paths += [(("organization", s.name), s) for s in ORGANIZATION]
        paths += [(("migration", s.name), s) for s in MIGRATION]
        paths += [(("onprem", 1, s.name), s) for s in ONPREM_NUMBERS]
        paths += [(("cloud", 0, s.name), s) for s in CLOUD_NUMBERS]
        for path, spec in paths:
            widget = app.number_input(key=state.widget_key(path))
            assert widget.label == spec.title
            assert views.choice_words(spec.description) in widget.help
        assert app.text_input(key="f:name").value == "Acme, 250 staff"
        assert app.number_input(key="f:organization.users").value == 250

    def test_server_auto_is_shown_as_auto(self, app, open_page):
        """An option with ``server: auto`` shows 'auto' in its server picker, not 'none'."""
        open_page(app, "scenario")
        app.session_state["open_onprem_0"] = True
        app.run()
        picker = app.selectbox(key=state.widget_key(("onprem", 0, "server")))
        assert picker.value == "auto"

    def test_captions_come_from_the_scenario(self, app, open_page):
        """The Organisation caption gives the scenario's own figures (after an edit, the
        new ones); the ranges line says how many inputs have one in words."""
        open_page(app, "scenario")
        app.number_input(key="f:organization.messages_received_per_user_day").set_value(120).run()
        assert_clean(app)
        captions = [c.value for c in app.caption]
        scenario = state.current(app.session_state)
        assert views.organisation_caption(scenario) in captions
        assert any("receiving 120 messages a day" in c for c in captions)
        assert any(c.startswith("Yearly price changes") and "real" in c for c in captions)
        assert any("No input has a range yet in this scenario" in c for c in captions)
        assert not any("input(s)" in c or "price_basis" in c for c in captions)

    def test_catalog_field_help_gives_source_and_date(self, app, open_page):
        """An empty on-prem field says which catalog value it uses, its source and date."""
        open_page(app, "scenario")
        fact = load_catalog().server("smb-1u").server_price
        widget = app.number_input(key="f:onprem[0].server_price")
        assert widget.value is None
        assert f"{fact.value:,.0f}" in widget.proto.placeholder
        assert fact.source in widget.help
        assert f"as of {fact.as_of}" in widget.help

    def test_edit_is_put_in_use(self, app, open_page):
        """Changing the user count makes an 'edited' scenario that the other pages show."""
        open_page(app, "scenario")
        app.number_input(key="f:organization.users").set_value(500).run()
        assert app.sidebar.selectbox(key=state.PICKER).value == "edited"
        open_page(app, "costs")
        edited = state.current(app.session_state)
        assert edited.organization.users == 500
        ev = evaluate(edited)
        assert metric(app, "Cheapest NPV") == views.money(ev.npv(ev.cheapest), "USD")

    def test_invalid_value_is_shown_next_to_the_field(self, app, open_page):
        """A value the model refuses is explained under its input and not applied."""
        open_page(app, "scenario")
        app.number_input(key="f:organization.users").set_value(0).run()
        assert_clean(app)
        assert "organization.users: Input should be greater than or equal to 1 (got 0)" in errors(
            app
        )
        assert app.sidebar.selectbox(key=state.PICKER).value == "default"
        open_page(app, "costs")
        assert "last valid version" in app.warning[0].value
        assert state.current(app.session_state).organization.users == 250

    def test_fixing_the_value_applies_it(self, app, open_page):
        """After a refused value, a valid one is applied and the error goes."""
        open_page(app, "scenario")
        app.number_input(key="f:organization.users").set_value(0).run()
        app.number_input(key="f:organization.users").set_value(300).run()
        assert not app.error
        assert state.current(app.session_state).organization.users == 300

    def test_override_and_clear_a_catalog_value(self, app, open_page):
        """A number typed into a catalog field overrides it; clearing it goes back."""
        open_page(app, "scenario")
        app.number_input(key="f:onprem[0].server_price").set_value(9000.0).run()
        assert state.current(app.session_state).onprem[0].server_price == 9000.0
        app.number_input(key="f:onprem[0].server_price").set_value(None).run()
        assert state.current(app.session_state).onprem[0].server_price is None

    def test_start_date_can_be_set_and_cleared(self, app, open_page):
        """The optional start date is written as a date and removed when cleared."""
        open_page(app, "scenario")
        app.date_input(key="f:start_date").set_value(dt.date(2027, 1, 1)).run()
        assert state.current(app.session_state).start_date == dt.date(2027, 1, 1)
        app.date_input(key="f:start_date").set_value(None).run()
        assert "start_date" not in state.current(app.session_state).model_fields_set

    def test_add_a_cloud_plan_from_the_catalog(self, app, open_page):
        """A catalog plan picked under 'Add an option' joins the comparison."""
        open_page(app, "scenario")
        app.selectbox(key="add_plan").set_value("zoho-mail-lite")
        next(b for b in app.button if b.label == "Add cloud option").click().run()
        assert "zoho-mail-lite" in state.current(app.session_state).option_ids()
        open_page(app, "costs")
        assert "zoho-mail-lite" in table_rows(app)

    def test_remove_an_option(self, app, open_page):
        """'Remove this option' takes the option out of the comparison."""
        open_page(app, "scenario")
        app.button(key="remove_onprem_1").click().run()
        assert state.current(app.session_state).option_ids() == [
            "postfix-dovecot",
            "exchange-2019",
            "m365-basic",
            "m365-standard",
            "gws-starter",
        ]

    def test_custom_plan_needs_a_price(self, app, open_page):
        """Switching a cloud option to 'custom' without a price is explained at the option."""
        open_page(app, "scenario")
        app.selectbox(key="f:cloud[0].plan").set_value("custom").run()
        assert_clean(app)
        assert "cloud[0]: plan 'custom' needs price_per_user_month" in errors(app)

    def test_option_fields_are_drawn_while_its_section_is_open(self, app):
        """An option's section starts closed and its fields are not drawn (with every
        option's 50 fields the page took seconds); opened, they are."""
        app.switch_page(PAGES["scenario"]).run()
        assert_clean(app)
        assert "f:onprem[0].server_price" not in [n.key for n in app.number_input]
        assert "f:cloud[0].plan" not in [s.key for s in app.selectbox]
        open_sections(app)
        assert "f:onprem[0].server_price" in [n.key for n in app.number_input]
        assert "f:cloud[0].plan" in [s.key for s in app.selectbox]

    def test_section_with_problems_stays_open(self, app, open_page):
        """An option whose fields have problems keeps its section open, so they show."""
        open_page(app, "scenario")
        app.selectbox(key="f:cloud[0].plan").set_value("custom").run()
        app.session_state["open_cloud_0"] = False  # the user closes it
        app.run()
        assert "f:cloud[0].plan" in [s.key for s in app.selectbox]
        assert "cloud[0]: plan 'custom' needs price_per_user_month" in errors(app)

    def test_offers_the_scenario_as_yaml_and_json(self, app, open_page):
        """The scenario can be downloaded as YAML and JSON."""
        open_page(app, "scenario")
        labels = [b.label for b in app.download_button]
        assert labels == ["Download YAML", "Download JSON"]


class TestCostsPage:
    def test_doubling_users_doubles_a_flat_plan(self, app, open_page, upload):
        """A flat per-user plan's total doubles with the user count."""
        upload(app, "flat.yaml", scenario_yaml())
        before = table_rows(app)["flat"]
        open_page(app, "scenario")
        app.number_input(key="f:organization.users").set_value(200).run()
        open_page(app, "costs")
        after = table_rows(app)["flat"]
        assert (before[TOTAL], after[TOTAL]) == ("21,600", "43,200")
        assert before["Per user-month (USD)"] == after["Per user-month (USD)"] == "6.00"

    def test_cheapest_is_called_out_with_the_saving(self, app, upload):
        """The call-out names the cheapest option and its NPV saving over the next one."""
        data = scenario_yaml(
            cloud=[
                {"id": "cheap", "plan": "custom", "price_per_user_month": 6.0},
                {"id": "dear", "plan": "custom", "price_per_user_month": 8.0},
            ]
        )
        upload(app, "two.yaml", data)
        assert app.success[0].value.startswith("Cheapest by NPV: cheap (")
        assert metric(app, "Saving over the next cheapest") == "USD 7,200"  # 100 × 2 × 36

    def test_totals_match_the_engine(self, app):
        """Every option's total, NPV and cost per user-month are the engine's."""
        ev = evaluate(load_scenario(scenario_presets()["default"]))
        rows = table_rows(app)
        for o in ev.comparison.options:
            row = rows[o.id]
            assert row["Total, 5 years (USD)"] == f"{o.total:,.0f}"
            assert row["NPV (USD)"] == f"{o.npv:,.0f}"
            assert row["Per user-month (USD)"] == f"{o.per_user_month:,.2f}"

    def test_charts_wait_until_their_section_is_opened(self, app):
        """A new session's Costs page draws no chart (plotly.js is not loaded for the first
        page); opening the two chart sections draws cumulative TCO, yearly by category and
        the break-even map."""
        assert not chart_specs(app)
        assert [e.label for e in app.expander][:2] == [
            "Charts: cumulative cost and yearly cost by category",
            "Chart: cost per user-month by organisation size",
        ]

        app.session_state["costs_years"] = True
        app.session_state["costs_break_even"] = True
        app.run()

        titles = [spec["layout"]["title"]["text"] for spec in chart_specs(app)]
        assert titles == [
            "Cumulative cost of ownership",
            "Yearly cost by category",
            "Cost per user-month by organisation size",
        ]

    def test_break_even_for_every_pair(self, app):
        """The break-even table has one row per on-prem/cloud pair, as the engine finds them."""
        ev = evaluate(load_scenario(scenario_presets()["default"]))
        (table,) = [t for t in app.table if "Break-even users" in t.value.columns]
        rows = table.value.to_dict(orient="records")
        assert [(r["On-prem"], r["Cloud"]) for r in rows] == [
            (b.onprem, b.cloud) for b in ev.break_even
        ]
        head = views.headline_break_even(ev)
        assert metric(app, "Break-even year") == views.break_even_metric(head.year)
        assert views.break_even_line(ev) in [c.value.replace("\\", "") for c in app.caption]


def test_an_edit_keeps_the_seat_mix(app, open_page):
    """Editing a segmented scenario on the Scenario page (which has no segment fields)
    keeps its segments and shared mailboxes, and the Costs page shows the seats by plan."""
    app.sidebar.selectbox(key=state.PICKER).set_value("seat-mix-600").run()
    open_page(app, "scenario")
    app.number_input(key="f:organization.users").set_value(650).run()

    scenario = state.current(app.session_state)
    preset = load_scenario(scenario_presets()["seat-mix-600"])
    assert scenario.organization.users == 650
    assert scenario.organization.segments == preset.organization.segments
    assert scenario.organization.shared_mailboxes == preset.organization.shared_mailboxes
    open_page(app, "costs")
    assert_clean(app)
    assert any("seats" in h.value.lower() for h in app.subheader)


class TestScalePage:
    def test_metrics_follow_the_sizing(self, app, open_page):
        """Servers, peak and storage metrics are the engine's sizing figures."""
        open_page(app, "scale")
        assert_clean(app)
        ev = evaluate(load_scenario(scenario_presets()["default"]))
        rows = ev.sizing[ev.sizing["option"] == "postfix-dovecot"]
        assert metric(app, "Servers in year 1") == f"{rows['servers'].iloc[0]:,}"
        assert metric(app, "Servers in year 5") == f"{rows['servers'].iloc[-1]:,}"
        assert metric(app, "Storage in year 5") == f"{rows['storage_tb'].iloc[-1]:,.2f} TB"

    def test_says_what_sets_the_server_count(self, app, open_page):
        """The page says, in the engine's sentence, what sets the last year's server count
        of the picked option, and follows the pick."""
        open_page(app, "scale")
        ev = evaluate(load_scenario(scenario_presets()["default"]))
        texts = [m.value for m in app.markdown]
        assert ev.binding_sentence("postfix-dovecot", ev.horizon) in texts
        app.selectbox(key="scale_option").set_value("exchange-se").run()
        assert ev.binding_sentence("exchange-se", ev.horizon) in [m.value for m in app.markdown]

    def test_picked_option_is_charted(self, app, open_page):
        """Picking another on-prem option charts its demand and capacity."""
        open_page(app, "scale")
        app.selectbox(key="scale_option").set_value("exchange-se").run()
        titles = [spec["layout"]["title"]["text"] for spec in chart_specs(app)]
        assert titles == [
            "Demand and capacity: exchange-se",
            "Servers needed (redundancy included)",
        ]

    def test_says_where_the_capacity_came_from(self, app, open_page, upload):
        """A measured capacity is shown as coming from the named benchmark."""
        onprem = {**ONPREM, "capacity_msgs_per_s": 42.0, "capacity_source": "benchmark: run 7"}
        upload(app, "bench.yaml", scenario_yaml(onprem=[onprem]))
        open_page(app, "scale")
        row = app.dataframe[1].value.iloc[0]
        assert (row["From"], row["How"], row["Capacity (msgs/s per server)"]) == (
            "benchmark",
            "benchmark: run 7",
            42.0,
        )

    def test_cloud_only_scenario_says_there_is_nothing_to_size(self, app, open_page, upload):
        """Without on-prem options the page says so instead of charting nothing."""
        upload(app, "flat.yaml", scenario_yaml())
        open_page(app, "scale")
        assert_clean(app)
        assert "no on-prem options" in app.info[0].value


class TestComparePage:
    def test_requirement_rules_options_out(self, app, open_page):
        """Requiring data on premises rules the cloud options out, with the reason."""
        open_page(app, "compare")
        app.multiselect(key="f:qualitative.requirements").set_value(["data_on_premises"]).run()
        assert_clean(app)
        ruled_out = find_table(app, column="Why")
        assert sorted(ruled_out) == ["exchange-2019", "gws-starter", "m365-basic", "m365-standard"]
        assert ruled_out["m365-basic"]["Ruled out by"] == "Data stays on premises"
        open_page(app, "costs")
        assert table_rows(app)["m365-basic"]["Ruled out by"] == "Data stays on premises"

    def test_weight_changes_the_weighted_score(self, app, open_page):
        """A weight of 0 leaves a criterion out of the weighted score, as the engine computes."""
        open_page(app, "compare")
        app.number_input(key="f:qualitative.weights.control").set_value(0.0).run()
        ev = evaluate(state.current(app.session_state))
        matrix = find_table(app, row="Weighted score")
        assert matrix["Weighted score"]["postfix-dovecot"] == (
            f"{ev.assessments['postfix-dovecot'].score:.2f}"
        )
        assert matrix["Control"]["Weight"] == "0"

    def test_score_set_here_replaces_the_catalog_reason(self, app, open_page):
        """A score moved on the slider is recorded in the scenario and marked as such."""
        open_page(app, "compare")
        reason = load_catalog().qualitative.scores["postfix-dovecot"]["control"].reason
        assert f"catalog: {reason}" in [c.value for c in app.caption]
        app.slider(key="f:qualitative.scores.postfix-dovecot.control").set_value(1).run()
        assert state.current(app.session_state).qualitative.scores["postfix-dovecot"] == {
            "control": 1
        }
        assert find_table(app, row="Weighted score")["Control"]["postfix-dovecot"] == "1"
        assert "scenario: set in the scenario" in [c.value for c in app.caption]

    def test_reset_returns_to_the_catalog_scores(self, app, open_page):
        """'Back to the catalog's scores' forgets the option's scores."""
        open_page(app, "compare")
        app.slider(key="f:qualitative.scores.postfix-dovecot.control").set_value(1).run()
        app.button(key="reset_scores").click().run()
        assert "postfix-dovecot" not in state.current(app.session_state).qualitative.scores
        assert app.slider(key="f:qualitative.scores.postfix-dovecot.control").value == 5

    def test_draws_the_radar(self, app, open_page):
        """The radar starts with two options (the cheapest and the best-scored of the other
        kind) and draws those picked, one trace each."""
        open_page(app, "compare")
        ev = evaluate(state.current(app.session_state))
        (spec,) = chart_specs(app)
        assert [t["name"] for t in spec["data"]] == views.radar_default(ev)

        app.multiselect(key="compare_radar").set_value(["exchange-se", "gws-starter"]).run()
        (spec,) = chart_specs(app)
        assert [t["name"] for t in spec["data"]] == ["exchange-se", "gws-starter"]


def test_flat_scenario_fixture_is_what_the_tests_assume():
    """The uploaded test scenario has 100 users over 3 years at 6 USD a user-month."""
    ev = evaluate(parse_scenario(yaml.safe_load(scenario_yaml())))
    assert ev.total("flat") == pytest.approx(100 * 6 * 12 * 3)
