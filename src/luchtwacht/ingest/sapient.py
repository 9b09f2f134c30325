"""SAPIENT (BSI Flex 335 v2.0) ingest: framing, decoding, ICD validation, conversion to detections.

Where it sits: bytes from a sensor node (ASM) → :class:`FrameReader` (4-byte little-endian length
+ serialized ``SapientMessage``) → :func:`parse_message` (protobuf bindings from ``sapient-proto``)
→ :func:`validate` (the ICD's rules) → :class:`SapientPipe` keeps each node's registration and
location and turns DetectionReports into :class:`~luchtwacht.model.DetectionBatch` in site ENU.

Validation is driven by the ICD annotations compiled into the bindings (``is_mandatory``,
``is_ulid``, ``is_uuid`` on every field, BSI Flex 335 v2.0 §5) plus value rules the annotations
cannot express (ranges, units, coordinate systems, cross-field consistency). Every rejection is a
:class:`SapientError` naming the field path and the rule.
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from sapient_msg import proto_options_pb2
from sapient_msg.bsi_flex_335_v2_0 import (
    alert_ack_pb2,
    detection_report_pb2,
    location_pb2,
    range_bearing_pb2,
    sapient_message_pb2,
)

from luchtwacht.geo import SiteOrigin, aer_covariance_to_enu
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.model.detection import DetectionBatch, ObjectClass, class_report_loglik

log = logging.getLogger(__name__)

SapientMessage = sapient_message_pb2.SapientMessage
DetectionReport = detection_report_pb2.DetectionReport
Location = location_pb2.Location
RangeBearing = range_bearing_pb2.RangeBearing

ICD_VERSION = "BSI Flex 335 v2.0"
MAX_FRAME_BYTES = 1 << 20  # a DetectionReport is ~200 B; a megabyte is already absurd
_LEN = struct.Struct("<I")

_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class SapientError(ValueError):
    """A SAPIENT message broke a rule; ``field`` is the dotted path, ``rule`` a short rule name."""

    def __init__(self, field: str, rule: str, detail: str = "") -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}" + (f" ({detail})" if detail else ""))


# ---------------------------------------------------------------------------------------------
# Framing


def frame(message: Message) -> bytes:
    """Serialize a message with the SAPIENT TCP framing (uint32 little-endian length prefix)."""
    body = message.SerializeToString()
    return _LEN.pack(len(body)) + body


class FrameReader:
    """Reassembles length-prefixed SAPIENT frames from a byte stream of arbitrary chunks."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame_bytes

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Add bytes; yield every complete frame body. Raises on an absurd length prefix."""
        self._buf += data
        while len(self._buf) >= 4:
            (n,) = _LEN.unpack_from(self._buf, 0)
            if n > self._max:
                self._buf.clear()  # the stream is out of step; nothing after this can be trusted
                raise SapientError("frame.length", "exceeds maximum", f"{n} > {self._max} bytes")
            if len(self._buf) < 4 + n:
                return
            body = bytes(self._buf[4 : 4 + n])
            del self._buf[: 4 + n]
            yield body

    @property
    def pending_bytes(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)


def parse_message(data: bytes) -> SapientMessage:
    """Parse one serialized ``SapientMessage``; malformed protobuf raises :class:`SapientError`."""
    msg = SapientMessage()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise SapientError("SapientMessage", "malformed protobuf", str(exc)) from None
    return msg


# ---------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True, slots=True)
class _FieldRule:
    fd: FieldDescriptor
    mandatory: bool
    ulid: bool
    uuid: bool


@cache
def _rules(desc: Descriptor) -> tuple[_FieldRule, ...]:
    out = []
    ext: Any = proto_options_pb2.field_options  # the extension's stub type is too narrow for mypy
    for fd in desc.fields:
        opt = fd.GetOptions().Extensions[ext]
        out.append(_FieldRule(fd, bool(opt.is_mandatory), bool(opt.is_ulid), bool(opt.is_uuid)))
    return tuple(out)


def is_ulid(text: str) -> bool:
    """True for a canonical 26-character Crockford base-32 ULID."""
    return bool(_ULID.match(text))


def is_uuid(text: str) -> bool:
    """True for an RFC 4122 textual UUID."""
    return bool(_UUID.match(text))


def new_ulid(t_s: float, rng: np.random.Generator) -> str:
    """A ULID for time ``t_s`` (UTC seconds) with 80 random bits from ``rng`` (reproducible)."""
    value = (int(t_s * 1000) & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(rng.bytes(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


_IMPLICIT_EMPTY = (
    FieldDescriptor.TYPE_STRING,
    FieldDescriptor.TYPE_BYTES,
    FieldDescriptor.TYPE_ENUM,
)


def _check_structure(msg: Message, path: str) -> None:
    """The ICD annotations: mandatory fields present, ULID/UUID fields well formed, recursively."""
    for rule in _rules(msg.DESCRIPTOR):
        fd = rule.fd
        name = f"{path}.{fd.name}"
        if fd.is_repeated:
            values = list(getattr(msg, fd.name))
            if rule.mandatory and not values:
                raise SapientError(name, "mandatory field missing", "empty list")
            if fd.message_type is not None:
                for i, item in enumerate(values):
                    _check_structure(item, f"{name}[{i}]")
            elif rule.ulid or rule.uuid:
                for i, item in enumerate(values):
                    _check_id(f"{name}[{i}]", item, rule)
            continue
        value = getattr(msg, fd.name)
        if fd.has_presence:
            present = msg.HasField(fd.name)
        else:  # proto3 implicit presence: only a non-default value shows it was sent
            present = fd.type not in _IMPLICIT_EMPTY or bool(value)
        if not present:
            if rule.mandatory:
                raise SapientError(name, "mandatory field missing")
            continue
        if fd.message_type is not None:
            if fd.message_type.full_name != "google.protobuf.Timestamp":
                _check_structure(value, name)
        elif rule.ulid or rule.uuid:
            _check_id(name, value, rule)
        elif fd.type == FieldDescriptor.TYPE_STRING and rule.mandatory and not value.strip():
            raise SapientError(name, "mandatory field empty")
        elif fd.enum_type is not None and rule.mandatory and value == 0:
            raise SapientError(name, "mandatory enum unspecified")


def _check_id(name: str, value: str, rule: _FieldRule) -> None:
    if rule.ulid and not is_ulid(value):
        raise SapientError(name, "not a ULID", repr(value[:40]))
    if rule.uuid and not is_uuid(value):
        raise SapientError(name, "not a UUID", repr(value[:40]))


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise SapientError(name, "not a finite number", repr(value))


def _check_location(loc: Location, path: str) -> None:
    for axis in ("x", "y", "z", "x_error", "y_error", "z_error"):
        if loc.HasField(axis):
            _finite(f"{path}.{axis}", getattr(loc, axis))
    for axis in ("x_error", "y_error", "z_error"):
        if loc.HasField(axis) and getattr(loc, axis) < 0:
            raise SapientError(f"{path}.{axis}", "negative error")
    cs = loc.coordinate_system
    if cs == location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M:
        if not -180.0 <= loc.x <= 180.0:
            raise SapientError(f"{path}.x", "longitude out of range", f"{loc.x} deg")
        if not -90.0 <= loc.y <= 90.0:
            raise SapientError(f"{path}.y", "latitude out of range", f"{loc.y} deg")
    elif cs == location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M:
        if not -math.pi <= loc.x <= math.pi:
            raise SapientError(f"{path}.x", "longitude out of range", f"{loc.x} rad")
        if not -math.pi / 2 <= loc.y <= math.pi / 2:
            raise SapientError(f"{path}.y", "latitude out of range", f"{loc.y} rad")
    elif cs == location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M and not loc.utm_zone:
        raise SapientError(f"{path}.utm_zone", "required with UTM coordinates")


def _check_range_bearing(rb: RangeBearing, path: str) -> None:
    for f in ("azimuth", "elevation", "range", "azimuth_error", "elevation_error", "range_error"):
        if rb.HasField(f):
            _finite(f"{path}.{f}", getattr(rb, f))
    degrees = rb.coordinate_system in (
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M,
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM,
    )
    full, quarter = (360.0, 90.0) if degrees else (2 * math.pi, math.pi / 2)
    if rb.HasField("azimuth") and not -full <= rb.azimuth <= full:
        raise SapientError(f"{path}.azimuth", "out of range", f"{rb.azimuth}")
    if rb.HasField("elevation") and not -quarter <= rb.elevation <= quarter:
        raise SapientError(f"{path}.elevation", "out of range", f"{rb.elevation}")
    if rb.HasField("range") and rb.range < 0:
        raise SapientError(f"{path}.range", "negative range")
    for f in ("azimuth_error", "elevation_error", "range_error"):
        if rb.HasField(f) and getattr(rb, f) < 0:
            raise SapientError(f"{path}.{f}", "negative error")
    if not (rb.HasField("azimuth") or rb.HasField("elevation") or rb.HasField("range")):
        raise SapientError(path, "no azimuth, elevation or range")


def _check_detection_report(dr: DetectionReport, path: str) -> None:
    kind = dr.WhichOneof("location_oneof")
    if kind is None:
        raise SapientError(f"{path}.location", "mandatory: location or range_bearing")
    if kind == "location":
        _check_location(dr.location, f"{path}.location")
    else:
        _check_range_bearing(dr.range_bearing, f"{path}.range_bearing")
    if dr.HasField("detection_confidence") and not 0.0 <= dr.detection_confidence <= 1.0:
        raise SapientError(f"{path}.detection_confidence", "outside [0, 1]")
    for i, c in enumerate(dr.classification):
        if not c.type:
            raise SapientError(f"{path}.classification[{i}].type", "mandatory field missing")
        if c.HasField("confidence") and not 0.0 <= c.confidence <= 1.0:
            raise SapientError(f"{path}.classification[{i}].confidence", "outside [0, 1]")


def validate(msg: SapientMessage) -> str:
    """Apply the ICD rules; return the content kind (e.g. ``"detection_report"``) or raise."""
    kind = msg.WhichOneof("content")
    if kind is None:
        raise SapientError("SapientMessage.content", "no message content")
    _check_structure(msg, "SapientMessage")
    ts = msg.timestamp
    if ts.seconds <= 0 or not 0 <= ts.nanos < 1_000_000_000:
        raise SapientError("SapientMessage.timestamp", "not a valid time")
    if kind == "detection_report":
        _check_detection_report(msg.detection_report, "SapientMessage.detection_report")
    elif kind == "status_report" and msg.status_report.HasField("node_location"):
        _check_location(
            msg.status_report.node_location, "SapientMessage.status_report.node_location"
        )
    elif kind == "registration" and msg.registration.icd_version != ICD_VERSION:
        raise SapientError(
            "SapientMessage.registration.icd_version",
            "unsupported ICD version",
            f"{msg.registration.icd_version!r}, expected {ICD_VERSION!r}",
        )
    return str(kind)


def timestamp_s(msg: SapientMessage) -> float:
    """The message's timestamp as UTC seconds."""
    return float(msg.timestamp.seconds) + msg.timestamp.nanos * 1e-9


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


def map_class(type_name: str) -> ObjectClass | None:
    """Map a SAPIENT classification type (free text in the taxonomy) to a Luchtwacht class."""
    low = type_name.lower()
    for word, cls in _CLASS_WORDS:
        if word in low:
            return cls
    return None


@dataclass(slots=True)
class NodeState:
    """What the fusion node knows about one sensor node."""

    node_id: str
    registered: bool = False
    node_types: tuple[str, ...] = ()
    lat_deg: float | None = None
    lon_deg: float | None = None
    alt_m: float | None = None
    last_status_t_s: float | None = None
    system: str = ""


DEFAULT_FUSION_NODE_ID = "6c7a1f0e-2b1d-4c5e-9f3a-7e8d9c0b1a2f"


class SapientPipe:
    """Decoder state for one SAPIENT connection: frames in, detection batches out.

    As the fusion node (DMM) it also answers the sensor node: a RegistrationAck for every
    Registration (refused with the broken rule when it is invalid), an AlertAck for every Alert
    and an Error naming the rule for any other invalid message. Answers collect in ``replies``
    as framed bytes for the transport to send back.
    """

    def __init__(
        self, sensor_id: str, origin: SiteOrigin, fusion_node_id: str = DEFAULT_FUSION_NODE_ID
    ) -> None:
        self.sensor_id = sensor_id
        self.origin = origin
        self.fusion_node_id = fusion_node_id
        self.replies: list[bytes] = []
        self.reader = FrameReader()
        self.nodes: dict[str, NodeState] = {}
        self.counters = FeedCounters()
        self._logged: set[str] = set()
        self._pending: list[tuple[float, DetectionReport, NodeState]] = []

    def _reject(self, exc: SapientError) -> None:
        reason = f"{exc.field}: {exc.rule}"
        self.counters.reject(reason)
        if reason not in self._logged:  # once per kind, so a flood cannot flood the log
            self._logged.add(reason)
            log.warning("sensor %s: rejected SAPIENT message: %s", self.sensor_id, exc)

    def feed(self, data: bytes) -> list[DetectionBatch]:
        """Consume bytes from the connection; return the batches this completes.

        Reports are grouped per node and timestamp (one radar scan); a group is complete once a
        later report from the same node arrives, or when :meth:`flush` is called.
        """
        try:
            for body in self.reader.feed(data):
                msg: SapientMessage | None = None
                try:
                    msg = parse_message(body)
                    kind = validate(msg)
                    self._handle(msg, kind, self._pending)
                except SapientError as exc:
                    self._reject(exc)
                    self._answer_invalid(msg, body, exc)
        except SapientError as exc:  # framing error: the stream was reset
            self._reject(exc)
        latest: dict[str, float] = {}
        for t, _, node in self._pending:
            latest[node.node_id] = max(t, latest.get(node.node_id, t))
        done = [r for r in self._pending if r[0] < latest[r[2].node_id]]
        if not done:
            return []
        self._pending = [r for r in self._pending if r[0] >= latest[r[2].node_id]]
        return self._to_batches(done)

    def flush(self) -> list[DetectionBatch]:
        """Emit every pending group (the caller knows no more of them is on its way)."""
        done, self._pending = self._pending, []
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
        out = self._reply(msg.node_id)
        if msg.WhichOneof("content") == "registration":
            out.registration_ack.acceptance = False
            out.registration_ack.ack_response_reason.append(str(exc))
        else:
            out.error.packet = body[:4096]
            out.error.error_message.append(str(exc))
        self.replies.append(frame(out))

    def take_replies(self) -> list[bytes]:
        """Framed answers to send to the sensor node, oldest first (and forget them)."""
        out, self.replies = self.replies, []
        return out

    def _handle(
        self,
        msg: SapientMessage,
        kind: str,
        reports: list[tuple[float, DetectionReport, NodeState]],
    ) -> None:
        node = self.nodes.setdefault(msg.node_id, NodeState(msg.node_id))
        if kind == "registration":
            node.registered = True
            ack = self._reply(msg.node_id)
            ack.registration_ack.acceptance = True
            self.replies.append(frame(ack))
            node.node_types = tuple(
                _enum_name(d, "node_type") for d in msg.registration.node_definition
            )
        elif kind == "status_report":
            sr = msg.status_report
            node.last_status_t_s = timestamp_s(msg)
            node.system = _enum_name(sr, "system")
            if sr.HasField("node_location"):
                lat, lon, alt = _location_geodetic(
                    sr.node_location, "SapientMessage.status_report.node_location"
                )
                node.lat_deg, node.lon_deg, node.alt_m = lat, lon, alt
        elif kind == "alert":
            ack = self._reply(msg.node_id)
            ack.alert_ack.alert_id = msg.alert.alert_id
            ack.alert_ack.alert_ack_status = alert_ack_pb2.AlertAck.ALERT_ACK_STATUS_ACCEPTED
            self.replies.append(frame(ack))
        elif kind == "detection_report":
            if not node.registered:
                raise SapientError("SapientMessage.node_id", "detection from an unregistered node")
            dr = msg.detection_report
            if dr.WhichOneof("location_oneof") == "range_bearing" and node.lat_deg is None:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing",
                    "node location unknown (no StatusReport)",
                )
            reports.append((timestamp_s(msg), dr, node))
        self.counters.decoded += 1
        self.counters.by_kind[kind] += 1

    def _to_batches(
        self, reports: list[tuple[float, DetectionReport, NodeState]]
    ) -> list[DetectionBatch]:
        """Group reports by node and time and convert each group to ENU with one array call."""
        groups: dict[tuple[str, float], list[tuple[float, DetectionReport, NodeState]]] = {}
        for rep in reports:
            groups.setdefault((rep[2].node_id, rep[0]), []).append(rep)
        batches = []
        for (_, t), group in sorted(groups.items(), key=lambda kv: kv[0][1]):
            batches.append(self._convert(t, group))
        return batches

    def _convert(
        self, t: float, group: list[tuple[float, DetectionReport, NodeState]]
    ) -> DetectionBatch:
        rb_rows = [
            (i, r[1].range_bearing, r[2])
            for i, r in enumerate(group)
            if r[1].HasField("range_bearing")
        ]
        loc_rows = [(i, r[1].location) for i, r in enumerate(group) if r[1].HasField("location")]
        n = len(group)
        z = np.zeros((n, 3))
        cov = np.zeros((n, 3, 3))
        if rb_rows:
            idx = np.array([i for i, _, _ in rb_rows])
            scale_ang = np.array([_angle_scale(rb) for _, rb, _ in rb_rows])
            scale_rng = np.array([_range_scale(rb) for _, rb, _ in rb_rows])
            az = np.array([rb.azimuth for _, rb, _ in rb_rows]) * scale_ang
            el = np.array([rb.elevation for _, rb, _ in rb_rows]) * scale_ang
            rng = np.array([rb.range for _, rb, _ in rb_rows]) * scale_rng
            az_e = np.array(
                [rb.azimuth_error if rb.HasField("azimuth_error") else 1.0 for _, rb, _ in rb_rows]
            )
            el_e = np.array(
                [
                    rb.elevation_error if rb.HasField("elevation_error") else 1.0
                    for _, rb, _ in rb_rows
                ]
            )
            rg_e = np.array(
                [rb.range_error if rb.HasField("range_error") else 10.0 for _, rb, _ in rb_rows]
            )
            # One node per group, so one sensor position for the whole array conversion.
            node = rb_rows[0][2]
            if node.lat_deg is None or node.lon_deg is None or node.alt_m is None:
                raise SapientError(
                    "SapientMessage.status_report.node_location", "node location unknown"
                )
            z[idx] = self.origin.aer_to_enu(az, el, rng, node.lat_deg, node.lon_deg, node.alt_m)
            cov[idx] = aer_covariance_to_enu(
                az, el, rng, az_e * scale_ang, el_e * scale_ang, rg_e * scale_rng
            )
        if loc_rows:
            idx = np.array([i for i, _ in loc_rows])
            geo = np.array([_location_geodetic(loc, "location") for _, loc in loc_rows])
            z[idx] = self.origin.to_enu(geo[:, 0], geo[:, 1], geo[:, 2])
            cov[idx] = np.stack([np.diag(_location_error_m(loc) ** 2) for _, loc in loc_rows])
        labels: list[ObjectClass | None] = []
        conf = np.zeros(n)
        for i, (_, dr, _) in enumerate(group):
            best = max(dr.classification, key=lambda c: c.confidence, default=None)
            labels.append(map_class(best.type) if best is not None else None)
            conf[i] = best.confidence if best is not None else 0.0
        extra: tuple[dict[str, object], ...] = tuple(
            {"object_id": dr.object_id, "node_id": node.node_id} for _, dr, node in group
        )
        return DetectionBatch(
            sensor_id=self.sensor_id,
            t_s=np.full(n, t),
            z=z,
            R=cov,
            class_loglik=class_report_loglik(labels, conf),
            extra=extra,
        )


def _enum_name(msg: Message, name: str) -> str:
    """Symbolic name of an enum field's value (the number if the schema does not know it)."""
    value = getattr(msg, name)
    enum = msg.DESCRIPTOR.fields_by_name[name].enum_type
    known = enum.values_by_number.get(value) if enum is not None else None
    return known.name if known is not None else str(value)


def _angle_scale(rb: RangeBearing) -> float:
    """Factor to degrees for the range-bearing coordinate system."""
    cs = rb.coordinate_system
    if cs in (
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M,
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM,
    ):
        return 1.0
    return 180.0 / math.pi


def _range_scale(rb: RangeBearing) -> float:
    """Factor to metres for the range-bearing coordinate system."""
    cs = rb.coordinate_system
    if cs in (
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM,
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM,
    ):
        return 1000.0
    return 1.0


def _location_geodetic(loc: Location, path: str) -> tuple[float, float, float]:
    """(lat deg, lon deg, alt m) of a SAPIENT Location (x is longitude, y latitude)."""
    cs = loc.coordinate_system
    if cs == location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M:
        return loc.y, loc.x, loc.z
    if cs == location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M:
        return math.degrees(loc.y), math.degrees(loc.x), loc.z
    raise SapientError(
        f"{path}.coordinate_system",
        "not supported for fusion yet",
        location_pb2.LocationCoordinateSystem.Name(cs),
    )


def _location_error_m(loc: Location) -> np.ndarray:
    """1-σ position error in metres (east, north, up) of a geodetic Location."""
    deg = (
        1.0
        if loc.coordinate_system == location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        else math.degrees(1.0)
    )
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(loc.y * deg))
    ex = loc.x_error * deg * m_per_deg_lon if loc.HasField("x_error") else 10.0
    ey = loc.y_error * deg * m_per_deg_lat if loc.HasField("y_error") else 10.0
    ez = loc.z_error if loc.HasField("z_error") else 15.0
    return np.array([max(ex, 0.5), max(ey, 0.5), max(ez, 0.5)])
