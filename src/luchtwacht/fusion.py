"""The fusion core: every feed's bytes → detections → tracks → classes → threat → alerts → record.

One core serves both ways Luchtwacht runs: the simulated demo (``pipeline.Pipeline`` drives it
from simulated sensors on a simulated clock) and the live node (``runtime`` drives it from sockets
on the wall clock). Times are UTC seconds throughout. Per delivery, :meth:`FusionCore.receive`
hands bytes to the feed's pipe; :meth:`FusionCore.process` flushes the pipes and folds the batches
into the tracker in time order; :meth:`FusionCore.cycle` (about once a second) classifies,
assesses threat, updates alerts and records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from luchtwacht.counter.engagement import CounterUas
from luchtwacht.geo import SiteOrigin
from luchtwacht.identify.authorisation import Authorisations, Verdict
from luchtwacht.identify.classify import UNKNOWN, Classification, classify, explain, identity_kind
from luchtwacht.identify.features import Features, TrackFeatures
from luchtwacht.identify.make_model import identify_make
from luchtwacht.identify.pilot import PilotEstimate, PilotLocator
from luchtwacht.identify.spoofing import (
    Coverage,
    SpoofMonitor,
    SpoofResult,
    latest_claims,
    sensor_split,
)
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe, Transmitter
from luchtwacht.ingest.sapient import NodeState, SapientPipe
from luchtwacht.model.detection import BearingBatch, DetectionBatch, ObjectClass, RfEmitter
from luchtwacht.model.picture import SwarmSnapshot
from luchtwacht.model.track import Alert, ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.store.port import Store
from luchtwacht.threat.alerts import AlertEvent, AlertManager
from luchtwacht.threat.assess import assess
from luchtwacht.threat.swarm import NO_SWARM, SwarmTracker
from luchtwacht.threat.zones import ZoneGeometry
from luchtwacht.tracking.models import POS, VEL
from luchtwacht.tracking.tracker import Tracker, TrackerConfig, TrackTable

log = logging.getLogger(__name__)

F64 = NDArray[np.float64]

OWN_GATE_M = 30.0  # a track this close to where our airborne interceptor says it is, is it
OWN_FRESH_S = 3.0  # …if it said so this recently
OWN_SPEED_MS = 40.0  # how fast an interceptor may have flown on since its report
LATE_TOLERANCE_S = 5.0  # a batch older than this (against the processing time) is not applied
FUTURE_TOLERANCE_S = 2.0  # nor one stamped further ahead: a sensor clock gone wrong
_CLASS_LABELS = {int(c): c.label for c in ObjectClass}
_LABEL_OF = tuple(c.label for c in ObjectClass)  # class index → label
REASONS_KEPT = 20_000  # tracks whose classification reasons are cached
MAKES_KEPT = 20_000  # tracks whose make and model are cached
PILOTS_RECORDED_KEPT = 20_000  # tracks whose last recorded pilot estimate is remembered
_NO_MAKE: tuple[str | None, tuple[str, ...]] = (None, ())
_LEVELS = tuple(ThreatLevel(k) for k in range(max(ThreatLevel) + 1))
PROPOSED_HORIZON_S = 300.0  # how far ahead a proposed drone's breach course is looked for
EVENTS_KEPT = 10_000  # alert events held in memory (all of them go to the store)
RECORDS_KEPT = 10_000  # track life records held for the summary, the most recent ones


def iso_utc(t_s: float) -> str:
    """UTC seconds → ISO 8601 text with milliseconds and a Z."""
    stamp = dt.datetime.fromtimestamp(t_s, tz=dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Feed:
    """One input feed: its pipe, wire format, expected reporting interval and last arrival."""

    sensor_id: str
    name: str
    fmt: str
    pipe: FeedPipe
    interval_s: float
    last_rx_s: float | None = None
    rejected_recorded: int = 0  # rejections already written to the recorder
    reasons_recorded: Counter[str] = field(default_factory=Counter)
    # Batches of this feed not applied, by why: older than the out-of-sequence window, stamped
    # too far ahead, or failing in the tracker (a defect, isolated so the others go on).
    late: int = 0
    future: int = 0
    failed: int = 0

    def state(self, t_s: float) -> str:
        """Feed health: ok, waiting (nothing yet) or lost (silent for 3 intervals)."""
        if self.last_rx_s is None:
            return "waiting"
        return "ok" if t_s - self.last_rx_s <= 3 * self.interval_s + 1.0 else "lost"


@dataclass(slots=True)
class TrackRecord:
    """A confirmed track's life, for the summary and the evidence."""

    track_id: int
    first_confirmed_t_s: float
    last_t_s: float
    object_class: str = "unknown"
    class_prob: float = 0.0
    class_seen: Counter[str] = field(default_factory=Counter)
    cooperative: bool = False
    uas_id: str | None = None
    max_threat: ThreatLevel = ThreatLevel.NONE
    zones_entered: set[str] = field(default_factory=set)
    last_view: TrackView | None = None


class FusionCore:
    """The air picture of one site, fed by any number of feeds."""

    def __init__(
        self,
        name: str,
        origin: SiteOrigin,
        zones: tuple[Zone, ...] | list[Zone],
        start_s: float,
        recorder: Store | None = None,
        tracker_config: TrackerConfig | None = None,
    ) -> None:
        self.name = name
        self.origin = origin
        self.start_s = start_s
        self.now_s = start_s
        self.recorder = recorder
        self.tracker = Tracker(tracker_config)
        self.zones = [ZoneGeometry(z, origin) for z in zones]
        self.alerts = AlertManager()
        # Remote ID claims checked against the radars and the independent tracks.
        self.spoofing = SpoofMonitor(pd_max=self.tracker.config.pd)
        self.swarm_tracker = SwarmTracker()  # drones flying together: one entry per swarm
        self.swarms: tuple[SwarmSnapshot, ...] = ()  # this cycle's swarms
        # The site's whitelist and its policy for Remote ID drones not on it (see authorise).
        self.authorisations = Authorisations()
        # Controllers heard by RF detectors and each track's pilot (identify.pilot).
        self.pilots = PilotLocator(origin)
        self.feeds: dict[str, Feed] = {}
        self.views: list[TrackView] = []
        self._reasons: dict[int, tuple[str, ...]] = {}  # track id → its classification reasons
        self.features = TrackFeatures()  # each track's motion history, for the classifier
        # track id → (its identities, its make and evidence): worked out when identities change
        self._makes: dict[int, tuple[tuple[str | None, ...], tuple[str | None, tuple[str, ...]]]]
        self._makes = {}
        # track id → the pilot estimate last written to the audit log (east, north, err, source)
        self._pilots_recorded: dict[int, tuple[float, float, float, str]] = {}
        self.records: dict[int, TrackRecord] = {}
        # Recent alert events only: a node up for weeks must not grow (the store keeps them all).
        self.events: deque[AlertEvent] = deque(maxlen=EVENTS_KEPT)
        self.counter: CounterUas | None = None  # the counter stage, when effectors are on site
        self.late_batches = 0
        self.future_batches = 0
        self.failed_batches = 0  # batches the tracker raised on (counted per feed too)
        self._last_batch_t = -math.inf
        self._batches: list[DetectionBatch | BearingBatch] = []
        self._released: list[str] = []  # feeds removed: their sensors leave the tracker next
        # Called with every batch the tracker was given and whether it was applied (evaluation
        # attributes detections to the truth this way; nothing in the picture depends on it).
        self.batch_observers: list[Callable[[DetectionBatch | BearingBatch, bool], None]] = []
        if recorder is not None:
            site = {
                "name": name,
                "lat": origin.lat_deg,
                "lon": origin.lon_deg,
                "alt_m": origin.alt_m,
                "zones": [dataclasses.asdict(z) for z in zones],
            }
            recorder.set_meta(site=json.dumps(site), start_s=repr(start_s))

    def add_feed(
        self, sensor_id: str, name: str, fmt: str, pipe: FeedPipe, interval_s: float
    ) -> Feed:
        """Register an input feed under ``sensor_id``."""
        feed = Feed(sensor_id, name, fmt, pipe, interval_s)
        self.feeds[sensor_id] = feed
        if self.recorder is not None:
            spec = {"order": len(self.feeds), "name": name, "fmt": fmt, "interval_s": interval_s}
            self.recorder.set_meta(**{f"feed:{sensor_id}": json.dumps(spec)})
        return feed

    def remove_feed(self, sensor_id: str) -> Feed | None:
        """Forget a feed (its connection closed): its held batches are queued first."""
        feed = self.feeds.pop(sensor_id, None)
        if feed is not None:
            self._batches.extend(feed.pipe.flush())
            self._released.append(sensor_id)  # after its last batches are folded in
        return feed

    def receive(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Bytes from a feed arrived at ``t_rx_s``: record them, decode them, queue the batches."""
        feed = self.feeds.get(sensor_id)
        if feed is None:
            raise KeyError(f"unknown feed {sensor_id!r}")
        feed.last_rx_s = t_rx_s
        self._batches.extend(feed.pipe.feed(payload, t_rx_s))
        if self.recorder is not None:
            self.recorder.raw(t_rx_s, sensor_id, fmt, payload)
            counters = feed.pipe.counters
            if counters.rejected != feed.rejected_recorded:  # rare: compare reasons only then
                new = counters.rejected_by_reason - feed.reasons_recorded
                self.recorder.rejections(t_rx_s, sensor_id, new.elements())
                feed.reasons_recorded = Counter(counters.rejected_by_reason)
                feed.rejected_recorded = counters.rejected

    def process(self, t_s: float) -> None:
        """Flush the pipes and fold every queued batch into the tracker, oldest first."""
        self.now_s = t_s
        for feed in self.feeds.values():
            self._batches.extend(feed.pipe.flush())
        batches, self._batches = self._batches, []
        for batch in sorted(
            batches, key=lambda b: b.time_s if np.isfinite(b.time_s) else -math.inf
        ):
            # Judged against the processing time, never against other batches: one bad sensor
            # clock must not make every later batch look late.
            late = batch.time_s < t_s - LATE_TOLERANCE_S
            future = batch.time_s > t_s + FUTURE_TOLERANCE_S
            # Rows the tracker cannot use (non-finite, degenerate covariances) are dropped by it
            # and counted (``tracker.rows_refused``): one bad plot never costs the whole scan.
            if isinstance(batch, BearingBatch):
                finite = bool(np.isfinite(batch.time_s) and np.isfinite(batch.sensor_enu_m).all())
                usable = not (late or future) and finite
                # Bearings on a controller locate its pilot; they never reach the tracker.
                rest = self.pilots.take(batch) if usable else batch
                applied = usable and (rest is None or self._fold(rest))
                if self.recorder is not None and len(batch):
                    self.recorder.bearings(batch, applied=applied)
            else:
                finite = bool(np.isfinite(batch.time_s))
                applied = not (late or future) and finite and self._fold(batch)
                if applied and batch.polar is not None:  # a radar's scan: how often it looks
                    self.spoofing.looks.saw(batch.sensor_id, batch.time_s)
                if self.recorder is not None and len(batch):
                    self.recorder.detections(batch, applied=applied)
            for observe in self.batch_observers:
                observe(batch, applied)
            if not applied:
                self.late_batches += late
                self.future_batches += future
                source = self.feeds.get(batch.sensor_id)
                if source is not None:
                    source.late += late
                    source.future += future
                continue
            self._last_batch_t = max(self._last_batch_t, batch.time_s)
        for sid in self._released:
            if sid not in self.feeds:  # not back under the same id meanwhile
                self.tracker.release_sensor(sid)
        self._released.clear()

    def _fold(self, batch: DetectionBatch | BearingBatch) -> bool:
        """Fold one batch into the tracker; one that makes it raise is counted and skipped.

        A defect reached by some input must cost that batch only: every other batch of the tick
        is still applied, and the batch stays in the recording (marked not applied).
        """
        try:
            if isinstance(batch, BearingBatch):
                return self.tracker.process_bearings(batch)
            return self.tracker.process(batch)
        except Exception as exc:  # isolated on purpose: counted and logged
            self.failed_batches += 1
            feed = self.feeds.get(batch.sensor_id)
            if feed is not None:
                feed.failed += 1
            if self.failed_batches <= 10 or self.failed_batches % 1000 == 0:
                log.error(
                    "batch of %s at t=%.3f not applied (%d so far): %s: %s",
                    batch.sensor_id, batch.time_s, self.failed_batches, type(exc).__name__, exc,
                )  # fmt: skip
            return False

    def authorise(self, authorisations: Authorisations) -> None:
        """Use the site's whitelist and policy from now on, and keep them with the recording."""
        self.authorisations = authorisations
        if self.recorder is not None:
            self.recorder.set_meta(authorisation=json.dumps(authorisations.describe()))

    def _authorise(
        self, idents: list[object], geo_l: list[list[float]], t_s: float
    ) -> list[Verdict | None]:
        """Each track's whitelist verdict: None without a Remote ID identity.

        The UAS ID is the track's; the operator ID is what the Remote ID transmitter of that UAS
        ID broadcast; the position is the track's own (fused), not the drone's claim.
        """
        out: list[Verdict | None] = [None] * len(idents)
        rid = [j for j, ident in enumerate(idents) if identity_kind(ident) == "remoteid"]
        if not rid:
            return out
        ops = {tx.uas_id: tx.operator_id for tx in self.remote_id_transmitters() if tx.uas_id}
        for j in rid:
            uas = str(idents[j])
            out[j] = self.authorisations.check(uas, ops.get(uas), t_s, geo_l[j][0], geo_l[j][1])
        return out

    def remote_id_transmitters(self) -> Iterator[Transmitter]:
        """Every Remote ID transmitter any feed has heard, feed by feed."""
        for feed in self.feeds.values():
            if isinstance(feed.pipe, RemoteIdPipe):
                yield from feed.pipe.transmitters.values()

    def sapient_nodes(self) -> dict[str, NodeState]:
        """Every SAPIENT node any feed has heard from, by node id."""
        nodes: dict[str, NodeState] = {}
        for feed in self.feeds.values():
            if isinstance(feed.pipe, SapientPipe):
                nodes.update(feed.pipe.nodes)
        return nodes

    def record_outgoing(self, t_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Keep bytes Luchtwacht sent to a sensor (acks, errors, tasks) with the evidence."""
        if self.recorder is not None:
            self.recorder.raw(t_s, sensor_id, fmt, payload)

    def cycle(self, *, record_tracks: bool = True, commit: bool = True) -> list[AlertEvent]:
        """Assessment cycle: classify, assess threat, update alerts, record.

        ``record_tracks`` stores this cycle's track snapshots (the node core stores them on its
        slow cycles only); ``commit`` ends the store's transaction.
        """
        t_utc = self.now_s
        # Coasting is judged on the data's own clock (a sensor running a few seconds behind
        # must not see its tracks dropped), falling back to the wall when data stops coming.
        self.tracker.maintain(max(min(self._last_batch_t, t_utc), t_utc - LATE_TOLERANCE_S))
        tt = self.tracker.tracks
        feats = self.features.update(tt, t_utc)
        cls = classify(tt, feats)
        conf = np.flatnonzero(tt.confirmed)
        # The picture at the cycle time, not at each track's last plot.
        x_now, p_now = self.tracker.predicted(t_utc)
        # A Remote ID claim the radar should see but does not is no track of the picture (no
        # ghost); a track whose claim is elsewhere is not cooperative (identify.spoofing).
        spoof = self._spoof_check(t_utc, tt, x_now, p_now)
        conf = conf[~spoof.hidden[conf]]
        cls = dataclasses.replace(cls, cooperative=cls.cooperative & ~spoof.inconsistent)
        pos, vel = x_now[conf][:, POS], x_now[conf][:, VEL]
        pos_std = (
            np.sqrt(np.trace(p_now[conf][:, POS, POS], axis1=1, axis2=2) / 3.0)
            if conf.size
            else np.empty(0)
        )
        ellipse_l = horizontal_ellipses(p_now[conf][:, :2, :2]).tolist()
        alt_std_l = np.sqrt(np.maximum(p_now[conf][:, 2, 2], 0.0)).tolist()
        probs = cls.prob[conf]
        rank = np.argsort(-probs, axis=1)
        probs_l = np.take_along_axis(probs, rank, axis=1).round(3).tolist()
        rank_l = rank.tolist()
        reasons = self._class_reasons(tt, cls, conf, feats, refresh=record_tracks)
        own = self._own_assets(t_utc, pos, pos_std)
        own_mask = np.array([name is not None for name in own], dtype=bool)
        geo = self.origin.to_geodetic(pos) if conf.size else np.empty((0, 3))
        geo_l = geo.tolist()
        # Authorised (the site's whitelist): friendly, no threat. A Remote ID drone that is not
        # authorised is an intruder under the site's default policy: no cooperative discount.
        verdicts = self._authorise(
            [None if spoof.inconsistent[r] else tt.ident[r] for r in conf.tolist()], geo_l, t_utc
        )
        authorised = np.array([v is not None and v.authorised for v in verdicts], dtype=bool)
        unlisted_intrude = self.authorisations.policy == "intruder"
        intruder = ~own_mask & np.array(
            [unlisted_intrude and v is not None and not v.authorised for v in verdicts], dtype=bool
        )
        threat = assess(
            pos,
            vel,
            type(cls)(
                cls.class_idx[conf], cls.prob[conf], (cls.cooperative[conf] & ~intruder) | own_mask
            ),
            self.zones,
            own=own_mask | authorised,
        )
        speed = np.hypot(vel[:, 0], vel[:, 1])
        heading = np.degrees(np.arctan2(vel[:, 0], vel[:, 1])) % 360.0
        course_std_l = course_std_deg(vel[:, :2], p_now[conf][:, VEL, VEL][:, :2, :2]).tolist()
        # Plain Python values per column, once: this runs at the picture rate over every track.
        pos_l, vel_l = pos.tolist(), vel.tolist()
        speed_l, heading_l, std_l = speed.tolist(), heading.tolist(), pos_std.tolist()
        level_l = threat.level.tolist()
        prob_l = cls.prob[conf].max(axis=1).tolist() if conf.size else []
        coop_l = cls.cooperative[conf].tolist()
        tid_l = tt.track_id[conf].tolist()
        seen_l = tt.seen_by[conf].tolist()
        names = threat.zone_names
        any_inside: list[bool] = np.asarray(threat.inside.any(axis=1), dtype=bool).tolist()
        inside_l = threat.inside.tolist()
        ttb_l = threat.ttb_s.tolist()
        labels = [
            "unknown" if k == UNKNOWN else _CLASS_LABELS[k] for k in cls.class_idx[conf].tolist()
        ]
        # Drones flying together become one threat entry (threat.swarm); birds never do.
        swarm_ids = self.swarm_tracker.update(
            tt.track_id[conf],
            pos,
            vel,
            (cls.class_idx[conf] == ObjectClass.DRONE) & ~own_mask & ~authorised,
        )
        swarm_l = [None if s == NO_SWARM else s for s in swarm_ids.tolist()]
        pilot_l = self.pilots.estimates(
            t_utc,
            tid_l,
            [tt.emitter[r] for r in conf.tolist()],
            self._operators([tt.ident[r] for r in conf.tolist()]),
        )
        views = []
        ttb_by_zone: dict[int, dict[str, float]] = {}
        for j, row in enumerate(conf.tolist()):
            tid = int(tid_l[j])
            emitter = tt.emitter[row]
            ident = tt.ident[row]
            kind = identity_kind(ident)
            ttb_j = {name: v for name, v in zip(names, ttb_l[j], strict=True) if v == v}
            lla, enu = geo_l[j], pos_l[j]
            verdict = verdicts[j]
            # Positional, in TrackView's field order (tests/test_fusion.py pins that order):
            # keyword construction of a frozen dataclass costs twice as much, at 10 Hz per track.
            view = TrackView(
                tid,  # track_id
                t_utc,  # t_s
                lla[0],  # lat_deg
                lla[1],  # lon_deg
                lla[2],  # alt_m
                enu[0],  # east_m
                enu[1],  # north_m
                enu[2],  # up_m
                speed_l[j],  # speed_ms
                heading_l[j],  # heading_deg
                vel_l[j][2],  # climb_ms
                labels[j],  # object_class
                prob_l[j],  # class_prob
                bool(coop_l[j]) or own[j] is not None,  # cooperative
                ident if kind == "remoteid" else None,  # uas_id
                _LEVELS[level_l[j]],  # threat
                tuple(n for n, f in zip(names, inside_l[j], strict=True) if f)
                if any_inside[j]
                else (),  # zones_inside
                min(ttb_j.values()) if ttb_j else None,  # time_to_breach_s
                std_l[j],  # pos_std_m
                str(ident).split(":", 1)[1] if kind == "adsb" else None,  # icao
                self.tracker.sensor_names(int(seen_l[j])),  # sensors
                emitter.protocol if emitter is not None else None,  # rf_protocol
                emitter.serial if emitter is not None else None,  # rf_serial
                emitter.band_mhz if emitter is not None else None,  # rf_band_mhz
                own[j],  # own_asset
                tuple(ellipse_l[j]),  # ellipse_m
                tuple(zip([_LABEL_OF[k] for k in rank_l[j]], probs_l[j], strict=True)),
                reasons[j],  # class_reasons
                alt_std_l[j],  # alt_std_m
                verdict is not None and verdict.authorised,  # authorised
                None
                if verdict is None
                else verdict.entry
                if verdict.authorised
                else verdict.reason,  # authorisation
                bool(intruder[j]),  # coop_intruder
                *self._make_model(tid, ident if kind == "remoteid" else None, emitter),
                swarm_id=swarm_l[j],
                drone_kind=cls.kind(row),
                course_std_deg=course_std_l[j],
            )
            pilot = pilot_l[j]
            if pilot is not None:  # few tracks have one: the others keep the fast constructor
                view = _with_pilot(view, pilot, t_utc)
                if record_tracks:
                    self._record_pilot(tid, pilot, t_utc)
            views.append(view)
            ttb_by_zone[tid] = ttb_j
            if record_tracks:  # the summary's track life, kept at the store's (slow) rate
                self._remember(view)
        self.swarms = self._swarm_snapshots(views, swarm_ids, pos, vel)
        # Tracks the counter stage proposes a countermeasure against (at the last cycle): their
        # breach course is looked at further out than the warning time, so that the alert
        # names them no later than the proposal does (threat.alerts).
        proposed: set[int] = set()
        if self.counter is not None:  # …and those under an engagement the operator approved
            proposed = {r.track_id for r in self.counter.pending()} | {
                e.track_id for e in self.counter.engagements.values() if e.active
            }
        rows = [j for j, t in enumerate(tid_l) if t in proposed]
        if rows:
            for zg in self.zones:
                far = zg.time_to_breach(pos[rows], vel[rows], horizon_s=PROPOSED_HORIZON_S)
                for j, v in zip(rows, far.tolist(), strict=True):
                    if v == v:
                        ttb_by_zone[int(tid_l[j])].setdefault(zg.zone.name, v)
        views.sort(key=lambda v: (-v.threat, v.track_id))
        self.views = views
        events = self.alerts.update(
            t_utc,
            views,
            {z.zone.name: z.zone.warn_time_s for z in self.zones},
            ttb_by_zone,
            proposed,
        )
        events += self.alerts.findings(t_utc, spoof.findings)
        self.events.extend(events)
        if self.recorder is not None:
            if record_tracks:
                self.recorder.tracks(views)
            for ev in events:
                self.recorder.alert_event(ev.t_s, ev.kind, ev.alert)
            if commit:
                self.recorder.commit()
        while len(self.records) > RECORDS_KEPT:  # least recently seen first (see _remember)
            del self.records[next(iter(self.records))]
        return events

    def _swarm_snapshots(
        self, views: list[TrackView], ids: NDArray[np.int64], pos: F64, vel: F64
    ) -> tuple[SwarmSnapshot, ...]:
        """Each swarm as one entry: members, centroid, mean velocity, worst threat, first breach.

        ``views``, ``ids``, ``pos`` and ``vel`` are row-aligned (confirmed tracks, in table order).
        """
        out = []
        for sw in self.swarm_tracker.swarms(ids):
            rows = sw.rows.tolist()
            c, v = pos[sw.rows].mean(axis=0), vel[sw.rows].mean(axis=0)
            lla = self.origin.to_geodetic(c[None])[0].tolist()
            ttbs = [views[r].time_to_breach_s for r in rows]
            known = [t for t in ttbs if t is not None]
            out.append(
                SwarmSnapshot(
                    sw.swarm_id,
                    tuple(sorted(views[r].track_id for r in rows)),
                    lla[0],
                    lla[1],
                    lla[2],
                    float(c[0]),
                    float(c[1]),
                    float(c[2]),
                    float(np.hypot(v[0], v[1])),
                    float(np.degrees(np.arctan2(v[0], v[1])) % 360.0),
                    max(views[r].threat for r in rows),
                    min(known) if known else None,
                    float(np.linalg.norm(pos[sw.rows] - c, axis=1).max()),
                )
            )
        return tuple(out)

    def _spoof_check(self, t_s: float, tt: TrackTable, x: F64, p: F64) -> SpoofResult:
        """Every Remote ID claim against the independent tracks and the live radars' coverage."""
        rid = {sid for sid, f in self.feeds.items() if isinstance(f.pipe, RemoteIdPipe)}
        independent, rid_only = sensor_split(tt.seen_by, self.tracker.sensor_names, rid)
        return self.spoofing.update(
            t_s, latest_claims(self.remote_id_transmitters()), x[:, POS], p[:, POS, POS],
            tt.track_id, tt.ident.tolist(), independent & tt.confirmed, rid_only,
            self._radars(t_s),
        )  # fmt: skip

    def _radars(self, t_s: float) -> list[Coverage]:
        """The radars of live feeds: where they are and how far they see, as they registered."""
        out = []
        for feed in self.feeds.values():
            if not isinstance(feed.pipe, SapientPipe) or feed.state(t_s) != "ok":
                continue
            for node in feed.pipe.nodes.values():
                if (
                    "NODE_TYPE_RADAR" not in node.node_types
                    or node.lat_deg is None
                    or node.lon_deg is None
                    or not math.isfinite(node.max_range_m)
                ):
                    continue
                at = self.origin.to_enu(node.lat_deg, node.lon_deg, node.alt_m or 0.0).ravel()
                enu = (float(at[0]), float(at[1]), float(at[2]))
                name = node.name or node.node_id
                look_s = self.spoofing.looks.look_s(feed.sensor_id, feed.interval_s)
                out.append(Coverage(name, enu, node.max_range_m, look_s))
        return out

    def _make_model(
        self, tid: int, uas_id: object, emitter: RfEmitter | None
    ) -> tuple[str | None, tuple[str, ...]]:
        """A track's make and model and their evidence in words, cached per track.

        Decoded again only when the track's identities (UAS ID, RF serial, RF protocol) change.
        """
        key = (
            None if uas_id is None else str(uas_id),
            emitter.serial if emitter is not None else None,
            emitter.protocol if emitter is not None else None,
            emitter.sub_class if emitter is not None else None,
            emitter.sub_class_by if emitter is not None else None,
        )
        if key == (None, None, None, None, None):
            return _NO_MAKE
        hit = self._makes.get(tid)
        if hit is not None and hit[0] == key:
            return hit[1]
        found = identify_make(*key)
        out = (found.label, found.evidence) if found is not None else _NO_MAKE
        self._makes[tid] = (key, out)
        while len(self._makes) > MAKES_KEPT:
            del self._makes[next(iter(self._makes))]
        return out

    def _record_pilot(self, tid: int, pilot: PilotEstimate, t_s: float) -> None:
        """Write a track's pilot estimate to the audit log when it is new or has changed.

        Changed: another source, moved by more than its error (at least 25 m), or an error
        that grew or shrank by a third. The track table keeps no pilot columns; the chained
        audit log is where the evidence of who flew it stays.
        """
        if self.recorder is None:
            return
        last = self._pilots_recorded.get(tid)
        if last is not None:
            moved = math.hypot(pilot.east_m - last[0], pilot.north_m - last[1])
            if (
                last[3] == pilot.source
                and moved <= max(pilot.err_m, 25.0)
                and abs(pilot.err_m - last[2]) <= last[2] / 3.0
            ):
                return
        self._pilots_recorded.pop(tid, None)
        self._pilots_recorded[tid] = (pilot.east_m, pilot.north_m, pilot.err_m, pilot.source)
        while len(self._pilots_recorded) > PILOTS_RECORDED_KEPT:
            del self._pilots_recorded[next(iter(self._pilots_recorded))]
        self.recorder.audit(
            t_s,
            "identify.pilot",
            {
                "track_id": tid,
                "lat": round(pilot.lat_deg, 7),
                "lon": round(pilot.lon_deg, 7),
                "err_m": round(pilot.err_m, 1),
                "ellipse_m": [round(x, 1) for x in pilot.ellipse_m],
                "source": pilot.source,
                "evidence_t_s": pilot.t_s,
            },
        )

    def _class_reasons(
        self,
        tt: TrackTable,
        cls: Classification,
        conf: NDArray[np.int64],
        feats: Features | None = None,
        *,
        refresh: bool,
    ) -> list[tuple[str, ...]]:
        """Each confirmed track's classification reasons, worked out again on slow cycles only.

        Words are for people: once a second is often enough, and at the picture rate over a
        thousand tracks the string building would cost more than the tracking.
        """
        ids = tt.track_id[conf].tolist()
        todo = np.array(
            [j for j, tid in enumerate(ids) if refresh or tid not in self._reasons], dtype=np.int64
        )
        if todo.size:
            for j, words in zip(todo.tolist(), explain(tt, cls, conf[todo], feats), strict=True):
                self._reasons[ids[j]] = words
            while len(self._reasons) > REASONS_KEPT:
                del self._reasons[next(iter(self._reasons))]
        return [self._reasons[tid] for tid in ids]

    def _own_assets(self, t_s: float, pos: F64, pos_std: F64) -> list[str | None]:
        """Which tracks are our own airborne effectors (interceptors): the name, or None each.

        A SAPIENT mobile effector node that reports "Airborne" says where it is twice a second.
        The confirmed track nearest that position is it, within :data:`OWN_GATE_M` plus three
        times the track's error plus :data:`OWN_SPEED_MS` times the report's age. Our own
        interceptor must never be taken for an intruder.
        """
        out: list[str | None] = [None] * pos.shape[0]
        if not pos.shape[0]:
            return out
        for node in self.sapient_nodes().values():
            if (
                "NODE_TYPE_MOBILE_NODE" not in node.node_types
                or node.lat_deg is None
                or node.lon_deg is None
                or node.last_status_t_s is None
                or t_s - node.last_status_t_s > OWN_FRESH_S
                or not any(entry.endswith(" Airborne") for entry in node.status)
            ):
                continue
            at = self.origin.to_enu(
                np.array([node.lat_deg]), np.array([node.lon_deg]), np.array([node.alt_m or 0.0])
            )[0]
            d = np.linalg.norm(pos - at, axis=1)
            d[[name is not None for name in out]] = np.inf
            k = int(np.argmin(d))
            # It flew on since it reported: the gate grows with the report's age.
            age = max(t_s - node.last_status_t_s, 0.0)
            if d[k] <= OWN_GATE_M + OWN_SPEED_MS * age + 3.0 * pos_std[k]:
                out[k] = node.name or node.node_id
        return out

    def _remember(self, v: TrackView) -> None:
        # Re-inserted on every update, so the dict runs from least to most recently seen.
        rec = self.records.pop(v.track_id, None)
        if rec is None:
            rec = TrackRecord(v.track_id, v.t_s, v.t_s)
        self.records[v.track_id] = rec
        rec.last_t_s = v.t_s
        rec.object_class, rec.class_prob = v.object_class, v.class_prob
        rec.class_seen[v.object_class] += 1
        rec.cooperative = rec.cooperative or v.cooperative
        rec.uas_id = v.uas_id or rec.uas_id
        rec.max_threat = max(rec.max_threat, v.threat)
        rec.zones_entered.update(v.zones_inside)
        rec.last_view = v

    def finish(self) -> None:
        """Close the run in the record: a final audit entry, then commit."""
        if self.recorder is not None:
            self.recorder.set_meta(end_s=repr(self.now_s))
            self.recorder.audit(
                self.now_s,
                "run.end",
                {"tracks_confirmed": len(self.records), "alerts": len(self.alerts.alerts)},
            )
            self.recorder.commit()

    def summary(self) -> dict[str, Any]:
        """What a headless run reports: tracks, their classes, alerts, feed counters."""
        rel = self.start_s
        tracks = []
        for rec in sorted(self.records.values(), key=lambda r: r.track_id):
            ident = self._operator_of(rec.uas_id)
            tracks.append(
                {
                    "track_id": rec.track_id,
                    "class": rec.object_class,
                    "class_prob": round(rec.class_prob, 3),
                    "class_history": dict(rec.class_seen),
                    "cooperative": rec.cooperative,
                    "uas_id": rec.uas_id,
                    "authorisation": rec.last_view.authorisation if rec.last_view else None,
                    "operator": ident,
                    "pilot": _pilot_dict(rec.last_view),
                    "confirmed_t_s": round(rec.first_confirmed_t_s - rel, 1),
                    "last_t_s": round(rec.last_t_s - rel, 1),
                    "max_threat": rec.max_threat.label,
                    "zones_entered": sorted(rec.zones_entered),
                }
            )
        alerts = [
            _alert_dict(a, rel)
            for a in sorted(self.alerts.alerts.values(), key=lambda a: a.alert_id)
        ]
        classes = Counter(str(t["class"]) for t in tracks)
        return {
            "site": self.name,
            "start": iso_utc(self.start_s),
            "duration_s": round(self.now_s - self.start_s, 1),
            "tracks_confirmed": len(tracks),
            "classes": dict(sorted(classes.items())),
            "alerts_raised": len(alerts),
            "tracks": tracks,
            "alerts": alerts,
            "sensors": {
                f.sensor_id: {
                    "name": f.name,
                    "format": f.fmt,
                    "decoded": f.pipe.counters.decoded,
                    "rejected": f.pipe.counters.rejected,
                    "rejected_by_reason": dict(f.pipe.counters.rejected_by_reason),
                    "state": f.state(self.now_s),
                    "late": f.late,
                    "future": f.future,
                    "failed": f.failed,
                    "shed": f.pipe.counters.shed,
                }
                for f in self.feeds.values()
            },
            "late_batches_dropped": self.late_batches,
            "future_batches_dropped": self.future_batches,
            **({"counter": self.counter.summary(rel)} if self.counter is not None else {}),
        }

    def _operators(self, idents: list[object]) -> list[tuple[float, float, float] | None]:
        """Each track's Remote ID operator position (lat, lon, last heard), None without one."""
        out: list[tuple[float, float, float] | None] = [None] * len(idents)
        rid = [j for j, ident in enumerate(idents) if identity_kind(ident) == "remoteid"]
        if not rid:
            return out
        ops = {
            tx.uas_id: (tx.operator_lat, tx.operator_lon, tx.last_t_s)
            for tx in self.remote_id_transmitters()
            if tx.uas_id and tx.operator_lat is not None and tx.operator_lon is not None
        }
        for j in rid:
            op = ops.get(str(idents[j]))
            if op is not None and op[0] is not None and op[1] is not None:
                out[j] = (op[0], op[1], op[2] if op[2] is not None else self.now_s)
        return out

    def _operator_of(self, uas_id: str | None) -> dict[str, object] | None:
        if uas_id is None:
            return None
        for tx in self.remote_id_transmitters():
            if tx.uas_id == uas_id:
                return {
                    "lat": tx.operator_lat,
                    "lon": tx.operator_lon,
                    "operator_id": tx.operator_id,
                    "mac": tx.mac,
                }
        return None


def _alert_dict(a: Alert, rel: float) -> dict[str, object]:
    return {
        "alert_id": a.alert_id,
        "track_id": a.track_id,
        "zone": a.zone,
        "level": a.level.label,
        "kind": a.kind,
        "object_class": a.object_class,
        "uas_id": a.uas_id,
        "raised_t_s": round(a.raised_t_s - rel, 1),
        "state": a.state.name.lower(),
        "cleared_t_s": None if a.cleared_t_s is None else round(a.cleared_t_s - rel, 1),
        "message": a.message,
    }


def _pilot_dict(v: TrackView | None) -> dict[str, object] | None:
    """A track's last pilot estimate for the summary, None without one."""
    if v is None or v.pilot_lat_deg is None or v.pilot_lon_deg is None:
        return None
    return {
        "lat": round(v.pilot_lat_deg, 6),
        "lon": round(v.pilot_lon_deg, 6),
        "err_m": None if v.pilot_err_m is None else round(v.pilot_err_m, 1),
        "source": v.pilot_source,
        "age_s": None if v.pilot_age_s is None else round(v.pilot_age_s, 1),
    }


def _with_pilot(view: TrackView, pilot: PilotEstimate, t_s: float) -> TrackView:
    """The view with its pilot estimate."""
    return dataclasses.replace(
        view,
        pilot_lat_deg=pilot.lat_deg,
        pilot_lon_deg=pilot.lon_deg,
        pilot_err_m=pilot.err_m,
        pilot_ellipse_m=pilot.ellipse_m,
        pilot_source=pilot.source,
        pilot_age_s=max(t_s - pilot.t_s, 0.0),
    )


def course_std_deg(vel: F64, cov: F64) -> F64:
    """1-sigma uncertainty (deg) of each ground course: velocity error across it over speed.

    From (N, 2) east/north velocities and their (N, 2, 2) covariances. What the counter stage
    widens a breach course by (a fresh track's heading may be 20° off).
    """
    speed = np.hypot(vel[:, 0], vel[:, 1])
    still = speed < 1e-9  # no course at all: any direction across it will do
    across = np.column_stack([-vel[:, 1], vel[:, 0]]) / np.where(still, 1.0, speed)[:, None]
    across[still] = (1.0, 0.0)
    var = np.einsum("ni,nij,nj->n", across, cov, across)
    return np.asarray(np.degrees(np.arctan2(np.sqrt(np.maximum(var, 0.0)), speed)), np.float64)


def horizontal_ellipses(cov: F64) -> F64:
    """(N, 3) 1-sigma ellipses of (N, 2, 2) east/north covariances: semi-axes (m) and bearing.

    Closed form for symmetric 2×2 matrices, over all tracks at once: semi-major, semi-minor and
    the major axis' bearing in degrees clockwise from north (0..180).
    """
    a, b, c = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    mid = 0.5 * (a + c)
    rad = np.sqrt((0.5 * (a - c)) ** 2 + b**2)
    major = np.sqrt(np.maximum(mid + rad, 0.0))
    minor = np.sqrt(np.maximum(mid - rad, 0.0))
    theta = 0.5 * np.arctan2(2.0 * b, a - c)  # from east, counter-clockwise
    bearing = (90.0 - np.degrees(theta)) % 180.0
    return np.stack([major, minor, bearing], axis=1) if cov.shape[0] else np.empty((0, 3))
