"""SAPIENT upward: Luchtwacht as a fusion node of a higher-level DMM (BSI Flex 335 v2.0).

Where it sits: the node core offers each :class:`~luchtwacht.model.picture.PictureUpdate` to this
publisher's subscription; the publisher's thread connects to the higher DMM (mutual TLS with the
site PKI, or plain TCP in a lab; 4-byte little-endian length + ``SapientMessage``, as
``transport/sapient_tcp.py``) and speaks to it as one node:

1. **Registration** (node type ``NODE_TYPE_FUSION_NODE``; its capabilities, classes, status
   and modes, the tasks it takes, the sensor nodes it depends on) until a RegistrationAck
   accepts it (resent every ``registration_timeout_s``; refused or unanswered: reconnect later);
2. one **DetectionReport** per fused track, at most every ``min_interval_s`` per track (at once
   for a new track, a changed class or threat): a stable ULID ``object_id`` per Luchtwacht
   track, WGS84 position with its 1-σ errors, ENU velocity, class confidences, Remote ID /
   ICAO / RF identity as ``object_info``; a last report with ``state: "lost"`` when it ends;
3. an **Alert** for each raised or escalated zone alert (cleared ones go as ALERT_STATUS_CLEAR);
   the DMM's AlertAcks are counted;
4. a **StatusReport** every ``status_interval_s`` (and on request): system state from the
   feeds' health, coverage (the connected sensor nodes' ranges, else the protected zones),
   mode, counts;
5. **TaskAcks**: Request Status / Registration / Start / Stop / Reset, detection report rate,
   mode Default / Standby and areas of interest are honoured; everything else is refused with
   the reason (``docs/sapient-upward.md`` has the table).

Every message built here passes the ICD validator (``ingest/sapient_rules.py``) before it goes
out; one that would not is counted (``invalid_built``) and not sent. Nothing here ever blocks
the node: writes are non-blocking into a bounded queue, a peer that does not read for
``write_timeout_s`` is cut off, and reconnects follow the base's :class:`Backoff`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import select
import socket
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import shapely
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sapient_msg.bsi_flex_335_v2_0 import (
    alert_ack_pb2,
    alert_pb2,
    associated_detection_pb2,
    location_pb2,
    registration_pb2,
    status_report_pb2,
    task_ack_pb2,
    task_pb2,
    velocity_pb2,
)

from luchtwacht import __version__
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import (
    ICD_VERSION,
    SapientError,
    SapientMessage,
    is_ulid,
    is_uuid,
    location_geodetic,
    parse_message,
    validate,
)
from luchtwacht.model.picture import AlertChange, NodeSnapshot, PictureUpdate
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.node.ports import Subscription
from luchtwacht.publish.base import Backoff, PublishContext, PublisherThread, TrackRateLimiter
from luchtwacht.transport.sapient_tcp import MAX_FRAME_BYTES, FrameReader, frame

log = logging.getLogger(__name__)

_Reg = registration_pb2.Registration
_Ack = task_ack_pb2.TaskAck
_Task = task_pb2.Task
_SR = status_report_pb2.StatusReport
_Alert = alert_pb2.Alert

# Luchtwacht's classes as SAPIENT classification types (free text in the ICD's taxonomy; each
# maps back to the same class in Luchtwacht's own ingest, ``ingest.sapient.map_class``).
SAPIENT_CLASS: dict[str, str] = {
    "drone": "UAV",
    "bird": "Bird",
    "aircraft": "Manned Aircraft",
    "clutter": "Clutter",
}
MODE_DEFAULT = "Default"  # reporting tracks
MODE_STANDBY = "Standby"  # tracking goes on; no DetectionReports until Start or Default
REQUESTS = ("Registration", "Status", "Start", "Stop", "Reset")
RATE_SCALE = {  # detection report rate task → factor on min_interval_s
    task_pb2.Task.DISCRETE_THRESHOLD_LOW: 4.0,
    task_pb2.Task.DISCRETE_THRESHOLD_MEDIUM: 1.0,
    task_pb2.Task.DISCRETE_THRESHOLD_HIGH: 0.25,
}
HOVER_MS = 1.0  # a drone slower than this over ground is reported with behaviour "loitering"
MAX_TRACKS_KEPT = 20_000  # tracks whose object id and last view are kept (the oldest go first)
MAX_STATUS_FEEDS = 8  # feeds named one by one in a StatusReport
COVERAGE_VERTICES = 24  # points of the polygon drawn round one sensor node's range
REGISTRATION_TRIES = 3  # Registrations sent on one connection before it is given up
READ_CHUNK = 65_536
SEND_BUFFER_BYTES = 64 * 1024
NODE_FRESH_S = 60.0  # a sensor node heard from this recently counts as covering
_M_PER_DEG = 111_320.0
_LOG_EVERY_S = 30.0


class SapientUpConfig(BaseModel):
    """One higher-level DMM that Luchtwacht reports to as a SAPIENT fusion node.

    ``connect`` is the DMM's ``HOST:PORT``. ``transport: tls`` (the default) is mutual TLS:
    ``cert``/``key`` are this node's certificate (``luchtwacht pki issue``), ``ca`` the CA the
    DMM's certificate must chain to (paths as given, relative to the working directory);
    ``tcp`` is for a closed lab network only. ``node_id`` is the SAPIENT node id Luchtwacht
    registers with (a UUID; the node's ``fusion_node_id`` when left out), ``node_name`` the
    Registration's name. Each track is reported at most every ``min_interval_s``; a
    StatusReport goes every ``status_interval_s``. Reconnects wait ``reconnect_first_s``
    doubling up to ``reconnect_max_s``; a DMM that reads nothing for ``write_timeout_s`` is cut
    off, and at most ``max_queued_bytes`` wait to be written (more is dropped, counted).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    connect: str
    transport: Literal["tls", "tcp"] = "tls"
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    node_id: str | None = None
    node_name: str | None = None
    min_interval_s: float = Field(default=1.0, ge=0)
    status_interval_s: float = Field(default=5.0, gt=0)
    registration_timeout_s: float = Field(default=5.0, gt=0)
    reconnect_first_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    write_timeout_s: float = Field(default=5.0, gt=0)
    max_queued_bytes: int = Field(default=1 << 20, ge=4096)

    @field_validator("connect")
    @classmethod
    def _hostport(cls, text: str) -> str:
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ValueError(f"{text!r} is not HOST:PORT")
        return text

    @field_validator("node_id")
    @classmethod
    def _uuid(cls, text: str | None) -> str | None:
        if text is not None and not is_uuid(text):
            raise ValueError(f"{text!r} is not a UUID (a SAPIENT node id)")
        return text.lower() if text is not None else None

    @model_validator(mode="after")
    def _tls(self) -> SapientUpConfig:
        if self.transport == "tls" and (self.cert is None or self.key is None or self.ca is None):
            raise ValueError("transport tls needs cert, key and ca (see docs/pki.md)")
        if self.reconnect_max_s < self.reconnect_first_s:
            raise ValueError("reconnect_max_s must not be below reconnect_first_s")
        return self


# ---------------------------------------------------------------------------------------------
# Encoding: pure functions from the picture to SAPIENT messages

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits → two characters


def fast_ulid(t_s: float, rng: random.Random) -> str:
    """A ULID (48-bit milliseconds + 80 random bits, Crockford base 32) for time ``t_s``.

    The codec's ``new_ulid`` draws from a numpy generator (reproducible simulations) at ~50 µs
    an id; a publisher mints one per report, so this one encodes ten bits at a time (a few µs).
    """
    value = ((int(t_s * 1000) & ((1 << 48) - 1)) << 80) | rng.getrandbits(80)
    # 130 bits as 26 characters: the first alone, 12 pairs of 10 bits, the last alone.
    out = [_CROCKFORD[value >> 125]]
    out.extend(_PAIRS[(value >> shift) & 1023] for shift in range(115, 4, -10))
    out.append(_CROCKFORD[value & 31])
    return "".join(out)


def _set_time(ts: Timestamp, t_s: float) -> None:
    """A protobuf Timestamp at ``t_s`` (UTC seconds); now, when ``t_s`` is not a real time."""
    ok = _finite(t_s) and 1.0 <= t_s < 253_402_300_799  # after 1970, before year 10000
    ts.FromNanoseconds(round((t_s if ok else time.time()) * 1e9))


def _stamp(msg: SapientMessage, t_s: float, node_id: str, destination: str | None) -> None:
    """Set the header: timestamp (UTC seconds), sender and, when known, the DMM's node id."""
    _set_time(msg.timestamp, t_s)
    msg.node_id = node_id
    if destination:
        msg.destination_id = destination


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def _wgs84(loc: location_pb2.Location, lat_deg: float, lon_deg: float, alt_m: float) -> None:
    """Fill a Location in latitude/longitude degrees and ellipsoidal height (WGS84_E)."""
    loc.x = (lon_deg + 180.0) % 360.0 - 180.0 if not -180.0 <= lon_deg <= 180.0 else lon_deg
    loc.y = min(90.0, max(-90.0, lat_deg))
    loc.z = alt_m
    loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    loc.datum = location_pb2.LOCATION_DATUM_WGS84_E


def horizontal_std_m(view: TrackView) -> tuple[float, float]:
    """(σ east, σ north) in metres from the track's 1-σ ellipse (else its position σ).

    With semi-axes a, b and the major axis at bearing θ from north:
    σe² = a² sin²θ + b² cos²θ, σn² = a² cos²θ + b² sin²θ.
    """
    if view.ellipse_m is not None and _finite(*view.ellipse_m):
        a, b, bearing = view.ellipse_m
        s, c = math.sin(math.radians(bearing)), math.cos(math.radians(bearing))
        return math.sqrt(a * a * s * s + b * b * c * c), math.sqrt(a * a * c * c + b * b * s * s)
    std = view.pos_std_m if _finite(view.pos_std_m) else 0.0
    return abs(std), abs(std)


def _locate(loc: location_pb2.Location, view: TrackView) -> None:
    """A track's position with its errors: degrees of longitude / latitude, metres of height."""
    _wgs84(loc, view.lat_deg, view.lon_deg, view.alt_m)
    sig_e, sig_n = horizontal_std_m(view)
    m_per_deg_lon = _M_PER_DEG * math.cos(math.radians(loc.y))
    # At a pole a degree of longitude is no distance at all: the error is then the whole circle.
    loc.x_error = min(360.0, sig_e / m_per_deg_lon) if m_per_deg_lon > 1e-6 else 360.0
    loc.y_error = min(180.0, sig_n / _M_PER_DEG)
    z_std = view.alt_std_m if view.alt_std_m is not None else view.pos_std_m
    if _finite(z_std):
        loc.z_error = abs(z_std)


def _class_list(view: TrackView) -> list[tuple[str, float]]:
    """(SAPIENT type, confidence) of the track's classes, best first; unknown left out."""
    probs = view.class_probs or ((view.object_class, view.class_prob),)
    out = []
    for label, p in probs:
        name = SAPIENT_CLASS.get(label)
        if name is not None and _finite(p):
            out.append((name, min(1.0, max(0.0, float(p)))))
    return out


def detection_report(
    view: TrackView,
    object_id: str,
    report_id: str,
    node_id: str,
    destination: str | None,
    t_s: float,
    *,
    state: str = "tracked",
) -> SapientMessage | None:
    """One track as a DetectionReport at ``t_s`` (None when its position is not finite).

    ``object_info`` carries what identifies it: the Luchtwacht track id, Remote ID (UAS ID),
    ICAO address, the RF link an RF detector read (``Protocol``, ``Serial``: the names
    Luchtwacht's own SAPIENT ingest reads back), cooperative, own asset, threat, zones.
    """
    if not _finite(view.lat_deg, view.lon_deg, view.alt_m):
        return None
    msg = SapientMessage()
    _stamp(msg, t_s, node_id, destination)
    dr = msg.detection_report
    dr.report_id = report_id
    dr.object_id = object_id
    dr.state = state
    _locate(dr.location, view)
    info: list[tuple[str, str]] = [("TrackId", str(view.track_id))]
    if view.uas_id:
        info.append(("UAS ID", view.uas_id))
    if view.icao:
        info.append(("ICAO", view.icao))
    if view.rf_protocol:
        info.append(("Protocol", view.rf_protocol))
    if view.rf_serial:
        info.append(("Serial", view.rf_serial))
    if view.cooperative:
        info.append(("Cooperative", "true"))
    if view.authorisation:  # the whitelist entry, or why a Remote ID drone is not authorised
        info.append(("Authorisation", view.authorisation))
    if view.own_asset:
        info.append(("Own asset", view.own_asset))
    info.append(("Threat", view.threat.label))
    if view.zones_inside:
        info.append(("Inside zones", ", ".join(view.zones_inside)))
    if _finite(view.time_to_breach_s):
        info.append(("Time to breach s", f"{view.time_to_breach_s:.1f}"))
    for kind, value in info:
        if value.strip():
            entry = dr.object_info.add()
            entry.type, entry.value = kind, value
    for name, conf in _class_list(view):
        c = dr.classification.add()
        c.type, c.confidence = name, conf
    if _finite(view.speed_ms, view.heading_deg, view.climb_ms):
        h = math.radians(view.heading_deg)
        east, north = view.speed_ms * math.sin(h), view.speed_ms * math.cos(h)
        if _finite(east, north):
            v = dr.enu_velocity
            v.east_rate, v.north_rate, v.up_rate = east, north, view.climb_ms
        if view.object_class == "drone" and 0.0 <= view.speed_ms < HOVER_MS:
            dr.behaviour.add().type = "loitering"  # hovering: the ICD's word for staying put
    return msg


_ALERT_TYPE = {
    ThreatLevel.NONE: _Alert.ALERT_TYPE_INFORMATION,
    ThreatLevel.LOW: _Alert.ALERT_TYPE_WARNING,
    ThreatLevel.MEDIUM: _Alert.ALERT_TYPE_WARNING,
    ThreatLevel.HIGH: _Alert.ALERT_TYPE_CRITICAL,
    ThreatLevel.CRITICAL: _Alert.ALERT_TYPE_CRITICAL,
}
_PRIORITY = {
    ThreatLevel.NONE: _Alert.DISCRETE_PRIORITY_LOW,
    ThreatLevel.LOW: _Alert.DISCRETE_PRIORITY_LOW,
    ThreatLevel.MEDIUM: _Alert.DISCRETE_PRIORITY_MEDIUM,
    ThreatLevel.HIGH: _Alert.DISCRETE_PRIORITY_HIGH,
    ThreatLevel.CRITICAL: _Alert.DISCRETE_PRIORITY_HIGH,
}


def alert_message(
    change: AlertChange,
    alert_id: str,
    node_id: str,
    destination: str | None,
    view: TrackView | None,
    object_id: str | None,
) -> SapientMessage:
    """A zone alert as a SAPIENT Alert (cleared ones as ALERT_STATUS_CLEAR).

    Type and priority come from its threat level; the track's position and object id are given
    when the track is in the picture.
    """
    a = change.alert
    msg = SapientMessage()
    _stamp(msg, change.t_s, node_id, destination)
    al = msg.alert
    al.alert_id = alert_id
    level = ThreatLevel(a.level)
    al.alert_type = _ALERT_TYPE[level]
    al.status = (
        _Alert.ALERT_STATUS_CLEAR if change.kind == "cleared" else _Alert.ALERT_STATUS_ACTIVE
    )
    what = a.message or f"{a.object_class} track {a.track_id}: {a.kind} of zone {a.zone}"
    al.description = f"{change.kind}: {what}"[:500]
    al.priority = _PRIORITY[level]
    al.ranking = float(level) / float(max(ThreatLevel))
    if view is not None and _finite(view.lat_deg, view.lon_deg, view.alt_m):
        _locate(al.location, view)
    if object_id is not None:
        det = al.associated_detection.add()
        _set_time(det.timestamp, view.t_s if view else change.t_s)
        det.node_id = node_id
        det.object_id = object_id
        det.association_type = associated_detection_pb2.ASSOCIATION_RELATION_PARENT
    extra = [f"zone={a.zone}", f"kind={a.kind}", f"level={level.label}", f"class={a.object_class}"]
    if a.uas_id:
        extra.append(f"uas_id={a.uas_id}")
    al.additional_information = "; ".join(extra)
    return msg


def _duration(d: _Reg.Duration, seconds: float) -> None:
    d.units = _Reg.TIME_UNITS_SECONDS
    d.value = seconds


def _deg_type(lt: _Reg.LocationType) -> None:
    lt.location_units = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    lt.location_datum = location_pb2.LOCATION_DATUM_WGS84_E


def registration_message(
    node_id: str,
    t_s: float,
    *,
    name: str,
    status_interval_s: float,
    min_interval_s: float,
    zones: Sequence[Zone] = (),
    sensor_nodes: Sequence[NodeSnapshot] = (),
    max_range_m: float | None = None,
) -> SapientMessage:
    """The Registration of Luchtwacht as a fusion node: what it is, reports, and can be tasked.

    ``sensor_nodes`` are the SAPIENT nodes it fuses (``dependent_nodes``); ``max_range_m`` the
    farthest its sensors see from the site, when they declared their ranges.
    """
    msg = SapientMessage()
    _stamp(msg, t_s, node_id, None)
    reg = msg.registration
    nd = reg.node_definition.add()
    nd.node_type = _Reg.NODE_TYPE_FUSION_NODE
    nd.node_sub_type.append("Counter-UAS air picture")
    reg.icd_version = ICD_VERSION
    reg.name = name[:200]
    reg.short_name = "LW"
    caps = [
        ("Fusion", "Tracking", "Multi-sensor track fusion (IMM, JPDA)", ""),
        ("Classification", "Classes", ", ".join(SAPIENT_CLASS.values()), ""),
        ("Identification", "Cooperative", "Remote ID, Mode S / ADS-B", ""),
        ("Alerting", "Protected zones", str(len(zones)), "count"),
    ]
    if max_range_m is not None and math.isfinite(max_range_m) and max_range_m > 0:
        caps.append(("Detection", "MaxRange", f"{max_range_m:.0f}", "m"))
    for category, kind, value, units in caps:
        cap = reg.capabilities.add()
        cap.category, cap.type, cap.value, cap.units = category, kind, value, units
    sd = reg.status_definition
    _duration(sd.status_interval, status_interval_s)
    _deg_type(sd.location_definition)
    _deg_type(sd.coverage_definition)
    status_types: tuple[tuple[registration_pb2.Registration.StatusReportCategory, str, str], ...]
    status_types = (
        (_Reg.STATUS_REPORT_CATEGORY_STATUS, "Feeds ok", "count"),
        (_Reg.STATUS_REPORT_CATEGORY_SENSOR, "Feed state", "text"),
        (_Reg.STATUS_REPORT_CATEGORY_STATUS, "Tracks", "count"),
        (_Reg.STATUS_REPORT_CATEGORY_STATUS, "Alerts open", "count"),
        (_Reg.STATUS_REPORT_CATEGORY_STATUS, "Internal errors", "count"),
        (_Reg.STATUS_REPORT_CATEGORY_MODE, "Mode", "text"),
    )
    for status_category, status_kind, status_units in status_types:
        sr = sd.status_report.add()
        sr.category, sr.type, sr.units = status_category, status_kind, status_units
    for mode_name, mode_type, text in (
        (MODE_DEFAULT, _Reg.MODE_TYPE_DEFAULT, "Fused tracks reported as DetectionReports"),
        (MODE_STANDBY, _Reg.MODE_TYPE_PERMANENT, "Tracking on; no DetectionReports sent"),
    ):
        mode = reg.mode_definition.add()
        mode.mode_name = mode_name
        mode.mode_type = mode_type
        mode.mode_description = text
        _duration(mode.settle_time, 1.0)
        _duration(mode.maximum_latency, max(min_interval_s, 0.1))
        mode.tracking_type = _Reg.TRACKING_TYPE_TRACK
        det = mode.detection_definition.add()
        _deg_type(det.location_type)
        rep = det.detection_report.add()
        rep.category = _Reg.DETECTION_REPORT_CATEGORY_TRACK
        rep.type = "Fused track"
        rep.units = "WGS84 degrees and metres, 1-sigma errors"
        rep.on_change = True
        cls_def = det.detection_class_definition.add()
        cls_def.confidence_definition = _Reg.CONFIDENCE_DEFINITION_MULTI_CLASS
        for cls_name in SAPIENT_CLASS.values():
            cd = cls_def.class_definition.add()
            cd.type, cd.units = cls_name, "probability"
        beh = det.behaviour_definition.add()
        beh.type, beh.units = "Loitering", "a hovering drone"
        vt = det.velocity_type
        vt.enu_velocity_units.east_north_rate_units = velocity_pb2.SPEED_UNITS_MS
        vt.enu_velocity_units.up_rate_units = velocity_pb2.SPEED_UNITS_MS
        vt.location_datum = location_pb2.LOCATION_DATUM_WGS84_E
        task = mode.task
        task.concurrent_tasks = 1
        rd = task.region_definition
        rd.region_type.extend([_Reg.REGION_TYPE_AREA_OF_INTEREST, _Reg.REGION_TYPE_IGNORE])
        _duration(rd.settle_time, 1.0)
        _deg_type(rd.region_area.add())
        for cmd_type, units in (
            (_Reg.COMMAND_TYPE_REQUEST, ", ".join(REQUESTS)),
            (_Reg.COMMAND_TYPE_DETECTION_REPORT_RATE, "Low, Medium, High"),
            (_Reg.COMMAND_TYPE_MODE_CHANGE, f"{MODE_DEFAULT}, {MODE_STANDBY}"),
        ):
            cmd = task.command.add()
            cmd.type, cmd.units = cmd_type, units
            _duration(cmd.completion_time, 1.0)
    reg.dependent_nodes.extend(
        sorted({n.node_id.lower() for n in sensor_nodes if n.registered and is_uuid(n.node_id)})
    )
    cfg = reg.config_data.add()
    cfg.manufacturer = "Luchtwacht (open source)"
    cfg.model = "Luchtwacht fusion node"
    cfg.software_version = __version__
    return msg


def coverage_polygons(
    nodes: Iterable[NodeSnapshot],
    origin: SiteOrigin,
    zones: Sequence[Zone] = (),
    t_s: float | None = None,
    fresh_s: float = NODE_FRESH_S,
) -> list[list[tuple[float, float, float]]]:
    """What the node covers, as (lat, lon, alt) polygons.

    A circle of each live sensor node's declared detection range round it (live: connected, or
    its last StatusReport within ``fresh_s`` of ``t_s``); when no node declared one, the
    protected zones (what the node is set to watch).
    """
    out: list[list[tuple[float, float, float]]] = []
    az = np.radians(np.arange(COVERAGE_VERTICES) * 360.0 / COVERAGE_VERTICES)
    for n in nodes:
        fresh = (
            t_s is not None and n.last_status_t_s is not None and t_s - n.last_status_t_s < fresh_s
        )
        if not ((n.connected or fresh) and n.max_range_m):
            continue
        if n.lat_deg is None or n.lon_deg is None:
            continue
        alt = n.alt_m if n.alt_m is not None else origin.alt_m
        if not _finite(n.lat_deg, n.lon_deg, alt, n.max_range_m):
            continue
        centre = origin.to_enu(n.lat_deg, n.lon_deg, alt).reshape(3)
        ring = np.column_stack(
            [
                centre[0] + n.max_range_m * np.sin(az),
                centre[1] + n.max_range_m * np.cos(az),
                np.full(az.shape, centre[2]),
            ]
        )
        geo = origin.to_geodetic(ring)
        if np.isfinite(geo).all():
            out.append([(float(p[0]), float(p[1]), float(p[2])) for p in geo])
    if not out:
        for z in zones:
            out.append([(lat, lon, origin.alt_m) for lat, lon in z.vertices_deg])
    return out


@dataclass(frozen=True, slots=True)
class Health:
    """The StatusReport's reading of a picture: system state and its status entries."""

    system: int
    entries: tuple[tuple[int, int, str], ...]  # (level, type, value)


def health(update: PictureUpdate | None, internal_errors_before: int) -> Health:
    """System state from the feeds, with the status entries that explain it.

    OK when all feeds are ok; WARNING when some are not (or none exist, or a defect was counted
    since the last report); ERROR when every one is lost.
    """
    info, warn = _SR.STATUS_LEVEL_INFORMATION_STATUS, _SR.STATUS_LEVEL_WARNING_STATUS
    other, ext, internal = (
        _SR.STATUS_TYPE_OTHER,
        _SR.STATUS_TYPE_EXTERNAL_FAULT,
        _SR.STATUS_TYPE_INTERNAL_FAULT,
    )
    if update is None:
        return Health(_SR.SYSTEM_WARNING, ((warn, other, "No picture yet"),))
    feeds = update.feeds
    ok = [f for f in feeds if f.state == "ok"]
    bad = [f for f in feeds if f.state != "ok"]
    entries: list[tuple[int, int, str]] = [(info, other, f"Feeds ok {len(ok)}/{len(feeds)}")]
    for f in bad[:MAX_STATUS_FEEDS]:
        entries.append((warn, ext, f"Feed {f.name or f.sensor_id} {f.state}"[:200]))
    if len(bad) > MAX_STATUS_FEEDS:
        entries.append((warn, ext, f"{len(bad) - MAX_STATUS_FEEDS} more feeds not ok"))
    entries.append((info, other, f"Tracks {len(update.tracks)}"))
    entries.append((info, other, f"Alerts open {len(update.alerts)}"))
    errors = int(update.counters.get("internal_errors", 0))
    if errors > internal_errors_before:
        entries.append((warn, internal, f"Internal errors {errors}"))
    if not feeds:
        system = _SR.SYSTEM_WARNING
        entries.append((warn, _SR.STATUS_TYPE_NOT_DETECTING, "No sensor feeds"))
    elif not ok and all(f.state == "lost" for f in feeds):
        system = _SR.SYSTEM_ERROR
    elif bad or errors > internal_errors_before:
        system = _SR.SYSTEM_WARNING
    else:
        system = _SR.SYSTEM_OK
    return Health(system, tuple(entries))


def status_report(
    node_id: str,
    destination: str | None,
    t_s: float,
    report_id: str,
    *,
    state: Health,
    mode: str,
    new: bool,
    origin: SiteOrigin,
    coverage: Sequence[Sequence[tuple[float, float, float]]] = (),
    active_task_id: str | None = None,
    goodbye: bool = False,
) -> SapientMessage:
    """A StatusReport: system state, mode, the node's place (the site origin) and coverage."""
    msg = SapientMessage()
    _stamp(msg, t_s, node_id, destination)
    sr = msg.status_report
    sr.report_id = report_id
    sr.system = _SR.SYSTEM_GOODBYE if goodbye else state.system  # type: ignore[assignment]
    sr.info = _SR.INFO_NEW if new else _SR.INFO_UNCHANGED
    sr.mode = mode
    if active_task_id:
        sr.active_task_id = active_task_id
    _wgs84(sr.node_location, origin.lat_deg, origin.lon_deg, origin.alt_m)
    for polygon in coverage:
        area = sr.coverage.add()
        for lat, lon, alt in polygon:
            _wgs84(area.location_list.locations.add(), lat, lon, alt)
    for level, kind, value in state.entries:
        s = sr.status.add()
        s.status_level, s.status_type, s.status_value = level, kind, value  # type: ignore[assignment]
    return msg


def task_ack(
    node_id: str, destination: str | None, t_s: float, task_id: str, status: int, reason: str
) -> SapientMessage:
    """A TaskAck (ACCEPTED, COMPLETED or REJECTED with the reason)."""
    msg = SapientMessage()
    _stamp(msg, t_s, node_id, destination)
    ack = msg.task_ack
    ack.task_id = task_id
    ack.task_status = status  # type: ignore[assignment]
    if reason:
        ack.reason.append(reason[:500])
    return msg


# ---------------------------------------------------------------------------------------------
# Tasks: what a fusion node can honour


@dataclass
class Tasking:
    """What the DMM's tasks have set: reporting on or off, the rate, the regions of interest."""

    reporting: bool = True
    rate_scale: float = 1.0
    include: shapely.Geometry | None = None  # areas of interest (site ENU); None: everywhere
    exclude: shapely.Geometry | None = None  # areas to ignore
    active_task_id: str | None = None

    @property
    def mode(self) -> str:
        """The mode as the StatusReport names it."""
        return MODE_DEFAULT if self.reporting else MODE_STANDBY

    def wanted(self, view: TrackView) -> bool:
        """Whether a track lies where the DMM wants reports (regions in the ENU plane)."""
        if self.include is None and self.exclude is None:
            return True
        if not _finite(view.east_m, view.north_m):
            return False
        inside = self.include is None or bool(
            shapely.contains_xy(self.include, view.east_m, view.north_m)
        )
        return inside and not (
            self.exclude is not None
            and bool(shapely.contains_xy(self.exclude, view.east_m, view.north_m))
        )


@dataclass(frozen=True, slots=True)
class TaskDecision:
    """How a task is answered and what it does.

    ``status`` is the TaskAck status; ``completed`` adds a COMPLETED ack once done; ``action`` is
    what the publisher does (``status``, ``registration``, or nothing) after applying ``tasking``.
    """

    status: int
    reason: str
    tasking: Tasking | None = None  # the new tasking state, when the task changes it
    action: str = ""
    completed: bool = False


def _regions(
    task: _Task, origin: SiteOrigin
) -> tuple[shapely.Geometry | None, shapely.Geometry | None, str]:
    """A task's regions as (areas of interest, areas to ignore) in site ENU, or the refusal."""
    include: list[shapely.Geometry] = []
    exclude: list[shapely.Geometry] = []
    for i, region in enumerate(task.region):
        name = region.region_name or region.region_id
        if region.type not in (_Task.REGION_TYPE_AREA_OF_INTEREST, _Task.REGION_TYPE_IGNORE):
            kind = _Task.RegionType.Name(region.type)
            return None, None, f"region {name}: {kind} not supported (area of interest or ignore)"
        area = region.region_area
        if area.WhichOneof("fov_oneof") != "location_list":
            return None, None, f"region {name}: needs a location list (a polygon), not a cone"
        locs = area.location_list.locations
        if len(locs) < 3:
            return None, None, f"region {name}: a polygon needs at least 3 locations"
        try:
            pts = [
                location_geodetic(loc, f"Task.region[{i}].region_area.location_list")
                for loc in locs
            ]
        except SapientError as exc:
            return None, None, f"region {name}: {exc}"
        enu = origin.to_enu(
            np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), np.zeros(len(pts))
        )
        poly = shapely.Polygon(enu[:, :2])
        if not (np.isfinite(enu).all() and poly.is_valid and poly.area > 0):
            return None, None, f"region {name}: not a valid polygon"
        (include if region.type == _Task.REGION_TYPE_AREA_OF_INTEREST else exclude).append(poly)
    inc = shapely.union_all(include) if include else None
    exc_ = shapely.union_all(exclude) if exclude else None
    for geom in (inc, exc_):
        if geom is not None:
            shapely.prepare(geom)
    return inc, exc_, ""


_ACCEPTED = _Ack.TASK_STATUS_ACCEPTED
_REJECTED = _Ack.TASK_STATUS_REJECTED
_COMPLETED = _Ack.TASK_STATUS_COMPLETED


def decide_task(task: _Task, current: Tasking, origin: SiteOrigin) -> TaskDecision:
    """What a fusion node does with a Task: honour it (with the new tasking) or refuse it.

    Honoured: Request Registration / Status (answered at once), Start / Stop (DetectionReports
    on or off), Reset (back to the configured defaults); detection report rate Low / Medium /
    High (4x, 1x, 1/4 of ``min_interval_s``); mode change Default / Standby; areas of interest
    and to ignore, given with Start, a report rate or a mode change; ``control`` Stop or Pause
    of the task that set them. Refused with the reason: detection and classification
    thresholds, look-at, move-to, patrol and follow.
    """
    tid = task.task_id
    if task.control in (_Task.CONTROL_STOP, _Task.CONTROL_PAUSE):
        if current.active_task_id == tid:
            new = Tasking(reporting=current.reporting)
            return TaskDecision(_ACCEPTED, "task ended: regions and rate back to defaults", new)
        return TaskDecision(_REJECTED, "no active task with this id to stop or pause")
    cmd = task.command.WhichOneof("command")
    if cmd == "request":
        req = task.command.request.strip().lower()
        if req == "status":
            return TaskDecision(_ACCEPTED, "status report follows", action="status", completed=True)
        if req == "registration":
            return TaskDecision(
                _ACCEPTED, "registration follows", action="registration", completed=True
            )
        if req == "reset":
            return TaskDecision(
                _ACCEPTED, "reporting, rate and regions back to defaults", Tasking(),
                action="status", completed=True,
            )  # fmt: skip
        if req == "stop":  # regions mean nothing to a node that stops reporting
            new = Tasking(False, current.rate_scale, current.include, current.exclude,
                          current.active_task_id)  # fmt: skip
            return TaskDecision(_ACCEPTED, "", new)
        if req == "start":
            return _with_regions(task, current, origin, True, current.rate_scale)
        return TaskDecision(
            _REJECTED,
            f"unknown request {task.command.request[:40]!r} (known: {', '.join(REQUESTS)})",
        )
    if cmd == "detection_report_rate":
        scale = RATE_SCALE.get(task.command.detection_report_rate)
        if scale is None:
            return TaskDecision(_REJECTED, "unknown detection report rate")
        return _with_regions(task, current, origin, current.reporting, scale)
    if cmd == "mode_change":
        mode = task.command.mode_change.strip()
        if mode.lower() not in (MODE_DEFAULT.lower(), MODE_STANDBY.lower()):
            return TaskDecision(
                _REJECTED, f"no mode {mode[:40]!r} (modes: {MODE_DEFAULT}, {MODE_STANDBY})"
            )
        reporting = mode.lower() == MODE_DEFAULT.lower()
        return _with_regions(task, current, origin, reporting, current.rate_scale)
    reasons = {
        "detection_threshold": "detection threshold is the sensor nodes' and the tracker's"
        " setting; a fusion node cannot be tasked with it (task the sensor nodes)",
        "classification_threshold": "classification threshold not supported: every class is"
        " reported with its probability",
        "look_at": "a fusion node has no sensor of its own to point (task the sensor nodes)",
        "move_to": "a fusion node does not move",
        "patrol": "a fusion node does not move",
        "follow": "a fusion node has no sensor of its own to follow an object with",
    }
    return TaskDecision(_REJECTED, reasons.get(str(cmd), f"command {cmd} not supported"))


def _with_regions(
    task: _Task, current: Tasking, origin: SiteOrigin, reporting: bool, scale: float
) -> TaskDecision:
    """A task that sets reporting and rate, and the task's regions when it gives any."""
    if not task.region:
        new = Tasking(reporting, scale, current.include, current.exclude, current.active_task_id)
        return TaskDecision(_ACCEPTED, "", new)
    include, exclude, refusal = _regions(task, origin)
    if refusal:
        return TaskDecision(_REJECTED, refusal)
    return TaskDecision(_ACCEPTED, "", Tasking(reporting, scale, include, exclude, task.task_id))


# ---------------------------------------------------------------------------------------------
# The connection: non-blocking writes into a bounded queue, frames read as they come


class PeerGoneError(Exception):
    """The DMM closed the connection, or stopped reading for the write timeout."""


class _Connection:
    """One connection to the DMM: a bounded queue of frames written without blocking."""

    def __init__(self, sock: socket.socket, max_queued_bytes: int, write_timeout_s: float) -> None:
        self.sock = sock
        sock.setblocking(False)
        self.max_queued_bytes = max_queued_bytes
        self.write_timeout_s = write_timeout_s
        self.reader = FrameReader(MAX_FRAME_BYTES)
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self._offset = 0
        self._waiting_since: float | None = None  # when a write last found the kernel full

    def enqueue(self, data: bytes) -> bool:
        """Queue a frame; False (not queued) when the queue is full."""
        if self.queued_bytes + len(data) > self.max_queued_bytes:
            return False
        self.queue.append(data)
        self.queued_bytes += len(data)
        return True

    def flush(self) -> int:
        """Write what the kernel takes now; the number of frames written whole."""
        done = 0
        while self.queue:
            head = self.queue[0]
            try:
                n = self.sock.send(memoryview(head)[self._offset :])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                n = 0
            except OSError as exc:
                raise PeerGoneError(f"write failed: {exc}") from None
            if n == 0:
                now = time.monotonic()
                if self._waiting_since is None:
                    self._waiting_since = now
                elif now - self._waiting_since > self.write_timeout_s:
                    raise PeerGoneError("peer not reading")
                return done
            self._waiting_since = None
            self._offset += n
            if self._offset >= len(head):
                self.queue.popleft()
                self.queued_bytes -= len(head)
                self._offset = 0
                done += 1
        return done

    def read(self) -> list[bytes]:
        """Frame bodies that have arrived (PeerGoneError when the DMM closed)."""
        bodies: list[bytes] = []
        for _ in range(64):  # a bounded read per call: a chatty DMM cannot starve the picture
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
            if not pending and not select.select([self.sock], [], [], 0.0)[0]:
                break
            try:
                data = self.sock.recv(READ_CHUNK)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except ssl.SSLZeroReturnError:
                data = b""
            except OSError as exc:
                raise PeerGoneError(f"read failed: {exc}") from None
            if not data:
                raise PeerGoneError("closed by the DMM")
            bodies.extend(self.reader.feed(data))
        return bodies

    def unsent(self) -> int:
        """Frames still queued (dropped when the connection goes)."""
        return len(self.queue)

    def close(self) -> None:
        """Close the socket (what is queued is the caller's to count)."""
        with contextlib.suppress(OSError):
            self.sock.close()


# ---------------------------------------------------------------------------------------------
# The publisher


@dataclass
class _TrackOut:
    """What the publisher keeps per track: its object id, last view and what was last sent."""

    object_id: str
    view: TrackView
    sent_class: str = ""
    sent_threat: int = -1
    reported: bool = False


@dataclass
class _Peer:
    """The connection's registration state."""

    conn: _Connection
    registered: bool = False
    tries: int = 0
    deadline: float = 0.0
    dmm_id: str | None = None
    status_due: float = 0.0
    reported: tuple[int, str] | None = None  # (system, mode) of the last StatusReport sent


class SapientUpPublisher(PublisherThread):
    """Reports the fused picture to a higher-level SAPIENT DMM as one fusion node.

    Counters (``stats()``): ``sent`` and ``dropped`` messages, ``reconnects``, ``errors``; in
    ``extra``: ``registered`` (0/1), ``registrations``, ``registration_refused``,
    ``registration_timeouts``, ``connect_failures``, ``connections_lost``, ``queue_full``,
    ``detection_reports``, ``track_ends``, ``alerts``, ``status_reports``, ``tasks_accepted``,
    ``tasks_rejected``, ``alert_acks_*``, ``errors_from_dmm`` (the DMM refused something we
    sent), ``invalid_from_dmm``, ``not_for_us``, ``ignored_from_dmm``, ``tracks_unplaceable`` and
    ``invalid_built`` (a defect: a message that failed our own ICD check, not sent).
    """

    kind = "sapient"

    def __init__(
        self, config: SapientUpConfig, ctx: PublishContext, subscription: Subscription
    ) -> None:
        super().__init__(config.name, subscription, idle_s=0.1)
        self.config = config
        self.ctx = ctx
        node_id = config.node_id or ctx.fusion_node_id
        if not is_uuid(node_id):
            raise ValueError(
                f"sapient publisher {config.name}: node id {node_id!r} is not a UUID"
                " (set node_id, or the site's sapient.fusion_node_id)"
            )
        self.node_id = node_id.lower()
        self.node_name = config.node_name or f"Luchtwacht {ctx.site}"
        self.tasking = Tasking()
        self.backoff = Backoff(config.reconnect_first_s, config.reconnect_max_s)
        self.limiter = TrackRateLimiter(config.min_interval_s, MAX_TRACKS_KEPT)
        self.tracks: OrderedDict[int, _TrackOut] = OrderedDict()
        self.alert_ids: OrderedDict[int, str] = OrderedDict()
        self.last_update: PictureUpdate | None = None
        self.peer: _Peer | None = None
        self.ever_connected = False
        self._next_attempt = 0.0
        self._rng = random.Random()  # seeded from the OS: ids unique across restarts
        self._errors_reported = 0
        self._logged: dict[str, float] = {}
        self.counters.extra["registered"] = 0

    # --- helpers ------------------------------------------------------------------------------

    def _log(self, key: str, level: int, text: str, *args: object) -> None:
        """One line, at most every _LOG_EVERY_S per kind: a flapping DMM must not flood logs."""
        now = time.monotonic()
        if now - self._logged.get(key, -math.inf) >= _LOG_EVERY_S:
            self._logged[key] = now
            log.log(level, "sapient publisher %s: " + text, self.name, *args)

    def _ulid(self, t_s: float) -> str:
        return fast_ulid(t_s if _finite(t_s) and t_s > 0 else time.time(), self._rng)

    @property
    def _dest(self) -> str | None:
        return self.peer.dmm_id if self.peer is not None else None

    def _send(self, msg: SapientMessage, *, before_registration: bool = False) -> bool:
        """Check a message against the ICD, queue it; count it dropped when it cannot go."""
        try:
            validate(msg)
        except SapientError as exc:  # our own defect: never put on the wire
            self.counters.extra["invalid_built"] += 1
            self._log("invalid_built", logging.ERROR, "built an invalid message: %s", exc)
            return False
        peer = self.peer
        if peer is None or not (peer.registered or before_registration):
            self.counters.dropped += 1
            return False
        if not peer.conn.enqueue(frame(msg)):
            self.counters.dropped += 1
            self.counters.extra["queue_full"] += 1
            return False
        return True

    # --- the thread's work --------------------------------------------------------------------

    def handle(self, update: PictureUpdate) -> None:
        """Report one picture update: due tracks, ended tracks, alert changes."""
        self.last_update = update
        registered = self.peer is not None and self.peer.registered
        t = update.t_s
        for view in update.tracks:
            out = self.tracks.get(view.track_id)
            if out is None:
                out = self.tracks[view.track_id] = _TrackOut(self._ulid(t), view)
                while len(self.tracks) > MAX_TRACKS_KEPT:
                    self.tracks.popitem(last=False)
            out.view = view
        if self.tasking.reporting:
            interval = self.config.min_interval_s * self.tasking.rate_scale
            self.limiter.min_interval_s = interval
            for view in update.tracks:
                out = self.tracks[view.track_id]
                if not self.tasking.wanted(view):
                    continue
                force = view.track_id in update.new_tracks
                if registered:  # while down, the drops are counted at the usual rate
                    changed = (out.sent_class, out.sent_threat) != (
                        view.object_class,
                        int(view.threat),
                    )
                    force = force or changed or not out.reported
                if not self.limiter.due(view.track_id, t, force=force):
                    continue
                if not registered:
                    self.counters.dropped += 1
                    continue
                msg = detection_report(
                    view, out.object_id, self._ulid(t), self.node_id, self._dest, t
                )
                if msg is None:
                    self.counters.extra["tracks_unplaceable"] += 1
                    continue
                if self._send(msg):
                    out.sent_class, out.sent_threat = view.object_class, int(view.threat)
                    out.reported = True
                    self.counters.extra["detection_reports"] += 1
        for tid in update.dropped_tracks:
            out = self.tracks.pop(tid, None)
            if out is None or not out.reported or not self.tasking.reporting:
                continue
            msg = detection_report(
                out.view, out.object_id, self._ulid(out.view.t_s), self.node_id, self._dest,
                out.view.t_s, state="lost",
            )  # fmt: skip
            if msg is not None and self._send(msg):
                self.counters.extra["track_ends"] += 1
        self.limiter.forget(update.dropped_tracks)
        for change in update.alert_changes:
            if change.kind not in ("raised", "escalated", "cleared"):
                continue
            aid = change.alert.alert_id
            alert_ulid = self.alert_ids.get(aid)
            if alert_ulid is None:
                if change.kind == "cleared":
                    continue  # never raised upward: nothing to clear
                alert_ulid = self.alert_ids[aid] = self._ulid(change.t_s)
                while len(self.alert_ids) > MAX_TRACKS_KEPT:
                    self.alert_ids.popitem(last=False)
            track = self.tracks.get(change.alert.track_id)
            msg = alert_message(
                change, alert_ulid, self.node_id, self._dest,
                track.view if track else None, track.object_id if track else None,
            )  # fmt: skip
            if self._send(msg):
                self.counters.extra["alerts"] += 1
            if change.kind == "cleared":
                self.alert_ids.pop(aid, None)
        self._pump()

    def idle(self) -> None:
        """Connect when due, read the DMM, resend an unanswered Registration, send status."""
        now = time.monotonic()
        if self.peer is None:
            if now >= self._next_attempt and not self.stopping:
                self._connect()
            return
        peer = self.peer
        if not peer.registered and now >= peer.deadline:
            if peer.tries >= REGISTRATION_TRIES:
                self.counters.extra["registration_timeouts"] += 1
                self._drop("no RegistrationAck")
                return
            self._register()
        if peer.registered and now >= peer.status_due:
            self._status()
        self._pump()

    def close(self) -> None:
        """Say goodbye (a last StatusReport, best effort) and close the connection."""
        peer = self.peer
        if peer is not None and peer.registered:
            try:
                self._status(goodbye=True)
                peer.conn.flush()
            except PeerGoneError:
                pass
        if peer is not None:
            self.counters.dropped += peer.conn.unsent()
            peer.conn.close()
        self.peer = None
        self.counters.extra["registered"] = 0

    # --- connection ---------------------------------------------------------------------------

    def _connect(self) -> None:
        cfg = self.config
        host, _, port = cfg.connect.rpartition(":")
        host = host.strip("[]")
        try:
            sock = socket.create_connection((host, int(port)), timeout=cfg.write_timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # The kernel's share bounded too: a DMM that stops reading shows within seconds.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            if cfg.transport == "tls":
                from luchtwacht.transport.pki import client_context

                assert cfg.cert is not None
                assert cfg.key is not None
                assert cfg.ca is not None
                try:
                    ctx = client_context(cfg.cert, cfg.key, cfg.ca)
                    sock = ctx.wrap_socket(sock, server_hostname=host)
                except BaseException:
                    sock.close()
                    raise
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError; PkiError below
            self._connect_failed(str(exc))
            return
        except Exception as exc:  # PkiError (certificate files) and the like: still one line
            self._connect_failed(f"{type(exc).__name__}: {exc}")
            return
        if self.ever_connected:
            self.counters.reconnects += 1
        self.ever_connected = True
        self.counters.connected = True
        self.peer = _Peer(_Connection(sock, cfg.max_queued_bytes, cfg.write_timeout_s))
        log.info("sapient publisher %s: connected to %s; registering", self.name, cfg.connect)
        self._register()

    def _connect_failed(self, why: str) -> None:
        self.counters.extra["connect_failures"] += 1
        delay = self.backoff.next_delay()
        self._next_attempt = time.monotonic() + delay
        self._log("connect", logging.WARNING, "cannot connect to %s (%s); again in %.1f s",
                  self.config.connect, why, delay)  # fmt: skip

    def _drop(self, why: str) -> None:
        """Give up on the connection: count what it still held, reconnect after the backoff."""
        peer = self.peer
        if peer is None:
            return
        self.counters.dropped += peer.conn.unsent()
        peer.conn.close()
        self.peer = None
        self.counters.connected = False
        self.counters.extra["registered"] = 0
        self.counters.extra["connections_lost"] += 1
        delay = self.backoff.next_delay()
        self._next_attempt = time.monotonic() + delay
        self._log("drop", logging.WARNING, "connection to %s lost (%s); again in %.1f s",
                  self.config.connect, why, delay)  # fmt: skip

    def _register(self) -> None:
        peer = self.peer
        assert peer is not None
        update = self.last_update
        nodes = update.nodes if update is not None else ()
        ranges = [
            float(np.hypot(*self.ctx.origin.to_enu(n.lat_deg, n.lon_deg, self.ctx.origin.alt_m)
                           .reshape(3)[:2])) + n.max_range_m
            for n in nodes
            if n.max_range_m and n.lat_deg is not None and n.lon_deg is not None
        ]  # fmt: skip
        msg = registration_message(
            self.node_id,
            time.time(),
            name=self.node_name,
            status_interval_s=self.config.status_interval_s,
            min_interval_s=self.config.min_interval_s,
            zones=self.ctx.zones,
            sensor_nodes=nodes,
            max_range_m=max(ranges) if ranges else None,
        )
        peer.tries += 1
        peer.deadline = time.monotonic() + self.config.registration_timeout_s
        if self._send(msg, before_registration=True):
            self.counters.extra["registrations"] += 1

    def _status(self, *, goodbye: bool = False) -> None:
        peer = self.peer
        assert peer is not None
        update = self.last_update
        state = health(update, self._errors_reported)
        if update is not None:
            self._errors_reported = int(update.counters.get("internal_errors", 0))
        coverage = coverage_polygons(
            update.nodes if update else (),
            self.ctx.origin,
            self.ctx.zones,
            update.t_s if update else None,
        )
        mode = self.tasking.mode
        # INFO_NEW when the state changed since the last report on this connection.
        msg = status_report(
            self.node_id, peer.dmm_id, time.time(), self._ulid(time.time()),
            state=state, mode=mode, new=peer.reported != (state.system, mode),
            origin=self.ctx.origin, coverage=coverage,
            active_task_id=self.tasking.active_task_id, goodbye=goodbye,
        )  # fmt: skip
        peer.status_due = time.monotonic() + self.config.status_interval_s
        if self._send(msg):
            peer.reported = (state.system, mode)
            self.counters.extra["status_reports"] += 1

    def _pump(self) -> None:
        """Read what the DMM sent and answer it; write what is queued."""
        peer = self.peer
        if peer is None:
            return
        try:
            for body in peer.conn.read():
                self._receive(body)
                if self.peer is not peer:
                    return
            self.counters.sent += peer.conn.flush()
        except PeerGoneError as exc:
            self._drop(str(exc))
        except SapientError as exc:  # an absurd frame length: the stream is out of step
            self.counters.extra["invalid_from_dmm"] += 1
            self._drop(str(exc))

    # --- what the DMM says --------------------------------------------------------------------

    def _receive(self, body: bytes) -> None:
        peer = self.peer
        assert peer is not None
        try:
            msg = parse_message(body)
            kind = validate(msg)
        except SapientError as exc:
            self.counters.extra["invalid_from_dmm"] += 1
            self._log("invalid_in", logging.WARNING, "invalid message from the DMM: %s", exc)
            self._refuse_invalid_task(body, str(exc))
            return
        if msg.destination_id and msg.destination_id.lower() != self.node_id:
            self.counters.extra["not_for_us"] += 1
            return
        if kind == "registration_ack":
            self._registration_ack(msg)
        elif kind == "task":
            self._task(msg)
        elif kind == "alert_ack":
            status = alert_ack_pb2.AlertAck.AlertAckStatus.Name(msg.alert_ack.alert_ack_status)
            self.counters.extra[
                f"alert_acks_{status.removeprefix('ALERT_ACK_STATUS_').lower()}"
            ] += 1
            if msg.alert_ack.alert_ack_status != alert_ack_pb2.AlertAck.ALERT_ACK_STATUS_ACCEPTED:
                reasons = "; ".join(msg.alert_ack.reason)[:300]
                self._log("alert_ack", logging.WARNING, "DMM answered alert %s with %s: %s",
                          msg.alert_ack.alert_id, status, reasons)  # fmt: skip
        elif kind == "error":
            self.counters.extra["errors_from_dmm"] += 1
            self._log("error_in", logging.WARNING, "the DMM refused a message: %s",
                      "; ".join(msg.error.error_message)[:300])  # fmt: skip
        else:
            self.counters.extra["ignored_from_dmm"] += 1

    def _registration_ack(self, msg: SapientMessage) -> None:
        peer = self.peer
        assert peer is not None
        if is_uuid(msg.node_id):
            peer.dmm_id = msg.node_id.lower()
            if peer.dmm_id == self.node_id:
                self._log("same_id", logging.WARNING, "the DMM uses our own node id %s: set"
                          " node_id in the publisher's settings", self.node_id)  # fmt: skip
        if not msg.registration_ack.acceptance:
            self.counters.extra["registration_refused"] += 1
            self._log("refused", logging.WARNING, "registration refused: %s",
                      "; ".join(msg.registration_ack.ack_response_reason)[:300])  # fmt: skip
            self._drop("registration refused")
            return
        first = not peer.registered
        peer.registered = True
        self.counters.extra["registered"] = 1
        self.backoff.reset()
        if first:
            log.info("sapient publisher %s: registered with DMM %s", self.name, peer.dmm_id)
            # The DMM knows nothing of our tracks yet: every one goes at its next update.
            self.limiter = TrackRateLimiter(self.config.min_interval_s, MAX_TRACKS_KEPT)
            for out in self.tracks.values():
                out.reported = False
            self._status()

    def _task(self, msg: SapientMessage) -> None:
        task = msg.task
        decision = decide_task(task, self.tasking, self.ctx.origin)
        if decision.tasking is not None:
            self.tasking = decision.tasking
        self._ack(task.task_id, decision.status, decision.reason)
        ok = decision.status != _REJECTED
        self.counters.extra["tasks_accepted" if ok else "tasks_rejected"] += 1
        if not ok:
            self._log(f"task:{decision.reason}", logging.INFO, "task %s refused: %s",
                      task.task_id, decision.reason)  # fmt: skip
        if decision.action == "status" and self.peer is not None and self.peer.registered:
            self._status()
        elif decision.action == "registration" and self.peer is not None:
            self._register()
        if decision.completed:
            self._ack(task.task_id, _COMPLETED, "")

    def _ack(self, task_id: str, status: int, reason: str) -> None:
        self._send(task_ack(self.node_id, self._dest, time.time(), task_id, status, reason))

    def _refuse_invalid_task(self, body: bytes, why: str) -> None:
        """An invalid Task with a usable id still gets its REJECTED TaskAck, with the rule."""
        try:
            msg = SapientMessage.FromString(body)
        except Exception:
            return
        if msg.WhichOneof("content") != "task" or not is_ulid(msg.task.task_id):
            return
        if msg.destination_id and msg.destination_id.lower() != self.node_id:
            return
        self.counters.extra["tasks_rejected"] += 1
        self._ack(msg.task.task_id, _REJECTED, f"invalid task: {why}")
