"""planner.errors: problems carried as (path, message) pairs, made text only at the edges."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml

from planner.cli import EXIT_USAGE, run
from planner.errors import BenchmarkError, CatalogError, PlannerError, Problem, ScenarioError


class TestProblem:
    @pytest.mark.parametrize(
        ("problem", "line"),
        [
            (Problem("onprem[0].stack", "unknown stack 'x'"), "onprem[0].stack: unknown stack 'x'"),
            (Problem("", "give at least one option"), "give at least one option"),
            (Problem("organization.users", "required", "s.yaml"), "s.yaml: organization.users: required"),
            (Problem("", "no such file", "s.yaml"), "s.yaml: no such file"),
        ],
        ids=["field", "top-level", "field-in-file", "top-level-in-file"],
    )  # fmt: skip
    def test_line(self, problem: Problem, line: str) -> None:
        """str() is the line a person reads: source, path and message, empty parts left out."""
        assert str(problem) == line

    def test_fields(self) -> None:
        """The path and the message stay apart, even when the message holds ': '."""
        problem = Problem("cloud[1].plan", "unknown plan 'a: b'", "scenario")

        assert (problem.path, problem.message, problem.source) == (
            "cloud[1].plan",
            "unknown plan 'a: b'",
            "scenario",
        )

    def test_frozen(self) -> None:
        """A Problem cannot be changed after it is made (it is shared by error and views)."""
        problem = Problem("a", "b")
        with pytest.raises(AttributeError):
            problem.path = "c"  # type: ignore[misc]

    def test_of_a_string_is_top_level(self) -> None:
        """A plain string is a message about the input as a whole, kept as given."""
        assert Problem.of("factor: must be >= 0") == Problem("", "factor: must be >= 0")
        assert Problem.of(Problem("x", "y")) == Problem("x", "y")


class TestPlannerError:
    @pytest.mark.parametrize("cls", [ScenarioError, CatalogError, BenchmarkError])
    def test_accepts_strings_and_problems(self, cls: type[PlannerError]) -> None:
        """One string, one Problem, or a mix of both: each becomes a Problem."""
        one = cls("no such file")
        mixed = cls([Problem("organization.users", "required"), "top-level text"])

        assert one.problems == (Problem("", "no such file"),)
        assert mixed.problems == (
            Problem("organization.users", "required"),
            Problem("", "top-level text"),
        )
        assert mixed.lines == ("organization.users: required", "top-level text")
        assert str(mixed) == "organization.users: required; top-level text"

    def test_pickled_whole(self) -> None:
        """Pickling keeps every problem with its path (a worker process raising one)."""
        error = ScenarioError([Problem("a.b", "bad", "s.yaml"), Problem("", "also bad")])

        copy = pickle.loads(pickle.dumps(error))

        assert type(copy) is ScenarioError
        assert copy.problems == error.problems


class TestCommandLine:
    def test_exit_2_lines(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``mailplan validate`` prints each problem of a real file as one line, exit 2."""
        path = tmp_path / "s.yaml"
        scenario = {
            "name": "t",
            "organization": {"users": 0},
            "onprem": [{"id": "x", "stack": "no-such-stack", "server": "smb-1u"}],
        }
        path.write_text(yaml.safe_dump(scenario))

        status = run(["validate", str(path)])

        assert status == EXIT_USAGE == 2
        assert capsys.readouterr().err.splitlines() == [
            f"mailplan: {path}: organization.users: "
            "Input should be greater than or equal to 1 (got 0)"
        ]
