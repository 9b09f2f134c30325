"""The demo adapter: scenario sensors → wire bytes → the node core, on one simulated clock.

The simulated sensors put their wire bytes on the in-process bus (a
:class:`~luchtwacht.node.ports.ByteSource`); each tick of scenario time the node core
(``luchtwacht.node``) takes what has arrived and runs the same flow and schedule as the live
node and replay. Cameras and effectors are simulated SAPIENT edge nodes behind
:class:`~luchtwacht.node.ports.SimNodeLink`: the node finds them from their registrations and
tasks them through the link, and their answers come back on the bus after their latency. Only
scenario time is read, so the air picture does not depend on the pacing speed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from luchtwacht.counter.authority import Authority, OperatorAccount
from luchtwacht.fusion import iso_utc
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import SapientPipe
from luchtwacht.node.core import NodeCore, Schedule
from luchtwacht.node.ports import BusSource, SimNodeLink
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
from luchtwacht.store.port import Store
from luchtwacht.tracking.tracker import TrackerConfig
from luchtwacht.transport.bus import InProcessBus
from luchtwacht.transport.clock import SimClock


class Pipeline(NodeCore):
    """One Luchtwacht node running a scenario end to end in a single process."""

    def __init__(
        self,
        scenario: Scenario,
        recorder: Store | None = None,
        tracker_config: TrackerConfig | None = None,
        schedule: Schedule | None = None,
        two_person: frozenset[str] = frozenset(),
        people: Sequence[OperatorAccount] = (),
    ) -> None:
        """``people`` may log in besides the simulated duty officer (the demo's console)."""
        self.operator = OperatorSim(scenario.operator) if scenario.operator is not None else None
        audit = recorder.audit if recorder is not None else None
        accounts = [self.operator.account()] if self.operator is not None else []
        accounts += list(people)
        super().__init__(
            scenario.name,
            scenario.origin,
            scenario.zones,
            scenario.epoch_s,
            recorder,
            tracker_config,
            schedule=schedule,
            effectors=scenario.effectors,
            no_fire=scenario.no_fire,
            authority=Authority(accounts, audit=audit),
            # The simulated duty officer is one person: a scenario runs without the two-person
            # rule unless the caller puts kinds under it (and supplies the second person).
            two_person=two_person,
            reaction_s=scenario.reaction_s,
        )
        self.scenario = scenario
        self.authorise(scenario.authorisations)
        self.epoch_s = scenario.epoch_s
        # This run's own truth: effectors change the drones' flight, never the scenario's.
        self.targets = counterable(scenario.targets)
        self.bus = InProcessBus()
        self.source = BusSource(self.bus)
        self.radars: list[tuple[str, RadarSim]] = []  # every simulated SAPIENT sensor node
        self.cameras_sim: dict[str, BearingSensorSim] = {}  # feed id → a camera that takes tasks
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
        for k, bc in enumerate(bearing_sensors):
            # Angle-only SAPIENT nodes ride the radars' path: same framing, same pipe.
            sid = f"{bc.kind}-{k + 1}"
            sim = BearingSensorSim(bc, self.origin, self.epoch_s, scenario.seed * 100 + 70 + k)
            self.radars.append((sid, sim))
            # A passive sensor (RF, acoustic, camera) reports only what it hears: between
            # detections its StatusReports are its heartbeat, so it is heard at least that often.
            heard_every_s = max(bc.period_s, sim.bcfg.status_interval_s)
            self.add_feed(
                sid, sim.cfg.name, "sapient", SapientPipe(sid, self.origin), heard_every_s
            )
            if sim.slewable:  # found by its LOOK_AT registration, tasked over this link
                self.cameras_sim[sid] = sim
                self.attach(
                    sid, SimNodeLink(self.bus, sid, sim.handle, sim.cfg.latency_s, self.epoch_s)
                )
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
            self.attach(sid, SimNodeLink(self.bus, sid, esim.handle, esim.latency_s, self.epoch_s))
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

    def step(self, t_s: float, *, final: bool = False) -> bool:
        """Advance to scenario time ``t_s``: simulate, deliver, then one tick of the node core.

        Returns whether a slow cycle ran.
        """
        self._simulate(t_s)
        for raw in self.source.poll(self.utc(t_s)):
            if raw.sensor_id in self.feeds:
                self.receive(raw.t_rx_s, raw.sensor_id, raw.fmt, raw.payload)
        return self.tick(self.utc(t_s), final=final)

    def run(
        self,
        duration_s: float,
        clock: SimClock | None = None,
        on_cycle: Callable[[Pipeline], None] | None = None,
    ) -> None:
        """Run ``duration_s`` more scenario seconds from where the pipeline stands.

        Paced by ``clock`` (unthrottled by default); ``on_cycle`` is called after each slow
        (1 Hz) cycle, the simulated duty officer decides then.
        """
        clock = clock or SimClock(0.0)
        tick = self.schedule.tick_s
        k0 = round(self.t_s / tick)
        n_ticks = round(duration_s / tick)
        for k in range(k0 + 1, k0 + n_ticks + 1):
            t = k * tick
            clock.advance_to(t)
            if self.step(t, final=k == k0 + n_ticks):
                self._decide(self.utc(t))
                if on_cycle is not None:
                    on_cycle(self)

    def _decide(self, t_s: float) -> None:
        """The simulated duty officer reads the picture and submits commands like anyone."""
        if self.operator is not None and self.counter is not None:
            self.operator.act(t_s, self.authority, self.counter, self.submit)

    def summary(self) -> dict[str, Any]:
        """What a headless run reports: scenario, tracks, classes, alerts, feed counters."""
        out = super().summary()
        return {"scenario": self.scenario.name, "seed": self.scenario.seed, **out}
