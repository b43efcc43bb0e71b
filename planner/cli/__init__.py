"""The ``mailplan`` command line: thin commands that parse, call the planner API and print.

Every command module registers itself on :data:`planner.cli.app.app`. Errors the user can
fix (bad files, bad flags) print one line each as ``mailplan: ...`` and exit with status 2;
nothing prints a traceback for bad input. Anything else that goes wrong is a bug: one line
``mailplan COMMAND: internal error: ...`` and exit status 70 (``EX_SOFTWARE``); the global
``--debug`` option prints its traceback too.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from importlib import import_module

import typer

# Typer vendors its own copy of click; its exceptions are not the ``click`` package's.
from typer._click import exceptions as click_exc

from planner.cli.app import RunState, app
from planner.errors import PlannerError

__all__ = ["COMMAND_MODULES", "app", "load_commands", "main", "run"]

COMMAND_MODULES = {
    "validate": "plan",
    "compare": "plan",
    "size": "plan",
    "catalog": "plan",
    "schema": "plan",
    "simulate": "risk",
    "sensitivity": "risk",
    "report": "report",
    "serve": "serve",
    "queue": "serve",
    "user": "users",
    "dkim": "dkim",
    "dns-records": "dkim",
    "bench": "bench",
}
"""The module under ``planner.cli`` that registers each top-level command on :data:`app`
when imported. ``mailplan serve`` imports only ``planner.cli.serve``, not pandas and the
planning engine the other commands need: about a second less per start. A test checks
this table against what the modules register."""


def load_commands(args: Sequence[str] = ()) -> None:
    """Register the command that ``args`` names (its first word that is not an option), or
    every command when it names none that is known (``--help``, a typo)."""
    name = next((a for a in args if not a.startswith("-")), "")
    module = COMMAND_MODULES.get(name)
    for m in [module] if module else sorted(set(COMMAND_MODULES.values())):
        import_module(f"planner.cli.{m}")


EXIT_USAGE = 2
EXIT_SOFTWARE = 70  # sysexits.h EX_SOFTWARE: an internal error
EXIT_INTERRUPTED = 130
MAX_LINE = 1000
"""Longest problem line printed: one line per problem, whatever a message holds."""


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(lines: Sequence[str], prefix: str = "mailplan") -> None:
    for line in lines:
        typer.echo(f"{prefix}: {_one_line(line, MAX_LINE)}", err=True)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status instead of exiting."""
    args = list(sys.argv[1:] if argv is None else argv)
    state = RunState()
    try:
        load_commands(args)
        rv = app(args=args, prog_name="mailplan", standalone_mode=False, obj=state)
    except click_exc.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return EXIT_USAGE
    except click_exc.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "mailplan"
        hint = f" (see '{where} --help')"
        _fail([exc.format_message().replace("\n", " ") + hint], prefix=where)
        return EXIT_USAGE
    except click_exc.ClickException as exc:
        _fail([exc.format_message()])
        return exc.exit_code
    except PlannerError as exc:
        _fail(exc.lines)
        return EXIT_USAGE
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("mailplan: interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, not a traceback, unless --debug
        return _internal_error(exc, args, debug=state.debug)
    return rv if isinstance(rv, int) else 0


def _command_path(args: Sequence[str]) -> str:
    """``mailplan bench smtp``: the command names at the start of ``args``, options skipped."""
    names = ["mailplan"]
    command: object = typer.main.get_command(app)
    for arg in args:
        if arg.startswith("-"):
            continue
        commands = getattr(command, "commands", None)
        if not isinstance(commands, dict) or arg not in commands:
            break
        names.append(arg)
        command = commands[arg]
    return " ".join(names)


def _describe(exc: BaseException) -> str:
    """``ValueError: its message``, on one line and at most 200 characters."""
    core = sys.modules.get("pydantic_core")
    if core is not None and isinstance(exc, core.ValidationError):
        # Its str() has a repr of every input, which may be any size.
        text = f"{exc.error_count()} validation errors for {exc.title}"
    else:
        try:
            text = str(exc)
        except Exception:  # a broken __str__ must not hide the error
            text = ""
    text = _one_line(" ".join(text.split()), 200)  # and runs of blanks folded
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _internal_error(exc: Exception, args: Sequence[str], *, debug: bool) -> int:
    """Report a bug in one line (after its traceback with ``--debug``); EX_SOFTWARE."""
    command = _command_path(args)
    if debug:
        traceback.print_exception(exc)
        hint = ""
    else:
        rerun = " ".join(["mailplan", "--debug", *command.split()[1:], "..."])
        hint = f" (run '{rerun}' to see the traceback)"
    typer.echo(f"{command}: internal error: {_describe(exc)}{hint}", err=True)
    return EXIT_SOFTWARE


def main() -> None:
    """Console-script entry point (``mailplan``)."""
    sys.exit(run())
