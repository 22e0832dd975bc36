"""``lpscore users``: the console's users (docs/console.md). There is no default user or
password: ``lpscore users add NAME --role admin --data DIR`` creates the first admin."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lpscore.cli_common import exit_on_error
from lpscore.cli_output import console, err
from lpscore.console import DB_NAME, ROLES, ConsoleDB, hash_password
from lpscore.console.db import Role
from lpscore.errors import ConfigError, InputError

__all__ = ["users_app"]

users_app = typer.Typer(help="Users of the console: add, list (docs/console.md).",
                        no_args_is_help=True, add_completion=False)

DataOption = Annotated[Path, typer.Option(
    "--data", help="The data directory the console serves (its DIR/console.sqlite).")]


def _db(data: Path) -> ConsoleDB:
    if not data.is_dir():
        raise InputError(f"--data {data}: no such directory; give the --out directory of "
                         "`lpscore kpis`")
    return ConsoleDB(data / DB_NAME)


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option("--role", help="viewer, calibrator or admin.")],
    data: DataOption,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin "
        "(default: prompt twice, hidden).")] = False,
) -> None:
    """Add a user with a role; the password is read from a prompt or stdin, never an option."""
    with exit_on_error():
        if role not in ROLES:
            raise ConfigError(f"--role {role}: use one of {', '.join(ROLES)}")
        if not name or len(name) > 64 or not all(c.isalnum() or c in "_.@-" for c in name):
            raise ConfigError(f"user name {name!r}: use 1-64 letters, digits, _ . @ -")
        db = _db(data)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        try:
            hashed = hash_password(password)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        role_: Role = role  # narrowed by the check against ROLES above
        try:
            with db.transaction() as tx:
                db.add_user(name, hashed, role_, db=tx)
                db.audit("lpscore users add", "user.add", name, new={"role": role}, db=tx)
        except ValueError as exc:
            raise ConfigError(f"{exc}; pick another name") from exc
        err.print(f"user {name} added as {role} in {db.path}")


@users_app.command("list")
def list_users(data: DataOption) -> None:
    """The users and their roles."""
    with exit_on_error():
        table = Table(title=f"Users of {data}")
        for column in ("name", "role"):
            table.add_column(column)
        for user in _db(data).users():
            table.add_row(user.name, user.role)
        console().print(table)
