"""``luchtwacht evidence``: signed evidence packages out of a recording, and their check.

``export RECORDING --from T --to T [--track ID] [--zone NAME] --out DIR --key KEY.pem`` writes
the window's raw bytes, detections, tracks, alerts, rejections and decisions, a map and a
README into the new folder DIR, with a manifest of every file's SHA-256 signed by the node's
Ed25519 key (:mod:`luchtwacht.evidence.export`). ``verify DIR [--public-key FILE]`` checks the
signature and every file on any machine (:mod:`luchtwacht.evidence.manifest`): exit 0 intact,
1 the first problem found (file changed, missing or extra; not signed by this key), 2 usage or
file errors. ``export`` writes the package even when the recording's own chain does not verify
(the package says so) and then exits 1. ``T`` is ISO 8601 (no zone: UTC) or seconds since the
run's start.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer


class _Signed(Protocol):
    """A written package or report: its manifest says how the recording's chain stood."""

    @property
    def manifest(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=_Signed)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Signed evidence packages: export a window of a recording; verify a package.",
)

FromOpt = Annotated[
    str | None, typer.Option("--from", help="Start: ISO 8601 UTC or seconds since the run's start.")
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="End: ISO 8601 UTC or seconds since the run's start.")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def write_signed(
    recording: Path, out: Path, key: Path, make: Callable[[Any], T]
) -> tuple[T, str | None]:
    """Write a signed package or report into ``out`` with ``make(signing key)``.

    The one way ``evidence export`` and ``report clear-sky`` check their output folder, load
    the key and turn errors into one ``error:`` line (exit 2). Returns what ``make`` returned
    and the recording's chain problem (None when it verified), after printing the chain's
    warnings.
    """
    import sqlite3

    from luchtwacht.evidence import EvidenceError
    from luchtwacht.evidence.chainstate import chain_problem, chain_warnings
    from luchtwacht.evidence.keys import load_private_key
    from luchtwacht.evidence.manifest import output_folder_problem

    problem = output_folder_problem(out)
    if problem is not None:
        raise _fail(problem)
    try:
        result = make(load_private_key(key))
    except EvidenceError as exc:
        raise _fail(str(exc)) from None
    except sqlite3.Error as exc:
        raise _fail(f"{recording}: not a readable recording ({exc})") from None
    except OSError as exc:
        raise _fail(f"{exc.filename or out}: cannot write ({exc.strerror or exc})") from None
    chain = result.manifest["recording_chain"]
    for line in chain_warnings(chain):
        typer.echo(line, err=True)
    return result, chain_problem(chain)


@app.command("export")
def export(
    recording: Annotated[Path, typer.Argument(help="A Luchtwacht recording (.sqlite).")],
    out: Annotated[Path, typer.Option("--out", help="New (or empty) folder for the package.")],
    key: Annotated[
        Path, typer.Option("--key", help="The node's Ed25519 private key (PEM) to sign with.")
    ],
    t_from: FromOpt = None,
    t_to: ToOpt = None,
    track: Annotated[
        int | None, typer.Option("--track", help="Only this track's snapshots, alerts, decisions.")
    ] = None,
    zone: Annotated[
        str | None, typer.Option("--zone", help="Only tracks inside this zone, alerts on it.")
    ] = None,
) -> None:
    """Export one window of a recording as a signed evidence package (see README.txt in it)."""
    from luchtwacht.evidence.export import export_evidence

    summary, broken = write_signed(
        recording,
        out,
        key,
        lambda signing_key: export_evidence(recording, t_from, t_to, out, signing_key, track, zone),
    )
    files = len(summary.manifest["files"])
    fp = summary.manifest["signer"]["fingerprint_sha256"]
    window = summary.manifest["window"]
    typer.echo(
        f"{out}: {files} files signed by key {fp[:23]}… ({window['from']} to {window['to']})"
    )
    if broken is not None:
        raise _fail(f"{recording}: does not verify: {broken} (the package says so)", 1)


@app.command("verify")
def verify(
    folder: Annotated[Path, typer.Argument(help="An evidence package or report folder.")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The node's public key (PEM); without it, the key inside the package is used.",
        ),
    ] = None,
) -> None:
    """Check a package's signature and every file; exit 1 naming the first problem."""
    from luchtwacht.evidence import EvidenceError
    from luchtwacht.evidence.keys import load_public_key
    from luchtwacht.evidence.manifest import verify_package

    try:
        key = load_public_key(public_key) if public_key is not None else None
        check = verify_package(folder, key)
    except EvidenceError as exc:
        raise _fail(str(exc)) from None
    if not check.ok:
        raise _fail(f"{folder}: {check.problem}", 1)
    typer.echo(
        f"{folder}: intact: {check.files_checked} files, signature by key {check.fingerprint}"
    )
    if check.recording_note:
        typer.echo(f"{folder}: {check.recording_note}")
    if check.key_from_package:
        typer.echo(
            "note: checked against the key inside the package; give --public-key with the "
            "node's published key to know who signed it",
            err=True,
        )
