"""``luchtwacht report``: findings from a recording, written as signed reports.

``clear-sky RECORDING --zone Z --from T --to T --out DIR --key KEY.pem [--max-gap S]
[--authorised ID ...]``: was any unauthorised track inside zone Z in the window, which sensors
were healthy and covering it, and the gaps in that coverage (the rules are in
:mod:`luchtwacht.evidence.clearsky` and in the report). Writes report.html (self-contained),
report.pdf, report.json and map.png into the new folder DIR, signed like an evidence package
(``luchtwacht evidence verify DIR``). Prints the verdict. Exit 0 when the report was written
(clear or not); 1 when it was written but the recording's chain does not verify (the report
says so); 2 for usage or file errors, with one ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Signed reports from a recording (clear sky over a zone).",
)


@app.callback()
def _group() -> None:
    """Reports (kept a group so ``clear-sky`` stays a sub-command)."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command("clear-sky")
def clear_sky(
    recording: Annotated[Path, typer.Argument(help="A Luchtwacht recording (.sqlite).")],
    zone: Annotated[str, typer.Option("--zone", help="The zone's name, as in the recording.")],
    out: Annotated[Path, typer.Option("--out", help="New (or empty) folder for the report.")],
    key: Annotated[
        Path, typer.Option("--key", help="The node's Ed25519 private key (PEM) to sign with.")
    ],
    t_from: Annotated[
        str | None,
        typer.Option("--from", help="Start: ISO 8601 UTC or seconds since the run's start."),
    ] = None,
    t_to: Annotated[
        str | None,
        typer.Option("--to", help="End: ISO 8601 UTC or seconds since the run's start."),
    ] = None,
    max_gap: Annotated[
        float,
        typer.Option(
            "--max-gap", min=0.001, help="Seconds without data that count as a coverage gap."
        ),
    ] = 5.0,
    authorised: Annotated[
        list[str] | None,
        typer.Option(
            "--authorised", help="A UAS ID or ICAO address allowed in the zone (repeatable)."
        ),
    ] = None,
) -> None:
    """Whether zone Z was clear of unauthorised tracks in the window, and watched."""
    from luchtwacht.commands.evidence import write_signed
    from luchtwacht.evidence.report import write_clear_sky_report

    report, broken = write_signed(
        recording,
        out,
        key,
        lambda signing_key: write_clear_sky_report(
            recording, zone, t_from, t_to, out, signing_key, max_gap, authorised or ()
        ),
    )
    typer.echo(report.result.verdict())
    typer.echo(f"{out}: report.html, report.pdf, report.json, map.png (signed)", err=True)
    if broken is not None:
        raise _fail(f"{recording}: does not verify: {broken} (the report says so)", 1)
