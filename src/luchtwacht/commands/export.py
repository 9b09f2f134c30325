"""``luchtwacht export``: recordings out to other tools' formats.

``geojson RECORDING [--from T] [--to T] [--out FILE] [--site FILE]`` writes the recording's tracks
(lines through their recorded positions, with a time per vertex) and its protected zones
(polygons) as an RFC 7946 FeatureCollection, for GIS tools; see :mod:`luchtwacht.publish.geojson`.

``T`` is ISO 8601 (``2026-06-12T21:31:30Z``; no zone means UTC) or seconds since the recording's
start (``90``, ``90.5``). Zones come from the recording (it keeps the site's zones) unless
``--site`` names a site file whose zones to use instead. A file that is missing, empty or not a
recording, an unreadable site file, a time that cannot be read or an ``--out`` that cannot be
written ends the command with one line on standard error and exit status 2.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer

export_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Export recordings to other tools' formats (GeoJSON for GIS).",
)


@export_app.callback()
def _group() -> None:
    """Export tools (kept a group so ``geojson`` stays a sub-command)."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@export_app.command()
def geojson(
    recording: Annotated[Path, typer.Argument(help="A Luchtwacht recording (.sqlite).")],
    t_from: Annotated[
        str | None,
        typer.Option("--from", help="Start: ISO 8601 or seconds since the recording's start."),
    ] = None,
    t_to: Annotated[
        str | None,
        typer.Option("--to", help="End: ISO 8601 or seconds since the recording's start."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here, not to standard output.")
    ] = None,
    site: Annotated[
        Path | None,
        typer.Option("--site", help="Take the zones from this site file, not the recording."),
    ] = None,
) -> None:
    """Tracks as LineStrings (lon, lat, alt; a time per vertex) and zones as Polygons."""
    from luchtwacht.publish.geojson import (
        ExportError,
        iso_time,
        open_recording,
        parse_time,
        recorded_zones,
        recording_span,
        site_name,
        track_features,
        write_feature_collection,
        zone_feature,
    )

    try:
        db = open_recording(recording)
    except ExportError as exc:
        raise _fail(str(exc)) from None
    tmp = None if out is None else out.with_name(f".{out.name}.part")
    try:
        span = recording_span(db)
        lo = parse_time(t_from, span.start_s) if t_from is not None else -math.inf
        hi = parse_time(t_to, span.start_s) if t_to is not None else math.inf
        if lo > hi:
            raise ExportError("--from is after --to")
        if site is not None:
            from luchtwacht.site import SiteConfigError, load_site

            try:
                zones = load_site(site).zone_models()
            except (SiteConfigError, OSError) as exc:
                raise ExportError(str(exc).splitlines()[0]) from None
        else:
            zones = recorded_zones(db) or ()
        members: dict[str, object] = {"site": site_name(db)}
        if lo > -math.inf:
            members["from"] = iso_time(lo)
        if hi < math.inf:
            members["to"] = iso_time(hi)
        features = itertools.chain((zone_feature(z) for z in zones), track_features(db, lo, hi))
        if tmp is None or out is None:
            n = write_feature_collection(sys.stdout, features, **members)
        else:
            try:
                with tmp.open("w", encoding="utf-8") as fh:
                    n = write_feature_collection(fh, features, **members)
                os.replace(tmp, out)
            except OSError as exc:
                raise ExportError(f"{out}: cannot write ({exc.strerror or exc})") from None
    except sqlite3.Error as exc:
        raise _fail(f"{recording}: not a readable recording ({exc})") from None
    except ExportError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.close()
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    where = "" if out is None else f" to {out}"
    typer.echo(f"{n - len(zones)} tracks and {len(zones)} zones written{where}", err=True)
