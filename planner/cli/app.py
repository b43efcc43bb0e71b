"""The root ``mailplan`` Typer application that every command module registers on, and
:func:`require_extra`, the one check that an optional part of mailplan is installed."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated

import typer

# Typer vendors its own copy of click (see planner.cli); its context is the one running.
from typer._click.globals import get_current_context

__all__ = ["EXIT_MISSING_EXTRA", "RunState", "app", "require_extra"]

EXIT_MISSING_EXTRA = 2
"""Exit status of a command whose optional dependencies are not installed (a usage error:
the user can fix it)."""


@dataclass
class RunState:
    """What the global options asked for, handed to the app as ``obj`` by ``planner.cli.run``."""

    debug: bool = False


def _global_options(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an internal error (a bug), print its traceback as well as the one line.",
        ),
    ] = False,
) -> None:
    if isinstance(ctx.obj, RunState):
        ctx.obj.debug = debug


app = typer.Typer(
    name="mailplan",
    help="Decide between running your own mail server and buying cloud mail, and size it.",
    callback=_global_options,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def require_extra(extra: str, *modules: str) -> None:
    """Stop the running command unless every module of the ``extra`` imports.

    Call it first thing in a command that needs an optional part of mailplan (``server``,
    ``bench``, ``risk``, ``dashboard``). A missing module prints one line naming the
    command and the install command, ``mailplan serve: needs the server extra: pip
    install 'mailplan[server]'``, on standard error, and exits with status 2. The modules
    are imported (not only looked up), so an install that is present but broken counts as
    missing too; the commands import them anyway.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            ctx = get_current_context(silent=True)
            command = ctx.command_path if ctx is not None else "mailplan"
            typer.echo(
                f"{command}: needs the {extra} extra: pip install 'mailplan[{extra}]'", err=True
            )
            raise typer.Exit(EXIT_MISSING_EXTRA) from None
