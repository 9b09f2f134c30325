"""Replay: feed a recording's raw bytes through the same decoders and fusion core again.

A recording (``store.recorder``) keeps every byte as received, with its arrival time and feed,
plus the site and the feeds' definitions. Replay rebuilds the fusion core from that, delivers the
bytes on the same 0.1 s tick grid the simulated pipeline uses and runs the 1 Hz assessment cycle,
so a simulated run replays to the very same tracks (``luchtwacht replay --check`` proves it
against the recorded tracks). A live run replays on that grid too; its original processing times
followed the wall clock, so small differences in track ids or positions can appear there.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luchtwacht.fusion import FusionCore
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import NodeState, SapientPipe
from luchtwacht.model.zone import Zone
from luchtwacht.site import AdsbSection, AsterixSection, adsb_pipe, asterix_pipe

TICK_S = 0.1
CYCLE_TICKS = 10


class ReplayError(ValueError):
    """The recording cannot be replayed (missing metadata, unknown feed format)."""


def _pipe_for(
    fmt: str,
    sensor_id: str,
    origin: SiteOrigin,
    settings: dict[str, Any],
    sapient_nodes: dict[str, NodeState],
) -> FeedPipe:
    geoid = float(settings.get("geoid_undulation_m") or 0.0)
    if fmt == "sapient":
        declination = settings.get("magnetic_declination_deg")
        pipe = SapientPipe(
            sensor_id,
            origin,
            geoid_undulation_m=geoid,
            magnetic_declination_deg=None if declination is None else float(declination),
        )
        pipe.nodes = sapient_nodes  # as on the live node: what a node said outlives its connection
        return pipe
    if fmt == "remoteid-jsonl":
        return RemoteIdPipe(sensor_id, origin, geoid_undulation_m=geoid)
    feed_settings = settings.get(f"settings:{sensor_id}")
    if fmt == "asterix" and feed_settings is not None:
        return asterix_pipe(AsterixSection.model_validate_json(feed_settings), sensor_id, origin)
    if fmt == "adsb" and feed_settings is not None:
        return adsb_pipe(AdsbSection.model_validate_json(feed_settings), sensor_id, origin)
    raise ReplayError(f"feed {sensor_id!r}: no decoder for recorded format {fmt!r}")


@dataclass(frozen=True, slots=True)
class Recording:
    """What a recording says about its run."""

    meta: dict[str, str]
    origin: SiteOrigin
    zones: tuple[Zone, ...]
    name: str
    start_s: float
    end_s: float | None
    feeds: list[tuple[str, dict[str, object]]]


def read_recording(path: str | Path) -> Recording:
    """Site, zones, feeds and times of a recording."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise ReplayError(f"{path}: not a Luchtwacht recording ({exc})") from None
    finally:
        db.close()
    if "site" not in meta or "start_s" not in meta:
        raise ReplayError(f"{path}: recording has no site/start metadata")
    site = json.loads(meta["site"])
    zones = tuple(
        Zone(
            z["name"],
            tuple(tuple(v) for v in z["vertices_deg"]),
            z["floor_m"],
            z["ceiling_m"],
            z["warn_time_s"],
        )
        for z in site["zones"]
    )
    feeds = sorted(
        (
            (k.removeprefix("feed:"), json.loads(v))
            for k, v in meta.items()
            if k.startswith("feed:")
        ),
        key=lambda kv: int(kv[1]["order"]),
    )
    return Recording(
        meta=meta,
        origin=SiteOrigin(site["lat"], site["lon"], site["alt_m"]),
        zones=zones,
        name=site["name"],
        start_s=float(meta["start_s"]),
        end_s=float(meta["end_s"]) if "end_s" in meta else None,
        feeds=feeds,
    )


def replay(path: str | Path, on_cycle: Callable[[FusionCore], None] | None = None) -> FusionCore:
    """Replay a recording into a fresh fusion core (which records nothing) and return it."""
    rec = read_recording(path)
    core = FusionCore(rec.name, rec.origin, rec.zones, rec.start_s)
    settings: dict[str, Any] = json.loads(rec.meta.get("pipe_settings", "{}"))
    settings.update({k: v for k, v in rec.meta.items() if k.startswith("settings:")})
    sapient_nodes: dict[str, NodeState] = {}
    for sid, spec in rec.feeds:
        fmt = str(spec["fmt"])
        core.add_feed(
            sid,
            str(spec["name"]),
            fmt,
            _pipe_for(fmt, sid, rec.origin, settings, sapient_nodes),
            float(str(spec["interval_s"])),
        )
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT t_rx_s, sensor_id, format, payload FROM raw"
            " WHERE format NOT LIKE '%-out' ORDER BY seq"
        )
        end_s = rec.end_s
        k = 0
        pending = next(rows, None)
        while True:
            k += 1
            t = rec.start_s + k * TICK_S
            while pending is not None and pending[0] <= t:
                t_rx, sid, fmt, payload = pending
                if sid in core.feeds:
                    core.receive(float(t_rx), sid, fmt, bytes(payload))
                pending = next(rows, None)
            core.process(t)
            if k % CYCLE_TICKS == 0:
                core.cycle()
                if on_cycle is not None:
                    on_cycle(core)
            done = pending is None and (end_s is None or t >= end_s - 1e-6)
            if done:
                if k % CYCLE_TICKS:
                    core.cycle()
                    if on_cycle is not None:
                        on_cycle(core)
                break
            if not math.isfinite(t):
                raise ReplayError("non-finite time in recording")
    finally:
        db.close()
    return core


def compare_tracks(
    path: str | Path,
    core_views: dict[tuple[int, float], tuple[float, float, float]],
    tol_m: float = 1e-3,
) -> tuple[int, int]:
    """Compare replayed track positions with the recorded ``track`` table: (rows, mismatches)."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        recorded = {
            (int(tid), round(float(t), 3)): (float(e), float(n), float(u))
            for tid, t, e, n, u in db.execute(
                "SELECT track_id, t_s, east_m, north_m, up_m FROM track"
            )
        }
    finally:
        db.close()
    mismatches = 0
    for key, pos in recorded.items():
        other = core_views.get(key)
        if other is None or max(abs(a - b) for a, b in zip(pos, other, strict=True)) > tol_m:
            mismatches += 1
    mismatches += sum(1 for key in core_views if key not in recorded)
    return len(recorded), mismatches
