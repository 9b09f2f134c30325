"""``luchtwacht operators``: keep the operator accounts file a live node authenticates against.

``add FILE USER --role ROLE`` adds an account (the password is asked for twice, or read from
standard input with ``--password-stdin``, checked against a minimum policy — 12 characters, 15
for a commander or admin, not a common or consecutive one, not the user name — and only its
argon2id hash is written); ``list FILE``
shows who may do what, and which hashes are due for rehash; ``rehash FILE USER`` replaces a
former-scheme or weaker hash once given the user's password; ``disable FILE USER`` locks an
account without deleting its record; ``remove FILE USER`` deletes it. The file is rewritten
atomically with owner-only permissions (``counter.authority.save_accounts``). Who may approve an
engagement is decided here: only the ``commander`` role carries ``approve_engagement``.
"""

from __future__ import annotations

import dataclasses
import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from luchtwacht.config_file import output_problem
from luchtwacht.counter.authority import (
    ROLES,
    AccountsFileError,
    OperatorAccount,
    hash_password,
    load_accounts,
    needs_rehash,
    password_problem,
    rehash_account,
    save_accounts,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Operator accounts (who may log in, and what their role allows).",
)

FileArg = Annotated[Path, typer.Argument(help="The accounts file (YAML).")]
UserArg = Annotated[str, typer.Argument(help="The operator's user name.")]


def _load(path: Path, must_exist: bool = True) -> list[OperatorAccount]:
    if not path.exists():
        if must_exist:
            typer.echo(f"error: {path}: no such accounts file", err=True)
            raise typer.Exit(2)
        return []
    if path.is_dir():
        typer.echo(f"error: {path}: is a folder, not an accounts file", err=True)
        raise typer.Exit(2)
    try:
        return load_accounts(path)
    except (AccountsFileError, ValueError, OSError) as exc:
        text = str(exc)  # the loader's errors start with the path; others get it here
        typer.echo(f"error: {text if text.startswith(str(path)) else f'{path}: {text}'}", err=True)
        raise typer.Exit(2) from None


def _password(from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        # getpass would fall back to echoing the password, with a GetPassWarning traceback line
        typer.echo("error: no terminal to ask for the password: give --password-stdin", err=True)
        raise typer.Exit(2)
    first = getpass.getpass("Password: ")
    if not confirm:
        return first
    if getpass.getpass("Again: ") != first:
        typer.echo("error: the passwords differ", err=True)
        raise typer.Exit(2)
    return first


@app.command("add")
def add(
    path: FileArg,
    username: UserArg,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "operator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add an account (the file is created if it does not exist)."""
    if role not in ROLES:
        typer.echo(f"error: unknown role {role!r}: one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)
    if (problem := output_problem(path)) is not None:  # before the password is asked for
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    accounts = _load(path, must_exist=False)
    if any(a.username == username for a in accounts):
        typer.echo(f"error: {path}: {username!r} already has an account", err=True)
        raise typer.Exit(2)
    password = _password(password_stdin)
    if (weak := password_problem(password, username, role)) is not None:
        typer.echo(f"error: {weak}", err=True)
        raise typer.Exit(2)
    try:
        account = OperatorAccount(username, role, hash_password(password))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    save_accounts(path, [*accounts, account])
    typer.echo(f"{path}: added {username} ({role})")


@app.command("list")
def list_(path: FileArg) -> None:
    """Show each account, its role, whether it is disabled or due for rehash, what it allows."""
    for a in _load(path):
        allowed = ", ".join(sorted(p.value for p in ROLES[a.role]))
        state = (" [disabled]" if a.disabled else "") + (
            " [rehash due]" if needs_rehash(a.password_hash) else ""
        )
        typer.echo(f"{a.username}\t{a.role}{state}\t{allowed}")


@app.command("rehash")
def rehash(
    path: FileArg,
    username: UserArg,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Replace a former-scheme or weaker password hash; the user's password is needed."""
    _load(path)
    try:
        reason = rehash_account(path, username, _password(password_stdin, confirm=False))
    except (AccountsFileError, ValueError, OSError) as exc:
        typer.echo(f"error: {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    if reason is None:
        typer.echo(f"{path}: {username}'s password hash is current")
    else:
        typer.echo(f"{path}: rehashed {username} ({reason})")


@app.command("disable")
def disable(path: FileArg, username: UserArg) -> None:
    """Lock an account: it can no longer log in, and its record stays."""
    accounts = _load(path)
    if not any(a.username == username for a in accounts):
        typer.echo(f"error: {path}: no account {username!r}", err=True)
        raise typer.Exit(2)
    save_accounts(
        path,
        [dataclasses.replace(a, disabled=True) if a.username == username else a for a in accounts],
    )
    typer.echo(f"{path}: disabled {username}")


@app.command("remove")
def remove(path: FileArg, username: UserArg) -> None:
    """Delete an account."""
    accounts = _load(path)
    kept = [a for a in accounts if a.username != username]
    if len(kept) == len(accounts):
        typer.echo(f"error: {path}: no account {username!r}", err=True)
        raise typer.Exit(2)
    save_accounts(path, kept)
    typer.echo(f"{path}: removed {username}")
