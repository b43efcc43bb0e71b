"""The ``mailplan`` command line: thin commands that parse, call the planner API and print.

Every command module registers itself on :data:`planner.cli.app.app`. Errors the user can
fix (bad files, bad flags) print one line each as ``mailplan: ...`` and exit with status 2;
nothing prints a traceback for bad input.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

# Typer vendors its own copy of click; its exceptions are not the ``click`` package's.
from typer._click import exceptions as click_exc

# Each command module registers its commands on the app when imported.
from planner.cli import bench, plan, report, risk, serve, users  # noqa: F401
from planner.cli.app import app
from planner.errors import PlannerError

__all__ = ["app", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _fail(lines: Sequence[str], prefix: str = "mailplan") -> None:
    for line in lines:
        typer.echo(f"{prefix}: {line}", err=True)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status instead of exiting."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = app(args=args, prog_name="mailplan", standalone_mode=False)
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
        _fail(exc.problems)
        return EXIT_USAGE
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("mailplan: interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    return rv if isinstance(rv, int) else 0


def main() -> None:
    """Console-script entry point (``mailplan``)."""
    sys.exit(run())
