"""``evidence export``: one window of a recording as a signed folder an analyst can read.

What goes in (all times as ISO 8601 UTC, UTC epoch seconds ``t_s`` and seconds since the run's
start ``t_run_s``):

==========================  ==============================================================
``raw/index.csv``           every raw row: arrival time, sensor, format, where its bytes are
                            (file, offset, length) and their SHA-256
``raw/<sensor>.<fmt>.bin``  the bytes exactly as received, one sensor stream concatenated in
                            arrival order (a SAPIENT stream keeps its 4-byte length framing)
``raw/<sensor>.sapient.jsonl``  each SAPIENT message completed in the window, decoded (JSON)
``detections.csv``, ``bearings.csv``, ``rejections.csv``  the decoded inputs, and what was refused
``tracks.csv``              the track snapshots (position, kinematics, class, threat, zones)
``alerts.csv``              alert events; ``decisions.jsonl``: the audit records (operator
                            commands, approvals, tasks, alerts, run start/end) with their chain
``map.png``                 the tracks over the zones and sensors
``README.txt``              what is in it, the filters and the counts; ``public-key.pem``
``manifest.json`` + ``.sig``  every file's SHA-256 and size, signed (:mod:`.manifest`)
==========================  ==============================================================

``--track`` keeps that track's snapshots, alerts and decisions (decisions naming no track are
kept); ``--zone`` keeps the tracks that were inside the zone in the window and the alerts on
it. Raw bytes, detections, bearings and rejections are not attributed to tracks in a
recording, so every row of the window is kept whatever the filters.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import json_format

from luchtwacht.evidence.chainstate import chain_state, chain_text
from luchtwacht.evidence.errors import EvidenceError
from luchtwacht.evidence.keys import fingerprint, public_pem
from luchtwacht.evidence.manifest import PackageWriter
from luchtwacht.evidence.mapplot import MapSensor, MapTrack, map_png
from luchtwacht.evidence.recording import Recording, Window, iso_time
from luchtwacht.evidence.sensors import read_sensors
from luchtwacht.evidence.zones import inside_zone
from luchtwacht.ingest.sapient import SapientError, parse_message
from luchtwacht.transport.sapient_tcp import FrameReader

__all__ = ["ExportSummary", "export_evidence", "map_sensors", "map_tracks"]

_TRACK_COLUMNS = (
    "track_id", "lat_deg", "lon_deg", "alt_m", "east_m", "north_m", "up_m", "speed_ms",
    "heading_deg", "climb_ms", "object_class", "class_prob", "cooperative", "uas_id", "threat",
    "zones_inside", "time_to_breach_s", "pos_std_m", "icao",
)  # fmt: skip
_ALERT_COLUMNS = (
    "seq", "event", "alert_id", "track_id", "zone", "level", "kind", "state", "object_class",
    "uas_id", "message",
)  # fmt: skip
_DETECTION_COLUMNS = ("sensor_id", "east_m", "north_m", "up_m", "std_m", "ident", "applied")
_BEARING_COLUMNS = (
    "sensor_id", "sensor_east_m", "sensor_north_m", "sensor_up_m", "azimuth_deg",
    "elevation_deg", "azimuth_std_deg", "applied",
)  # fmt: skip
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What was written: the folder, the row counts per file and the manifest."""

    out: Path
    counts: dict[str, int]
    manifest: dict[str, Any]


def _times(t_s: float, start: float | None) -> list[str]:
    run = "" if start is None else f"{t_s - start:.3f}"
    return [iso_time(t_s), repr(float(t_s)), run]


def _cell(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return "" if value is None else value


def _selected_tracks(
    rec: Recording, w: Window, track_id: int | None, zone: str | None
) -> set[int] | None:
    """The track ids the filters keep (None: all)."""
    if track_id is None and zone is None:
        return None
    ids = {
        int(r[0])
        for r in rec.db.execute(
            "SELECT DISTINCT track_id FROM track WHERE t_s >= ? AND t_s <= ?", (w.from_s, w.to_s)
        )
    }
    if track_id is not None:
        if track_id not in ids:
            raise EvidenceError(f"--track {track_id}: no such track in the window {w.text()}")
        ids = {track_id}
    if zone is not None:
        inside = set()
        for tid, zones in rec.db.execute(
            "SELECT track_id, zones_inside FROM track WHERE t_s >= ? AND t_s <= ?",
            (w.from_s, w.to_s),
        ):
            if inside_zone(zone, zones):
                inside.add(int(tid))
        ids &= inside
    return ids


def map_tracks(
    rec: Recording, w: Window, keep: set[int] | None, flagged: Iterable[int] = ()
) -> list[MapTrack]:
    """Each kept track's positions in the window on the ENU plane, labelled with its class."""
    flag = set(flagged)
    paths: dict[int, list[tuple[float, float, str]]] = {}
    for tid, east, north, cls in rec.db.execute(
        "SELECT track_id, east_m, north_m, object_class FROM track WHERE t_s >= ? AND t_s <= ?"
        " ORDER BY track_id, t_s",
        (w.from_s, w.to_s),
    ):
        if keep is not None and int(tid) not in keep:
            continue
        if east is None or north is None:
            continue
        paths.setdefault(int(tid), []).append((float(east), float(north), str(cls or "unknown")))
    out = []
    for tid, pts in sorted(paths.items()):
        cls = pts[-1][2]
        out.append(
            MapTrack(
                tid,
                np.array([p[0] for p in pts]),
                np.array([p[1] for p in pts]),
                f"T{tid} {cls}",
                cls,
                tid in flag,
            )
        )
    return out


def map_sensors(rec: Recording, sensors: Iterable[Any]) -> list[MapSensor]:
    """Sensors whose position the recording holds, on the ENU plane."""
    out: list[MapSensor] = []
    if rec.origin is None:
        return out
    for s in sensors:
        if s.position is None:
            continue
        lat, lon, alt = s.position
        enu = rec.origin.to_enu(np.array([lat]), np.array([lon]), np.array([alt]))[0]
        out.append(MapSensor(s.name, float(enu[0]), float(enu[1]), s.range_m))
    return out


def _write_csv(fh: IO[str], header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        n += 1
    return n


def _export_raw(rec: Recording, w: Window, pkg: PackageWriter) -> dict[str, int]:
    """Raw rows of the window: index, byte streams per sensor and format, decoded SAPIENT."""
    counts = {"raw rows": 0, "raw bytes": 0, "SAPIENT messages decoded": 0}
    if not rec.has("raw"):
        return counts
    streams: dict[tuple[str, str], tuple[str, IO[bytes], int]] = {}
    readers: dict[str, FrameReader] = {}
    decoded: dict[str, IO[str]] = {}
    used: set[str] = set()
    start = w.run_start_s

    def name_for(sid: str, fmt: str, ext: str) -> str:
        base = f"raw/{_SAFE.sub('_', sid)}.{_SAFE.sub('_', fmt)}"
        name, i = f"{base}{ext}", 2
        while name in used:
            name, i = f"{base}-{i}{ext}", i + 1
        used.add(name)
        return name

    with contextlib.ExitStack() as files, pkg.open_text("raw/index.csv") as index_fh:
        index = csv.writer(index_fh, lineterminator="\n")
        chained = "hash" in rec.columns("raw")
        index.writerow(["seq", "time_utc", "t_s", "t_run_s", "sensor_id", "format", "file",
                        "offset", "bytes", "sha256", "chain_hash"])  # fmt: skip
        # SAPIENT streams are read from their start so that frames begun before the window
        # decode; only rows in the window are written.
        for seq, t_rx, sid, fmt, payload, chain_hash in rec.db.execute(
            "SELECT seq, t_rx_s, sensor_id, format, payload,"
            f" {'hash' if chained else 'NULL'} FROM raw WHERE t_rx_s <= ? ORDER BY seq",
            (w.to_s,),
        ):
            sid, fmt, data, t = str(sid), str(fmt), bytes(payload), float(t_rx)
            inside = t >= w.from_s
            frames: list[bytes] = []
            if fmt == "sapient":
                reader = readers.setdefault(sid, FrameReader())
                try:
                    frames = list(reader.feed(data))
                except SapientError:
                    frames = []
            if not inside:
                continue
            key = (sid, fmt)
            if key not in streams:
                name = name_for(sid, fmt, ".bin")
                streams[key] = (name, files.enter_context(pkg.open_binary(name)), 0)
            name, fh, offset = streams[key]
            fh.write(data)
            streams[key] = (name, fh, offset + len(data))
            digest = hashlib.sha256(data).hexdigest()
            link = chain_hash.hex() if isinstance(chain_hash, bytes) else ""
            index.writerow(
                [seq, *_times(t, start), sid, fmt, name, offset, len(data), digest, link]
            )
            counts["raw rows"] += 1
            counts["raw bytes"] += len(data)
            for body in frames:
                if sid not in decoded:
                    decoded[sid] = files.enter_context(
                        pkg.open_text(name_for(sid, "sapient", ".jsonl"))
                    )
                entry: dict[str, Any] = {"arrived_utc": iso_time(t), "raw_seq": seq}
                try:
                    entry["message"] = json_format.MessageToDict(parse_message(body))
                except SapientError as exc:
                    entry["undecodable"] = str(exc)
                    entry["bytes_base64"] = base64.b64encode(body).decode("ascii")
                decoded[sid].write(json.dumps(entry, sort_keys=True) + "\n")
                counts["SAPIENT messages decoded"] += 1
    return counts


def _select(rec: Recording, table: str, sql: str, params: Sequence[object]) -> Iterable[Any]:
    """Rows of a query on ``table``, none when the recording lacks it (older recordings)."""
    return rec.db.execute(sql, params) if rec.has(table) else ()


def _audit_track(payload: str) -> int | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    tid = data.get("track_id") if isinstance(data, dict) else None
    return tid if isinstance(tid, int) and not isinstance(tid, bool) else None


def _export_tables(
    rec: Recording, w: Window, keep: set[int] | None, zone: str | None, pkg: PackageWriter
) -> dict[str, int]:
    counts: dict[str, int] = {}
    start = w.run_start_s
    span = (w.from_s, w.to_s)
    time_cols = ["time_utc", "t_s", "t_run_s"]

    rows: Iterable[Any]
    with pkg.open_text("tracks.csv") as fh:
        rows = rec.db.execute(
            f"SELECT t_s, {', '.join(_TRACK_COLUMNS)} FROM track WHERE t_s >= ? AND t_s <= ?"
            " ORDER BY t_s, track_id",
            span,
        )
        counts["tracks.csv"] = _write_csv(
            fh,
            [*time_cols, *_TRACK_COLUMNS],
            ([*_times(r[0], start), *r[1:]] for r in rows if keep is None or r[1] in keep),
        )
    with pkg.open_text("alerts.csv") as fh:
        rows = _select(
            rec,
            "alert_event",
            f"SELECT t_s, {', '.join(_ALERT_COLUMNS)} FROM alert_event"
            " WHERE t_s >= ? AND t_s <= ? ORDER BY seq",
            span,
        )
        counts["alerts.csv"] = _write_csv(
            fh,
            [*time_cols, *_ALERT_COLUMNS],
            (
                [*_times(r[0], start), *r[1:]]
                for r in rows
                if (keep is None or r[4] in keep) and (zone is None or r[5] == zone)
            ),
        )
    for table, columns in (("detection", _DETECTION_COLUMNS), ("bearing", _BEARING_COLUMNS)):
        with pkg.open_text(f"{table}s.csv") as fh:
            rows = _select(
                rec,
                table,
                f"SELECT t_s, {', '.join(columns)} FROM {table}"
                " WHERE t_s >= ? AND t_s <= ? ORDER BY t_s",
                span,
            )
            counts[f"{table}s.csv"] = _write_csv(
                fh, [*time_cols, *columns], ([*_times(r[0], start), *r[1:]] for r in rows)
            )
    with pkg.open_text("rejections.csv") as fh:
        rows = _select(
            rec,
            "rejection",
            "SELECT t_s, seq, sensor_id, reason FROM rejection WHERE t_s >= ? AND t_s <= ?"
            " ORDER BY seq",
            span,
        )
        counts["rejections.csv"] = _write_csv(
            fh,
            [*time_cols, "seq", "sensor_id", "reason"],
            ([*_times(r[0], start), *r[1:]] for r in rows),
        )
    n = 0
    with pkg.open_text("decisions.jsonl") as fh:
        if rec.has("audit"):
            # The chain columns differ between recorder versions (``prev_hash`` text, or a
            # per-row ``hash`` only); whatever the recording has is copied.
            extra = [c for c in ("prev_hash", "hash") if c in rec.columns("audit")]
            cursor = rec.db.execute(
                f"SELECT seq, t_s, kind, payload{''.join(', ' + c for c in extra)} FROM audit"
                " WHERE t_s >= ? AND t_s <= ? ORDER BY seq",
                span,
            )
            for row in cursor:
                seq, t_s, kind, payload = row[:4]
                tid = _audit_track(str(payload))
                if keep is not None and tid is not None and tid not in keep:
                    continue
                try:
                    body: object = json.loads(payload)
                except ValueError:
                    body = str(payload)
                record: dict[str, object] = {
                    "seq": seq,
                    "time_utc": iso_time(float(t_s)),
                    "t_s": t_s,
                    "kind": kind,
                    "payload": body,
                    "payload_text": payload,  # exactly as recorded, to recompute its hash
                }
                for col, value in zip(extra, row[4:], strict=True):
                    record[col] = value.hex() if isinstance(value, bytes) else value
                fh.write(json.dumps(record, sort_keys=True) + "\n")
                n += 1
    counts["decisions.jsonl"] = n
    return counts


_README = """Luchtwacht evidence export
==========================

Recording   {recording} (SHA-256 {rec_sha})
Site        {site}; fusion node {node}
Run         {run_start} to {run_end}
Window      {window} (inclusive; {window_run})
Filters     {filters}
Signed by   Ed25519 key {fingerprint}
{chain}

Contents (rows)
{counts}

Files
  raw/index.csv         one line per raw row: the recording's seq, arrival time (time_utc, t_s =
                        UTC epoch seconds, t_run_s = seconds since the run's start), sensor,
                        format, where its bytes are (file, byte offset, length), SHA-256 of those
                        bytes, and chain_hash: the row's hash in the recording's chain.
  raw/*.bin             the bytes exactly as received, one file per sensor and format, rows
                        concatenated in arrival order (SAPIENT keeps its 4-byte little-endian
                        length prefix per message). Formats ending in -out are what the node sent.
  raw/*.sapient.jsonl   each SAPIENT message completed in the window, decoded to JSON
                        (BSI Flex 335 v2.0 protobuf field names).
  detections.csv        decoded position detections (metres east/north/up of the site origin
                        {origin}); applied = used by the tracker.
  bearings.csv          decoded angle-only detections.
  rejections.csv        messages refused, with the reason.
  tracks.csv            confirmed track snapshots; zones_inside = the zones the node judged the
                        track inside at that instant.
  alerts.csv            alert events (raised, escalated, acknowledged, cleared).
  decisions.jsonl       the audit records: operator commands, approvals, tasks, alerts, run
                        start and end, with their chain hash as recorded (payload_text is the
                        exact recorded text).
  map.png               the tracks of the window over the zones and sensors (km from the origin).
  public-key.pem        the signer's public key (compare its fingerprint with the node's).

{scope}

Checking this package
  luchtwacht evidence verify THIS_FOLDER --public-key NODE_PUBLIC_KEY.pem
or without Luchtwacht: check manifest.sig against manifest.json with the node's key
  openssl pkeyutl -verify -pubin -inkey NODE_PUBLIC_KEY.pem -rawin -in manifest.json \\
      -sigfile manifest.sig
then each file's SHA-256 (sha256sum) against manifest.json; no file may be missing or extra.
"""


def export_evidence(
    recording: Path,
    t_from: str | None,
    t_to: str | None,
    out: Path,
    key: Ed25519PrivateKey,
    track_id: int | None = None,
    zone: str | None = None,
) -> ExportSummary:
    """Write the signed evidence package of one window of ``recording`` into ``out``."""
    with Recording(recording) as rec:
        w = rec.window(t_from, t_to)
        if zone is not None:
            rec.zone(zone)
        keep = _selected_tracks(rec, w, track_id, zone)
        pkg = PackageWriter(out, key)
        try:
            counts = _export_tables(rec, w, keep, zone, pkg)
            counts.update(_export_raw(rec, w, pkg))
            sensors = read_sensors(rec, w.to_s)
            if rec.origin is not None:
                pkg.write_bytes(
                    "map.png",
                    map_png(
                        rec.origin,
                        rec.zones,
                        map_tracks(rec, w, keep),
                        map_sensors(rec, sensors.values()),
                        f"{rec.site_name or recording.name}: tracks {w.text()}",
                        zone,
                    ),
                )
            filters: dict[str, Any] = {"track": track_id, "zone": zone}
            identity = rec.identity()
            chain = chain_state(rec, w, public_pem(key.public_key()).encode("ascii"))
            description = {
                "kind": "evidence-export",
                "recording": identity,
                "recording_chain": chain,
                "window": w.describe(),
                "filters": filters,
                "tracks": sorted(keep) if keep is not None else None,
                "counts": counts,
            }
            pub_fp = fingerprint(key.public_key())
            filt = ", ".join(f"--{k} {v}" for k, v in filters.items() if v is not None)
            scope = (
                "Scope: raw bytes, detections, bearings and rejections are every row of the "
                "window (a recording does not attribute them to tracks)"
                + (
                    f"; tracks, alerts and decisions are narrowed by {filt} (decisions that "
                    "name no track are kept)."
                    if filt
                    else "."
                )
            )
            origin = (
                f"{rec.origin.lat_deg:.6f}, {rec.origin.lon_deg:.6f}, {rec.origin.alt_m:.1f} m"
                if rec.origin is not None
                else "not recorded"
            )
            wd = w.describe()
            pkg.write_text(
                "README.txt",
                _README.format(
                    recording=recording.name,
                    rec_sha=identity["files"][0]["sha256"] if identity["files"] else "?",
                    site=identity["site"] or "?",
                    node=identity["fusion_node_id"] or "?",
                    run_start=identity["run_start"],
                    run_end=identity["run_end"],
                    window=w.text(),
                    window_run=(
                        f"{wd['from_run_s']} s to {wd['to_run_s']} s after the run's start"
                        if "from_run_s" in wd
                        else "run start unknown"
                    ),
                    filters=filt or "none",
                    fingerprint=pub_fp,
                    counts="\n".join(f"  {k:<26} {v}" for k, v in counts.items()),
                    origin=origin,
                    scope=scope,
                    chain=chain_text(chain),
                ),
            )
            manifest = pkg.finish(description)
        except BaseException:
            pkg.abandon()
            raise
    return ExportSummary(out, counts, manifest)
