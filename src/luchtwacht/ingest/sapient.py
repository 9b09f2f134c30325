"""SAPIENT (BSI Flex 335 v2.0) ingest: framing, decoding, ICD validation, conversion to detections.

Where it sits: bytes from a sensor node (ASM) → :class:`FrameReader` (4-byte little-endian length
+ serialized ``SapientMessage``) → :func:`parse_message` (protobuf bindings from ``sapient-proto``)
→ :func:`validate` (the ICD's rules) → :class:`SapientPipe` keeps each node's registration and
location and turns DetectionReports into :class:`~luchtwacht.model.DetectionBatch` in site ENU.

The rules live in :mod:`luchtwacht.ingest.sapient_rules` (its docstring holds the rule table):
the ICD annotations compiled into the bindings (``is_mandatory``, ``is_ulid``, ``is_uuid``, BSI
Flex 335 v2.0 §5) plus the value rules they cannot express (ranges, units, coordinate systems,
cross-field consistency). Every rejection is a :class:`SapientError` naming the field path and the
rule. DetectionReports take a fast path that validates and reads each field once; the pipe then
converts a whole delivery per node with one array call.

The pipe adds the fusion node's own rejections: ``frame.length: exceeds maximum`` (the stream is
out of step and reset), ``malformed protobuf``, ``detection from an unregistered node``,
``node location unknown (no StatusReport)`` for range/bearing plots, and ``not supported for
fusion yet`` for positions in UTM.
"""

from __future__ import annotations

import itertools
import logging
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from numpy.typing import NDArray
from sapient_msg.bsi_flex_335_v2_0 import (
    alert_ack_pb2,
    detection_report_pb2,
    location_pb2,
    range_bearing_pb2,
    registration_pb2,
    sapient_message_pb2,
    task_pb2,
)

from luchtwacht.geo import SiteOrigin, aer_covariance_to_enu
from luchtwacht.geo.utm import utm_to_geodetic
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.ingest.sapient_rules import (
    _LOC_DEG,
    _LOC_RAD,
    _LOC_UTM,
    ICD_VERSION,
    DetectionRow,
    SapientError,
    detection_row,
    is_ulid,
    is_uuid,
    timestamp_s,
    validate,
    validate_reference,
)
from luchtwacht.model.detection import (
    BearingBatch,
    DetectionBatch,
    ObjectClass,
    RfEmitter,
    class_report_loglik,
)
from luchtwacht.transport.sapient_tcp import MAX_FRAME_BYTES, FrameReader, frame, split_frames

__all__ = [
    "DEFAULT_FUSION_NODE_ID",
    "ICD_VERSION",
    "MAX_FRAME_BYTES",
    "DetectionReport",
    "DetectionRow",
    "FrameReader",
    "Location",
    "NodeState",
    "RangeBearing",
    "SapientError",
    "SapientMessage",
    "SapientPipe",
    "detection_row",
    "frame",
    "is_ulid",
    "is_uuid",
    "location_geodetic",
    "map_class",
    "new_ulid",
    "parse_message",
    "split_frames",
    "timestamp_s",
    "validate",
    "validate_reference",
]

log = logging.getLogger(__name__)

SapientMessage = sapient_message_pb2.SapientMessage
DetectionReport = detection_report_pb2.DetectionReport
Location = location_pb2.Location
RangeBearing = range_bearing_pb2.RangeBearing

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Framing lives with the transport (``transport/sapient_tcp.py``); re-exported here for the
# decoders and edge nodes that import it with the codec.


def tasks_for(data: bytes, node_id: str) -> list[task_pb2.Task]:
    """The ``Task`` messages addressed to ``node_id`` (or to nobody) in framed bytes.

    What an edge node that takes tasks (a pan-tilt camera, an effector) reads of what the fusion
    node sent it; undecodable frames and other message kinds (acks, errors) are passed over.
    """
    out: list[task_pb2.Task] = []
    for body in split_frames(data) or []:
        msg = SapientMessage()
        try:
            msg.ParseFromString(body)
        except DecodeError:
            continue
        if msg.WhichOneof("content") == "task" and msg.destination_id in ("", node_id):
            out.append(msg.task)
    return out


def task_ack(header: dict[str, object], task_id: str, status: str, reason: str) -> SapientMessage:
    """The TaskAck an edge node answers a task with (its reason when it rejects it).

    ``header`` is the node's message header (``timestamp``, ``nodeId``) as protobuf JSON.
    """
    ack: dict[str, object] = {"taskId": task_id, "taskStatus": status}
    if reason:
        ack["reason"] = [reason]
    return json_format.ParseDict({**header, "taskAck": ack}, SapientMessage())


def wgs84_location(
    lat_deg: float, lon_deg: float, alt_m: float, xy_error_deg: float, z_error_m: float
) -> dict[str, object]:
    """A SAPIENT ``Location`` as protobuf JSON: lat/lon in degrees, ellipsoidal height (m).

    What Luchtwacht and its simulated nodes write (a node's own location, a look-at point);
    :func:`location_geodetic` reads any system and datum back.
    """
    return {
        "x": lon_deg,
        "y": lat_deg,
        "z": alt_m,
        "xError": xy_error_deg,
        "yError": xy_error_deg,
        "zError": z_error_m,
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
        "datum": "LOCATION_DATUM_WGS84_E",
    }


def look_at_enu(task: task_pb2.Task, origin: SiteOrigin) -> tuple[NDArray[np.float64] | None, str]:
    """A task's ``look_at`` location in site ENU, or (None, why it cannot be used).

    For an edge node that is told where to point (a camera, an effector): the first location of
    the list, in whatever system and datum it declares.
    """
    where = task.command.look_at
    if where.WhichOneof("fov_oneof") != "location_list" or not len(where.location_list.locations):
        return None, "look_at needs a location"
    try:
        lat, lon, alt = location_geodetic(
            where.location_list.locations[0], "Task.command.look_at.location_list"
        )
    except SapientError as exc:
        return None, f"look_at location: {exc}"
    return origin.to_enu(np.array([lat]), np.array([lon]), np.array([alt]))[0], ""


def parse_message(data: bytes) -> SapientMessage:
    """Parse one serialized ``SapientMessage``; malformed protobuf raises :class:`SapientError`."""
    try:
        return _from_string(data)
    except DecodeError as exc:
        raise SapientError("SapientMessage", "malformed protobuf", str(exc)) from None


_from_string = SapientMessage.FromString  # bound once: saves an attribute look-up per frame


def new_ulid(t_s: float, rng: np.random.Generator) -> str:
    """A ULID for time ``t_s`` (UTC seconds) with 80 random bits from ``rng`` (reproducible)."""
    value = (int(t_s * 1000) & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(rng.bytes(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


# ---------------------------------------------------------------------------------------------
# The pipe: a stateful decoder per sensor connection


_CLASS_WORDS: tuple[tuple[str, ObjectClass], ...] = (
    ("uav", ObjectClass.DRONE),
    ("drone", ObjectClass.DRONE),
    ("uas", ObjectClass.DRONE),
    ("multirotor", ObjectClass.DRONE),
    ("bird", ObjectClass.BIRD),
    ("fixed wing", ObjectClass.AIRCRAFT),
    ("aircraft", ObjectClass.AIRCRAFT),
    ("helicopter", ObjectClass.AIRCRAFT),
    ("clutter", ObjectClass.CLUTTER),
)
_CLASS_MEMO: dict[str, ObjectClass | None] = {}


def map_class(type_name: str) -> ObjectClass | None:
    """Map a SAPIENT classification type (free text in the taxonomy) to a Luchtwacht class."""
    try:
        return _CLASS_MEMO[type_name]
    except KeyError:
        pass
    low = type_name.lower()
    found = next((cls for word, cls in _CLASS_WORDS if word in low), None)
    if len(_CLASS_MEMO) < 4096:  # a sensor's taxonomy is small; a flood of odd names is not kept
        _CLASS_MEMO[type_name] = found
    return found


@dataclass(slots=True)
class NodeState:
    """What the fusion node knows about one sensor node."""

    node_id: str
    registered: bool = False
    name: str = ""  # the Registration's name
    node_types: tuple[str, ...] = ()
    lat_deg: float | None = None
    lon_deg: float | None = None
    alt_m: float | None = None
    last_status_t_s: float | None = None
    system: str = ""  # StatusReport system state (SYSTEM_OK, SYSTEM_ERROR, ...)
    mode: str = ""
    info: str = ""
    status: tuple[str, ...] = ()  # the report's status entries: "LEVEL TYPE value"
    task_acks: dict[str, str] = field(default_factory=dict)  # task id → TaskAck status
    max_range_m: float = math.inf  # the Registration's "Detection MaxRange" capability
    look_at: bool = False  # it registered the LOOK_AT command: a camera that can be cued
    # Where it looks, from its StatusReport's field_of_view (a range/bearing cone in degrees):
    # (centre azimuth, full horizontal width, range or None), or None when it never said.
    fov: tuple[float, float, float | None] | None = None
    # It stamps all plots of a scan with one time (seen once most plots of a delivery shared
    # their stamp): from then on each stamp is one look, however close the next one comes.
    scan_stamped: bool = False


SCAN_MERGE_S = 0.25
MIN_RANGE_M = 1.0  # a range/bearing plot closer than this to its sensor cannot be placed
MAX_NODES = 256  # node ids the shared registry keeps (a registration flood is refused beyond)
MAX_NODES_PER_CONNECTION = 32  # node ids one connection may speak for
ERROR_REPLIES_PER_S = 10.0  # answers to invalid messages, per connection (more are counted)
MAX_TASK_ACKS = 256  # TaskAcks kept per node (the newest)
ERROR_PACKET_BYTES = 256  # how much of an invalid message an Error echoes back


class Budget(Protocol):
    """A feed's share of the node's decoding capacity (``node.load``)."""

    def available(self, n: int, t_s: float) -> int:
        """How many of ``n`` DetectionReports arriving at ``t_s`` fit now (nothing charged)."""
        ...

    def spend(self, n: int) -> None:
        """Charge the reports actually decoded (a whole scan may take the share below zero)."""
        ...


NodeGate = Callable[[str, str], str | None]
"""Asked before a node's message is used: ``(node_id, kind)`` → ``None``, or why it is refused."""
_INDEX = re.compile(r"\[\d+\]")
DEFAULT_FUSION_NODE_ID = "6c7a1f0e-2b1d-4c5e-9f3a-7e8d9c0b1a2f"

_RB_DEGREES = (
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M,
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM,
)
_RB_KM = (
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM,
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM,
)
_LOC_GEOID = location_pb2.LOCATION_DATUM_WGS84_G
_RB_MAGNETIC = range_bearing_pb2.RANGE_BEARING_DATUM_MAGNETIC
_RB_GRID = range_bearing_pb2.RANGE_BEARING_DATUM_GRID
_RB_PLATFORM = range_bearing_pb2.RANGE_BEARING_DATUM_PLATFORM
# 1-σ errors assumed when a node gives none: azimuth, elevation (deg), range (m) and
# east, north, up (m)
_DEFAULT_AER_STD = (1.0, 1.0, 10.0)
_NO_ELEVATION_STD_DEG = 10.0  # a 2D radar's plot: elevation unknown within its fan beam
_DEFAULT_ENU_STD = (10.0, 10.0, 15.0)
_MIN_ENU_STD_M = 0.5
_M_PER_DEG_LAT = 111_320.0


class SapientPipe:
    """Decoder state for one SAPIENT connection: frames in, detection batches out.

    As the fusion node (DMM) it also answers the sensor node: a RegistrationAck for every
    Registration (refused with the broken rule when it is invalid), an AlertAck for every Alert
    and an Error naming the rule for any other invalid message. Answers collect in ``replies``
    as framed bytes for the transport to send back.

    Positions are taken in the coordinate system and datum each report declares: latitude /
    longitude in degrees or radians, UTM (zone from the report, through PROJ), heights on the
    ellipsoid (WGS84_E) or above the geoid (WGS84_G, plus ``geoid_undulation_m``); bearings from
    true north, magnetic north (plus ``magnetic_declination_deg``) or UTM grid north (plus the
    grid convergence at the sensor). Platform-relative bearings need the platform's heading,
    which SAPIENT does not carry, so such reports are rejected with that reason.
    """

    def __init__(
        self,
        sensor_id: str,
        origin: SiteOrigin,
        fusion_node_id: str = DEFAULT_FUSION_NODE_ID,
        *,
        geoid_undulation_m: float = 0.0,
        magnetic_declination_deg: float | None = None,
    ) -> None:
        self.sensor_id = sensor_id
        self.origin = origin
        # Datum conversions the site must supply: WGS84_G heights are above the geoid (MSL), and
        # magnetic bearings need the local declination (east positive).
        self.geoid_undulation_m = geoid_undulation_m
        self.magnetic_declination_deg = magnetic_declination_deg
        self.fusion_node_id = fusion_node_id
        self.replies: list[bytes] = []
        self.reader = FrameReader()
        self.nodes: dict[str, NodeState] = {}
        self.counters = FeedCounters()
        self._logged: set[str] = set()
        self._pending: dict[str, list[DetectionRow]] = {}  # per node, in arrival order
        self._pending_t: dict[str, list[float]] = {}  # their times, for the look cuts in C
        # Nodes whose valid messages came through this pipe (its connection): ``nodes`` may be a
        # table shared by every connection, this set is this one's own.
        self.node_ids_here: set[str] = set()
        # Who may speak for a node id on this connection (the node core binds ids to the
        # connection that registered them, and to the ids a client certificate allows).
        self.gate: NodeGate | None = None
        self.budget: Budget | None = None  # the node's load shedder (node.load), if any
        self.max_nodes = MAX_NODES
        self.max_nodes_here = MAX_NODES_PER_CONNECTION
        self.replies_suppressed = 0  # answers to invalid input beyond ERROR_REPLIES_PER_S
        self._t_rx_s = 0.0
        self._reply_tokens = ERROR_REPLIES_PER_S
        self._reply_t_s = -math.inf

    def _reject(self, exc: SapientError) -> None:
        # List indices are dropped from the reason: a fuzzer must not mint a key per index.
        reason = _INDEX.sub("[]", f"{exc.field}: {exc.rule}")
        self.counters.reject(reason)
        if reason not in self._logged:  # once per kind, so a flood cannot flood the log
            self._logged.add(reason)
            log.warning("sensor %s: rejected SAPIENT message: %s", self.sensor_id, exc)

    def feed(self, data: bytes, t_rx_s: float | None = None) -> list[DetectionBatch | BearingBatch]:
        """Consume bytes from the connection; return the batches this completes.

        ``t_rx_s`` paces the answers to invalid input; SAPIENT messages carry their own
        timestamps.

        Reports are grouped per node into looks (:func:`_looks`); a look is complete once a
        later one of the same node has begun (a later stamp from a node that stamps its scans,
        else a report more than ``SCAN_MERGE_S`` later), or when :meth:`flush` is called.
        """
        detections = 0
        if t_rx_s is not None:
            self._t_rx_s = t_rx_s
        parsed: list[tuple[bytes, SapientMessage]] = []
        try:
            for body in self.reader.feed(data):
                try:
                    msg = _from_string(body)
                except DecodeError as exc:
                    self._reject(SapientError("SapientMessage", "malformed protobuf", str(exc)))
                    continue
                if not msg.node_id.islower():  # a UUID in any case is one node: one key
                    msg.node_id = msg.node_id.lower()
                if self.budget is None:  # no shedding: each message is used as it comes
                    detections += self._use(body, msg)
                else:
                    parsed.append((body, msg))
        except SapientError as exc:  # framing error: the stream was reset
            self._reject(exc)
        shed = self._shed(parsed) if parsed else None
        for i, (body, msg) in enumerate(parsed):
            try:
                if msg.WhichOneof("content") == "detection_report":
                    if shed is not None and i in shed:
                        continue
                    self._detection(msg)
                    detections += 1
                else:
                    self._handle(msg, validate(msg))
            except SapientError as exc:
                self._reject(exc)
                self._answer_invalid(msg, body, exc)
        if detections:  # counted once per delivery: a Counter update costs more than a report
            self.counters.decoded += detections
            self.counters.by_kind["detection_report"] += detections
        done: list[DetectionRow] = []
        for node_id, rows in self._pending.items():
            # A look is complete once a report more than SCAN_MERGE_S after its last plot has
            # come (the rule ``_to_batches`` cuts looks by): release up to the last such gap.
            # Times live in their own list so the cut is found by C loops (min/max, numpy), not
            # by a Python pass over every pending row per delivery.
            times = self._pending_t[node_id]
            node = self.nodes.get(node_id)
            if node is not None and node.scan_stamped:
                cut = max(times)
                if not min(times) < cut:
                    continue
                t = np.array(times)
            else:
                if len(times) < 2:
                    continue
                t = np.array(times)
                ts = np.sort(t)
                gap = np.flatnonzero(np.diff(ts) > SCAN_MERGE_S)
                if not gap.size:
                    continue
                cut = float(ts[gap[-1] + 1])
            early = t < cut
            done.extend(itertools.compress(rows, early.tolist()))
            late = (~early).tolist()
            self._pending[node_id] = list(itertools.compress(rows, late))
            self._pending_t[node_id] = list(itertools.compress(times, late))
        return self._to_batches(done) if done else []

    def _use(self, body: bytes, msg: SapientMessage) -> int:
        """Use one parsed message (rejecting it if invalid); 1 if it was a DetectionReport kept."""
        try:
            if msg.WhichOneof("content") == "detection_report":
                self._detection(msg)
                return 1
            self._handle(msg, validate(msg))
        except SapientError as exc:
            self._reject(exc)
            self._answer_invalid(msg, body, exc)
        return 0

    def _shed(self, parsed: list[tuple[bytes, SapientMessage]]) -> set[int] | None:
        """Which DetectionReports of a delivery the node's budget leaves out: the oldest.

        Whole stamps go (a scan is kept or shed as one), so at most the budget is decoded.
        """
        assert self.budget is not None
        dets = [
            i for i, (_, m) in enumerate(parsed) if m.WhichOneof("content") == "detection_report"
        ]
        if not dets:
            return None
        allowed = self.budget.available(len(dets), self._t_rx_s)
        if allowed >= len(dets):
            self.budget.spend(len(dets))
            return None
        stamp = {
            i: parsed[i][1].timestamp.seconds + parsed[i][1].timestamp.nanos * 1e-9 for i in dets
        }
        order = sorted(dets, key=stamp.__getitem__)
        # Newest stamps first, whole, while they fit; the newest scan always goes in when any
        # share is left (the feed goes into debt), so a scan bigger than the share still passes.
        keep_from = len(order)
        while keep_from > 0:
            first = keep_from - 1
            while first > 0 and stamp[order[first - 1]] == stamp[order[keep_from - 1]]:
                first -= 1
            size = len(order) - first
            if size > allowed and not (keep_from == len(order) and allowed > 0):
                break
            keep_from = first
        self.budget.spend(len(order) - keep_from)
        shed = set(order[:keep_from])
        self.counters.shed += len(shed)
        return shed or None

    def flush(self) -> list[DetectionBatch | BearingBatch]:
        """Emit every pending group (the caller knows no more of them is on its way)."""
        done = [row for rows in self._pending.values() for row in rows]
        self._pending = {}
        self._pending_t = {}
        return self._to_batches(done)

    def _reply(self, to_node: str) -> SapientMessage:
        """A message from the fusion node to ``to_node``, stamped now (wall clock)."""
        out = SapientMessage()
        out.timestamp.GetCurrentTime()
        out.node_id = self.fusion_node_id
        if is_uuid(to_node):
            out.destination_id = to_node
        return out

    def _answer_invalid(self, msg: SapientMessage | None, body: bytes, exc: SapientError) -> None:
        if msg is None or not is_uuid(msg.node_id):
            return  # nobody to answer: the bytes did not even say who sent them
        # A token bucket on the arrival clock: a sender of garbage gets a few answers a second,
        # each short, so it cannot make the node write more than it reads.
        elapsed = max(0.0, self._t_rx_s - self._reply_t_s)
        self._reply_t_s = self._t_rx_s
        self._reply_tokens = min(
            ERROR_REPLIES_PER_S, self._reply_tokens + elapsed * ERROR_REPLIES_PER_S
        )
        if self._reply_tokens < 1.0:
            self.replies_suppressed += 1
            return
        self._reply_tokens -= 1.0
        out = self._reply(msg.node_id)
        text = str(exc)[:ERROR_PACKET_BYTES]
        if msg.WhichOneof("content") == "registration":
            out.registration_ack.acceptance = False
            out.registration_ack.ack_response_reason.append(text)
        else:
            out.error.packet = body[:ERROR_PACKET_BYTES]
            out.error.error_message.append(text)
        self.replies.append(frame(out))

    def _admit(self, node_id: str, kind: str) -> None:
        """Refuse a message this connection may not send for ``node_id`` (SapientError).

        The gate refuses ids bound to another connection or not allowed by the peer's
        certificate; the limits bound the ids one connection, and all of them, may bring in.
        """
        if self.gate is not None:
            refusal = self.gate(node_id, kind)
            if refusal is not None:
                raise SapientError("SapientMessage.node_id", refusal)
        if node_id in self.node_ids_here:
            return
        if len(self.node_ids_here) >= self.max_nodes_here:
            raise SapientError("SapientMessage.node_id", "too many nodes on one connection")
        if node_id not in self.nodes and len(self.nodes) >= self.max_nodes:
            raise SapientError("SapientMessage.node_id", "node table full")

    def take_replies(self) -> list[bytes]:
        """Framed answers to send to the sensor node, oldest first (and forget them)."""
        out, self.replies = self.replies, []
        return out

    def _node(self, node_id: str) -> NodeState:
        node = self.nodes.get(node_id)
        if node is None:
            node = self.nodes[node_id] = NodeState(node_id)
        return node

    def _detection(self, msg: SapientMessage) -> None:
        """A DetectionReport: validate and read it (fast path), check it can be placed, keep it.

        The caller counts it as decoded once this returns.
        """
        row = detection_row(msg)
        node_id = row.node_id
        node = self.nodes.get(node_id)  # unknown senders get no state: that would be a leak
        if node is None or not node.registered:
            raise SapientError("SapientMessage.node_id", "detection from an unregistered node")
        if self.gate is not None or node_id not in self.node_ids_here:  # else nothing to check
            self._admit(node_id, "detection_report")
            self.node_ids_here.add(node_id)
        state = msg.detection_report.state
        if state and state.strip().lower() == "lost":
            return  # a fusion node's track ended (publish.sapient_up): its last fix, no new plot
        if row.kind == "range_bearing":
            min_c = MIN_RANGE_M / 1000.0 if row.coordinate_system in _RB_KM else MIN_RANGE_M
            if row.c < min_c:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing.range",
                    f"inside the minimum range ({MIN_RANGE_M:g} m)",
                )
            if node.lat_deg is None:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing",
                    "node location unknown (no StatusReport)",
                )
            if row.datum == _RB_PLATFORM:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing.datum",
                    "platform-relative bearing needs the platform heading",
                )
            if row.datum == _RB_MAGNETIC and self.magnetic_declination_deg is None:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing.datum",
                    "magnetic bearing needs the site's magnetic declination",
                )
        pending = self._pending.get(row.node_id)
        if pending is None:
            self._pending[row.node_id] = [row]
            self._pending_t[row.node_id] = [row.t_s]
        else:
            pending.append(row)
            self._pending_t[row.node_id].append(row.t_s)

    def _handle(self, msg: SapientMessage, kind: str) -> None:
        if kind != "registration" and msg.node_id not in self.nodes:
            raise SapientError("SapientMessage.node_id", f"{kind} from an unregistered node")
        self._admit(msg.node_id, kind)
        node = self._node(msg.node_id)
        self.node_ids_here.add(msg.node_id)
        if kind == "registration":
            node.registered = True
            ack = self._reply(msg.node_id)
            ack.registration_ack.acceptance = True
            self.replies.append(frame(ack))
            node.node_types = tuple(
                _enum_name(d, "node_type") for d in msg.registration.node_definition
            )
            node.name = msg.registration.name
            node.max_range_m = registered_max_range_m(msg.registration)
            node.look_at = any(
                cmd.type == registration_pb2.Registration.COMMAND_TYPE_LOOK_AT
                for mode in msg.registration.mode_definition
                for cmd in mode.task.command
            )
        elif kind == "status_report":
            sr = msg.status_report
            node.last_status_t_s = timestamp_s(msg)
            node.system = _enum_name(sr, "system")
            node.mode = sr.mode
            node.info = _enum_name(sr, "info")
            node.status = tuple(
                f"{_enum_name(s, 'status_level')} {_enum_name(s, 'status_type')} {s.status_value}"
                for s in sr.status
            )
            if sr.HasField("field_of_view"):
                node.fov = _field_of_view(sr.field_of_view)
            if sr.HasField("node_location"):
                lat, lon, alt = location_geodetic(
                    sr.node_location,
                    "SapientMessage.status_report.node_location",
                    self.geoid_undulation_m,
                )
                node.lat_deg, node.lon_deg, node.alt_m = lat, lon, alt
        elif kind == "task_ack":
            node.task_acks[msg.task_ack.task_id] = _enum_name(msg.task_ack, "task_status")
            while len(node.task_acks) > MAX_TASK_ACKS:  # the newest kept: a flood must not grow
                del node.task_acks[next(iter(node.task_acks))]
        elif kind == "alert":
            ack = self._reply(msg.node_id)
            ack.alert_ack.alert_id = msg.alert.alert_id
            ack.alert_ack.alert_ack_status = alert_ack_pb2.AlertAck.ALERT_ACK_STATUS_ACCEPTED
            self.replies.append(frame(ack))
        self.counters.decoded += 1
        self.counters.by_kind[kind] += 1

    def _to_batches(self, rows: Sequence[DetectionRow]) -> list[DetectionBatch | BearingBatch]:
        """Convert a delivery node by node (one array call each), then cut it into scans.

        A batch holds one node's reports of one timestamp; batches come out in time order.
        Reports that locate something (a position, or range and bearing) make
        :class:`DetectionBatch` es; angle-only reports (no range) make :class:`BearingBatch` es.
        """
        by_node: dict[str, list[DetectionRow]] = {}
        for node_id, group in itertools.groupby(rows, _NODE_ID):  # rows come in runs per node
            node_rows = by_node.get(node_id)
            if node_rows is None:
                by_node[node_id] = list(group)
            else:
                node_rows.extend(group)
        out: list[tuple[float, int, DetectionBatch | BearingBatch]] = []
        for node_id, node_rows in by_node.items():
            angle_only: list[DetectionRow] = []
            located = node_rows
            if any(c != c for c in map(_C, node_rows)):  # NaN range: only angle-only rows
                angle_only = [r for r in node_rows if r.kind == "range_bearing" and r.c != r.c]
                located = [r for r in node_rows if not (r.kind == "range_bearing" and r.c != r.c)]
            batches: list[tuple[float, DetectionBatch | BearingBatch]] = []
            node = self.nodes.get(node_id)
            if node is None:  # forgotten from a full table meanwhile: nothing to place them by
                for _ in node_rows:
                    self._reject(SapientError("SapientMessage.node_id", "node forgotten"))
                continue
            if located:
                batches.extend(self._convert(node, located))
            if angle_only:
                batches.extend(self._bearings(node, angle_only))
            for t, batch in batches:
                out.append((t, len(out), batch))
        out.sort(key=lambda item: (item[0], item[1]))
        return [batch for _, _, batch in out]

    def _bearings(
        self, node: NodeState, rows: list[DetectionRow]
    ) -> list[tuple[float, BearingBatch]]:
        """Angle-only reports of one node → bearing batches (azimuth, elevation if given).

        The node's azimuth and elevation are taken in its own level at its own place; each is
        turned into the site frame by following the line of sight 1 km through ECEF (exact for
        a node far from the site origin), after magnetic or grid bearings are made true.
        Reports without an azimuth place nothing and are rejected.
        """
        keep = []
        for row in rows:
            if math.isnan(row.a):
                self._reject(
                    SapientError(
                        "SapientMessage.detection_report.range_bearing.azimuth",
                        "no azimuth and no range: nothing to place",
                    )
                )
            else:
                keep.append(row)
        if not keep:
            return []
        if node.lat_deg is None or node.lon_deg is None or node.alt_m is None:
            for _ in keep:
                self._reject(
                    SapientError(
                        "SapientMessage.status_report.node_location", "node location unknown"
                    )
                )
            return []
        n = len(keep)
        t = np.fromiter((row.t_s for row in keep), float, n)
        num = np.array([row[4:11] for row in keep], dtype=float).reshape(n, 7)
        datum = np.fromiter((row.datum for row in keep), float, n)
        cs = num[:, 6]
        to_deg = np.where(np.isin(cs, _RB_DEGREES), 1.0, 180.0 / math.pi)
        az = self._true_azimuth_deg(node, num[:, 0] * to_deg, datum)
        el = num[:, 1] * to_deg
        sensor = self.origin.to_enu(node.lat_deg, node.lon_deg, node.alt_m).reshape(3)
        far = self.origin.aer_to_enu(
            az, np.where(np.isnan(el), 0.0, el), np.full(n, 1000.0),
            node.lat_deg, node.lon_deg, node.alt_m,
        )  # fmt: skip
        d = far - sensor
        az_site = np.arctan2(d[:, 0], d[:, 1])
        el_site = np.where(np.isnan(el), np.nan, np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])))
        az_std = np.radians(_std(num[:, 3] * to_deg, _DEFAULT_AER_STD[0]))
        el_std = np.where(
            np.isnan(el), np.nan, np.radians(_std(num[:, 4] * to_deg, _DEFAULT_AER_STD[1]))
        )
        loglik = _class_loglik(keep)
        emitters = _emitters(keep, by=node.name or node.node_id)
        out = []
        for idx in _looks(t, node):
            t0 = float(t[idx].max())
            out.append(
                (
                    t0,
                    BearingBatch(
                        sensor_id=self.sensor_id,
                        sensor_enu_m=sensor,
                        t_s=t0,
                        azimuth_rad=az_site[idx],
                        azimuth_std_rad=az_std[idx],
                        elevation_rad=el_site[idx],
                        elevation_std_rad=el_std[idx],
                        class_loglik=loglik[idx],
                        coverage_range_m=node.max_range_m,
                        emitter=tuple(emitters[i] for i in idx) if emitters else (),
                    ),
                )
            )
        return out

    def _convert(
        self, node: NodeState, rows: list[DetectionRow]
    ) -> list[tuple[float, DetectionBatch]]:
        """ENU positions and covariances of one node's reports, split into per-scan batches."""
        n = len(rows)
        cols = _columns(rows)
        t = np.array(cols.t_s, float)
        # columns: a, b, c, err_a, err_b, err_c, coordinate system
        num = np.array(cols[4:11], dtype=float).T.reshape(n, 7)
        rb = np.array([kind == "range_bearing" for kind in cols.kind], bool)
        z = np.zeros((n, 3))
        cov = np.zeros((n, 3, 3))
        datum = np.array(cols.datum, float)
        aer_std = np.zeros((n, 3))
        # Off-the-map inputs give NaN here; they are caught just below, so no warnings.
        with np.errstate(invalid="ignore", over="ignore"):
            if rb.any():
                z[rb], cov[rb], aer_std[rb] = self._convert_range_bearing(node, num[rb], datum[rb])
            if not rb.all():
                zones = [row.utm_zone for row in rows if row.kind != "range_bearing"]
                z[~rb], cov[~rb] = self._convert_location(num[~rb], datum[~rb], zones)
        finite = np.isfinite(z).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
        if not finite.all():
            # A value that passed the ICD's ranges can still fall off the map (an easting of
            # 1e30 in UTM): such a report is rejected here, not fed to the tracker.
            for _ in range(int((~finite).sum())):
                self._reject(
                    SapientError("SapientMessage.detection_report", "position not placeable")
                )
            keep = np.flatnonzero(finite)
            rows = [rows[i] for i in keep]
            cols = _columns(rows)
            t, z, cov, n = t[keep], z[keep], cov[keep], keep.size
            rb, aer_std, num = rb[keep], aer_std[keep], num[keep]
            if n == 0:
                return []
        loglik = _class_loglik(rows, cols)
        emitters = _emitters(rows, cols, by=node.name or node.node_id)
        rdot, rdot_std = _range_rates(rows, cols)
        node_id = node.node_id
        extra = tuple([{"object_id": oid, "node_id": node_id} for oid in cols.object_id])
        # Radar-space plots: range, azimuth and elevation all measured, not straight overhead.
        in_space = rb & np.isfinite(num[:, 1])
        polar, polar_cov, sensor_enu = self._radar_space(node, z, in_space, aer_std)
        if sensor_enu is not None:
            in_space &= np.hypot(z[:, 0] - sensor_enu[0], z[:, 1] - sensor_enu[1]) > 1.0
        out = []
        for idx in _looks(t, node, z):
            t0 = float(t[idx].max())
            # A scan of nothing but range/bearing plots also goes to the tracker as the radar
            # measured it, for an EKF update in (az, el, r) rather than in the conversion.
            own = polar is not None and bool(in_space[idx].all())
            look_polar = polar[idx] if own and polar is not None else None
            look_cov = polar_cov[idx] if own and polar_cov is not None else None
            if look_polar is not None and look_cov is not None and np.isfinite(rdot[idx]).all():
                # Every plot of the look measured its range rate: (az, el, r, ṙ) for the EKF.
                look_polar = np.column_stack([look_polar, rdot[idx]])
                cov4 = np.zeros((idx.size, 4, 4))
                cov4[:, :3, :3] = look_cov
                cov4[:, 3, 3] = rdot_std[idx] ** 2
                look_cov = cov4
            batch = DetectionBatch(
                sensor_id=self.sensor_id,
                t_s=t[idx],
                z=z[idx],
                R=cov[idx],
                class_loglik=loglik[idx],
                extra=tuple(extra[i] for i in idx),
                polar=look_polar,
                polar_cov=look_cov,
                sensor_enu_m=sensor_enu if own else None,
                coverage_range_m=node.max_range_m if own else math.inf,
                emitter=tuple(emitters[i] for i in idx) if emitters else (),
            )
            out.append((t0, batch))
        return out

    def _radar_space(
        self,
        node: NodeState,
        z: NDArray[np.float64],
        rb: NDArray[np.bool_],
        aer_std: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64] | None, NDArray[np.float64] | None, NDArray[np.float64] | None]:
        """(az, el, r) of range/bearing plots seen from the node in the site frame, with σ².

        The angles are re-taken from the exact ENU conversion relative to the node's ENU
        position, so the node's own local level (tilted from the site's by its distance, 0.05°
        at 5 km) and any declination or grid correction are already accounted for; the reported
        standard deviations carry over (the frames differ by a rotation of well under 1°).
        """
        if not rb.any() or node.lat_deg is None or node.lon_deg is None or node.alt_m is None:
            return None, None, None
        sensor = self.origin.to_enu(node.lat_deg, node.lon_deg, node.alt_m).reshape(3)
        d = z - sensor
        horizontal = np.hypot(d[:, 0], d[:, 1])
        polar = np.column_stack(
            [
                np.arctan2(d[:, 0], d[:, 1]),
                np.arctan2(d[:, 2], horizontal),
                np.linalg.norm(d, axis=1),
            ]
        )
        var = np.column_stack(
            [np.radians(aer_std[:, 0]) ** 2, np.radians(aer_std[:, 1]) ** 2, aer_std[:, 2] ** 2]
        )
        polar_cov = np.zeros((z.shape[0], 3, 3))
        polar_cov[:, [0, 1, 2], [0, 1, 2]] = var
        # Straight above the node, or at it, azimuth is undefined: the caller keeps such a
        # plot's look to the ENU update.
        return polar, polar_cov, sensor

    def _true_azimuth_deg(
        self, node: NodeState, az_deg: NDArray[np.float64], datum: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Azimuths made true: magnetic ones plus the declination, grid ones plus convergence."""
        if self.magnetic_declination_deg is not None:
            az_deg = np.where(datum == _RB_MAGNETIC, az_deg + self.magnetic_declination_deg, az_deg)
        if (datum == _RB_GRID).any():
            assert node.lat_deg is not None  # callers have checked the node's location
            assert node.lon_deg is not None
            conv = _grid_convergence_deg(node.lat_deg, node.lon_deg)
            az_deg = np.where(datum == _RB_GRID, az_deg + conv, az_deg)
        return az_deg

    def _convert_range_bearing(
        self, node: NodeState, num: NDArray[np.float64], datum: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Sensor-relative azimuth/elevation/range rows → site ENU, covariance, (σaz°, σel°, σr)."""
        if node.lat_deg is None or node.lon_deg is None or node.alt_m is None:
            raise SapientError(
                "SapientMessage.status_report.node_location", "node location unknown"
            )
        cs = num[:, 6]
        to_deg = np.where(np.isin(cs, _RB_DEGREES), 1.0, 180.0 / math.pi)
        to_m = np.where(np.isin(cs, _RB_KM), 1000.0, 1.0)
        az, el, rng = num[:, 0] * to_deg, num[:, 1] * to_deg, num[:, 2] * to_m
        # A 2D radar gives no elevation: the plot is put at the horizon with an elevation σ
        # wide enough for any drone height in range (and kept out of the radar-space EKF).
        no_el = np.isnan(el)
        el = np.where(no_el, 0.0, el)
        az = self._true_azimuth_deg(node, az, datum)
        az_std = _std(num[:, 3] * to_deg, _DEFAULT_AER_STD[0])
        el_std = np.where(
            no_el, _NO_ELEVATION_STD_DEG, _std(num[:, 4] * to_deg, _DEFAULT_AER_STD[1])
        )
        rng_std = _std(num[:, 5] * to_m, _DEFAULT_AER_STD[2])
        z = self.origin.aer_to_enu(az, el, rng, node.lat_deg, node.lon_deg, node.alt_m)
        cov = aer_covariance_to_enu(az, el, rng, az_std, el_std, rng_std)
        return z, cov, np.column_stack([az_std, el_std, rng_std])

    def _convert_location(
        self, num: NDArray[np.float64], datum: NDArray[np.float64], zones: list[str]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Location rows (x = longitude or easting, y = latitude or northing) → ENU, covariance."""
        cs = num[:, 6]
        to_deg = np.where(cs == _LOC_DEG, 1.0, 180.0 / math.pi)
        lon, lat, alt = num[:, 0] * to_deg, num[:, 1] * to_deg, num[:, 2].copy()
        # Errors: degrees (or radians) of latitude/longitude, or metres on the UTM grid.
        m_per_deg_lon = _M_PER_DEG_LAT * np.cos(np.radians(lat))
        ex = num[:, 3] * to_deg * m_per_deg_lon
        ey = num[:, 4] * to_deg * _M_PER_DEG_LAT
        utm = cs == _LOC_UTM
        if utm.any():
            for zone in sorted({zones[i] for i in np.flatnonzero(utm)}):
                rows = utm & np.array([zn == zone for zn in zones])
                lat[rows], lon[rows] = utm_to_geodetic(num[rows, 0], num[rows, 1], zone)
            ex = np.where(utm, num[:, 3], ex)
            ey = np.where(utm, num[:, 4], ey)
        alt = np.where(datum == _LOC_GEOID, alt + self.geoid_undulation_m, alt)
        z = self.origin.to_enu(lat, lon, alt)
        std = np.stack(
            [
                _std(ex, _DEFAULT_ENU_STD[0]),
                _std(ey, _DEFAULT_ENU_STD[1]),
                _std(num[:, 5], _DEFAULT_ENU_STD[2]),
            ],
            axis=-1,
        )
        std = np.maximum(std, _MIN_ENU_STD_M)
        cov = np.zeros((len(num), 3, 3))
        cov[:, [0, 1, 2], [0, 1, 2]] = std**2
        return z, cov


_LENGTH_UNITS = {
    "m": 1.0, "metre": 1.0, "metres": 1.0, "meter": 1.0, "meters": 1.0,
    "km": 1000.0, "kilometre": 1000.0, "kilometres": 1000.0, "kilometer": 1000.0,
    "kilometers": 1000.0,
}  # fmt: skip


REPEAT_M = 25.0  # two plots of one look this close, stamped apart: the same object seen again


def _looks(
    t: NDArray[np.float64], node: NodeState, z: NDArray[np.float64] | None = None
) -> list[NDArray[np.int64]]:
    """Indices of a node's reports grouped into looks (one scan each), in time order.

    Looks are cut by the sensor's own report times, never by when the reports arrived:
    - a sensor that stamps a whole scan with one time (most plots of a delivery share their
      stamp; remembered in ``node.scan_stamped``) makes one look per stamp, so a 10 or 20 Hz
      radar's scans stay apart however many of them one delivery holds;
    - a sensor that stamps each plot as its beam passes gives plots of one scan a few
      milliseconds apart: they are merged while within SCAN_MERGE_S of each other, but a plot
      within REPEAT_M of one already in the look (the same object seen again) starts a new one.
    """
    order = np.argsort(t, kind="stable")
    ts = t[order]
    new_stamp = np.flatnonzero(np.diff(ts) > 0.0) + 1
    if ts.size > 1:
        sizes = np.diff(np.concatenate(([0], new_stamp, [ts.size])))
        if sizes[sizes > 1].sum() * 2 >= ts.size:
            node.scan_stamped = True
    if node.scan_stamped:
        return np.split(order, new_stamp)
    cuts = set((np.flatnonzero(np.diff(ts) > SCAN_MERGE_S) + 1).tolist())
    if z is not None and ts.size > 1:
        zs = z[order]
        start = 0
        for i in range(1, ts.size):
            if i in cuts:
                start = i
                continue
            d = np.linalg.norm(zs[start:i] - zs[i], axis=1)
            if bool(((d < REPEAT_M) & (ts[start:i] < ts[i])).any()):
                cuts.add(i)
                start = i
    return np.split(order, sorted(cuts))


class _Columns(NamedTuple):
    """The fields of a list of :class:`DetectionRow` as columns (one C-speed transpose)."""

    t_s: tuple[float, ...]
    node_id: tuple[str, ...]
    object_id: tuple[str, ...]
    kind: tuple[str, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    err_a: tuple[float, ...]
    err_b: tuple[float, ...]
    err_c: tuple[float, ...]
    coordinate_system: tuple[int, ...]
    utm_zone: tuple[str, ...]
    datum: tuple[int, ...]
    label: tuple[str, ...]
    label_confidence: tuple[float, ...]
    info: tuple[tuple[tuple[str, str, float], ...], ...]
    band_hz: tuple[tuple[float, float] | None, ...]
    sub_class: tuple[str, ...]


assert _Columns._fields == DetectionRow._fields


def _columns(rows: Sequence[DetectionRow]) -> _Columns:
    """Rows → columns: a delivery is converted with array calls, not a Python pass per field."""
    if not rows:
        return _Columns._make(() for _ in _Columns._fields)
    return _Columns._make(zip(*rows, strict=True))


_NODE_ID = operator.attrgetter("node_id")
_C = operator.attrgetter("c")

_PROTOCOL_TYPES = frozenset({"protocol", "rf protocol", "link protocol"})
_SERIAL_TYPES = frozenset({"serial", "serial number", "serial_number", "serialnumber"})


_RANGE_RATE_TYPES = frozenset({"rangerate", "radialvelocity"})
DEFAULT_RANGE_RATE_STD_MS = 1.0  # a range rate given without its error


def _range_rates(
    rows: Sequence[DetectionRow], cols: _Columns | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each report's range rate (m/s, positive opening) and its σ, NaN where it gives none.

    Read from ``object_info`` "RangeRate" (or "RadialVelocity"); a value that is not a finite
    number counts as none. ``cols`` (:func:`_columns` of ``rows``) lets a delivery without any
    ``object_info`` skip the pass over its rows.
    """
    n = len(rows)
    rdot = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if cols is not None and not any(cols.info):
        return rdot, std
    for i, row in enumerate(rows):
        for kind, value, error in row.info:
            if kind.replace(" ", "").replace("_", "").lower() in _RANGE_RATE_TYPES:
                try:
                    v = float(value)
                except ValueError:
                    continue
                if math.isfinite(v):
                    rdot[i] = v
                    ok = math.isfinite(error) and error > 0.0
                    std[i] = error if ok else DEFAULT_RANGE_RATE_STD_MS
    return rdot, std


_CONTROLLER = re.compile(r"controller|remote control|ground control|\bgcs\b", re.I)


def is_controller(label: str) -> bool:
    """Whether a SAPIENT class names a drone's ground end (controller, remote control, GCS)."""
    return bool(label) and _CONTROLLER.search(label) is not None


def _emitters(
    rows: Sequence[DetectionRow], cols: _Columns | None = None, by: str = ""
) -> tuple[RfEmitter | None, ...]:
    """The radio link each report names (``object_info`` Protocol, Serial; its Signal's band).

    Types are matched without regard to case; () if no report names any (known at once from
    ``cols`` when no report has ``object_info`` or a band). A report that names a link keeps its
    classification's sub-class (the model the detector fingerprinted) with ``by``, the node's
    name, and says whether its class is the link's controller (:func:`is_controller`).
    """
    if cols is not None and not any(cols.info) and cols.band_hz.count(None) == len(rows):
        return ()
    out: list[RfEmitter | None] = []
    for row in rows:
        protocol = serial = None
        for kind, value, _ in row.info:
            k = kind.strip().lower()
            if k in _PROTOCOL_TYPES and value.strip():
                protocol = value.strip()
            elif k in _SERIAL_TYPES and value.strip():
                serial = value.strip()
        # SAPIENT carries frequencies as 32-bit floats: kHz is all the precision there is.
        band = (
            None
            if row.band_hz is None
            else (round(row.band_hz[0] / 1e6, 3), round(row.band_hz[1] / 1e6, 3))
        )
        if not (protocol or serial or band):
            out.append(None)
            continue
        sub = row.sub_class or None
        out.append(
            RfEmitter(protocol, serial, band, sub, by if sub else None, is_controller(row.label))
        )
    return tuple(out) if any(e is not None for e in out) else ()


def _class_loglik(
    rows: Sequence[DetectionRow], cols: _Columns | None = None
) -> NDArray[np.float64]:
    """Class evidence of each report: its most confident classification, if any."""
    if cols is None:
        cols = _columns(rows)
    labels = [map_class(label) if label else None for label in cols.label]
    conf = np.array(cols.label_confidence, float).reshape(len(rows))
    return class_report_loglik(labels, conf)


def registered_max_range_m(reg: Message) -> float:
    """A Registration's ``Detection``/``MaxRange`` capability in metres (inf if not given).

    Capabilities are free text (category, type, value, units); the value is read with its
    units (m or km, in words or abbreviated) and ignored when the number or the unit is not
    understood.
    """
    for cap in reg.capabilities:  # type: ignore[attr-defined]
        if cap.category.lower() != "detection" or cap.type.lower() != "maxrange":
            continue
        try:
            value = float(cap.value)
        except ValueError:
            continue
        scale = _LENGTH_UNITS.get(cap.units.strip().lower())
        if scale is not None and math.isfinite(value) and value > 0:
            return value * scale
    return math.inf


def _grid_convergence_deg(lat_deg: float, lon_deg: float) -> float:
    """Angle from true north to UTM grid north at a point (deg): true bearing = grid + this.

    γ = atan(tan(λ − λ₀) · sin φ) for the point's own UTM zone (Snyder, *Map Projections — A
    Working Manual*, 1987, eq. 8-15, spherical form; < 0.01° off the ellipsoidal value here).
    """
    zone = int((lon_deg + 180.0) // 6.0) % 60 + 1
    central = -183.0 + 6.0 * zone
    return math.degrees(
        math.atan(math.tan(math.radians(lon_deg - central)) * math.sin(math.radians(lat_deg)))
    )


def _std(values: NDArray[np.float64], default: float) -> NDArray[np.float64]:
    """1-σ column with the default where the node gave none (NaN)."""
    return np.where(np.isnan(values), default, values)


def _enum_name(msg: Message, name: str) -> str:
    """Symbolic name of an enum field's value (the number if the schema does not know it)."""
    value = getattr(msg, name)
    enum = msg.DESCRIPTOR.fields_by_name[name].enum_type
    known = enum.values_by_number.get(value) if enum is not None else None
    return known.name if known is not None else str(value)


def location_geodetic(
    loc: Location, path: str, geoid_undulation_m: float = 0.0
) -> tuple[float, float, float]:
    """(lat deg, lon deg, ellipsoidal alt m) of a SAPIENT Location (x is longitude or easting)."""
    cs = loc.coordinate_system
    if cs == _LOC_DEG:
        lat, lon = loc.y, loc.x
    elif cs == _LOC_RAD:
        lat, lon = math.degrees(loc.y), math.degrees(loc.x)
    elif cs == _LOC_UTM and loc.utm_zone:
        try:
            lat_a, lon_a = utm_to_geodetic(loc.x, loc.y, loc.utm_zone)
        except ValueError as exc:
            raise SapientError(f"{path}.utm_zone", "not a UTM zone", str(exc)) from None
        lat, lon = float(lat_a), float(lon_a)
    else:
        raise SapientError(
            f"{path}.coordinate_system",
            "not supported for fusion",
            location_pb2.LocationCoordinateSystem.Name(cs),
        )
    alt = loc.z + (geoid_undulation_m if loc.datum == _LOC_GEOID else 0.0)
    # A finite easting can still fall off the map (PROJ gives inf): such a place is no place.
    if not (math.isfinite(lat) and math.isfinite(lon) and math.isfinite(alt) and abs(lat) <= 90.0):
        raise SapientError(path, "position not placeable")
    return lat, lon, alt


def _field_of_view(
    fov: range_bearing_pb2.LocationOrRangeBearing,
) -> tuple[float, float, float | None] | None:
    """A StatusReport's field of view as (centre bearing, width, range), if it is a cone.

    Only a range/bearing cone in degrees can be drawn as a look direction; a location list (a
    polygon) or radians are not read here (None). Values outside their ranges are
    refused the same way.
    """
    if fov.WhichOneof("fov_oneof") != "range_bearing":
        return None
    cone = fov.range_bearing
    if cone.coordinate_system not in _RB_DEGREES or cone.datum == _RB_MAGNETIC:
        return None  # a magnetic bearing is not drawn (the node's declination is not known here)
    az, width, rng = cone.azimuth, cone.horizontal_extent, cone.range
    if not (math.isfinite(az) and math.isfinite(width) and 0.0 < width <= 360.0):
        return None
    if cone.coordinate_system in _RB_KM:
        rng *= 1000.0
    return az % 360.0, width, rng if math.isfinite(rng) and rng > 0.0 else None
