"""The exceptions mailplan raises on bad input.

::

    PlannerError                 anything the user can fix by changing their input
     ├── ScenarioError           a scenario file that is missing, unreadable or invalid
     ├── CatalogError            a catalog entry that is missing or malformed
     └── BenchmarkError          a benchmark result that cannot be read or applied

Each carries ``problems``: one :class:`Problem` per problem, a field path (where, ``""``
for the input as a whole) and a message phrased for a person, with the input it is in
(``source``: a file name, ``scenario``) when there is one. The text is made only at the
edges: ``str(problem)`` is the line (``organization.users: must be >= 1``) and ``lines``
all of them, so a command line tool can print them one per line and exit with status 2;
the dashboard shows each message beside the field its path names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["BenchmarkError", "CatalogError", "PlannerError", "Problem", "ScenarioError"]


@dataclass(frozen=True)
class Problem:
    """One problem with the user's input: where it is and what is wrong.

    ``path`` is the field's path in the input (``onprem[0].stack``), ``""`` for the input
    as a whole; ``source`` names the input (a file name, ``scenario``) or is ``""``.
    ``str()`` gives the line a person reads: ``source: path: message``, each empty part
    left out.
    """

    path: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.path, self.message) if part)

    @classmethod
    def of(cls, problem: str | Problem) -> Problem:
        """``problem`` as a Problem: a plain string is a message about the whole input."""
        return problem if isinstance(problem, Problem) else cls("", problem)


class PlannerError(Exception):
    """Bad input that the user can fix; ``problems`` holds one :class:`Problem` each.

    Takes one problem or several, each a :class:`Problem` or a plain string (a message
    about the input as a whole, kept as given).
    """

    def __init__(self, problems: str | Problem | Iterable[str | Problem]) -> None:
        items = (problems,) if isinstance(problems, str | Problem) else tuple(problems)
        self.problems: tuple[Problem, ...] = tuple(Problem.of(p) for p in items)
        super().__init__("; ".join(self.lines))

    def __reduce__(self) -> tuple[type[PlannerError], tuple[tuple[Problem, ...]]]:
        return type(self), (self.problems,)  # pickled whole (worker processes)

    @property
    def lines(self) -> tuple[str, ...]:
        """The problems as text, one line each (what the command line prints)."""
        return tuple(str(p) for p in self.problems)


class ScenarioError(PlannerError):
    """A scenario file that is missing, unreadable or invalid."""


class CatalogError(PlannerError):
    """A catalog entry that is missing or malformed."""


class BenchmarkError(PlannerError):
    """A benchmark result that cannot be read or applied."""
