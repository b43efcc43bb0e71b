"""The Risk page under AppTest: its figures are the engine's for the draws, seed and range
width chosen; range edits change them; a scenario without ranges is explained."""

from __future__ import annotations

import re

import pytest

from planner import evaluate, load_scenario, risk, scenario_presets
from planner.dashboard import state
from planner.dashboard.risk_views import MAX_DRAWS
from planner.recommendation import money
from planner.risk.flips import flip_points, flip_sentences
from tests.dashboard.conftest import (
    assert_clean,
    chart_specs,
    edit_range,
    errors,
    metric,
    scenario_yaml,
    table_rows,
)

RANGED = "default-ranges"
DRAWS = 2000  # fewer than the page's 10,000, to keep the tests quick
ADMIN = "onprem.postfix-dovecot.admin_hours_per_month"
HOLDS = "Recommendation holds"


def ranged():
    """The bundled scenario with sourced ranges."""
    return load_scenario(scenario_presets()[RANGED])


def npv_p50(at):
    """Option -> its NPV P50 cell of the percentiles table."""
    return {option: row["NPV P50 (USD)"] for option, row in table_rows(at).items()}


def titles(at):
    """The titles of the page's charts, in order."""
    return [spec["layout"]["title"]["text"] for spec in chart_specs(at)]


@pytest.fixture(name="risk_app")
def _risk_app(app, open_page):
    """The Risk page on the ranged preset, at DRAWS draws."""
    app.sidebar.selectbox(key=state.PICKER).set_value(RANGED).run()
    app.session_state["risk_draws"] = DRAWS
    return open_page(app, "risk")


class TestRangedScenario:
    def test_shows_the_engines_simulation(self, risk_app):
        """Metrics, percentiles and charts are the engine's for these draws and seed 1."""
        sim = risk.simulate(ranged(), draws=DRAWS, seed=1)
        assert_clean(risk_app)
        assert metric(risk_app, HOLDS) == f"{sim.summary.p_cheapest_holds:.0%}"
        assert metric(risk_app, "Cheapest, typical case") == sim.summary.cheapest
        assert npv_p50(risk_app) == {o.id: f"{o.npv.p50:,.0f}" for o in sim.summary.options}
        assert titles(risk_app) == [
            "NPV distribution per option (2,000 draws)",
            "Probability of being the cheapest (2,000 draws)",
            "What moves the NPV gap postfix-dovecot − m365-basic",
            "Break-even year of on-prem against cloud",
        ]

    def test_flips_are_searched_over_the_ranged_inputs(self, risk_app):
        """With ranges, the flip sentences are those of the ranged inputs."""
        ev = evaluate(ranged())
        expected = flip_sentences(ev, flip_points(ev))
        assert "\n".join(f"- {s}" for s in expected) in [m.value for m in risk_app.markdown]

    def test_headline_names_the_top_sensitivities(self, risk_app):
        """The headline sentences are planner.risk.headline's for the cheapest pair."""
        scenario = ranged()
        lines = risk.headline(
            risk.simulate(scenario, draws=DRAWS, seed=1), risk.sensitivity(scenario)
        ).lines
        shown = risk_app.markdown[0].value.replace("\\", "")
        assert shown == "\n".join(f"- {line}" for line in lines)

    def test_draw_count_changes_the_result(self, risk_app):
        """Fewer draws give the engine's figures for that many draws."""
        before = npv_p50(risk_app)
        risk_app.number_input(key="risk_draws").set_value(1000).run()
        sim = risk.simulate(ranged(), draws=1000, seed=1)
        assert npv_p50(risk_app) == {o.id: f"{o.npv.p50:,.0f}" for o in sim.summary.options}
        assert npv_p50(risk_app) != before
        assert titles(risk_app)[0] == "NPV distribution per option (1,000 draws)"

    def test_draw_count_is_bounded(self, risk_app):
        """The draw count input stops at 100,000."""
        assert risk_app.number_input(key="risk_draws").proto.max == MAX_DRAWS == 100_000

    def test_seed_changes_the_draws(self, risk_app):
        """Another seed gives the engine's figures for that seed."""
        risk_app.number_input(key="risk_seed").set_value(7).run()
        sim = risk.simulate(ranged(), draws=DRAWS, seed=7)
        assert npv_p50(risk_app) == {o.id: f"{o.npv.p50:,.0f}" for o in sim.summary.options}

    def test_zero_width_gives_the_typical_case(self, risk_app):
        """Range width 0: every draw is the typical case, so P10 = P90 = the plain NPV."""
        risk_app.slider(key="risk_factor").set_value(0.0).run()
        assert_clean(risk_app)
        ev = evaluate(ranged())
        for option, row in table_rows(risk_app).items():
            assert row["NPV P10 (USD)"] == row["NPV P90 (USD)"] == f"{ev.npv(option):,.0f}"
        assert metric(risk_app, HOLDS) == "100%"

    def test_wider_ranges_spread_the_npv(self, risk_app):
        """Range width 2 gives the engine's figures for the doubled ranges."""
        risk_app.slider(key="risk_factor").set_value(2.0).run()
        wide = risk.simulate(risk.scale_ranges(ranged(), 2.0), draws=DRAWS, seed=1).summary
        assert npv_p50(risk_app) == {o.id: f"{o.npv.p50:,.0f}" for o in wide.options}
        assert metric(risk_app, HOLDS) == f"{wide.p_cheapest_holds:.0%}"

    def test_keep_width_writes_the_ranges_into_the_scenario(self, risk_app):
        """'Keep this width' puts the scaled ranges in use and sets the slider back to 1."""
        risk_app.slider(key="risk_factor").set_value(0.5).run()
        risk_app.button[0].click().run()
        assert risk_app.button[0].label == "Keep this width"
        assert state.current(risk_app.session_state).ranges == (
            risk.scale_ranges(ranged(), 0.5).ranges
        )
        assert risk_app.sidebar.selectbox(key=state.PICKER).value == state.EDITED
        assert risk_app.slider(key="risk_factor").value == 1.0

    def test_pair_can_be_picked(self, risk_app):
        """The tornado compares the on-prem and cloud options picked."""
        risk_app.selectbox(key="risk_onprem").set_value("exchange-se").run()
        risk_app.selectbox(key="risk_cloud").set_value("m365-standard").run()
        assert titles(risk_app)[2] == "What moves the NPV gap exchange-se − m365-standard"
        sens = risk.sensitivity(ranged(), onprem="exchange-se", cloud="m365-standard")
        shown = risk_app.dataframe[0].value
        assert list(shown["Swing (USD)"]) == [f"{r.swing:,.0f}" for r in sens.swings]

    def test_tornado_caption_and_bars_in_words(self, risk_app):
        """The tornado's caption gives the NPV gap in the one money format, and its bars are
        named by the inputs' titles, not their field paths."""
        sens = risk.sensitivity(ranged()).summary
        caption = next(c.value for c in risk_app.caption if c.value.startswith("NPV gap"))
        assert money(sens.base, "USD") in caption
        tornado = chart_specs(risk_app)[2]
        names = [y for trace in tornado["data"] for y in trace["y"]]
        assert names
        assert not [n for n in names if re.search(r"(organization|escalation|onprem|cloud)\.", n)]

    def test_narrowing_one_range_changes_the_result(self, risk_app):
        """A range edited in the editor is put in use and simulated."""
        before = npv_p50(risk_app)
        edit_range(risk_app, "risk", ADMIN, "lognormal", median=16.0, p90=17.0)
        assert_clean(risk_app)
        edited = state.current(risk_app.session_state)
        assert (
            edited.ranges[ADMIN]
            == risk.with_range(
                ranged(), ADMIN, {"dist": "lognormal", "median": 16, "p90": 17}
            ).ranges[ADMIN]
        )
        sim = risk.simulate(edited, draws=DRAWS, seed=1)
        assert npv_p50(risk_app) == {o.id: f"{o.npv.p50:,.0f}" for o in sim.summary.options}
        assert npv_p50(risk_app) != before

    def test_bad_range_is_explained_and_not_applied(self, risk_app):
        """A low above the typical value is refused with the field named; nothing changes."""
        path = "organization.user_growth_per_year"
        edit_range(risk_app, "risk", path, "triangular", low=0.3)
        assert_clean(risk_app)
        assert any(
            f"{path}: needs low <= typical <= high (got 0.3, 0.08, 0.2)" in e
            for e in errors(risk_app)
        ), errors(risk_app)
        assert risk_app.sidebar.selectbox(key=state.PICKER).value == RANGED

    def test_dropping_a_correlated_range_keeps_the_typical_value(self, risk_app):
        """'none' drops a range (and its correlations) and keeps its typical value."""
        path = "organization.messages_sent_per_user_day"
        edit_range(risk_app, "risk", path, "none")
        assert_clean(risk_app)
        edited = state.current(risk_app.session_state)
        assert path not in edited.ranges
        assert edited.organization.messages_sent_per_user_day == 30
        assert all(path not in c[:2] for c in edited.correlations)

    def test_controls_survive_a_visit_to_another_page(self, app, open_page):
        """Draws and seed set on the page are still set after going to Costs and back."""
        app.sidebar.selectbox(key=state.PICKER).set_value(RANGED).run()
        risk_app = open_page(app, "risk")  # session state untouched: the widgets' own values
        risk_app.number_input(key="risk_draws").set_value(1000).run()
        risk_app.number_input(key="risk_seed").set_value(3).run()
        open_page(risk_app, "costs")
        open_page(risk_app, "risk")
        assert risk_app.number_input(key="risk_draws").value == 1000
        assert risk_app.number_input(key="risk_seed").value == 3


class TestWithoutRanges:
    def test_explains_how_to_add_ranges(self, app, open_page):
        """The default scenario (no ranges) gets an explanation, not charts or an error."""
        open_page(app, "risk")
        assert_clean(app)
        assert app.info[0].value.startswith("This scenario has no ranges")
        assert "{low: 0.0, typical: 0.08, high: 0.20}" in app.code[0].value
        assert [b.label for b in app.button[:2]] == [
            "Add the default ranges to this scenario",
            "Switch to the 'default-ranges' scenario",
        ]
        assert not chart_specs(app)

    def test_says_where_the_answer_flips(self, app, open_page):
        """Without ranges the page still says, in the engine's sentences, which input
        values would change the cheapest option, nearest first."""
        open_page(app, "risk")
        ev = evaluate(load_scenario(scenario_presets()["default"]))
        expected = flip_sentences(ev, flip_points(ev))
        shown = [m.value for m in app.markdown if m.value.startswith("- ")]
        assert shown == ["\n".join(f"- {s}" for s in expected)]

    def test_switch_to_the_default_ranges(self, app, open_page):
        """The switch button puts the bundled scenario with sourced ranges in use and the
        page simulates it."""
        app.session_state["risk_draws"] = DRAWS
        open_page(app, "risk")
        app.button[1].click().run()
        assert_clean(app)
        assert app.sidebar.selectbox(key=state.PICKER).value == RANGED
        assert len(chart_specs(app)) == 4

    def test_add_the_default_ranges_keeps_the_scenario(self, app, open_page):
        """The add button keeps the scenario in use (as 'edited', its users unchanged),
        gives its inputs the default ranges centred on its values, says so, and simulates."""
        app.session_state["risk_draws"] = DRAWS
        open_page(app, "scenario")
        app.number_input(key="f:organization.users").set_value(600).run()
        open_page(app, "risk")
        app.button[0].click().run()
        assert_clean(app)
        scenario = state.current(app.session_state)
        assert app.sidebar.selectbox(key=state.PICKER).value == state.EDITED
        assert scenario.organization.users == 600
        assert len(scenario.ranges) >= 20
        assert app.success[0].value.startswith("Added ")
        assert len(chart_specs(app)) == 4

    def test_a_first_range_starts_the_simulation(self, app, open_page):
        """Giving one input a range from this page puts it in use and simulates it."""
        app.session_state["risk_draws"] = DRAWS
        open_page(app, "risk")
        path = "organization.user_growth_per_year"
        edit_range(app, "risk", path, "triangular", low=0.0, high=0.2)
        assert_clean(app)
        assert state.current(app.session_state).ranges[path].describe() == (
            "triangular 0 / 0.08 / 0.2"
        )
        assert metric(app, "Cheapest, typical case") == evaluate(ranged()).cheapest

    def test_cloud_only_scenario_has_no_tornado(self, app, open_page, upload):
        """With no on-prem option the page says why there is no tornado, and draws the rest."""
        price = {"low": 5.0, "typical": 6.0, "high": 8.0}
        cloud = [
            {"id": "flat", "plan": "custom", "price_per_user_month": price},
            {"id": "other", "plan": "custom", "price_per_user_month": 7.0},
        ]
        upload(app, "cloud.yaml", scenario_yaml(cloud=cloud))
        app.session_state["risk_draws"] = DRAWS
        open_page(app, "risk")
        assert_clean(app)
        assert "lacks one of the two kinds" in app.info[0].value
        assert titles(app) == [
            "NPV distribution per option (2,000 draws)",
            "Probability of being the cheapest (2,000 draws)",
        ]
