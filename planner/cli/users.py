"""``mailplan user add|list|del``: manage the reference server's local users."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from planner.cli.app import app
from planner.errors import PlannerError

user_app = typer.Typer(
    name="user",
    help="Manage the reference mail server's local users (DATA_DIR/users).",
    no_args_is_help=True,
)
app.add_typer(user_app)

DataDirOpt = Annotated[
    Path,
    typer.Option("--data-dir", metavar="DIR", help="The server's data folder.", show_default=False),
]


@user_app.command("add")
def add(
    address: Annotated[str, typer.Argument(help="Full address, e.g. alice@example.test.")],
    data_dir: DataDirOpt,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user (or set a new password); the password is stored as an scrypt hash."""
    from planner.mailserver.users import UserDB, UserError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {address}: ")
    try:
        addr = UserDB(data_dir / "users").add(address, password)
    except UserError as exc:
        raise PlannerError(str(exc)) from None
    print(f"added {addr}")


@user_app.command("list")
def list_users(data_dir: DataDirOpt) -> None:
    """List the users, one address per line."""
    from planner.mailserver.users import UserDB, UserError

    try:
        for addr in UserDB(data_dir / "users").addresses():
            print(addr)
    except UserError as exc:
        raise PlannerError(str(exc)) from None


@user_app.command("del")
def delete(
    address: Annotated[str, typer.Argument(help="Full address.")], data_dir: DataDirOpt
) -> None:
    """Delete a user (their mailbox stays on disk)."""
    from planner.mailserver.users import UserDB

    if not UserDB(data_dir / "users").delete(address):
        raise PlannerError(f"user del: no such user: {address}")
    print(f"deleted {address.strip().lower()}")
