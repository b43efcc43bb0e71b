"""The exceptions mailplan raises on bad input.

::

    PlannerError                 anything the user can fix by changing their input
     ├── ScenarioError           a scenario file that is missing, unreadable or invalid
     ├── CatalogError            a catalog entry that is missing or malformed
     └── BenchmarkError          a benchmark result that cannot be read or applied

Each carries ``problems``: one line per problem, already phrased for a person
(``organization.users: must be >= 1``), so a command line tool can print them
one per line and exit with status 2.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BenchmarkError", "CatalogError", "PlannerError", "ScenarioError"]


class PlannerError(Exception):
    """Bad input that the user can fix; ``problems`` holds one line per problem."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("; ".join(self.problems))


class ScenarioError(PlannerError):
    """A scenario file that is missing, unreadable or invalid."""


class CatalogError(PlannerError):
    """A catalog entry that is missing or malformed."""


class BenchmarkError(PlannerError):
    """A benchmark result that cannot be read or applied."""
