"""``luchtwacht verify RECORDING``: whether every record is as the node wrote and signed it.

Checks each chained table row by row and every signed commit record
(:func:`luchtwacht.store.recorder.verify_recording`). With ``--public-key FILE`` or ``--site
SITE.yaml`` (the public half of its ``store.signing_key``) the commits must be signed by that
key; without, only by the key the recording carries, which someone rebuilding the whole file
could replace: the output says which check was made. Exit 0 intact; 1 with the first problem
located (table, seq, time), or a run cut off without its closing record; 2 for file errors.
``--dsn DSN --run ID`` checks a run in a PostgreSQL store instead, with the same verifier
(:func:`luchtwacht.store.postgres.verify_postgres`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, NoReturn

import typer


def _fail(what: str, code: int) -> NoReturn:
    typer.echo(f"error: {what}", err=True)
    raise typer.Exit(code)


def _trusted_key(public_key: Path | None, site: Path | None) -> bytes | None:
    """The trusted public key PEM from ``--public-key`` or the site's signing key, or None."""
    from luchtwacht.store.chain import SigningKeyError, load_public_key

    if public_key is not None and site is not None:
        _fail("--public-key and --site: give one of them", 2)
    path = public_key
    if site is not None:
        from luchtwacht.site import SiteConfigError, load_site

        try:
            cfg = load_site(site)
        except (SiteConfigError, OSError) as exc:
            _fail(str(exc), 2)
        if cfg.store.signing_key is None:
            _fail(f"{site}: store.signing_key is not set: no key to check against", 2)
        path = cfg.store.signing_key
    if path is None:
        return None
    try:
        return load_public_key(path)
    except SigningKeyError as exc:
        _fail(str(exc), 2)


def verify(
    recording: Annotated[
        Path | None,
        typer.Argument(
            help="SQLite recording made with --record (or --dsn and --run).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key", help="The node's public key (PEM) the commits must be signed with."
        ),
    ] = None,
    site: Annotated[
        Path | None,
        typer.Option("--site", help="Check against the public half of this site's signing key."),
    ] = None,
    dsn: Annotated[
        str | None,
        typer.Option("--dsn", help="A PostgreSQL store (libpq connection string; --run's)."),
    ] = None,
    run: Annotated[
        int | None, typer.Option("--run", help="The run to check in the --dsn store.", min=1)
    ] = None,
) -> None:
    """Check every chained record and signed commit of a recording; exit 1 if it was altered."""
    from luchtwacht.store.chain import fingerprint
    from luchtwacht.store.recorder import NotChainedError, verify_recording

    if (dsn is None) != (run is None) or (dsn is None) == (recording is None):
        _fail("give a RECORDING, or --dsn with --run (a run in a PostgreSQL store)", 2)
    trusted = _trusted_key(public_key, site)
    if dsn is not None and run is not None:
        from luchtwacht.store.postgres import PostgresStoreError, redact_dsn, verify_postgres

        name = f"postgresql run {run} [{redact_dsn(dsn)}]"  # never the password
        try:
            report = verify_postgres(dsn, run, trusted)
        except PostgresStoreError as exc:
            _fail(str(exc), 2)
    else:
        assert recording is not None
        name = str(recording)
        try:
            report = verify_recording(recording, trusted)
        except NotChainedError as exc:
            _fail(str(exc), 1)
        except sqlite3.DatabaseError as exc:  # empty, not SQLite, or SQLite without the tables
            _fail(f"{recording}: not a Luchtwacht recording ({exc})", 2)
    if report.problem is not None:
        _fail(f"{name}: {report.problem.describe()}", 1)
    rows = ", ".join(f"{t} {n}" for t, n in report.rows.items())
    keys = ", ".join(report.fingerprints)
    checked = (
        f"checked against the trusted key {fingerprint(trusted)}"
        if trusted is not None
        else "checked only against the recording's own key (give --public-key or --site)"
    )
    typer.echo(f"{name}: intact: every record chained and every commit signed")
    typer.echo(f"  records: {rows}")
    typer.echo(f"  commits: {report.commits}, the last a closing record")
    typer.echo(f"  key: {keys}, {checked}")
