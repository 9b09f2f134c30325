"""Replay: feed a recording's raw bytes through the same node core again, decisions and all.

A recording (``store.recorder``) keeps every byte as received, with its arrival time and feed,
plus the site, the node's configuration (schedule, effectors, no-fire areas), every tick of the
node core (table ``tick``) and, in the audit chain, every operator command (with the tick that
applied it), every feed opened and closed (``feed.open``/``feed.close``: after which tick and
which input, with its decoder settings) and the rare tick before which the inputs' stamps do not
tell how many arrived (``tick.order``). Replay rebuilds the node core (``luchtwacht.node``) from
that and runs it through the same sequence: each input delivered between the same two ticks,
each feed opened and closed at the same point, each tick at its recorded instant, each command
applied at its tick as the same operator with the same role. So a demo run and a live run (its
wall-clock ticks, connections that come and go, node bindings, load shedding) replay to the very
same tracks, alerts, camera cues, recommendations and tasks (:func:`check_replay` proves tracks and
alert events against the recorded ones). Edge nodes are behind a
:class:`~luchtwacht.node.ports.ReplayLink`: nothing is sent, their answers are in the recording.
A recording made before ticks were recorded replays on the demo's tick grid instead.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luchtwacht.counter.authority import Authority, OperatorAccount, hash_password
from luchtwacht.counter.catalogue import EffectorSpec
from luchtwacht.counter.recommend import REACTION_S
from luchtwacht.fusion import Feed, iso_utc
from luchtwacht.geo import SiteOrigin
from luchtwacht.identify.authorisation import Authorisations, AuthorisedEntry
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import DEFAULT_FUSION_NODE_ID, SapientPipe
from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.model.track import Alert, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.node.approval import CONFIRM_WINDOW_S, TwoPersonRule
from luchtwacht.node.commands import Command, CommandKind
from luchtwacht.node.core import NodeCore, Schedule
from luchtwacht.node.ports import ReplayLink
from luchtwacht.site import AdsbSection, AsterixSection, adsb_pipe, asterix_pipe
from luchtwacht.store.chain import CHAINED
from luchtwacht.store.port import Store


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


def _authorisations(data: dict[str, Any]) -> Authorisations:
    """The whitelist and policy a recording keeps (``Authorisations.describe``)."""
    return Authorisations(
        [AuthorisedEntry.model_validate(e) for e in data.get("authorised", [])],
        data.get("policy", {}).get("cooperative_unlisted", "intruder"),
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


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """A feed opened or closed in the run, after ``tick`` ticks and ``rx`` inputs."""

    tick: int
    rx: int
    opened: bool
    feed: str
    spec: dict[str, Any]


def _audit_rows(db: sqlite3.Connection, where: str) -> list[tuple[float, str, dict[str, Any]]]:
    rows = db.execute(f"SELECT t_s, kind, payload FROM audit WHERE {where} ORDER BY seq")
    return [(float(t), str(k), json.loads(p)) for t, k, p in rows]


def _feed_events(db: sqlite3.Connection) -> list[FeedEvent]:
    return [
        FeedEvent(int(p["tick"]), int(p["rx"]), kind == "feed.open", str(p["feed"]), p)
        for _, kind, p in _audit_rows(db, "kind IN ('feed.open', 'feed.close')")
    ]


def _order_notes(db: sqlite3.Connection) -> dict[int, int]:
    return {int(p["tick"]): int(p["raws"]) for _, _, p in _audit_rows(db, "kind = 'tick.order'")}


def _recorded_ticks(db: sqlite3.Connection) -> list[float]:
    try:
        return [float(t) for (t,) in db.execute("SELECT t_s FROM tick ORDER BY seq")]
    except sqlite3.OperationalError:  # made before ticks were recorded
        return []


def _grid_ticks(
    db: sqlite3.Connection, rec: Recording, tick_s: float, last_cmd_s: float
) -> list[float]:
    """The demo's tick grid, for a recording without ticks: until every input and the end."""
    (last_rx,) = db.execute("SELECT max(t_rx_s) FROM raw WHERE format NOT LIKE '%-out'").fetchone()
    until = max(
        float(last_rx) if last_rx is not None else -math.inf,
        last_cmd_s - 1e-6,
        rec.end_s - 1e-6 if rec.end_s is not None else -math.inf,
    )
    out: list[float] = []
    k = 1
    while True:
        t = rec.start_s + k * tick_s
        if not math.isfinite(t):
            raise ReplayError("non-finite time in recording")
        out.append(t)
        if t >= until:
            return out
        k += 1


class Pacer:
    """Paces a replay at ``speed`` times real time from ``t0_s`` on (0: as fast as possible).

    The clock and the sleep are injectable, so a test paces without waiting on the wall.
    """

    def __init__(
        self,
        speed: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be 0 or a positive number, got {speed!r}")
        self.speed = speed
        self.clock = clock
        self.sleep = sleep
        self._origin: tuple[float, float] | None = None  # (recording time, wall) at the start

    def __call__(self, t_s: float) -> None:
        """Return once the wall has caught up with recording time ``t_s``."""
        if self.speed == 0:
            return
        if self._origin is None:
            self._origin = (t_s, self.clock())
            return
        t0, wall0 = self._origin
        delay = wall0 + (t_s - t0) / self.speed - self.clock()
        if delay > 0:
            self.sleep(delay)


def replay(
    path: str | Path,
    on_cycle: Callable[[NodeCore], None] | None = None,
    links: dict[str, ReplayLink] | None = None,
    *,
    store: Store | None = None,
    closed: list[Feed] | None = None,
    until_s: float | None = None,
    before_tick: Callable[[float], None] | None = None,
    on_start: Callable[[NodeCore], None] | None = None,
) -> NodeCore:
    """Replay a recording into a fresh node core and return it.

    ``on_cycle`` is called after each slow cycle; ``links`` (if given) receives the
    :class:`ReplayLink` of each SAPIENT feed, holding what the replay would have sent;
    ``store`` (default: none) gets what the replay records (a :class:`Capture` to check it);
    ``closed`` receives the feeds closed during the run (their counters); ``until_s`` stops after
    the last tick at or before it; ``before_tick`` is called with each tick's time before it
    runs (a :class:`Pacer`); ``on_start`` with the new core before its first tick (to subscribe).
    """
    rec = read_recording(path)
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        return _replay(
            db, path, rec, on_cycle, links, store, closed, until_s, before_tick, on_start
        )
    except (sqlite3.DatabaseError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ReplayError):
            raise
        raise ReplayError(f"{path}: the recording cannot be replayed ({exc})") from None
    finally:
        db.close()


def _replay(
    db: sqlite3.Connection,
    path: str | Path,
    rec: Recording,
    on_cycle: Callable[[NodeCore], None] | None,
    links: dict[str, ReplayLink] | None,
    store: Store | None,
    closed: list[Feed] | None,
    until_s: float | None,
    before_tick: Callable[[float], None] | None,
    on_start: Callable[[NodeCore], None] | None,
) -> NodeCore:
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
        # A recording made before the reaction time was recorded planned with the default.
        reaction_s = float(node_meta.get("reaction_s", REACTION_S))
        commands = recorded_commands(path)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ReplayError(
            f"{path}: the recorded node configuration is unreadable ({exc})"
        ) from None
    authority, tokens = _replay_authority(commands, rec.start_s)
    fusion_node_id = str(node_meta.get("fusion_node_id", DEFAULT_FUSION_NODE_ID))
    core = NodeCore(
        rec.name,
        rec.origin,
        rec.zones,
        rec.start_s,
        store,
        schedule=schedule,
        fusion_node_id=fusion_node_id,
        effectors=effectors,
        no_fire=no_fire,
        authority=authority,
        capacity_per_s=node_meta.get("capacity_per_s"),
        two_person=rule.kinds,
        confirm_window_s=rule.window_s,
        reaction_s=reaction_s,
    )
    authorised = rec.meta.get("authorisation")
    if authorised is not None:  # the site's whitelist and policy, as the run had them
        core.authorise(_authorisations(json.loads(authorised)))
    settings: dict[str, Any] = json.loads(rec.meta.get("pipe_settings", "{}"))
    settings.update({k: v for k, v in rec.meta.items() if k.startswith("settings:")})

    def open_feed(sid: str, spec: dict[str, Any]) -> None:
        fmt = str(spec["fmt"])
        own = {**settings, **spec.get("settings", {})}
        pipe = _pipe_for(fmt, sid, rec.origin, own)
        if isinstance(pipe, SapientPipe):
            pipe.fusion_node_id = str(own.get("fusion_node_id", fusion_node_id))
            pipe.max_nodes = int(own.get("max_nodes", pipe.max_nodes))
            pipe.max_nodes_here = int(own.get("max_nodes_here", pipe.max_nodes_here))
        core.add_feed(sid, str(spec["name"]), fmt, pipe, float(str(spec["interval_s"])))
        if fmt == "sapient":
            link = ReplayLink()
            core.attach(sid, link)
            allowed = rec.meta.get(f"allow:{sid}")
            if allowed is not None:  # the live peer's certificate allowed these node ids only
                spec_allow = json.loads(allowed)
                core.allow(sid, [str(n) for n in spec_allow["node_ids"]], str(spec_allow["peer"]))
            if links is not None:
                links[sid] = link

    events = _feed_events(db)
    if not events:  # made before feeds were noted: every feed open from the start
        events = [FeedEvent(0, 0, True, sid, spec) for sid, spec in rec.feeds]
    events.reverse()  # popped from the end, in the run's order
    notes = _order_notes(db)
    by_tick = all("tick" in c.arguments for c in commands)
    ticks = _recorded_ticks(db)
    final_at = len(ticks) if rec.end_s is not None else -1  # a run cut off had no final tick
    if not ticks:
        last_cmd = max((c.t_s for c in commands), default=-math.inf)
        ticks = _grid_ticks(db, rec, core.schedule.tick_s, last_cmd)
        final_at = len(ticks)
    todo = list(reversed(commands))
    rows = db.execute(
        "SELECT t_rx_s, sensor_id, format, payload FROM raw"
        " WHERE format NOT LIKE '%-out' ORDER BY seq"
    )
    pending = rows.fetchone()
    delivered = 0
    if on_start is not None:
        on_start(core)

    def feeds_due(ticks_done: int) -> None:
        while events and events[-1].tick <= ticks_done and events[-1].rx <= delivered:
            ev = events.pop()
            if ev.opened:
                open_feed(ev.feed, ev.spec)
            else:
                feed = core.remove_feed(ev.feed)
                if feed is not None and closed is not None:
                    closed.append(feed)

    for j, t in enumerate(ticks, 1):
        if until_s is not None and t > until_s:
            break
        if not math.isfinite(t):
            raise ReplayError(f"{path}: non-finite tick time in recording")
        quota = notes.get(j)
        feeds_due(j - 1)
        while pending is not None and (quota > 0 if quota is not None else float(pending[0]) <= t):
            t_rx, sid, fmt, payload = pending
            if sid in core.feeds:
                core.receive(float(t_rx), str(sid), str(fmt), bytes(payload))
            delivered += 1
            if quota is not None:
                quota -= 1
            pending = rows.fetchone()
            feeds_due(j - 1)
        while todo and (todo[-1].arguments["tick"] <= j if by_tick else todo[-1].t_s <= t + 1e-6):
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
        if before_tick is not None:
            before_tick(t)
        if core.tick(t, final=j == final_at) and on_cycle is not None:
            on_cycle(core)
    return core


# What --check compares: the recorded columns, in the chain's order (``store.chain.CHAINED``).
TRACK_COLUMNS = CHAINED["track"]
ALERT_COLUMNS = CHAINED["alert_event"]
Row = tuple[object, ...]


class Capture:
    """A :class:`Store` keeping a replay's track snapshots and alert events (:func:`check_replay`).

    The rows are those the recorder writes (same columns, same values); everything else the
    replay would record is let go.
    """

    def __init__(
        self, path: str | Path = "", from_s: float = -math.inf, to_s: float = math.inf
    ) -> None:
        self.path = Path(path)
        self.from_s, self.to_s = from_s, to_s  # only rows stamped in this window are kept
        self.track_rows: list[Row] = []
        self.alert_rows: list[Row] = []

    def set_meta(self, **items: str) -> None:
        """Not kept."""

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Not kept."""

    def rejections(self, t_s: float, sensor_id: str, reasons: Iterable[str]) -> None:
        """Not kept."""

    def detections(self, batch: DetectionBatch, applied: bool = True) -> None:
        """Not kept."""

    def bearings(self, batch: BearingBatch, applied: bool = True) -> None:
        """Not kept."""

    def tracks(self, views: Iterable[TrackView]) -> None:
        """Keep a snapshot of the confirmed tracks, as the recorder's ``track`` rows."""
        self.track_rows.extend(
            (v.t_s, v.track_id, v.lat_deg, v.lon_deg, v.alt_m, v.east_m, v.north_m, v.up_m,
             v.speed_ms, v.heading_deg, v.climb_ms, v.object_class, v.class_prob,
             int(v.cooperative), v.uas_id, v.threat.label, ",".join(v.zones_inside),
             v.time_to_breach_s, v.pos_std_m, v.icao)
            for v in views
            if self.from_s <= v.t_s <= self.to_s
        )  # fmt: skip

    def tick(self, t_s: float) -> None:
        """Not kept."""

    def alert_event(self, t_s: float, event: str, alert: Alert) -> None:
        """Keep an alert event, as the recorder's ``alert_event`` row."""
        if not self.from_s <= t_s <= self.to_s:
            return
        self.alert_rows.append(
            (t_s, event, alert.alert_id, alert.track_id, alert.zone, alert.level.label,
             alert.kind, alert.state.name.lower(), alert.object_class, alert.uas_id,
             alert.message)
        )  # fmt: skip

    def audit(self, t_s: float, kind: str, payload: dict[str, object]) -> object:
        """Not kept."""
        return ""

    def commit(self) -> None:
        """Nothing to make durable."""

    def close(self) -> None:
        """Nothing to close."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """How a replay compares with its recording: rows compared, differences, the first one."""

    track_rows: int
    alert_events: int
    differences: int
    first: str  # the first difference in time order, "" when there is none


def _same(a: object, b: object, tol: float) -> bool:
    if (
        isinstance(a, float | int)
        and isinstance(b, float | int)
        and (isinstance(a, float) or isinstance(b, float))
    ):
        fa, fb = float(a), float(b)
        if fa == fb:
            return True
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return abs(fa - fb) <= tol
    if a is None or b is None:  # SQLite keeps a NaN as NULL
        other = b if a is None else a
        return other is None or (isinstance(other, float) and math.isnan(other))
    return a == b


def _recorded(
    db: sqlite3.Connection, table: str, columns: tuple[str, ...], lo: float, hi: float
) -> list[Row]:
    """A table's rows in the window, as ``columns`` (read by name), in recorded order."""
    cur = db.execute(f"SELECT * FROM {table} ORDER BY rowid")
    names = [d[0] for d in cur.description]
    missing = [c for c in columns if c not in names]
    if missing:
        raise ReplayError(f"table {table} has no column {missing[0]}")
    idx = [names.index(c) for c in columns]
    return [r for r in (tuple(row[i] for i in idx) for row in cur) if lo <= float(str(r[0])) <= hi]


def _key(row: Row) -> tuple[int, float]:
    return int(str(row[1])), round(float(str(row[0])), 6)


def check_replay(
    path: str | Path,
    capture: Capture,
    from_s: float = -math.inf,
    to_s: float = math.inf,
    tol: float = 1e-6,
) -> CheckResult:
    """Compare a replay's track snapshots and alert events with the recorded ones.

    Every column must match: numbers within ``tol`` (the replay is exact, so any difference is
    a difference of input), the rest equal. Only rows stamped within [``from_s``, ``to_s``].
    """
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        rec_tracks = {_key(r): r for r in _recorded(db, "track", TRACK_COLUMNS, from_s, to_s)}
        rec_alerts = _recorded(db, "alert_event", ALERT_COLUMNS, from_s, to_s)
    except sqlite3.DatabaseError as exc:
        raise ReplayError(f"{path}: not a Luchtwacht recording ({exc})") from None
    finally:
        db.close()
    ours = {_key(r): r for r in capture.track_rows if from_s <= float(str(r[0])) <= to_s}
    diffs: list[tuple[float, str]] = []
    for key in sorted(rec_tracks.keys() | ours.keys(), key=lambda k: (k[1], k[0])):
        tid, t = key
        a, b = rec_tracks.get(key), ours.get(key)
        where = f"track {tid} at {iso_utc(t)}"
        if a is None or b is None:
            diffs.append((t, f"{where}: {'not recorded' if a is None else 'not replayed'}"))
            continue
        for col, x, y in zip(TRACK_COLUMNS, a, b, strict=True):
            if not _same(x, y, tol):
                diffs.append((t, f"{where}: {col} recorded {x!r}, replayed {y!r}"))
                break
    our_alerts = [r for r in capture.alert_rows if from_s <= float(str(r[0])) <= to_s]
    for i in range(max(len(rec_alerts), len(our_alerts))):
        a = rec_alerts[i] if i < len(rec_alerts) else None
        b = our_alerts[i] if i < len(our_alerts) else None
        row = a if a is not None else b
        assert row is not None
        t = float(str(row[0]))
        where = f"alert event {i + 1} ({row[1]} alert {row[2]}) at {iso_utc(t)}"
        if a is None or b is None:
            diffs.append((t, f"{where}: {'not recorded' if a is None else 'not replayed'}"))
            continue
        bad = next(
            (c for c, x, y in zip(ALERT_COLUMNS, a, b, strict=True) if not _same(x, y, tol)), None
        )
        if bad is not None:
            j = ALERT_COLUMNS.index(bad)
            diffs.append((t, f"{where}: {bad} recorded {a[j]!r}, replayed {b[j]!r}"))
    first = min(diffs, key=lambda d: d[0])[1] if diffs else ""
    return CheckResult(len(rec_tracks), len(rec_alerts), len(diffs), first)
