"""The simulated site: scenario sensors → wire bytes → the fusion core, on one simulated clock.

Per tick (0.1 s of scenario time) the simulated sensors put their wire bytes on the in-process
bus; the bus delivers what has arrived; the fusion core (``luchtwacht.fusion``) decodes,
validates and tracks it. Once per second the assessment cycle classifies the tracks, scores their
threat against the zones, updates the alerts and records. Only scenario time is read, so the air
picture does not depend on the pacing speed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from luchtwacht.counter.authority import Authority
from luchtwacht.counter.engagement import CounterUas
from luchtwacht.fusion import FusionCore, iso_utc
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import DEFAULT_FUSION_NODE_ID, SapientMessage, SapientPipe, frame
from luchtwacht.ingest.sapient_rules import validate
from luchtwacht.sim.adsb import AdsbReceiverSim
from luchtwacht.sim.bearing_sensor import BearingSensorSim
from luchtwacht.sim.effectors import EffectorSim
from luchtwacht.sim.effects import counterable
from luchtwacht.sim.operator import OperatorSim
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.remoteid_rx import RemoteIdReceiverSim
from luchtwacht.sim.scenario import Scenario
from luchtwacht.sim.weather import apply_weather
from luchtwacht.site import AdsbSection, adsb_pipe
from luchtwacht.store.recorder import Recorder
from luchtwacht.threat.cueing import CuedCamera, Cueing
from luchtwacht.threat.zones import ZoneGeometry
from luchtwacht.tracking.tracker import TrackerConfig
from luchtwacht.transport.bus import InProcessBus
from luchtwacht.transport.clock import SimClock

TICK_S = 0.1
CYCLE_TICKS = 10


class Pipeline(FusionCore):
    """One Luchtwacht node running a scenario end to end in a single process."""

    def __init__(
        self,
        scenario: Scenario,
        recorder: Recorder | None = None,
        tracker_config: TrackerConfig | None = None,
    ) -> None:
        super().__init__(
            scenario.name,
            scenario.origin,
            scenario.zones,
            scenario.epoch_s,
            recorder,
            tracker_config,
        )
        self.scenario = scenario
        self.epoch_s = scenario.epoch_s
        # This run's own truth: effectors change the drones' flight, never the scenario's.
        self.targets = counterable(scenario.targets)
        self.bus = InProcessBus()
        self.radars: list[tuple[str, RadarSim]] = []  # every simulated SAPIENT node
        self.rid_receivers: list[tuple[str, RemoteIdReceiverSim]] = []
        self._chunk_rng = np.random.default_rng(scenario.seed + 1000)
        # The weather is the sensors' business: it changes what they see, not the fusion.
        radars, bearing_sensors = apply_weather(
            scenario.weather, scenario.radars, scenario.bearing_sensors
        )
        for k, rc in enumerate(radars):
            sid = f"radar-{k + 1}"
            self.radars.append(
                (sid, RadarSim(rc, self.origin, self.epoch_s, scenario.seed * 100 + k))
            )
            self.add_feed(sid, rc.name, "sapient", SapientPipe(sid, self.origin), rc.period_s)
        self.cueing = Cueing(DEFAULT_FUSION_NODE_ID)
        self._cued: dict[str, BearingSensorSim] = {}  # feed id -> a camera that takes tasks
        for k, bc in enumerate(bearing_sensors):
            # Angle-only SAPIENT nodes ride the radars' path: same framing, same pipe.
            sid = f"{bc.kind}-{k + 1}"
            sim = BearingSensorSim(bc, self.origin, self.epoch_s, scenario.seed * 100 + 70 + k)
            self.radars.append((sid, sim))
            self.add_feed(sid, sim.cfg.name, "sapient", SapientPipe(sid, self.origin), bc.period_s)
            if sim.slewable:
                enu = self.origin.to_enu(
                    np.array([bc.lat_deg]), np.array([bc.lon_deg]), np.array([bc.alt_m])
                )[0]
                self.cueing.add_camera(
                    CuedCamera(bc.node_id, sid, (enu[0], enu[1], enu[2]), bc.max_range_m)
                )
                self._cued[sid] = sim
        self.adsb_receivers: list[tuple[str, AdsbReceiverSim]] = []
        for k, ar in enumerate(scenario.adsb_receivers):
            sid = ar.receiver_id
            asim = AdsbReceiverSim(ar, self.origin, self.epoch_s, scenario.seed * 100 + 90 + k)
            self.adsb_receivers.append((sid, asim))
            section = AdsbSection(format="avr", receiver_lat=ar.lat_deg, receiver_lon=ar.lon_deg)
            self.add_feed(
                sid, f"ADS-B receiver {sid}", "adsb", adsb_pipe(section, sid, self.origin), 0.5
            )
            if recorder is not None:  # what replay needs to rebuild the decoder
                recorder.set_meta(**{f"settings:{sid}": section.model_dump_json()})
        for k, rr in enumerate(scenario.remoteid_receivers):
            sid = rr.receiver_id
            seed = scenario.seed * 100 + 50 + k
            self.rid_receivers.append(
                (sid, RemoteIdReceiverSim(rr, self.origin, self.epoch_s, seed))
            )
            pipe = RemoteIdPipe(sid, self.origin)
            self.add_feed(sid, f"Remote ID receiver {sid}", "remoteid-jsonl", pipe, 1.0)
        self.effectors: dict[str, tuple[str, EffectorSim]] = {}  # node id -> (feed id, sim)
        self.operator: OperatorSim | None = None
        self.authority = Authority([], audit=recorder.audit if recorder is not None else None)
        if scenario.effectors:
            for k, spec in enumerate(scenario.effectors):
                sid = f"effector-{k + 1}"
                esim = EffectorSim(spec, self.origin, self.epoch_s, scenario.seed * 100 + 110 + k)
                self.effectors[spec.node_id] = (sid, esim)
                own = esim.own_target()
                if own is not None:  # an interceptor in the air is seen like anything else
                    self.targets.append(own)
                self.add_feed(
                    sid, spec.name, "sapient", SapientPipe(sid, self.origin), esim.status_interval_s
                )
            if scenario.operator is not None:
                self.operator = OperatorSim(scenario.operator)
                self.authority = Authority(
                    [self.operator.account()],
                    audit=recorder.audit if recorder is not None else None,
                )
            self.counter = CounterUas(
                DEFAULT_FUSION_NODE_ID,
                list(scenario.effectors),
                self.authority,
                no_fire=[ZoneGeometry(z, self.origin) for z in scenario.no_fire],
                audit=recorder.audit if recorder is not None else None,
                rf_detection=any(b.kind == "rf" for b in scenario.bearing_sensors),
            )
        if recorder is not None:
            recorder.set_meta(scenario=scenario.name, seed=str(scenario.seed), epoch=self.iso(0.0))
            recorder.audit(
                self.epoch_s, "run.start", {"scenario": scenario.name, "seed": scenario.seed}
            )

    # --- time ---------------------------------------------------------------------------------

    @property
    def t_s(self) -> float:
        """Scenario time (seconds since the scenario's epoch)."""
        return self.now_s - self.epoch_s

    def utc(self, t_s: float) -> float:
        """Scenario seconds → UTC seconds."""
        return self.epoch_s + t_s

    def iso(self, t_s: float) -> str:
        """Scenario seconds → ISO 8601 UTC text."""
        return iso_utc(self.utc(t_s))

    # --- the flow -----------------------------------------------------------------------------

    def _simulate(self, t_s: float) -> None:
        """Let every simulated sensor emit what it sends up to ``t_s`` onto the bus."""
        targets = self.targets
        for sid, eff in self.effectors.values():
            while eff.next_scan_s <= t_s + 1e-9:
                scan_t = eff.next_scan_s
                for data in eff.scan(scan_t, targets):
                    self.bus.publish(self.utc(scan_t + eff.latency_s), sid, "sapient", data)
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
        for sid, ads in self.adsb_receivers:
            while ads.next_tick_s <= t_s + 1e-9:
                for t_rx, line in ads.tick(ads.next_tick_s, targets):
                    self.bus.publish(self.utc(t_rx), sid, "adsb", line)
        for sid, rx in self.rid_receivers:
            while rx.next_tick_s <= t_s + 1e-9:
                for t_rx, line in rx.tick(rx.next_tick_s, targets):
                    self.bus.publish(self.utc(t_rx), sid, "remoteid-jsonl", line)

    def step(self, t_s: float) -> None:
        """Advance the flow to scenario time ``t_s``: simulate, deliver, decode, track."""
        self._simulate(t_s)
        for raw in self.bus.drain(self.utc(t_s)):
            if raw.sensor_id in self.feeds:
                self.receive(raw.t_rx_s, raw.sensor_id, raw.fmt, raw.payload)
        self.process(self.utc(t_s))
        for feed in self.feeds.values():
            if isinstance(feed.pipe, SapientPipe):
                # The simulated node does not listen; the answers are kept as evidence.
                for reply in feed.pipe.take_replies():
                    self.record_outgoing(self.utc(t_s), feed.sensor_id, "sapient-out", reply)

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
                self.cue(t)
                self.engage(t)
                if on_cycle is not None:
                    on_cycle(self)

    def cue(self, t_s: float) -> None:
        """Task the pan-tilt cameras (``threat.cueing``) and deliver the tasks to them.

        Each task is checked against the ICD rules, recorded with the evidence and audited; the
        camera's TaskAck comes back on its own SAPIENT stream like any report.
        """
        for cam, msg in self.cueing.tasks(self.utc(t_s), self.views):
            sim = self._cued[cam.sensor_id]
            self._deliver(t_s, cam.sensor_id, msg, sim.handle, sim.cfg.latency_s)
            if self.recorder is not None:
                look = msg.task.command.WhichOneof("command") == "look_at"
                self.recorder.audit(
                    self.utc(t_s),
                    "cue.task",
                    {
                        "camera": cam.node_id,
                        "task_id": msg.task.task_id,
                        "track_id": cam.track_id if look else None,
                        "control": "start" if look else "stop",
                    },
                )

    def engage(self, t_s: float) -> None:
        """The counter stage: recommend; the duty operator decides; task the effectors.

        Tasks are checked against the ICD rules, recorded with the evidence and delivered; the
        effector's TaskAck and new mode come back on its own SAPIENT stream.
        """
        if self.counter is None:
            return
        utc = self.utc(t_s)
        self.counter.update(utc, self.views, self.sapient_nodes())
        if self.operator is not None:
            self.operator.act(utc, self.authority, self.counter)
        for spec, msg in self.counter.take_tasks():
            sid, esim = self.effectors[spec.node_id]
            self._deliver(t_s, sid, msg, esim.handle, esim.latency_s)

    def _deliver(
        self,
        t_s: float,
        sensor_id: str,
        msg: SapientMessage,
        handle: Callable[[float, bytes], list[bytes]],
        latency_s: float,
    ) -> None:
        """Send a task to a simulated node (checked, framed, recorded); its answers follow."""
        validate(msg)  # never send what we would refuse ourselves
        data = frame(msg)
        self.record_outgoing(self.utc(t_s), sensor_id, "sapient-out", data)
        for reply in handle(t_s, data):
            self.bus.publish(self.utc(t_s + latency_s), sensor_id, "sapient", reply)

    def summary(self) -> dict[str, Any]:
        """What a headless run reports: scenario, tracks, classes, alerts, feed counters."""
        out = super().summary()
        return {"scenario": self.scenario.name, "seed": self.scenario.seed, **out}
