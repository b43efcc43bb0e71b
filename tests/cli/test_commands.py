"""Which module registers each command: ``mailplan serve`` loads only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys

import typer

from planner.cli import COMMAND_MODULES, app, load_commands

# In a fresh interpreter, import the command modules one by one and print the top-level
# command names each one added to the app.
_REGISTERS = """
import json, sys, typer
from importlib import import_module
from planner.cli.app import app

def names():
    try:
        return set(typer.main.get_command(app).commands)
    except RuntimeError:  # no command registered yet
        return set()

seen, out = set(), {}
for module in sys.argv[1:]:
    import_module(f"planner.cli.{module}")
    now = names()
    out[module] = sorted(now - seen)
    seen = now
print(json.dumps(out))
"""


def test_the_table_names_every_command_once() -> None:
    """Every command the modules register is in COMMAND_MODULES, and nothing else."""
    load_commands()
    assert set(typer.main.get_command(app).commands) == set(COMMAND_MODULES)  # type: ignore[attr-defined]


def test_each_module_registers_the_commands_the_table_gives_it() -> None:
    """Imported on its own, each module adds exactly the commands the table maps to it."""
    modules = sorted(set(COMMAND_MODULES.values()))
    done = subprocess.run(
        [sys.executable, "-c", _REGISTERS, *modules],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    registered = json.loads(done.stdout)
    for module in modules:
        expected = sorted(k for k, v in COMMAND_MODULES.items() if v == module)
        assert registered[module] == expected, module


def test_serve_does_not_load_the_planning_engine() -> None:
    """``mailplan serve --help`` runs without importing pandas or the cost model."""
    code = (
        "import sys\nfrom planner.cli import run\nrc = run(['serve', '--help'])\n"
        "print(rc, 'pandas' in sys.modules, 'planner.evaluation' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split()[-3:] == ["0", "False", "False"]
