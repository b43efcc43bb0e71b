"""Ranged fields in the Scenario form: shown as their range, edited in place or given from
the form's range section, and carried through a download and an upload."""

from __future__ import annotations

import pytest

from planner import load_scenario, scenario_presets
from planner.dashboard import cached, state
from planner.ranges import Triangular
from tests.dashboard.conftest import assert_clean, edit_range

RANGED = "default-ranges"
PRICE = "onprem.postfix-dovecot.server_price"


def preset_price() -> Triangular:
    """The ranged preset's server price range (the tests edit it, whatever its figures)."""
    dist = load_scenario(scenario_presets()[RANGED]).ranges[PRICE]
    assert isinstance(dist, Triangular)
    return dist


def raised(dist: Triangular) -> Triangular:
    """``dist`` with its high end 1000 higher."""
    return Triangular(low=dist.low, typical=dist.typical, high=dist.high + 1000)


@pytest.fixture(name="form")
def _form(app, open_page):
    """The Scenario page on the ranged preset."""
    app.sidebar.selectbox(key=state.PICKER).set_value(RANGED).run()
    return open_page(app, "scenario")


def captions(at):
    """Every caption on the page."""
    return [c.value for c in at.caption]


class TestRangedField:
    def test_shows_its_range_instead_of_a_number(self, form):
        """A ranged field shows its range and has no number input."""
        assert_clean(form)
        assert preset_price().describe() in captions(form)
        assert "f:onprem[0].server_price" not in [n.key for n in form.number_input]

    def test_range_is_edited_in_place(self, form):
        """The field's 'Edit range' popover changes its range; the form shows the new one."""
        form.session_state["pop:onprem[0].server_price"] = True  # the popover is open
        form.run()
        wanted = raised(preset_price())
        edit_range(form, "form", PRICE, "triangular", high=wanted.high)
        assert_clean(form)
        assert state.current(form.session_state).ranges[PRICE].describe() == wanted.describe()
        assert wanted.describe() in captions(form)
        assert form.sidebar.selectbox(key=state.PICKER).value == state.EDITED

    def test_form_of_a_range_can_change(self, form):
        """A triangular range becomes a uniform one over the same low and high."""
        edit_range(form, "scenario", PRICE, "uniform")
        dist = preset_price()
        assert state.current(form.session_state).ranges[PRICE].describe() == (
            f"uniform {dist.low:g} to {dist.high:g}"
        )

    def test_range_edits_wait_while_the_form_has_problems(self, form):
        """While a field holds a refused value, the range editor applies nothing."""
        form.number_input(key="f:organization.users").set_value(0).run()
        form.selectbox(key="scenario:input").set_value(PRICE).run()
        assert form.button(key=f"scenario:apply:{PRICE}").disabled
        assert "fix them to edit ranges" in " ".join(captions(form))


class TestNumberToRange:
    def test_number_becomes_a_range_and_back(self, app, open_page):
        """A plain field gets a range from the form's range section, then loses it again."""
        open_page(app, "scenario")
        path = "organization.users"
        edit_range(app, "scenario", path, "triangular", low=200.0, high=400.0)
        assert_clean(app)
        assert state.current(app.session_state).ranges[path].describe() == (
            "triangular 200 / 250 / 400"
        )
        assert "triangular 200 / 250 / 400" in captions(app)

        edit_range(app, "scenario", path, "none")
        back = state.current(app.session_state)
        assert (back.ranges, back.organization.users) == ({}, 250)
        assert app.number_input(key="f:organization.users").value == 250

    def test_catalog_field_starts_from_the_catalog_value(self, app, open_page):
        """A field left to the catalog starts its range at the catalog's number."""
        open_page(app, "scenario")
        edit_range(app, "scenario", PRICE, "triangular", high=7000.0)
        ev = cached.evaluation(load_scenario(scenario_presets()["default"]))
        catalog_price = ev.resolved.onprem[0].server_price
        assert state.current(app.session_state).ranges[PRICE].describe() == (
            f"triangular {catalog_price:g} / {catalog_price:g} / 7000"
        )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_download_and_upload_keep_ranges_and_correlations(form, upload, fmt):
    """The scenario file offered for download, uploaded again, has the same ranges and
    correlations (one of them edited in the form)."""
    wanted = raised(preset_price())
    edit_range(form, "scenario", PRICE, "triangular", high=wanted.high)
    edited = state.current(form.session_state)
    text = cached.scenario_text(edited, fmt)

    upload(form, f"again.{fmt}", text.encode())

    assert_clean(form)
    again = state.current(form.session_state)
    assert form.sidebar.selectbox(key=state.PICKER).value == f"upload: again.{fmt}"
    assert again.ranges == edited.ranges
    assert again.ranges[PRICE].describe() == wanted.describe()
    assert again.correlations == edited.correlations
    assert len(again.correlations) == len(load_scenario(scenario_presets()[RANGED]).correlations)
    assert again.correlations
