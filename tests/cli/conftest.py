"""The ``cli`` fixture: run ``mailplan ARGS`` in this process.

Each command keeps at least one test that starts the real program in a subprocess (exit
status, streams, no traceback); the other tests of its output call
:func:`planner.cli.run`, the function the ``mailplan`` entry point exits with, which
saves a Python start and the package's imports (about a second of CPU) per call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from planner.cli import run


@dataclass(frozen=True)
class Ran:
    """A finished in-process ``mailplan`` run, shaped like ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """``cli(*args)`` runs ``mailplan ARGS`` in this process and returns its exit status and
    what it printed."""

    def run_here(*args: str | Path) -> Ran:
        capsys.readouterr()
        status = run([str(a) for a in args])
        out, err = capsys.readouterr()
        return Ran(status, out, err)

    return run_here
