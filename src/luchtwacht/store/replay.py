"""Replay: feed a recording's raw bytes through the same node core again, decisions and all.

A recording (``store.recorder``) keeps every byte as received, with its arrival time and feed,
plus the site, the feeds' definitions, the node's configuration (schedule, effectors, no-fire
areas) and every operator command in the audit chain. Replay rebuilds the node core
(``luchtwacht.node``) from that, delivers the bytes on the same tick grid as the demo, and
re-applies each recorded command at the cycle it was applied, as the same operator with the same
role. So a simulated run replays to the very same tracks, alerts, camera cues, recommendations
and tasks (``luchtwacht replay --check`` proves the tracks against the recorded ones; the tests
compare the tasks byte for byte). Edge nodes are behind a
:class:`~luchtwacht.node.ports.ReplayLink`: nothing is sent, their answers are in the recording.
A live run replays on that grid too; its original processing times followed the wall clock, so
small differences can appear there.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luchtwacht.counter.authority import Authority, OperatorAccount, hash_password
from luchtwacht.counter.catalogue import EffectorSpec
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import DEFAULT_FUSION_NODE_ID, SapientPipe
from luchtwacht.model.zone import Zone
from luchtwacht.node.approval import CONFIRM_WINDOW_S, TwoPersonRule
from luchtwacht.node.commands import Command, CommandKind
from luchtwacht.node.core import NodeCore, Schedule
from luchtwacht.node.ports import ReplayLink
from luchtwacht.site import AdsbSection, AsterixSection, adsb_pipe, asterix_pipe


class ReplayError(ValueError):
    """The recording cannot be replayed (missing metadata, unknown feed format)."""


def _pipe_for(
    fmt: str,
    sensor_id: str,
    origin: SiteOrigin,
    settings: dict[str, Any],
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


def _zone(z: dict[str, Any]) -> Zone:
    return Zone(
        z["name"],
        tuple((float(v[0]), float(v[1])) for v in z["vertices_deg"]),
        z["floor_m"],
        z["ceiling_m"],
        z["warn_time_s"],
    )


def _effector(e: dict[str, Any]) -> EffectorSpec:
    return EffectorSpec(
        **{
            **e,
            "enu_m": tuple(e["enu_m"]),
            "bands_mhz": tuple((float(lo), float(hi)) for lo, hi in e["bands_mhz"]),
        }
    )


@dataclass(frozen=True, slots=True)
class RecordedCommand:
    """An operator command the original run applied: when, by whom (and role), what."""

    t_s: float
    kind: CommandKind
    operator: str
    role: str
    arguments: dict[str, Any]


def recorded_commands(path: str | Path) -> list[RecordedCommand]:
    """The commands a recording's audit chain says were applied successfully, in order."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT t_s, kind, payload FROM audit WHERE kind LIKE 'command.%' ORDER BY seq"
        ).fetchall()
    finally:
        db.close()
    out = []
    for t_s, kind, payload in rows:
        data = json.loads(payload)
        if not data.get("ok"):
            continue  # refused then: it changed nothing
        out.append(
            RecordedCommand(
                float(t_s),
                CommandKind(kind.removeprefix("command.")),
                str(data["operator"]),
                str(data["role"]),
                data,
            )
        )
    return out


def _replay_authority(
    commands: list[RecordedCommand], t0_s: float
) -> tuple[Authority, dict[str, str]]:
    """The recorded operators, each with the role they had, logged in for the replay.

    Each has an account and a token of their own, so the two-person rule (``node.approval``)
    tells them apart in the replay as it did in the run.
    """
    roles = {c.operator: c.role for c in commands}
    passwords = {name: secrets.token_urlsafe(12) for name in roles}
    authority = Authority(
        [OperatorAccount(n, r, hash_password(passwords[n], n=2**12)) for n, r in roles.items()],
        session_ttl_s=10 * 365 * 86400.0,
    )
    tokens = {n: authority.authenticate(n, passwords[n], t0_s).token for n in roles}
    return authority, tokens


def replay(
    path: str | Path,
    on_cycle: Callable[[NodeCore], None] | None = None,
    links: dict[str, ReplayLink] | None = None,
) -> NodeCore:
    """Replay a recording into a fresh node core (which records nothing) and return it.

    ``on_cycle`` is called after each slow cycle; ``links`` (if given) receives the
    :class:`ReplayLink` of each SAPIENT feed, holding what the replay would have sent.
    """
    rec = read_recording(path)
    try:
        node_meta: dict[str, Any] = json.loads(rec.meta.get("node", "{}"))
        schedule = Schedule(**node_meta["schedule"]) if "schedule" in node_meta else None
        effectors = [_effector(e) for e in node_meta.get("effectors", [])]
        no_fire = [_zone(z) for z in node_meta.get("no_fire", [])]
        # A recording made before the two-person rule approved every kind singly.
        rule = TwoPersonRule(
            frozenset(str(k) for k in node_meta.get("two_person", [])),
            float(node_meta.get("confirm_window_s", CONFIRM_WINDOW_S)),
        )
        commands = recorded_commands(path)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ReplayError(
            f"{path}: the recorded node configuration is unreadable ({exc})"
        ) from None
    authority, tokens = _replay_authority(commands, rec.start_s)
    core = NodeCore(
        rec.name,
        rec.origin,
        rec.zones,
        rec.start_s,
        schedule=schedule,
        fusion_node_id=str(node_meta.get("fusion_node_id", DEFAULT_FUSION_NODE_ID)),
        effectors=effectors,
        no_fire=no_fire,
        authority=authority,
        capacity_per_s=node_meta.get("capacity_per_s"),
        two_person=rule.kinds,
        confirm_window_s=rule.window_s,
    )
    settings: dict[str, Any] = json.loads(rec.meta.get("pipe_settings", "{}"))
    settings.update({k: v for k, v in rec.meta.items() if k.startswith("settings:")})
    for sid, spec in rec.feeds:
        fmt = str(spec["fmt"])
        core.add_feed(
            sid,
            str(spec["name"]),
            fmt,
            _pipe_for(fmt, sid, rec.origin, settings),
            float(str(spec["interval_s"])),
        )
        if fmt == "sapient":
            link = ReplayLink()
            core.attach(sid, link)
            allowed = rec.meta.get(f"allow:{sid}")
            if allowed is not None:  # the live peer's certificate allowed these node ids only
                spec_allow = json.loads(allowed)
                core.allow(sid, [str(n) for n in spec_allow["node_ids"]], str(spec_allow["peer"]))
            if links is not None:
                links[sid] = link
    tick = core.schedule.tick_s
    todo = list(reversed(commands))
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
            t = rec.start_s + k * tick
            if not math.isfinite(t):
                raise ReplayError("non-finite time in recording")
            while pending is not None and pending[0] <= t:
                t_rx, sid, fmt, payload = pending
                if sid in core.feeds:
                    core.receive(float(t_rx), sid, fmt, bytes(payload))
                pending = next(rows, None)
            while todo and todo[-1].t_s <= t + 1e-6:  # applied at this cycle boundary
                c = todo.pop()
                args = c.arguments
                core.submit(
                    Command(
                        c.kind,
                        tokens[c.operator],
                        int(args["target"]),
                        effector=str(args.get("effector", "")),
                        camera=str(args.get("camera", "")),
                        reason=str(args.get("reason", "")),
                    )
                )
            done = pending is None and not todo and (end_s is None or t >= end_s - 1e-6)
            if core.tick(t, final=done) and on_cycle is not None:
                on_cycle(core)
            if done:
                break
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
