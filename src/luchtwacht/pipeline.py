"""The pipeline: feeds → ingest → tracking → identification → threat → alerts → recorder.

Wires simulated (or real) feeds through every stage on one simulated clock.

Per tick (0.1 s of scenario time) the simulated sensors put their wire bytes on the bus; the
bus delivers what has arrived; each feed's pipe decodes and validates it into detection batches;
the tracker folds the batches in time order. Once per second the assessment cycle classifies the
tracks, scores their threat against the zones, updates the alerts and writes everything to the
recorder. Only scenario time is read, so the air picture does not depend on the pacing speed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from luchtwacht.identify.classify import classify
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import SapientPipe
from luchtwacht.model.detection import DetectionBatch
from luchtwacht.model.track import Alert, ThreatLevel, TrackView
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.remoteid_rx import RemoteIdReceiverSim
from luchtwacht.sim.scenario import Scenario
from luchtwacht.store.recorder import Recorder
from luchtwacht.threat.alerts import AlertEvent, AlertManager
from luchtwacht.threat.assess import assess
from luchtwacht.threat.zones import ZoneGeometry
from luchtwacht.tracking.models import POS, VEL
from luchtwacht.tracking.tracker import Tracker, TrackerConfig
from luchtwacht.transport.bus import InProcessBus
from luchtwacht.transport.clock import SimClock

TICK_S = 0.1
CYCLE_TICKS = 10


@dataclass(slots=True)
class Feed:
    """One input feed: its pipe, wire format, expected reporting interval and last arrival."""

    sensor_id: str
    name: str
    fmt: str
    pipe: FeedPipe
    interval_s: float
    last_rx_s: float | None = None

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


class Pipeline:
    """One Luchtwacht node running a scenario end to end in a single process."""

    def __init__(
        self,
        scenario: Scenario,
        recorder: Recorder | None = None,
        tracker_config: TrackerConfig | None = None,
    ) -> None:
        self.scenario = scenario
        self.origin = scenario.origin
        self.epoch_s = scenario.epoch_s
        self.recorder = recorder
        self.bus = InProcessBus()
        self.tracker = Tracker(tracker_config)
        self.zones = [ZoneGeometry(z, self.origin) for z in scenario.zones]
        self.alerts = AlertManager()
        self.feeds: dict[str, Feed] = {}
        self.radars: list[tuple[str, RadarSim]] = []
        self.rid_receivers: list[tuple[str, RemoteIdReceiverSim]] = []
        self._chunk_rng = np.random.default_rng(scenario.seed + 1000)
        for k, rc in enumerate(scenario.radars):
            sid = f"radar-{k + 1}"
            self.radars.append(
                (sid, RadarSim(rc, self.origin, self.epoch_s, scenario.seed * 100 + k))
            )
            self.feeds[sid] = Feed(
                sid, rc.name, "sapient", SapientPipe(sid, self.origin), rc.period_s
            )
        for k, rr in enumerate(scenario.remoteid_receivers):
            sid = rr.receiver_id
            self.rid_receivers.append(
                (
                    sid,
                    RemoteIdReceiverSim(
                        rr, self.origin, self.epoch_s, scenario.seed * 100 + 50 + k
                    ),
                )
            )
            self.feeds[sid] = Feed(
                sid,
                f"Remote ID receiver {sid}",
                "remoteid-jsonl",
                RemoteIdPipe(sid, self.origin),
                1.0,
            )
        self.t_s = 0.0  # scenario time
        self.views: list[TrackView] = []
        self.records: dict[int, TrackRecord] = {}
        self.events: list[AlertEvent] = []
        self.late_batches = 0
        self._last_batch_t = -math.inf
        if recorder is not None:
            recorder.set_meta(scenario=scenario.name, seed=str(scenario.seed), epoch=self.iso(0.0))
            recorder.audit(
                self.epoch_s, "run.start", {"scenario": scenario.name, "seed": scenario.seed}
            )

    # --- time ---------------------------------------------------------------------------------

    def utc(self, t_s: float) -> float:
        """Scenario seconds → UTC seconds."""
        return self.epoch_s + t_s

    def iso(self, t_s: float) -> str:
        """Scenario seconds → ISO 8601 UTC text."""
        stamp = dt.datetime.fromtimestamp(self.utc(t_s), tz=dt.UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # --- the flow -----------------------------------------------------------------------------

    def _simulate(self, t_s: float) -> None:
        """Let every simulated sensor emit what it sends up to ``t_s`` onto the bus."""
        targets = self.scenario.targets
        for sid, radar in self.radars:
            while radar.next_scan_s <= t_s + 1e-9:
                scan_t = radar.next_scan_s
                stream = b"".join(radar.scan(scan_t, targets))
                # TCP delivers a byte stream in segments that ignore frame boundaries.
                pos = 0
                while pos < len(stream):
                    size = int(self._chunk_rng.integers(200, 1460))
                    self.bus.publish(
                        self.utc(scan_t + radar.cfg.latency_s),
                        sid,
                        "sapient",
                        stream[pos : pos + size],
                    )
                    pos += size
        for sid, rx in self.rid_receivers:
            while rx.next_tick_s <= t_s + 1e-9:
                for t_rx, line in rx.tick(rx.next_tick_s, targets):
                    self.bus.publish(self.utc(t_rx), sid, "remoteid-jsonl", line)

    def step(self, t_s: float) -> None:
        """Advance the flow to scenario time ``t_s``: simulate, deliver, decode, track."""
        self.t_s = t_s
        self._simulate(t_s)
        batches: list[DetectionBatch] = []
        for raw in self.bus.drain(self.utc(t_s)):
            feed = self.feeds.get(raw.sensor_id)
            if feed is None:
                continue
            feed.last_rx_s = raw.t_rx_s - self.epoch_s
            before = Counter(feed.pipe.counters.rejected_by_reason)
            batches.extend(feed.pipe.feed(raw.payload))
            if self.recorder is not None:
                self.recorder.raw(raw.t_rx_s, raw.sensor_id, raw.fmt, raw.payload)
                new = feed.pipe.counters.rejected_by_reason - before
                if new:
                    self.recorder.rejections(raw.t_rx_s, raw.sensor_id, new.elements())
        for feed in self.feeds.values():
            batches.extend(feed.pipe.flush())
            if isinstance(feed.pipe, SapientPipe):
                # The simulated node does not listen; the answers are kept as evidence.
                for reply in feed.pipe.take_replies():
                    if self.recorder is not None:
                        self.recorder.raw(self.utc(t_s), feed.sensor_id, "sapient-out", reply)
        for batch in sorted(batches, key=lambda b: b.time_s):
            if batch.time_s < self._last_batch_t - 2.0:
                self.late_batches += 1  # beyond the tolerated lateness: not applied
                continue
            self.tracker.process(batch)
            self._last_batch_t = max(self._last_batch_t, batch.time_s)

    def cycle(self) -> list[AlertEvent]:
        """Assessment cycle: classify, assess threat, update alerts, record."""
        t_utc = self.utc(self.t_s)
        self.tracker.maintain(t_utc)
        tt = self.tracker.tracks
        cls = classify(tt)
        conf = np.flatnonzero(tt.confirmed)
        x_now, p_now = self.tracker.predicted(
            t_utc
        )  # the picture at the cycle time, not at the last plot
        pos, vel = x_now[conf][:, POS], x_now[conf][:, VEL]
        threat = assess(
            pos,
            vel,
            type(cls)(cls.class_idx[conf], cls.prob[conf], cls.cooperative[conf]),
            self.zones,
        )
        geo = self.origin.to_geodetic(pos) if conf.size else np.empty((0, 3))
        speed = np.hypot(vel[:, 0], vel[:, 1])
        heading = np.degrees(np.arctan2(vel[:, 0], vel[:, 1])) % 360.0
        pos_std = (
            np.sqrt(np.trace(p_now[conf][:, POS, POS], axis1=1, axis2=2) / 3.0)
            if conf.size
            else np.empty(0)
        )
        views = []
        ttb_by_zone: dict[int, dict[str, float]] = {}
        for j, row in enumerate(conf.tolist()):
            tid = int(tt.track_id[row])
            label = cls.label(row)
            view = TrackView(
                track_id=tid,
                t_s=t_utc,
                lat_deg=float(geo[j, 0]),
                lon_deg=float(geo[j, 1]),
                alt_m=float(geo[j, 2]),
                east_m=float(pos[j, 0]),
                north_m=float(pos[j, 1]),
                up_m=float(pos[j, 2]),
                speed_ms=float(speed[j]),
                heading_deg=float(heading[j]),
                climb_ms=float(vel[j, 2]),
                object_class=label,
                class_prob=float(cls.prob[row].max()),
                cooperative=bool(cls.cooperative[row]),
                uas_id=tt.ident[row],
                threat=ThreatLevel(int(threat.level[j])),
                zones_inside=threat.zones_inside(j),
                time_to_breach_s=threat.min_ttb(j),
                pos_std_m=float(pos_std[j]),
            )
            views.append(view)
            ttb_by_zone[tid] = {
                name: float(v)
                for name, v in zip(threat.zone_names, threat.ttb_s[j], strict=True)
                if not np.isnan(v)
            }
            self._remember(view)
        views.sort(key=lambda v: (-v.threat, v.track_id))
        self.views = views
        events = self.alerts.update(
            t_utc, views, {z.zone.name: z.zone.warn_time_s for z in self.zones}, ttb_by_zone
        )
        self.events.extend(events)
        if self.recorder is not None:
            self.recorder.tracks(views)
            for ev in events:
                self.recorder.alert_event(ev.t_s, ev.kind, ev.alert)
            self.recorder.commit()
        return events

    def _remember(self, v: TrackView) -> None:
        rec = self.records.get(v.track_id)
        if rec is None:
            rec = self.records[v.track_id] = TrackRecord(v.track_id, v.t_s, v.t_s)
        rec.last_t_s = v.t_s
        rec.object_class, rec.class_prob = v.object_class, v.class_prob
        rec.class_seen[v.object_class] += 1
        rec.cooperative = rec.cooperative or v.cooperative
        rec.uas_id = v.uas_id or rec.uas_id
        rec.max_threat = max(rec.max_threat, v.threat)
        rec.zones_entered.update(v.zones_inside)
        rec.last_view = v

    def run(
        self,
        duration_s: float,
        clock: SimClock | None = None,
        on_cycle: Callable[[Pipeline], None] | None = None,
    ) -> None:
        """Run ``duration_s`` more scenario seconds from where the pipeline stands.

        Paced by ``clock`` (unthrottled by default).
        """
        clock = clock or SimClock(0.0)
        k0 = round(self.t_s / TICK_S)
        n_ticks = round(duration_s / TICK_S)
        for k in range(k0 + 1, k0 + n_ticks + 1):
            t = k * TICK_S
            clock.advance_to(t)
            self.step(t)
            if k % CYCLE_TICKS == 0 or k == k0 + n_ticks:
                self.cycle()
                if on_cycle is not None:
                    on_cycle(self)

    def finish(self) -> None:
        """Close the run in the record: a final audit entry, then commit."""
        if self.recorder is not None:
            self.recorder.audit(
                self.utc(self.t_s),
                "run.end",
                {"tracks_confirmed": len(self.records), "alerts": len(self.alerts.alerts)},
            )
            self.recorder.commit()

    # --- summary --------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What a headless run reports: tracks, their classes, alerts, feed counters."""
        rel = self.epoch_s
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
                    "operator": ident,
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
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "start": self.iso(0.0),
            "duration_s": round(self.t_s, 1),
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
                    "state": f.state(self.t_s),
                }
                for f in self.feeds.values()
            },
            "late_batches_dropped": self.late_batches,
        }

    def _operator_of(self, uas_id: str | None) -> dict[str, object] | None:
        if uas_id is None:
            return None
        for f in self.feeds.values():
            if isinstance(f.pipe, RemoteIdPipe):
                for tx in f.pipe.transmitters.values():
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
