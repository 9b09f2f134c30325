"""The clear-sky report as files: HTML, PDF, JSON and a map, signed like an evidence package.

``report.html`` (self-contained), ``report.pdf``, ``report.json`` and ``map.png`` go into a new
folder with ``manifest.json`` and ``manifest.sig`` (:mod:`.manifest`).

The HTML embeds the map as a ``data:`` URI and loads nothing from anywhere (no scripts, fonts or
styles from outside). The PDF is drawn with matplotlib's PDF backend: page 1 the verdict and the
map, the next pages the tracks, sensors, gaps and rules as text tables.
"""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from luchtwacht.evidence.chainstate import chain_state, chain_text
from luchtwacht.evidence.clearsky import (
    COVERAGE_RULE,
    RULE,
    ClearSkyResult,
    SensorCoverage,
    ZonePresence,
    clear_sky,
    flagged_ids,
    result_json,
)
from luchtwacht.evidence.errors import EvidenceError
from luchtwacht.evidence.export import map_sensors, map_tracks
from luchtwacht.evidence.keys import fingerprint, public_pem
from luchtwacht.evidence.manifest import PackageWriter
from luchtwacht.evidence.mapplot import MapSensor, MapTrack, draw_map, map_png
from luchtwacht.evidence.recording import Recording
from luchtwacht.evidence.sensors import read_sensors
from luchtwacht.geo import SiteOrigin
from luchtwacht.model.zone import Zone

__all__ = ["ClearSkyReport", "write_clear_sky_report"]

_A4 = (8.27, 11.69)  # inches, portrait
_LINES_PER_PAGE = 78
_WRAP = 104
_VERDICT_LINES = 12  # lines of verdict above the map on page 1


@dataclass(frozen=True, slots=True)
class ClearSkyReport:
    """What was written: the finding and the signed manifest."""

    out: Path
    result: ClearSkyResult
    manifest: dict[str, Any]


def _presence_rows(ps: Iterable[ZonePresence]) -> list[list[str]]:
    return [
        [
            f"T{p.track_id}",
            p.object_class,
            "yes" if p.cooperative else "no",
            p.uas_id or p.icao or "–",
            p.max_threat,
            "; ".join(i.text() for i in p.intervals),
            p.status,
        ]
        for p in ps
    ]


_PRESENCE_HEAD = ["track", "class", "coop.", "UAS ID / ICAO", "max threat", "inside", "status"]
_SENSOR_HEAD = ["sensor", "format", "covers zone", "range", "messages", "health", "own gaps"]


def _sensor_rows(ss: Iterable[SensorCoverage]) -> list[list[str]]:
    return [
        [
            f"{s.name} ({s.sensor_id})",
            s.fmt,
            s.coverage.value,
            "–" if s.range_m is None else f"{s.range_m / 1000:.1f} km",
            str(s.messages),
            s.health,
            "; ".join(g.text() for g in s.gaps) or "none",
        ]
        for s in ss
    ]


def _html_table(head: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"<p><em>{html.escape(empty)}</em></p>"
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _html(
    r: ClearSkyResult, site: str, png: bytes, identity: dict[str, Any], fp: str, chain: str
) -> str:
    gaps = [[g.interval.text(), ", ".join(g.partly_by) or "nobody"] for g in r.gaps]
    rec_files = ", ".join(f"{f['name']} (SHA-256 {f['sha256']})" for f in identity["files"])
    verdict_class = "clear" if r.clear else "notclear"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Clear-sky report: {html.escape(r.zone)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; max-width: 70em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
.verdict {{ padding: 0.8em 1em; border-radius: 4px; font-size: 1.05em; }}
.clear {{ background: #e6f4ea; border: 1px solid #34a853; }}
.notclear {{ background: #fce8e6; border: 1px solid #d93025; }}
.small {{ font-size: 0.85em; color: #555; }}
img {{ max-width: 100%; border: 1px solid #ccc; }}
</style></head><body>
<h1>Clear-sky report: zone {html.escape(r.zone)}</h1>
<p>Site {html.escape(site or "?")}; window {html.escape(r.window.text())}.</p>
<p class="verdict {verdict_class}">{html.escape(r.verdict())}</p>
<h2>Unauthorised tracks inside the zone</h2>
{_html_table(_PRESENCE_HEAD, _presence_rows(r.unauthorised), "None.")}
<h2>Other tracks inside the zone (authorised or not counted)</h2>
{_html_table(_PRESENCE_HEAD, _presence_rows(r.others), "None.")}
<h2>Sensors</h2>
{_html_table(_SENSOR_HEAD, _sensor_rows(r.sensors), "The recording registers no sensor.")}
<h2>Coverage gaps (longer than {r.max_gap_s:g} s)</h2>
{_html_table(["interval", "partly watched by"], gaps, "None.")}
<h2>Map</h2>
<img alt="Map of zone {html.escape(r.zone)} with the tracks of the window and the sensors"
 src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">
<h2>Rules used</h2>
<p>{html.escape(RULE)}</p>
<p>{html.escape(COVERAGE_RULE)}</p>
<p>Authorised identities given: {html.escape(", ".join(r.authorised_ids) or "none")}.</p>
<h2>Source</h2>
<p class="small">Recording {html.escape(rec_files)};
run {html.escape(str(identity["run_start"]))} to {html.escape(str(identity["run_end"]))};
fusion node {html.escape(str(identity["fusion_node_id"]))}.</p>
<pre class="small">{html.escape(chain)}</pre>
<p class="small">
This folder is signed: manifest.json lists every file's SHA-256, manifest.sig is its Ed25519
signature by key {html.escape(fp)}; check with <code>luchtwacht evidence verify FOLDER
--public-key NODE_KEY.pem</code>.</p>
</body></html>
"""


def _text_table(head: list[str], rows: list[list[str]], empty: str) -> list[str]:
    if not rows:
        return [f"  {empty}"]
    lines = []
    for row in rows:
        parts = [f"{h}: {c}" for h, c in zip(head, row, strict=True)]
        lines.extend(textwrap.wrap(" | ".join(parts), _WRAP, initial_indent="  - ",
                                   subsequent_indent="    "))  # fmt: skip
    return lines


def _pdf(
    r: ClearSkyResult,
    site: str,
    origin: SiteOrigin,
    zones: tuple[Zone, ...],
    tracks: list[MapTrack],
    sensors: list[MapSensor],
    identity: dict[str, Any],
    fp: str,
    chain: str,
) -> bytes:
    buf = io.BytesIO()
    with PdfPages(
        buf, metadata={"Title": f"Clear-sky report {r.zone}", "Creator": "luchtwacht"}
    ) as pdf:
        fig = Figure(figsize=_A4)
        FigureCanvasAgg(fig)
        fig.text(0.06, 0.965, f"Clear-sky report: zone {r.zone}", fontsize=15, weight="bold",
                 va="top")  # fmt: skip
        fig.text(0.06, 0.94, f"Site {site or '?'}; window {r.window.text()}", fontsize=9, va="top")
        lines = textwrap.wrap(r.verdict(), 92)
        if len(lines) > _VERDICT_LINES:  # the map below must stay clear; page 2 has it all
            lines = [*lines[: _VERDICT_LINES - 1], "… (the full text is on the next pages)"]
        verdict = "\n".join(lines)
        fig.text(0.06, 0.915, verdict, fontsize=9, va="top",
                 color="#1e7b34" if r.clear else "#b3261e", wrap=False)  # fmt: skip
        draw_map(fig, origin, zones, tracks, sensors, f"Zone {r.zone}: tracks {r.window.text()}",
                 r.zone, rect=(0.1, 0.04, 0.82, 0.64))  # fmt: skip
        pdf.savefig(fig)

        lines = ["Verdict", *textwrap.wrap(r.verdict(), _WRAP, initial_indent="  ",
                                           subsequent_indent="  ")]  # fmt: skip
        lines += ["", "Unauthorised tracks inside the zone"]
        lines += _text_table(_PRESENCE_HEAD, _presence_rows(r.unauthorised), "None.")
        lines += ["", "Other tracks inside the zone (authorised or not counted)"]
        lines += _text_table(_PRESENCE_HEAD, _presence_rows(r.others), "None.")
        lines += ["", "Sensors"]
        lines += _text_table(_SENSOR_HEAD, _sensor_rows(r.sensors), "None registered.")
        lines += ["", f"Coverage gaps (longer than {r.max_gap_s:g} s)"]
        lines += [f"  - {g.text()}" for g in r.gaps] or ["  None."]
        lines += ["", "Rules used"]
        lines += textwrap.wrap(RULE, _WRAP, initial_indent="  ", subsequent_indent="  ")
        lines += textwrap.wrap(COVERAGE_RULE, _WRAP, initial_indent="  ", subsequent_indent="  ")
        lines += [f"  Authorised identities given: {', '.join(r.authorised_ids) or 'none'}"]
        lines += ["", "Source"]
        for f in identity["files"]:
            lines += [f"  Recording {f['name']}, {f['bytes']} bytes", f"    SHA-256 {f['sha256']}"]
        lines += [f"  {line}" for line in chain.splitlines()]
        lines += [f"  Signed (manifest.json, manifest.sig) by Ed25519 key {fp}"]
        pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, len(lines), _LINES_PER_PAGE)]
        for n, page in enumerate(pages, start=2):
            fig = Figure(figsize=_A4)
            FigureCanvasAgg(fig)
            fig.text(0.06, 0.97, "\n".join(page), fontsize=7.2, family="monospace", va="top",
                     linespacing=1.35)  # fmt: skip
            fig.text(0.94, 0.02, f"page {n} of {len(pages) + 1}", fontsize=7, ha="right")
            pdf.savefig(fig)
    return buf.getvalue()


def write_clear_sky_report(
    recording: Path,
    zone: str,
    t_from: str | None,
    t_to: str | None,
    out: Path,
    key: Ed25519PrivateKey,
    max_gap_s: float = 5.0,
    authorised: Iterable[str] = (),
) -> ClearSkyReport:
    """Work out the clear-sky finding and write it, signed, into the new folder ``out``."""
    with Recording(recording) as rec:
        w = rec.window(t_from, t_to)
        rec.zone(zone)
        if rec.origin is None:
            raise EvidenceError(f"{recording}: the recording keeps no site origin; no map")
        recorded = read_sensors(rec, w.to_s)
        result = clear_sky(rec, zone, w, max_gap_s, authorised, recorded)
        sensors = map_sensors(rec, recorded.values())
        tracks = map_tracks(rec, w, None, flagged_ids(result))
        title = f"{rec.site_name}: zone {zone}, {w.text()}"
        png = map_png(rec.origin, rec.zones, tracks, sensors, title, zone)
        identity = rec.identity()
        chain = chain_state(rec, w, public_pem(key.public_key()).encode("ascii"))
        chain_lines = chain_text(chain)
        fp = fingerprint(key.public_key())
        pkg = PackageWriter(out, key)
        try:
            pkg.write_bytes("map.png", png)
            pkg.write_text(
                "report.html", _html(result, rec.site_name, png, identity, fp, chain_lines)
            )
            pdf = _pdf(
                result,
                rec.site_name,
                rec.origin,
                rec.zones,
                tracks,
                sensors,
                identity,
                fp,
                chain_lines,
            )
            pkg.write_bytes("report.pdf", pdf)
            data = result_json(result)
            pkg.write_text("report.json", json.dumps(data, indent=2, sort_keys=True) + "\n")
            manifest = pkg.finish(
                {
                    "kind": "clear-sky-report",
                    "recording": identity,
                    "recording_chain": chain,
                    "window": w.describe(),
                    "zone": zone,
                    "clear": result.clear,
                    "verdict": result.verdict(),
                }
            )
        except BaseException:
            pkg.abandon()
            raise
    return ClearSkyReport(out, result, manifest)
