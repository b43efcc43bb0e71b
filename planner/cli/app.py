"""The root ``mailplan`` Typer application that every command module registers on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

__all__ = ["RunState", "app"]


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
