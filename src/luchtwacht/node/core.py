"""The node core: one flow and one schedule for the demo, the live node and replay.

ingest → tracking → identify → threat → cue → counter → record → publish, driven by
:meth:`NodeCore.tick` on the tick grid of a :class:`Schedule`:

- every tick (0.1 s) the decoded batches are folded into the tracker;
- every picture cycle (10 Hz by default) the picture is assessed (classes, threat, alerts),
  queued operator commands are applied, engagement tasks are sent and a
  :class:`~luchtwacht.model.picture.PictureUpdate` goes to every subscriber;
- every slow cycle (1 Hz) cameras are cued and the counter stage recommends and assesses (its
  hover/landing/leaving rules count cycles of this period), and track snapshots are stored.

What drives it is the adapter's business: ``pipeline.Pipeline`` (simulated sensors on the
in-process bus, simulated edge nodes), ``runtime.LiveNode`` (sockets and TCP links on a
:class:`~luchtwacht.node.clock.Clock`) and ``store.replay`` (a recording). Cameras are found
from SAPIENT registrations (LOOK_AT and a location) and reached through the :class:`NodeLink`
of the feed they registered on, in all three alike; so are effectors.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from luchtwacht.counter.authority import AuthError, Authority, Permission
from luchtwacht.counter.catalogue import EffectorSpec
from luchtwacht.counter.engagement import CounterError, CounterUas
from luchtwacht.counter.recommend import REACTION_S
from luchtwacht.fusion import Feed, FusionCore
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import (
    DEFAULT_FUSION_NODE_ID,
    NodeState,
    SapientMessage,
    SapientPipe,
    frame,
    validate,
)
from luchtwacht.model.engagement import RecommendationState
from luchtwacht.model.picture import (
    AlertChange,
    AlertSnapshot,
    EffectorSnapshot,
    EngagementSnapshot,
    FeedSnapshot,
    FieldOfView,
    NodeSnapshot,
    PictureUpdate,
    RecommendationSnapshot,
    RemoteIdSnapshot,
)
from luchtwacht.model.zone import Zone
from luchtwacht.node.approval import CONFIRM_WINDOW_S, TWO_PERSON_DEFAULT, TwoPersonRule
from luchtwacht.node.commands import (
    PERMISSION,
    ApprovalStatus,
    Command,
    CommandKind,
    CommandResult,
)
from luchtwacht.node.load import LoadShedder
from luchtwacht.node.ports import LinkError, NodeLink, Subscriber, Subscription
from luchtwacht.store.port import Store
from luchtwacht.texts import say
from luchtwacht.threat.alerts import AlertEvent
from luchtwacht.threat.cueing import CuedCamera, Cueing
from luchtwacht.threat.zones import ZoneGeometry
from luchtwacht.tracking.tracker import TrackerConfig

log = logging.getLogger(__name__)

TICK_S = 0.1  # detections are folded in this often
PICTURE_PERIOD_S = 0.1  # the picture is assessed and published this often (10 Hz)
SLOW_PERIOD_S = 1.0  # cueing and the counter stage run this often
MAX_COMMANDS = 256  # commands queued between two cycles; more are refused at once
ENDED_KEPT_S = 60.0  # an ended engagement stays in the picture this long
REMOTE_ID_KEPT_S = 60.0  # a Remote ID transmitter stays in the picture this long after it spoke
MAX_REMOTE_IDS = 500  # Remote ID transmitters in one picture at most
EFFECTOR_NODE_TYPES = frozenset(
    {"NODE_TYPE_JAMMER", "NODE_TYPE_KINETIC", "NODE_TYPE_CYBER", "NODE_TYPE_LDEW",
     "NODE_TYPE_RFDEW"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Schedule:
    """How often each part of the flow runs, in ticks of ``tick_s``."""

    tick_s: float = TICK_S
    picture_period_s: float = PICTURE_PERIOD_S
    slow_period_s: float = SLOW_PERIOD_S

    def __post_init__(self) -> None:
        if not (self.tick_s > 0 and self.picture_period_s > 0 and self.slow_period_s > 0):
            raise ValueError("schedule periods must be positive")
        if self.slow_period_s < self.picture_period_s:
            raise ValueError("the slow period cannot be shorter than the picture period")

    @property
    def picture_ticks(self) -> int:
        """Ticks per picture cycle."""
        return max(1, round(self.picture_period_s / self.tick_s))

    @property
    def slow_ticks(self) -> int:
        """Ticks per slow cycle (a whole number of picture cycles)."""
        n = self.picture_ticks
        return max(n, round(self.slow_period_s / self.tick_s) // n * n)


class NodeCore(FusionCore):
    """One Luchtwacht node's whole flow; the adapters only feed it and drive its ticks."""

    def __init__(
        self,
        name: str,
        origin: SiteOrigin,
        zones: Sequence[Zone],
        start_s: float,
        recorder: Store | None = None,
        tracker_config: TrackerConfig | None = None,
        *,
        schedule: Schedule | None = None,
        fusion_node_id: str = DEFAULT_FUSION_NODE_ID,
        effectors: Sequence[EffectorSpec] = (),
        no_fire: Sequence[Zone] = (),
        authority: Authority | None = None,
        capacity_per_s: float | None = None,
        two_person: frozenset[str] = TWO_PERSON_DEFAULT,
        confirm_window_s: float = CONFIRM_WINDOW_S,
        reaction_s: float = REACTION_S,
    ) -> None:
        super().__init__(name, origin, list(zones), start_s, recorder, tracker_config)
        # Effector kinds whose approval needs a second person's confirmation (node.approval).
        self.approvals = TwoPersonRule(two_person, confirm_window_s)
        self.schedule = schedule or Schedule()
        # The SAPIENT reports a second the node decodes at most; beyond, it sheds (node.load).
        self.shedder = LoadShedder(capacity_per_s)
        self.fusion_node_id = fusion_node_id
        audit = recorder.audit if recorder is not None else None
        self.authority = authority if authority is not None else Authority([], audit=audit)
        self.cueing = Cueing(fusion_node_id)
        if effectors:
            self.counter = CounterUas(
                fusion_node_id,
                list(effectors),
                self.authority,
                no_fire=[ZoneGeometry(z, origin) for z in no_fire],
                audit=audit,
                zones=self.zones,
                reaction_s=reaction_s,
            )
        # What every SAPIENT node said, shared by all SAPIENT feeds: a node that reconnects
        # resumes where it was, and its state outlives its connection.
        self.sapient_registry: dict[str, NodeState] = {}
        self.links: dict[str, NodeLink] = {}  # feed id → the way to the node(s) on it
        self.node_feed: dict[str, str] = {}  # SAPIENT node id → the feed it registered on
        self.subscribers: list[Subscriber] = []
        self.internal_errors: Counter[str] = Counter()
        self.tasks_failed = 0
        self.replies_dropped = 0
        self.bind_refused = 0  # messages naming a node that is reachable on another connection
        # Node ids each feed's peer may speak for (from its client certificate); a feed not
        # listed may speak for any id no other open connection holds.
        self.allowed_ids: dict[str, frozenset[str]] = {}
        self.nodes_forgotten = 0  # nodes dropped from the full table for a new registration
        self.tick_count = 0
        # Where each input stands among the ticks, for replay (``store.replay``): payloads
        # received so far, how many came since the last tick, and the latest stamp among them.
        self.rx_count = 0
        self._rx_at_tick = 0
        self._rx_last_interval = 0
        self._last_tick_s = -math.inf
        self._rx_max_since_tick = -math.inf
        self.picture_seq = 0
        self.slow_cycles = 0
        self._commands: deque[CommandResult] = deque()
        self._changes: list[AlertChange] = []
        self._prev_ids: frozenset[int] = frozenset()
        self._bound: dict[str, set[str]] = {}  # feed id → node ids bound to it
        if recorder is not None:
            node = {
                "fusion_node_id": fusion_node_id,
                "schedule": dataclasses.asdict(self.schedule),
                "effectors": [dataclasses.asdict(e) for e in effectors],
                "no_fire": [dataclasses.asdict(z) for z in no_fire],
                "capacity_per_s": capacity_per_s,
                "two_person": sorted(self.approvals.kinds),
                "confirm_window_s": self.approvals.window_s,
                "reaction_s": reaction_s,
            }
            recorder.set_meta(node=json.dumps(node))

    # --- ingest -------------------------------------------------------------------------------

    def receive(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Bytes from a feed: decode them; a SAPIENT node's answers go back over its link.

        A defect reached by some input is counted (``internal_errors["ingest"]``) and logged;
        the feed and the node go on.
        """
        if sensor_id not in self.feeds:
            raise KeyError(f"unknown feed {sensor_id!r}")
        self._guarded("ingest", self._receive, t_rx_s, sensor_id, fmt, payload)

    def _receive(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        super().receive(t_rx_s, sensor_id, fmt, payload)
        self._note_arrival(t_rx_s)
        pipe = self.feeds[sensor_id].pipe
        if not isinstance(pipe, SapientPipe):
            return
        bound = self._bound.setdefault(sensor_id, set())
        # Ids held by another open connection never get here: the pipe's gate (``_gate``)
        # refused their messages before any state changed.
        for node_id in pipe.node_ids_here - bound:
            state = pipe.nodes.get(node_id)
            if state is None or not state.registered:
                continue
            bound.add(node_id)
            self.node_feed[node_id] = sensor_id
        replies = pipe.take_replies()
        if not replies:
            return
        link = self.links.get(sensor_id)
        for reply in replies:
            if link is not None:
                try:
                    link.send(t_rx_s, reply)
                except LinkError:
                    self.replies_dropped += 1  # counted, not logged: a flood must not flood logs
                    continue
            self.record_outgoing(t_rx_s, sensor_id, "sapient-out", reply)

    def _note_arrival(self, t_rx_s: float) -> None:
        """Count a recorded payload; note the tick before it if its stamp would misplace it.

        Replay delivers a payload before the first tick stamped at or after it. One that came
        after a tick yet is stamped no later than that tick (a manual clock, the wall clock
        stepped back) would be misplaced: the tick is then noted with how many payloads really
        came before it (``tick.order``).
        """
        self.rx_count += 1
        if self.rx_count == self._rx_at_tick + 1 and t_rx_s <= self._last_tick_s:
            self._note_order(self._last_tick_s, self.tick_count, self._rx_last_interval)
        if t_rx_s > self._rx_max_since_tick:
            self._rx_max_since_tick = t_rx_s

    def _note_order(self, t_s: float, tick: int, raws: int) -> None:
        if self.recorder is not None:
            self.recorder.audit(t_s, "tick.order", {"tick": tick, "raws": raws})

    def add_feed(
        self, sensor_id: str, name: str, fmt: str, pipe: FeedPipe, interval_s: float
    ) -> Feed:
        """Register an input feed; a SAPIENT feed shares the node registry.

        The recording notes when (after which tick and input) and with what decoder settings,
        so replay opens it at the same point of the run (``feed.open``).
        """
        settings: dict[str, object] = {}
        if isinstance(pipe, SapientPipe):
            pipe.nodes = self.sapient_registry
            pipe.gate = functools.partial(self._gate, sensor_id)
            pipe.budget = self.shedder.budget(sensor_id)
            settings = {
                "fusion_node_id": pipe.fusion_node_id,
                "geoid_undulation_m": pipe.geoid_undulation_m,
                "magnetic_declination_deg": pipe.magnetic_declination_deg,
                "max_nodes": pipe.max_nodes,
                "max_nodes_here": pipe.max_nodes_here,
            }
        elif isinstance(pipe, RemoteIdPipe):
            settings = {"geoid_undulation_m": pipe.geoid_undulation_m}
        feed = super().add_feed(sensor_id, name, fmt, pipe, interval_s)
        if self.recorder is not None:
            self.recorder.audit(
                self.now_s,
                "feed.open",
                {
                    "feed": sensor_id,
                    "name": name,
                    "fmt": fmt,
                    "interval_s": interval_s,
                    "settings": settings,
                    "tick": self.tick_count,
                    "rx": self.rx_count,
                },
            )
        return feed

    def allow(self, sensor_id: str, node_ids: Iterable[str], who: str) -> None:
        """Let the peer of a feed speak only for ``node_ids`` (its certificate ``who`` allows them).

        Kept with the recording, so replay refuses what the live node refused.
        """
        self.allowed_ids[sensor_id] = frozenset(node_ids)
        if self.recorder is not None:
            spec = {"peer": who, "node_ids": sorted(self.allowed_ids[sensor_id])}
            self.recorder.set_meta(**{f"allow:{sensor_id}": json.dumps(spec)})

    def _gate(self, sensor_id: str, node_id: str, kind: str) -> str | None:
        """Whether a SAPIENT feed may send ``kind`` for ``node_id``: None, or the refusal.

        A node id is bound to the open connection that registered it: a message naming it on
        any other connection is refused (and counted), whatever it says. A connection whose
        certificate names its node ids may use those only.
        """
        allowed = self.allowed_ids.get(sensor_id)
        if allowed is not None and node_id.lower() not in allowed:
            self.bind_refused += 1
            return "node id not allowed for this connection's certificate"
        holder = self.node_feed.get(node_id)
        if holder is not None and holder != sensor_id and holder in self.links:
            self.bind_refused += 1
            return "node id bound to another connection"
        if kind == "registration" and node_id not in self.sapient_registry:
            self._make_room()
        return None

    def _make_room(self) -> None:
        """Keep a place for a new node: forget the longest-known node no connection carries.

        The table is bounded (``max_nodes``); a flood of made-up ids fills it only while its
        connections stay open, and is forgotten first once they close.
        """
        feed = next((f for f in self.feeds.values() if isinstance(f.pipe, SapientPipe)), None)
        if feed is None or not isinstance(feed.pipe, SapientPipe):
            return
        if len(self.sapient_registry) < feed.pipe.max_nodes:
            return
        carried = set().union(
            *(f.pipe.node_ids_here for f in self.feeds.values() if isinstance(f.pipe, SapientPipe))
        )
        for node_id in self.sapient_registry:
            if node_id not in carried and not self.connected(node_id):
                del self.sapient_registry[node_id]
                self.nodes_forgotten += 1
                return

    def _feed_name(self, sensor_id: str, name: str) -> str:
        """A SAPIENT connection is named by the nodes it carries: "EHVK radar (SAPIENT 10.0.0.7:…)".

        The registered name is what an operator knows a sensor by; the address stays for the
        network engineer. A feed already named as its one node keeps its name (the demo's).
        """
        names = sorted(
            {
                node.name or node_id[:8]
                for node_id in self._bound.get(sensor_id, ())
                if (node := self.sapient_registry.get(node_id)) is not None
            }
        )
        if not names or names == [name]:
            return name
        return f"{', '.join(names)} ({name})"

    def sapient_nodes(self) -> dict[str, NodeState]:
        """Every SAPIENT node heard from, by node id (connected or not)."""
        return self.sapient_registry

    def attach(self, sensor_id: str, link: NodeLink) -> None:
        """The way back to the node(s) of a feed (a simulated node, a TCP connection)."""
        self.links[sensor_id] = link

    def remove_feed(self, sensor_id: str) -> Feed | None:
        """Forget a feed and its link; the nodes bound to it are no longer reachable."""
        self.links.pop(sensor_id, None)
        self.allowed_ids.pop(sensor_id, None)
        self.shedder.forget(sensor_id)
        for node_id in self._bound.pop(sensor_id, set()):
            if self.node_feed.get(node_id) == sensor_id:
                del self.node_feed[node_id]
        feed = super().remove_feed(sensor_id)
        if feed is not None and self.recorder is not None:  # replay closes it at the same point
            self.recorder.audit(
                self.now_s,
                "feed.close",
                {"feed": sensor_id, "tick": self.tick_count, "rx": self.rx_count},
            )
        return feed

    def connected(self, node_id: str) -> bool:
        """Whether a SAPIENT node can be reached now (its feed has a link)."""
        feed = self.node_feed.get(node_id)
        return feed is not None and feed in self.links

    # --- the schedule -------------------------------------------------------------------------

    def tick(self, t_s: float, *, final: bool = False) -> bool:
        """Advance the flow to ``t_s`` (UTC): fold in detections; run the cycles that are due.

        ``final`` runs every cycle now (the end of a run). Returns whether a slow cycle ran.
        """
        self.tick_count += 1
        came = self.rx_count - self._rx_at_tick
        if came and self._rx_max_since_tick > t_s:  # stamped after the tick it came before
            self._note_order(t_s, self.tick_count, came)
        self._rx_at_tick, self._rx_last_interval = self.rx_count, came
        self._last_tick_s, self._rx_max_since_tick = t_s, -math.inf
        if self.recorder is not None:
            self.recorder.tick(t_s)
        self._guarded("process", self.process, t_s)
        k = self.tick_count
        if not final and k % self.schedule.picture_ticks:
            return False
        slow = final or k % self.schedule.slow_ticks == 0
        self._guarded("cycle", self.picture_cycle, slow)
        self._guarded("commands", self._apply_commands, t_s)
        if slow:
            self.slow_cycles += 1
            self.shedder.rebalance(t_s)
            self._guarded("cue", self._cue, t_s)
            self._guarded("counter", self._counter, t_s)
        self._guarded("approvals", self._sweep_approvals, t_s)
        self._guarded("tasks", self._send_counter_tasks, t_s)
        self._guarded("publish", self._publish, t_s)
        if slow and self.recorder is not None:
            self.recorder.commit()
        return slow

    def picture_cycle(self, slow: bool) -> None:
        """Assess the picture (classes, threat, alerts); store track snapshots on slow cycles."""
        events = self.cycle(record_tracks=slow, commit=False)
        self._changes.extend(AlertChange(e.t_s, e.kind, AlertSnapshot.of(e.alert)) for e in events)

    def _guarded(self, stage: str, fn: Callable[..., object], *args: object) -> None:
        """Run a stage; a defect in it is logged and counted, and the node keeps serving.

        The input that triggered it is already recorded (raw bytes come first), so the fault can
        be replayed and found; dying here would blind the site instead.
        """
        try:
            fn(*args)
        except Exception:
            self.internal_errors[stage] += 1
            log.exception("node stage %s failed; the node carries on", stage)

    # --- edge nodes: cameras and effectors ------------------------------------------------------

    def send_to_node(self, t_s: float, node_id: str, message: SapientMessage) -> None:
        """Send a SAPIENT message (a Task) to an edge node over its feed's link.

        Stamped and addressed from this fusion node, checked against the ICD (we never send what
        we would refuse), recorded as sent and audited. :class:`LinkError` when the node cannot
        be reached.
        """
        feed = self.node_feed.get(node_id)
        link = self.links.get(feed) if feed is not None else None
        if feed is None or link is None:
            raise LinkError(f"node {node_id} is not connected")
        if not message.HasField("timestamp"):
            message.timestamp.FromNanoseconds(round(t_s * 1e9))
        message.node_id = self.fusion_node_id
        message.destination_id = node_id
        validate(message)
        data = frame(message)
        link.send(t_s, data)
        self.record_outgoing(t_s, feed, "sapient-out", data)
        if self.recorder is not None:
            kind = str(message.WhichOneof("content"))
            detail: dict[str, object] = {"node_id": node_id, "feed": feed, "kind": kind}
            if kind == "task":
                detail["task_id"] = message.task.task_id
                detail["command"] = str(message.task.command.WhichOneof("command"))
            self.recorder.audit(t_s, f"sapient.{kind}.sent", detail)

    def cameras(self) -> list[CuedCamera]:
        """The cameras that can be cued now: registered LOOK_AT, located, reachable, no effector."""
        known = {c.node_id: c for c in self.cueing.cameras}
        out = []
        for node_id, node in self.sapient_nodes().items():
            if not node.look_at or node.lat_deg is None or node.lon_deg is None:
                continue
            if EFFECTOR_NODE_TYPES.intersection(node.node_types) or not self.connected(node_id):
                continue
            enu = self.origin.to_enu(
                np.array([node.lat_deg]), np.array([node.lon_deg]), np.array([node.alt_m or 0.0])
            )[0]
            cam = known.get(node_id) or CuedCamera(node_id, "", (0.0, 0.0, 0.0), node.max_range_m)
            cam.sensor_id = self.node_feed[node_id]
            cam.enu_m = (float(enu[0]), float(enu[1]), float(enu[2]))
            cam.max_range_m = node.max_range_m
            out.append(cam)
        return out

    def _cue(self, t_s: float) -> None:
        """Point the cameras at the tracks that most need a look (``threat.cueing``)."""
        self.cueing.cameras = self.cameras()
        for cam, msg in self.cueing.tasks(t_s, self.views):
            look = msg.task.command.WhichOneof("command") == "look_at"
            try:
                self.send_to_node(t_s, cam.node_id, msg)
            except LinkError as exc:
                log.warning("cueing camera %s failed: %s", cam.node_id, exc)
                continue
            if self.recorder is not None:
                self.recorder.audit(
                    t_s,
                    "cue.task",
                    {
                        "camera": cam.node_id,
                        "task_id": msg.task.task_id,
                        "track_id": cam.track_id if look else None,
                        "control": "start" if look else "stop",
                    },
                )

    def _counter(self, t_s: float) -> None:
        """The counter stage: effector states, assessment, recommendations."""
        if self.counter is None:
            return
        nodes = self.sapient_nodes()
        self.counter.rf_detection = any(
            "NODE_TYPE_PASSIVE_RF" in n.node_types for n in nodes.values()
        )
        self.counter.update(t_s, self.views, nodes)

    def _send_counter_tasks(self, t_s: float) -> None:
        """Send the tasks the counter stage wrote (aim, engage, guidance, stand down)."""
        if self.counter is None:
            return
        for spec, msg in self.counter.take_tasks():
            try:
                self.send_to_node(t_s, spec.node_id, msg)
            except LinkError as exc:
                self.tasks_failed += 1
                log.warning("tasking effector %s failed: %s", spec.name, exc)
                if self.recorder is not None:
                    self.recorder.audit(
                        t_s,
                        "counter.task_failed",
                        {"effector": spec.name, "task_id": msg.task.task_id, "error": str(exc)},
                    )

    # --- commands -----------------------------------------------------------------------------

    def submit(self, command: Command) -> CommandResult:
        """Queue an operator command for the next cycle boundary; the result fills in then."""
        result = CommandResult(command)
        if len(self._commands) >= MAX_COMMANDS:
            result.applied, result.error = True, say("err.queue_full")
            return result
        self._commands.append(result)
        return result

    def _apply_commands(self, t_s: float) -> None:
        while self._commands:
            result = self._commands.popleft()
            try:
                self._apply(result, t_s)
            except (AuthError, CounterError, KeyError, ValueError) as exc:
                result.error = exc.args[0] if exc.args else type(exc).__name__
            result.applied, result.t_s = True, t_s
            if self.recorder is not None:
                cmd = result.command
                payload: dict[str, object] = {
                    "operator": result.operator,
                    "role": result.role,
                    **cmd.arguments(),
                    "ok": result.ok,
                    "tick": self.tick_count,  # replay applies it at the same tick
                }
                if result.error:
                    payload["error"] = result.error
                if result.status is not None:
                    payload["status"] = str(result.status)
                if result.eng_id is not None:
                    payload["eng_id"] = result.eng_id
                held = result.approval
                if held is not None:  # two-person rule: both persons are named in the record
                    payload["approval"] = {
                        "effector": held.effector,
                        "approved_by": held.approved_by,
                        "approved_t_s": held.t_s,
                        "expires_t_s": held.expires_t_s,
                    }
                self.recorder.audit(t_s, f"command.{cmd.kind}", payload)

    def _apply(self, result: CommandResult, t_s: float) -> None:
        cmd = result.command
        # Who asks first (every role may view), so a refusal names them; then the right.
        session = self.authority.check(cmd.token, Permission.VIEW, t_s)
        result.operator, result.role = session.username, session.role
        self.authority.check(cmd.token, PERMISSION[cmd.kind], t_s)
        if cmd.kind in (
            CommandKind.APPROVE,
            CommandKind.CONFIRM,
            CommandKind.REJECT,
            CommandKind.CEASE,
        ):
            if self.counter is None:
                raise CounterError(say("err.no_effectors"))
            if cmd.kind is CommandKind.APPROVE:
                self._approve(self.counter, result, session.username, t_s)
            elif cmd.kind is CommandKind.CONFIRM:
                held = self.approvals.confirmable(cmd.target, cmd.effector, session.username, t_s)
                # Judged again now, with the confirming person's session, as one approval is.
                eng = self.counter.approve(cmd.token, held.rec_id, held.effector, t_s)
                # Both persons on the engagement: who approved first, and who confirmed.
                eng.approved_by, eng.confirmed_by = held.approved_by, session.username
                self.approvals.cancel(held.rec_id)
                result.status, result.eng_id, result.approval = (
                    ApprovalStatus.CONFIRMED,
                    eng.eng_id,
                    held,
                )
            elif cmd.kind is CommandKind.REJECT:
                self.counter.reject(cmd.token, cmd.target, t_s, cmd.reason)
                result.approval = self.approvals.cancel(cmd.target)
            else:
                self.counter.cease(cmd.token, cmd.target, t_s, cmd.reason)
        elif cmd.kind is CommandKind.ACKNOWLEDGE:
            event = self.alerts.acknowledge(cmd.target, session.username, t_s)
            self._record_alert_event(event)
        elif cmd.kind is CommandKind.CUE:
            if not any(c.node_id == cmd.camera for c in self.cameras()):
                raise KeyError(say("err.no_camera", camera=cmd.camera))
            if not any(v.track_id == cmd.target for v in self.views):
                raise KeyError(say("err.no_track", track=cmd.target))
            self.cueing.pin(cmd.camera, cmd.target, t_s)
        result.ok = True

    def _approve(
        self, counter: CounterUas, result: CommandResult, username: str, t_s: float
    ) -> None:
        """One approval: the effector is tasked, or (two-person rule) the approval is held."""
        cmd = result.command
        spec = next((e for e in counter.effectors if e.name == cmd.effector), None)
        if spec is None or not self.approvals.applies(spec.kind):
            eng = counter.approve(cmd.token, cmd.target, cmd.effector, t_s)
            result.status, result.eng_id = ApprovalStatus.APPROVED, eng.eng_id
            return
        rec = counter.recommendations.get(cmd.target)
        if rec is None or rec.state is not RecommendationState.PENDING:
            raise CounterError(say("err.not_pending", rec=cmd.target))
        option = next((o for o in rec.options if o.effector == cmd.effector), None)
        if option is None:
            raise CounterError(say("err.no_option", rec=cmd.target, effector=cmd.effector))
        # As last judged (the confirmation judges it again): a blocked option is not held.
        if not option.usable:
            raise CounterError(
                say("err.cannot_engage", effector=cmd.effector, blocks="; ".join(option.blocked_by))
            )
        result.approval = self.approvals.hold(
            rec.rec_id, rec.track_id, spec.name, spec.kind, username, t_s
        )
        result.status = ApprovalStatus.AWAITING_CONFIRMATION

    def _sweep_approvals(self, t_s: float) -> None:
        """Cancel held approvals whose recommendation ended (expired, dropped, decided)."""
        if self.counter is None or not self.approvals.held:
            return
        pending = {r.rec_id for r in self.counter.pending()}
        for held in self.approvals.sweep(pending):
            if self.recorder is None:
                continue
            rec = self.counter.recommendations.get(held.rec_id)
            why = "recommendation forgotten" if rec is None else rec.reason or str(rec.state)
            self.recorder.audit(
                t_s,
                "approval.cancelled",
                {
                    "rec_id": held.rec_id,
                    "effector": held.effector,
                    "approved_by": held.approved_by,
                    "approved_t_s": held.t_s,
                    "reason": why,
                },
            )

    def _record_alert_event(self, event: AlertEvent) -> None:
        self.events.append(event)
        self._changes.append(AlertChange(event.t_s, event.kind, AlertSnapshot.of(event.alert)))
        if self.recorder is not None:
            self.recorder.alert_event(event.t_s, event.kind, event.alert)

    # --- publish ------------------------------------------------------------------------------

    def subscribe(self, name: str, maxsize: int = 64) -> Subscription:
        """A new bounded subscription to the picture (see :class:`Subscription`)."""
        sub = Subscription(name, maxsize)
        self.subscribers.append(sub)
        return sub

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop offering the picture to ``subscriber``."""
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def _publish(self, t_s: float) -> None:
        changes, self._changes = self._changes, []
        ids = frozenset(v.track_id for v in self.views)
        new, dropped = ids - self._prev_ids, self._prev_ids - ids
        self._prev_ids = ids
        if not self.subscribers:
            return
        self.picture_seq += 1
        update = self.picture(t_s, changes, new, dropped)
        for sub in list(self.subscribers):
            try:
                sub.offer(update)
            except Exception:
                self.internal_errors[f"subscriber {sub.name}"] += 1
                log.exception("subscriber %s failed; it is dropped", sub.name)
                self.subscribers.remove(sub)

    def picture(
        self,
        t_s: float,
        changes: Sequence[AlertChange] = (),
        new: frozenset[int] = frozenset(),
        dropped: frozenset[int] = frozenset(),
    ) -> PictureUpdate:
        """The picture as it stands now, frozen (see :class:`PictureUpdate`)."""
        recs: tuple[RecommendationSnapshot, ...] = ()
        engs: tuple[EngagementSnapshot, ...] = ()
        if self.counter is not None:
            recs = tuple(
                RecommendationSnapshot(
                    r.rec_id,
                    r.track_id,
                    r.state,
                    r.created_t_s,
                    r.updated_t_s,
                    tuple(r.options),
                    r.decided_by,
                    r.reason,
                    r.why,
                )
                for r in self.counter.pending()
            )
            engs = tuple(
                EngagementSnapshot(
                    e.eng_id,
                    e.rec_id,
                    e.track_id,
                    e.effector.name,
                    str(e.effector.kind),
                    e.approved_by,
                    e.approved_t_s,
                    e.state,
                    e.outcome,
                    e.outcome_t_s,
                    tuple(e.covered),
                    e.reason,
                    e.confirmed_by,
                )
                for e in self.counter.engagements.values()
                if e.active or (e.outcome_t_s or e.approved_t_s) >= t_s - ENDED_KEPT_S
            )
        feeds = tuple(
            FeedSnapshot(
                f.sensor_id,
                self._feed_name(f.sensor_id, f.name),
                f.fmt,
                f.state(t_s),
                f.pipe.counters.decoded,
                f.pipe.counters.rejected,
                next(reversed(f.pipe.counters.rejected_by_reason), ""),
                shed=f.pipe.counters.shed,
                late=f.late,
                future=f.future,
                failed=f.failed,
            )
            for f in self.feeds.values()
        )
        effectors: tuple[EffectorSnapshot, ...] = ()
        if self.counter is not None:
            states = self.counter.states
            effectors = tuple(
                EffectorSnapshot.of(e, states.get(e.name)) for e in self.counter.effectors
            )
        nodes = tuple(
            NodeSnapshot(
                n.node_id,
                n.name or None,
                tuple(n.node_types),
                n.registered,
                self.connected(n.node_id),
                n.lat_deg,
                n.lon_deg,
                n.mode or None,
                tuple(n.status),
                n.alt_m,
                n.max_range_m if math.isfinite(n.max_range_m) else None,
                FieldOfView(*n.fov) if n.fov is not None else None,
                n.system or None,
                n.last_status_t_s,
                n.look_at,
            )
            for n in self.sapient_nodes().values()
        )
        counters = {
            "late_batches": self.late_batches,
            "future_batches": self.future_batches,
            "failed_batches": self.failed_batches,
            "rows_refused": sum(self.tracker.rows_refused.values()),
            "internal_errors": sum(self.internal_errors.values()),
            "tasks_failed": self.tasks_failed,
            "replies_dropped": self.replies_dropped,
            "bind_refused": self.bind_refused,
            "nodes_forgotten": self.nodes_forgotten,
            **{f"lost:{s.name}": int(getattr(s, "lost", 0)) for s in self.subscribers},
        }
        return PictureUpdate(
            seq=self.picture_seq,
            t_s=t_s,
            site=self.name,
            tracks=tuple(self.views),
            new_tracks=new,
            dropped_tracks=dropped,
            alerts=tuple(AlertSnapshot.of(a) for a in self.alerts.open_alerts),
            alert_changes=tuple(changes),
            recommendations=recs,
            engagements=engs,
            feeds=feeds,
            nodes=nodes,
            effectors=effectors,
            counters=MappingProxyType(counters),
            pending_approvals=self.approvals.awaiting(t_s),
            remote_ids=self._remote_ids(t_s),
            swarms=self.swarms,
        )

    def _remote_ids(self, t_s: float) -> tuple[RemoteIdSnapshot, ...]:
        """The Remote ID transmitters heard in the last minute, with their tracks and pilots."""
        tracks = {v.uas_id: v for v in self.views if v.uas_id}
        out: list[RemoteIdSnapshot] = []
        for tx in self.remote_id_transmitters():
            if tx.last_t_s is None or tx.last_t_s < t_s - REMOTE_ID_KEPT_S:
                continue
            view = tracks.get(tx.uas_id) if tx.uas_id else None
            out.append(
                RemoteIdSnapshot(
                    tx.uas_id,
                    tx.mac,
                    view.track_id if view else None,
                    view.lat_deg if view else None,
                    view.lon_deg if view else None,
                    view.alt_m if view else None,
                    tx.operator_lat,
                    tx.operator_lon,
                    tx.operator_alt_m,
                    tx.operator_id,
                    tx.description,
                    tx.ua_type,
                    tx.id_type,
                    tx.last_t_s,
                )
            )
            if len(out) >= MAX_REMOTE_IDS:
                break
        return tuple(out)
        return tuple(out)
