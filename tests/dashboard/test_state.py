"""The dashboard session on a plain dict: picking, editing, problems by field path."""

from __future__ import annotations

import pytest

from planner import evaluate
from planner.dashboard import state
from planner.errors import Problem
from tests.conftest import make_scenario

CHECK = state.checker(evaluate)
POSTFIX = {"id": "postfix", "stack": "postfix-dovecot", "server": "smb-1u"}


@pytest.fixture(name="session")
def _session() -> dict:
    """A session with two presets, the first in use."""
    session: dict = {}
    state.init(
        session,
        {"small": make_scenario(name="Small"), "big": make_scenario(organization={"users": 900})},
        first="small",
    )
    return session


class TestLibrary:
    def test_starts_on_the_first_preset(self, session):
        """A new session shows the requested preset and loads it into the form."""
        assert (state.current(session).name, session[state.PICKER]) == ("Small", "small")
        assert state.draft_value(session, ("organization", "users")) == 100

    def test_select_loads_the_scenario_and_forgets_the_form(self, session):
        """Picking another scenario shows it and drops the form widgets' old values."""
        session["f:organization.users"] = 123

        state.select(session, "big")

        assert state.current(session).organization.users == 900
        assert "f:organization.users" not in session

    def test_upload_joins_the_library_and_is_used(self, session):
        """An uploaded scenario gets a label of its own and is put in use."""
        label = state.add_upload(session, "mine.yaml", make_scenario(name="Mine"))

        assert (label, state.current(session).name) == ("upload: mine.yaml", "Mine")
        assert state.choices(session) == ["small", "big", "upload: mine.yaml"]


class TestEdit:
    def test_valid_edit_becomes_the_edited_scenario(self, session):
        """A valid change is applied as 'edited' and put in use."""
        assert state.edit(session, ("organization", "users"), 250, CHECK)

        assert state.current(session).organization.users == 250
        assert (session[state.PICKER], state.problems(session)) == ("edited", {})

    def test_invalid_edit_keeps_the_last_valid_scenario(self, session):
        """A refused change is kept in the draft with its problem; the scenario stays."""
        assert not state.edit(session, ("organization", "users"), 0, CHECK)

        assert state.current(session).organization.users == 100
        assert state.draft_value(session, ("organization", "users")) == 0
        assert state.problems(session) == {
            "organization.users": ["Input should be greater than or equal to 1 (got 0)"]
        }

    def test_catalog_problems_name_the_field(self, session):
        """A problem found when evaluating (unknown catalog id) is filed under its field."""
        state.add_option(session, "onprem", POSTFIX, CHECK)

        state.edit(session, ("onprem", 0, "server"), "no-such-box", CHECK)

        (message,) = state.problems(session)["onprem[0].server"]
        assert message.startswith("unknown server profile 'no-such-box'")

    def test_scenario_wide_problem_has_an_empty_path(self, session):
        """A problem of the scenario as a whole is filed under ''."""
        state.add_option(
            session, "cloud", {"id": "x", "plan": "custom", "price_per_user_month": 1}, CHECK
        )

        state.edit(session, ("cloud", 1, "id"), "flat", CHECK)

        assert state.problems(session)[""] == ["option ids must be unique; repeated: flat"]

    def test_problem_with_a_colon_stays_whole(self, session):
        """A refused value whose message holds ': ' is filed under its field with the whole
        message: the grouping reads each problem's path, it does not split text."""
        state.add_option(session, "onprem", POSTFIX, CHECK)

        state.edit(session, ("onprem", 0, "stack"), "a: b", CHECK)

        (message,) = state.problems(session)["onprem[0].stack"]
        assert message.startswith("unknown stack 'a: b' (known: ")

    def test_evaluation_problem_names_its_field(self, session):
        """A problem found when evaluating (a segment mapped to an unknown plan) is filed
        under its field, not under the scenario as a whole."""
        segment = {"name": "a", "users": 1, "plans": {"flat": "no-such-plan"}}

        assert not state.edit(session, ("organization", "segments"), [segment], CHECK)

        (message,) = state.problems(session)["organization.segments[0].plans.flat"]
        assert message.startswith("unknown plan 'no-such-plan'")

    def test_empty_value_removes_the_key(self, session):
        """Clearing a field removes it from the scenario, so its default applies again."""
        state.edit(session, ("organization", "peak_factor"), 5.0, CHECK)
        state.edit(session, ("organization", "peak_factor"), None, CHECK)

        assert "peak_factor" not in state.current(session).organization.model_fields_set

    def test_renaming_an_option_carries_its_scores(self, session):
        """Scores follow an option to its new id."""
        state.edit(session, ("qualitative", "scores", "flat", "control"), 2, CHECK)

        assert state.edit(session, ("cloud", 0, "id"), "renamed", CHECK)

        assert state.current(session).qualitative.scores == {"renamed": {"control": 2}}

    def test_added_option_gets_an_unused_id(self, session):
        """Adding a plan twice numbers the second id."""
        state.add_option(session, "cloud", {"id": "zoho", "plan": "zoho-mail-lite"}, CHECK)
        state.add_option(session, "cloud", {"id": "zoho", "plan": "zoho-mail-lite"}, CHECK)

        assert state.current(session).option_ids() == ["flat", "zoho", "zoho-2"]

    def test_removed_option_takes_its_scores(self, session):
        """Removing an option also removes its qualitative scores."""
        state.add_option(session, "onprem", POSTFIX, CHECK)
        state.edit(session, ("qualitative", "scores", "postfix", "control"), 2, CHECK)

        assert state.remove_option(session, "onprem", 0, CHECK)

        assert state.current(session).qualitative.scores == {}
        assert state.current(session).option_ids() == ["flat"]

    def test_reset_scores_goes_back_to_the_catalog(self, session):
        """Resetting an option's scores forgets them and their form widgets."""
        state.edit(session, ("qualitative", "scores", "flat", "control"), 2, CHECK)
        session["f:qualitative.scores.flat.control"] = 2

        state.reset_scores(session, "flat", CHECK)

        assert state.current(session).qualitative.scores == {}
        assert "f:qualitative.scores.flat.control" not in session


class TestTodaysSystem:
    @pytest.fixture(name="today")
    def _today(self) -> dict:
        """A session whose scenario runs the on-prem option 'postfix' today."""
        session: dict = {}
        scenario = make_scenario(onprem=[POSTFIX], current="postfix", current_servers_bought=2024)
        state.init(session, {"today": scenario})
        return session

    def test_edit_many_validates_once(self, today):
        """Several keys change together (a cloud current without servers bought), and the
        widgets of the paths not being typed in reload from the draft."""
        today["f:current_servers_bought"] = 2024

        assert state.edit_many(
            today,
            [(("current",), "flat"), (("current_servers_bought",), None)],
            CHECK,
            keep=("current",),
        )

        scenario = state.current(today)
        assert (scenario.current, scenario.current_servers_bought) == ("flat", None)
        assert "f:current_servers_bought" not in today

    def test_renaming_todays_option_carries_current(self, today):
        """Renaming the option that runs today renames ``current`` with it."""
        assert state.edit(today, ("onprem", 0, "id"), "mail1", CHECK)

        assert state.current(today).current == "mail1"

    def test_removing_todays_option_makes_a_new_installation(self, today):
        """Removing the option that runs today drops ``current`` and its servers' year."""
        assert state.remove_option(today, "onprem", 0, CHECK)

        scenario = state.current(today)
        assert (scenario.current, scenario.current_servers_bought) == (None, None)


class TestGroupProblems:
    def test_by_path_in_order(self):
        """Messages are grouped by each problem's path, in the order found; the whole
        scenario's are under '' and the source (the document's name) is not a field."""
        found = [
            Problem("onprem[0].stack", "unknown stack 'x' (known: a, b)", "scenario"),
            Problem("", "option ids must be unique; repeated: flat", "scenario"),
            Problem("onprem[0].stack", "second: with a colon"),
        ]

        assert state.group_problems(found) == {
            "onprem[0].stack": ["unknown stack 'x' (known: a, b)", "second: with a colon"],
            "": ["option ids must be unique; repeated: flat"],
        }

    def test_nothing_found(self):
        """No problems, no groups."""
        assert state.group_problems([]) == {}
