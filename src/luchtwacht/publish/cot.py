"""Cursor-on-Target out: the node's air picture as CoT events for ATAK, WinTAK and TAK servers.

A subscriber of the node core's picture (``publish.base``): each track becomes one CoT event
with a stable uid, the pilot a Remote ID drone broadcasts becomes a point of its own linked to
the drone, protected zones go out as drawn polygons and alerts as TAK geofence alerts. Events
are XML (CoT 2.0) or TAK Protocol v1 (protobuf, via ``takproto``), written to a TAK server over
TCP or TLS, or sent as UDP multicast SA (``publish.tak``). docs/cot.md has the settings and the
full mapping; the short form:

====================================================  ==================  =====================
Luchtwacht                                            CoT ``type``        why
====================================================  ==================  =====================
own interceptor, or drone on the site's whitelist     ``a-f-A-M-F-Q``     friendly UAV
drone, hostile, threat >= MEDIUM or in zone           ``a-h-A-M-F-Q``     hostile UAV
drone, cooperative (Remote ID / ADS-B identity)       ``a-n-A-M-F-Q``     identified, neutral
drone, otherwise                                      ``a-u-A-M-F-Q``     unknown UAV
aircraft, cooperative (ICAO address)                  ``a-n-A-C``         civil aircraft
aircraft, otherwise                                   ``a-u-A-C``         unknown civil aircraft
unknown class, not coop., threat >= MEDIUM or in zone ``a-s-A``           suspect air track
unknown class, otherwise                              ``a-u-A``           unknown air track
bird                                                  ``a-n-A``           air, no threat
pilot of a drone (Remote ID operator, RF bearings)    ``a-<aff>-G``       the drone's affiliation
protected zone                                        ``u-d-f``           drawn polygon
alert raised or escalated / cleared                   ``b-a-g`` / ``b-a-o-can``  geofence breach
track or pilot gone                                   final event + ``t-x-d-d``  delete
====================================================  ==================  =====================

``ce``/``le`` are 1-sigma, as the CoT schema defines them ("circular 1-sigma or a circular area
about the point", "linear 1-sigma error"): ``ce`` is the semi-major axis of the track's 1-sigma
horizontal ellipse (the smallest circle holding that ellipse; equal to sigma when it is round),
``le`` its vertical 1-sigma. ``9999999`` means unknown, as in CoT.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import logging
import math
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

import takproto
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from luchtwacht.model.picture import AlertChange, PictureUpdate, RemoteIdSnapshot
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.node.ports import Subscription
from luchtwacht.publish.base import Backoff, PublishContext, PublisherThread, TrackRateLimiter
from luchtwacht.publish.tak import MulticastTransport, StreamTransport, TakPeerError, TakTransport

log = logging.getLogger(__name__)

UNKNOWN_ERROR_M = 9999999.0  # CoT's "not known" for hae, ce and le
HOW_FUSED = "m-f"  # machine-generated, fused
HOW_DRAWN = "h-e"  # a shape an operator entered (the site file's zones)
MAX_TEXT = 1000  # characters of remarks; CoT clients show a few lines, not pages
SEND_CHUNK = 64 * 1024  # a stream write holds whole events up to about this many bytes
ZONE_STROKE_ARGB = -65536  # opaque red, ATAK's signed 32-bit ARGB
ZONE_FILL_ARGB = 0x30FF0000  # red, 19 % opaque
EVENT_KINDS = ("track", "pilot", "zone", "alert", "delete")
EXTRA_COUNTERS = (
    "down_updates",
    "down_events",
    "connect_failures",
    "deferred",
    "bad_input",
    *(f"sent_{kind}" for kind in EVENT_KINDS),
)
# XML 1.0 forbids most control characters; Remote ID serials and self IDs are radio input.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SLUG = re.compile(r"[^a-z0-9]+")


def _parse_connect(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]"):
        raise ValueError(f"{text!r} is not HOST:PORT")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r}: port {port!r} is not a number") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"{text!r}: port out of range 1..65535")
    return host.strip("[]"), number


class CotConfig(BaseModel):
    """One Cursor-on-Target output (site file ``publish: cot: [...]``).

    ``transport``: ``tcp`` or ``tls`` to a TAK server at ``connect`` (``HOST:PORT``; TLS presents
    ``cert``/``key`` and trusts servers issued by ``ca``, checking ``server_hostname`` or the
    host), or ``udp``: datagrams to ``connect`` = ``GROUP:PORT``, multicast SA (e.g.
    ``239.2.3.1:6969``) with ``ttl``, sent on ``interface`` (a local IPv4 address; None: the
    default route), or one device's UDP input (``ADDRESS:4242``).
    ``protocol``: ``xml`` (CoT 2.0) or ``protobuf`` (TAK Protocol v1: stream framing over
    TCP/TLS, mesh framing over UDP). A track goes at most every ``min_interval_s`` unless it is
    new or its type (class, affiliation, threat) changed; its ``stale`` is ``stale_s`` after
    the picture time, or ``max(3 * min_interval_s, 5 s)`` when unset. Zones are re-sent every
    ``zone_interval_s``; alerts stay ``alert_stale_s``. Classes in ``exclude_classes`` are not
    sent. Writes give up after ``write_timeout_s``; reconnects back off from ``backoff_first_s``
    to ``backoff_max_s``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    transport: Literal["tcp", "tls", "udp"] = "tcp"
    connect: str
    protocol: Literal["xml", "protobuf"] = "xml"
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    server_hostname: str | None = None
    ttl: int = Field(default=1, ge=0, le=255)
    interface: str | None = None
    min_interval_s: float = Field(default=1.0, ge=0)
    stale_s: float | None = Field(default=None, gt=0, le=86_400)
    zone_interval_s: float = Field(default=60.0, gt=0, le=3600)
    alert_stale_s: float = Field(default=300.0, gt=0, le=86_400)
    exclude_classes: tuple[str, ...] = ("clutter",)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    write_timeout_s: float = Field(default=2.0, gt=0)
    backoff_first_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)

    @field_validator("connect")
    @classmethod
    def _check_connect(cls, text: str) -> str:
        _parse_connect(text)
        return text

    @model_validator(mode="after")
    def _check_transport(self) -> CotConfig:
        if self.transport == "tls" and not (self.cert and self.key and self.ca):
            raise ValueError("transport tls needs cert, key and ca")
        if self.transport != "tls" and (self.cert or self.key or self.ca):
            raise ValueError("cert, key and ca are for transport tls")
        if self.transport == "udp":
            try:
                ipaddress.IPv4Address(self.host)
            except ValueError:
                raise ValueError(
                    f"transport udp needs an IPv4 address (a multicast group or a device's): "
                    f"{self.host}"
                ) from None
        if self.backoff_max_s < self.backoff_first_s:
            raise ValueError("backoff_max_s must be >= backoff_first_s")
        return self

    @property
    def host(self) -> str:
        """The server's host (or the multicast group)."""
        return _parse_connect(self.connect)[0]

    @property
    def port(self) -> int:
        """The server's (or the group's) port."""
        return _parse_connect(self.connect)[1]

    @property
    def track_stale_s(self) -> float:
        """How long a track event stays valid: ``stale_s`` or ``max(3 * min_interval_s, 5)``."""
        return self.stale_s if self.stale_s is not None else max(3.0 * self.min_interval_s, 5.0)


# --- the mapping --------------------------------------------------------------------------------


class Affiliation(StrEnum):
    """The CoT (MIL-STD-2525) standard identity letter: the second atom of an ``a-`` type."""

    FRIEND = "f"
    HOSTILE = "h"
    SUSPECT = "s"
    NEUTRAL = "n"
    UNKNOWN = "u"


def _threatening(track: TrackView) -> bool:
    """Hostile, and either threat >= MEDIUM or inside a protected zone.

    Hostile: not ours, not authorised, and not cooperative unless the site's policy makes an
    unauthorised Remote ID drone an intruder (``coop_intruder``; docs/authorisation.md).
    """
    if track.own_asset or track.authorised or (track.cooperative and not track.coop_intruder):
        return False
    return track.threat >= ThreatLevel.MEDIUM or bool(track.zones_inside)


def affiliation(track: TrackView) -> Affiliation:
    """How a TAK user should read the track: friend, hostile, suspect, neutral or unknown."""
    if track.own_asset or track.authorised:
        return Affiliation.FRIEND
    if track.object_class == "drone":
        if _threatening(track):
            return Affiliation.HOSTILE
        return Affiliation.NEUTRAL if track.cooperative else Affiliation.UNKNOWN
    if track.object_class == "aircraft":
        return Affiliation.NEUTRAL if track.cooperative else Affiliation.UNKNOWN
    if track.object_class == "bird":
        return Affiliation.NEUTRAL
    return Affiliation.SUSPECT if _threatening(track) else Affiliation.UNKNOWN


def cot_type(track: TrackView) -> str:
    """The track's CoT type: ``a-<affiliation>-A`` and the 2525 air function (see module doc)."""
    aff = affiliation(track)
    if track.own_asset or track.object_class == "drone":
        return f"a-{aff}-A-M-F-Q"  # 2525 air / military / fixed wing / UAV: the drone symbol
    if track.object_class == "aircraft":
        return f"a-{aff}-A-C"  # civil aircraft: fixed or rotary wing is not told apart here
    return f"a-{aff}-A"


def circular_error_m(track: TrackView) -> float:
    """CoT ``ce``: the 1-sigma ellipse's semi-major axis (m), else ``pos_std_m``, else unknown."""
    if track.ellipse_m is not None:
        major, minor = track.ellipse_m[0], track.ellipse_m[1]
        value = max(major, minor)
    else:
        value = track.pos_std_m
    return value if math.isfinite(value) and value >= 0 else UNKNOWN_ERROR_M


def linear_error_m(track: TrackView) -> float:
    """CoT ``le``: the vertical 1-sigma (m), or unknown."""
    value = track.alt_std_m
    if value is None or not math.isfinite(value) or value < 0:
        return UNKNOWN_ERROR_M
    return value


def slug(text: str) -> str:
    """Lower-case letters, digits and hyphens: a safe part of a CoT uid."""
    return _SLUG.sub("-", text.lower()).strip("-")[:64] or "x"


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """Text that XML 1.0 can carry: forbidden control characters removed, length capped."""
    return _NOT_XML.sub("", text)[:limit]


@functools.lru_cache(maxsize=256)  # an update's events share their time and their stale
def cot_time(t_s: float) -> str:
    """UTC seconds → CoT's ISO 8601 time with milliseconds and ``Z``."""
    stamp = dt.datetime.fromtimestamp(t_s, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def valid_time(t_s: float) -> bool:
    """Whether ``t_s`` (UTC seconds) can be a CoT time: a four-digit year, with room for stale."""
    return math.isfinite(t_s) and 0.0 <= t_s < 253_402_300_000.0 - 86_400 * 2


def _num(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


# --- events -------------------------------------------------------------------------------------


class Uids:
    """The stable uids of one site's events: ``luchtwacht.<site>.<kind>.<id>``."""

    def __init__(self, site: str) -> None:
        self.prefix = f"luchtwacht.{slug(site)}"

    def track(self, track_id: int) -> str:
        """A track's uid."""
        return f"{self.prefix}.track.{track_id}"

    def pilot(self, rid: RemoteIdSnapshot) -> str:
        """A Remote ID pilot's uid: by the UAS ID, else the transmitter's MAC."""
        return f"{self.prefix}.pilot.{slug(rid.uas_id or rid.mac)}"

    def located_pilot(self, track_id: int) -> str:
        """The uid of a pilot located from RF bearings: by its drone's track."""
        return f"{self.prefix}.pilot.track-{track_id}"

    def zone(self, zone: Zone) -> str:
        """A protected zone's uid."""
        return f"{self.prefix}.zone.{slug(zone.name)}"

    def alert(self, alert_id: int) -> str:
        """An alert's uid."""
        return f"{self.prefix}.alert.{alert_id}"


def _event(
    uid: str,
    etype: str,
    how: str,
    t_s: float,
    stale_s: float,
    point: tuple[float, float, float, float, float],
) -> tuple[ET.Element, ET.Element]:
    now = cot_time(t_s)
    event = ET.Element(
        "event",
        version="2.0",
        uid=uid,
        type=etype,
        how=how,
        time=now,
        start=now,
        stale=cot_time(t_s + stale_s),
    )
    lat, lon, hae, ce, le = point
    ET.SubElement(
        event,
        "point",
        lat=_num(lat, 7),
        lon=_num(lon, 7),
        hae=_num(hae, 1),
        ce=_num(ce, 1),
        le=_num(le, 1),
    )
    return event, ET.SubElement(event, "detail")


def _point_ok(lat: float, lon: float, hae: float) -> bool:
    return (
        math.isfinite(lat)
        and math.isfinite(lon)
        and math.isfinite(hae)
        and -90.0 <= lat <= 90.0
        and -180.0 <= lon <= 180.0
        and abs(hae) < 1e7
    )


def _error(value: float) -> float:
    return min(value, UNKNOWN_ERROR_M)


def track_remarks(track: TrackView) -> str:
    """What a TAK user reads about the track: class, probabilities, reasons, identity, threat."""
    parts = [f"{track.object_class} p={track.class_prob:.2f}"]
    if track.class_probs:
        parts.append("(" + ", ".join(f"{c} {p:.2f}" for c, p in track.class_probs) + ")")
    parts.append(f"threat {track.threat.name}")
    if track.zones_inside:
        parts.append("inside " + ", ".join(track.zones_inside))
    if track.time_to_breach_s is not None and math.isfinite(track.time_to_breach_s):
        parts.append(f"breach in {track.time_to_breach_s:.0f} s")
    if track.uas_id:
        parts.append(f"Remote ID {track.uas_id}")
    if track.icao:
        parts.append(f"ICAO {track.icao.upper()}")
    if track.rf_protocol:
        serial = f" serial {track.rf_serial}" if track.rf_serial else ""
        parts.append(f"RF {track.rf_protocol}{serial}")
    if track.own_asset:
        parts.append(f"own asset {track.own_asset}")
    if track.class_reasons:
        parts.append("reasons: " + "; ".join(track.class_reasons))
    if track.sensors:
        parts.append("sensors: " + ", ".join(track.sensors))
    return clean_text("; ".join(parts))


def track_callsign(track: TrackView) -> str:
    """The label ATAK shows: our asset's name, else class and track number with its identity."""
    if track.own_asset:
        return clean_text(track.own_asset, 64)
    ident = track.uas_id or (track.icao.upper() if track.icao else None)
    label = f"{track.object_class} {track.track_id}" + (f" {ident}" if ident else "")
    return clean_text(label, 64)


def track_event(
    track: TrackView,
    uids: Uids,
    t_s: float,
    stale_s: float,
    pilot: tuple[str, str] | None = None,
) -> ET.Element | None:
    """One track's CoT event, or None when its position cannot be a CoT point.

    ``pilot`` is (uid, type) of its pilot's point, linked from the drone.
    """
    if not _point_ok(track.lat_deg, track.lon_deg, track.alt_m) or not valid_time(t_s):
        return None
    etype = cot_type(track)
    event, detail = _event(
        uids.track(track.track_id),
        etype,
        HOW_FUSED,
        t_s,
        stale_s,
        (
            track.lat_deg,
            track.lon_deg,
            track.alt_m,
            _error(circular_error_m(track)),
            _error(linear_error_m(track)),
        ),
    )
    if (
        math.isfinite(track.speed_ms)
        and math.isfinite(track.heading_deg)
        and 0 <= track.speed_ms < 1e6
    ):
        ET.SubElement(
            detail,
            "track",
            course=_num(track.heading_deg % 360.0, 1),
            speed=_num(track.speed_ms, 2),
        )
    ET.SubElement(detail, "contact", callsign=track_callsign(track))
    ET.SubElement(detail, "remarks").text = track_remarks(track)
    if pilot is not None:
        ET.SubElement(detail, "link", uid=pilot[0], type=pilot[1], relation="c")
    return event


def pilot_event(
    rid: RemoteIdSnapshot,
    drone: TrackView | None,
    uids: Uids,
    t_s: float,
    stale_s: float,
    site_hae_m: float,
) -> ET.Element | None:
    """The pilot's point (Remote ID operator position), linked to its drone's track if any.

    Its affiliation is the drone's (a hostile drone's pilot is hostile); with no track, unknown.
    An operator height the System message left out is taken as the site's.
    """
    lat, lon = rid.operator_lat_deg, rid.operator_lon_deg
    if lat is None or lon is None or not valid_time(t_s):
        return None
    hae = rid.operator_alt_m if rid.operator_alt_m is not None else site_hae_m
    if not _point_ok(lat, lon, hae):
        return None
    aff = affiliation(drone) if drone is not None else Affiliation.UNKNOWN
    event, detail = _event(
        uids.pilot(rid),
        f"a-{aff}-G",
        HOW_FUSED,
        t_s,
        stale_s,
        (lat, lon, hae, UNKNOWN_ERROR_M, UNKNOWN_ERROR_M),
    )
    who = rid.operator_id or rid.uas_id or rid.mac
    ET.SubElement(detail, "contact", callsign=clean_text(f"pilot {who}", 64))
    parts = [f"Remote ID operator of {rid.uas_id or rid.mac}"]
    if rid.operator_id:
        parts.append(f"operator ID {rid.operator_id}")
    if rid.self_id:
        parts.append(f"self ID {rid.self_id}")
    parts.append(f"UA type {rid.ua_type}")
    ET.SubElement(detail, "remarks").text = clean_text("; ".join(parts))
    if drone is not None:
        ET.SubElement(
            detail, "link", uid=uids.track(drone.track_id), type=cot_type(drone), relation="p-p"
        )
    return event


def located_pilot_event(
    drone: TrackView, uids: Uids, t_s: float, stale_s: float, site_hae_m: float
) -> ET.Element | None:
    """A pilot located from RF bearings on its controller (``identify.pilot``), linked to its drone.

    ``ce`` is the 1-sigma ellipse's semi-major axis; the remarks say how and how old. Its
    affiliation is the drone's. A pilot stands on the ground: the site's height is taken.
    """
    lat, lon, err = drone.pilot_lat_deg, drone.pilot_lon_deg, drone.pilot_err_m
    if lat is None or lon is None or not valid_time(t_s) or not _point_ok(lat, lon, site_hae_m):
        return None
    ce = _error(err) if err is not None and math.isfinite(err) and err >= 0 else UNKNOWN_ERROR_M
    event, detail = _event(
        uids.located_pilot(drone.track_id),
        f"a-{affiliation(drone)}-G",
        HOW_FUSED,
        t_s,
        stale_s,
        (lat, lon, site_hae_m, ce, UNKNOWN_ERROR_M),
    )
    ET.SubElement(detail, "contact", callsign=clean_text(f"pilot of {track_callsign(drone)}", 64))
    parts = [f"pilot of track {drone.track_id} located from {drone.pilot_source or 'RF'}"]
    if drone.pilot_ellipse_m is not None:
        a, b, brg = drone.pilot_ellipse_m
        parts.append(f"1-sigma ellipse {a:.0f} x {b:.0f} m, major axis {brg:.0f} deg")
    if drone.rf_protocol:
        parts.append(f"controller link {drone.rf_protocol}")
    if drone.pilot_age_s is not None:
        parts.append(f"newest bearing {drone.pilot_age_s:.0f} s old")
    ET.SubElement(detail, "remarks").text = clean_text("; ".join(parts))
    ET.SubElement(
        detail, "link", uid=uids.track(drone.track_id), type=cot_type(drone), relation="p-p"
    )
    return event


def zone_event(zone: Zone, uids: Uids, t_s: float, stale_s: float, site_hae_m: float) -> ET.Element:
    """A protected zone as a closed ``u-d-f`` polygon (one ``link point`` per vertex)."""
    lats = [v[0] for v in zone.vertices_deg]
    lons = [v[1] for v in zone.vertices_deg]
    centre = (sum(lats) / len(lats), sum(lons) / len(lons))
    event, detail = _event(
        uids.zone(zone),
        "u-d-f",
        HOW_DRAWN,
        t_s,
        stale_s,
        (centre[0], centre[1], site_hae_m, UNKNOWN_ERROR_M, UNKNOWN_ERROR_M),
    )
    for lat, lon in (*zone.vertices_deg, zone.vertices_deg[0]):
        ET.SubElement(detail, "link", point=f"{lat:.7f},{lon:.7f}")
    ET.SubElement(detail, "contact", callsign=clean_text(zone.name, 64))
    ET.SubElement(detail, "strokeColor", value=str(ZONE_STROKE_ARGB))
    ET.SubElement(detail, "strokeWeight", value="3.0")
    ET.SubElement(detail, "fillColor", value=str(ZONE_FILL_ARGB))
    ET.SubElement(detail, "labels_on", value="true")
    ET.SubElement(detail, "remarks").text = clean_text(
        f"protected zone {zone.name}: {zone.floor_m:.0f} to {zone.ceiling_m:.0f} m above the "
        f"site, alert {zone.warn_time_s:.0f} s before a breach"
    )
    return event


def alert_event(
    change: AlertChange,
    track: TrackView | None,
    zone: Zone | None,
    uids: Uids,
    t_s: float,
    stale_s: float,
    origin: tuple[float, float, float],
) -> ET.Element | None:
    """A raised or escalated alert as ATAK's geofence breach (``b-a-g``); cleared: cancel.

    The point is the track's position, else the zone's centre, else the site's.
    """
    alert = change.alert
    if change.kind not in ("raised", "escalated", "cleared") or not valid_time(t_s):
        return None
    if track is not None and _point_ok(track.lat_deg, track.lon_deg, track.alt_m):
        where = (track.lat_deg, track.lon_deg, track.alt_m)
    elif zone is not None:
        lats = [v[0] for v in zone.vertices_deg]
        lons = [v[1] for v in zone.vertices_deg]
        where = (sum(lats) / len(lats), sum(lons) / len(lons), origin[2])
    else:
        where = origin
    cancel = change.kind == "cleared"
    event, detail = _event(
        uids.alert(alert.alert_id),
        "b-a-o-can" if cancel else "b-a-g",
        HOW_FUSED,
        t_s,
        stale_s,
        (*where, UNKNOWN_ERROR_M, UNKNOWN_ERROR_M),
    )
    ident = f" {alert.uas_id}" if alert.uas_id else ""
    text = clean_text(
        f"{alert.level.name} {alert.kind} of zone {alert.zone} by {alert.object_class} "
        f"track {alert.track_id}{ident} ({change.kind})"
        + (f": {alert.message}" if alert.message else "")
    )
    emergency = ET.SubElement(detail, "emergency", type="Geo-fence Breached")
    if cancel:
        emergency.set("cancel", "true")
    emergency.text = clean_text(f"Luchtwacht alert {alert.alert_id}", 64)
    ET.SubElement(detail, "contact", callsign=clean_text(f"alert {alert.alert_id}", 64))
    ET.SubElement(detail, "remarks").text = text
    if track is not None:
        ET.SubElement(
            detail, "link", uid=uids.track(track.track_id), type=cot_type(track), relation="p-p"
        )
    return event


def delete_events(
    uid: str, etype: str, point: tuple[float, float, float], t_s: float
) -> list[ET.Element]:
    """A gone object: its last event with ``stale`` = now, then a ``t-x-d-d`` delete of its uid.

    Any CoT client drops an event that is stale; ATAK and WinTAK also remove the marker on the
    delete (``__forcedelete``) instead of greying it out.
    """
    if not valid_time(t_s):
        return []
    final, _ = _event(uid, etype, HOW_FUSED, t_s, 0.0, (*point, UNKNOWN_ERROR_M, UNKNOWN_ERROR_M))
    delete, detail = _event(
        f"{uid}.delete", "t-x-d-d", HOW_FUSED, t_s, 20.0, (*point, UNKNOWN_ERROR_M, UNKNOWN_ERROR_M)
    )
    ET.SubElement(detail, "link", uid=uid, type=etype, relation="none")
    ET.SubElement(detail, "__forcedelete")
    return [final, delete]


# --- encoding -----------------------------------------------------------------------------------


XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#09;",
    }
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _serialize(el: ET.Element, out: list[str]) -> None:
    # Our events are plain trees (no namespaces, comments or tails): string joins write them
    # about twice as fast as ElementTree's general serialiser (~20 against ~40 µs an event).
    # The property test in tests/publish/test_cot.py holds the two to the same parsed tree.
    out.append("<" + el.tag)
    for name, value in el.attrib.items():
        out.append(f' {name}="{value.translate(_ATTR_ESCAPES)}"')
    if len(el) == 0 and not el.text:
        out.append("/>")
        return
    out.append(">")
    if el.text:
        out.append(el.text.translate(_TEXT_ESCAPES))
    for child in el:
        _serialize(child, out)
    out.append(f"</{el.tag}>")


def to_xml(event: ET.Element) -> bytes:
    """One event as a standalone XML document (UTF-8, with declaration), as ATAK sends them."""
    out: list[str] = []
    _serialize(event, out)
    return XML_DECLARATION + "".join(out).encode()


def to_protobuf(event: ET.Element, *, mesh: bool) -> bytes:
    """TAK Protocol v1: 0xbf 0x01 0xbf + TakMessage (mesh, UDP) or 0xbf varint TakMessage."""
    version = takproto.TAKProtoVer.MESH if mesh else takproto.TAKProtoVer.STREAM
    framed: bytearray = takproto.xml2proto(ET.tostring(event, encoding="utf-8"), version)
    return bytes(framed)


# --- the publisher ------------------------------------------------------------------------------


@dataclass
class _Sent:
    """What we last sent of a track or pilot: enough to stale and delete it when it goes."""

    etype: str
    point: tuple[float, float, float]
    t_s: float  # the picture time it was sent at


class CotPublisher(PublisherThread):
    """Sends the picture as CoT to a TAK server (TCP/TLS) or a multicast group, on its thread.

    Counters beyond the base's: ``extra["down_updates"]`` picture updates that found the peer
    down, ``extra["down_events"]`` the events they held (also in ``dropped``),
    ``extra["bad_tracks"]`` tracks whose position no CoT point can carry, and ``extra`` counts
    per event kind sent (``track``, ``pilot``, ``zone``, ``alert``, ``delete``).
    """

    kind = "cot"

    def __init__(
        self,
        config: CotConfig,
        ctx: PublishContext,
        subscription: Subscription,
        transport: TakTransport | None = None,
    ) -> None:
        super().__init__(config.name, subscription)
        self.config = config
        self.ctx = ctx
        self.uids = Uids(ctx.site)
        self.limiter = TrackRateLimiter(config.min_interval_s)
        self.backoff = Backoff(config.backoff_first_s, config.backoff_max_s)
        self.transport = transport or self._make_transport(config)
        self._mesh = config.transport == "udp"
        self._next_attempt = 0.0
        self._ever_connected = False
        self._last_type: dict[int, str] = {}  # per track: its CoT type, to send a change at once
        self._tracks: dict[int, _Sent] = {}
        self._pilots: dict[str, _Sent] = {}
        self._zones_due_t_s = -math.inf
        self._last_bad_log = -math.inf
        self._last_t_s: float | None = None  # the previous update's picture time
        # Every figure exists from the start: stats() copies the counter from another thread,
        # and a key added meanwhile would change the dict's size under that copy.
        self.counters.extra.update(dict.fromkeys(EXTRA_COUNTERS, 0))

    @staticmethod
    def _make_transport(config: CotConfig) -> TakTransport:
        if config.transport == "udp":
            return MulticastTransport(
                config.host,
                config.port,
                ttl=config.ttl,
                interface=config.interface,
                write_timeout_s=config.write_timeout_s,
            )
        tls = None
        if config.transport == "tls":
            from luchtwacht.transport.pki import client_context

            if config.cert is None or config.key is None or config.ca is None:
                raise ValueError("transport tls needs cert, key and ca")  # the validator checks
            tls = client_context(config.cert, config.key, config.ca)
        return StreamTransport(
            config.host,
            config.port,
            tls=tls,
            server_hostname=config.server_hostname,
            connect_timeout_s=config.connect_timeout_s,
            write_timeout_s=config.write_timeout_s,
        )

    # --- building ---------------------------------------------------------------------------

    def _pilot_due(
        self, uid: str, ptype: str, t_s: float, build: Callable[[], ET.Element | None]
    ) -> ET.Element | None:
        """A pilot's event when it is due (a new pilot or a changed type at once), noted as sent.

        None when not due, or when ``build`` cannot make a CoT point of it (counted as bad).
        """
        known = self._pilots.get(uid)
        if not self.limiter.due(uid, t_s, force=known is None or known.etype != ptype):
            return None
        ev = build()
        if ev is None:
            self._bad(f"pilot {uid}: position cannot be a CoT point")
            return None
        point = ev.find("point")
        assert point is not None
        self._pilots[uid] = _Sent(ptype, _point_of(point), t_s)
        return ev

    def events(self, update: PictureUpdate) -> Iterator[tuple[str, ET.Element]]:
        """The events this update calls for, by kind: zones, alerts, pilots, tracks, deletes.

        Rate limiting happens here: a track or pilot not due yet yields nothing.
        """
        t_s = update.t_s
        if not valid_time(t_s):
            self._bad(f"picture time {t_s!r} cannot be a CoT time")
            return
        cfg = self.config
        origin = self.ctx.origin
        site_hae = origin.alt_m
        if t_s >= self._zones_due_t_s:
            self._zones_due_t_s = t_s + cfg.zone_interval_s
            for zone in self.ctx.zones:
                yield "zone", zone_event(zone, self.uids, t_s, 3 * cfg.zone_interval_s, site_hae)
        by_id = {tr.track_id: tr for tr in update.tracks}
        zones = {z.name: z for z in self.ctx.zones}
        for change in update.alert_changes:
            ev = alert_event(
                change,
                by_id.get(change.alert.track_id),
                zones.get(change.alert.zone),
                self.uids,
                t_s,
                cfg.alert_stale_s,
                (origin.lat_deg, origin.lon_deg, origin.alt_m),
            )
            if ev is not None:
                yield "alert", ev
        stale = cfg.track_stale_s
        pilot_of: dict[int, tuple[str, str]] = {}
        seen_pilots: set[str] = set()
        for rid in update.remote_ids:
            drone = by_id.get(rid.track_id) if rid.track_id is not None else None
            if drone is not None and drone.object_class in cfg.exclude_classes:
                drone = None
            uid = self.uids.pilot(rid)
            ptype = f"a-{affiliation(drone) if drone is not None else Affiliation.UNKNOWN}-G"
            if rid.operator_lat_deg is None or rid.operator_lon_deg is None:
                continue
            seen_pilots.add(uid)
            if drone is not None:
                pilot_of[drone.track_id] = (uid, ptype)
            ev = self._pilot_due(
                uid,
                ptype,
                t_s,
                functools.partial(pilot_event, rid, drone, self.uids, t_s, stale, site_hae),
            )
            if ev is not None:
                yield "pilot", ev
        # Pilots located from RF bearings (a Remote ID operator position, when a drone has one,
        # went above from its broadcast).
        for drone in update.tracks:
            if (
                drone.pilot_lat_deg is None
                or drone.pilot_source is None
                or not drone.pilot_source.startswith("rf")
                or drone.object_class in cfg.exclude_classes
                or drone.track_id in pilot_of
            ):
                continue
            uid = self.uids.located_pilot(drone.track_id)
            ptype = f"a-{affiliation(drone)}-G"
            seen_pilots.add(uid)
            pilot_of[drone.track_id] = (uid, ptype)
            ev = self._pilot_due(
                uid,
                ptype,
                t_s,
                functools.partial(located_pilot_event, drone, self.uids, t_s, stale, site_hae),
            )
            if ev is not None:
                yield "pilot", ev
        for uid in [u for u in self._pilots if u not in seen_pilots]:
            sent = self._pilots.pop(uid)
            self.limiter.forget([uid])
            for ev in delete_events(uid, sent.etype, sent.point, t_s):
                yield "delete", ev
        budget = self._track_budget(len(update.tracks), t_s)
        for track in update.tracks:
            if track.object_class in cfg.exclude_classes:
                continue
            etype = cot_type(track)
            tid = track.track_id
            force = self._last_type.get(tid) != etype or tid in update.new_tracks
            if not force and budget <= 0:
                last = self._tracks.get(tid)
                if last is None or t_s - last.t_s >= cfg.min_interval_s:
                    self.counters.extra["deferred"] += 1  # due: it goes with a later update
                continue
            if not self.limiter.due(tid, t_s, force=force):
                continue
            budget -= 0 if force else 1
            ev = track_event(track, self.uids, t_s, stale, pilot_of.get(tid))
            if ev is None:
                self._bad(f"track {tid}: position cannot be a CoT point")
                continue
            self._last_type[tid] = etype
            self._tracks[tid] = _Sent(etype, (track.lat_deg, track.lon_deg, track.alt_m), t_s)
            yield "track", ev
        # A track that left the picture, or that a class now excluded hides, goes. Found by
        # difference, not only from ``dropped_tracks``: the subscription drops the oldest
        # updates when we fall behind, and their dropped tracks would stay on the map.
        shown = {tr.track_id for tr in update.tracks if tr.object_class not in cfg.exclude_classes}
        gone = set(update.dropped_tracks) | (self._tracks.keys() - shown)
        for tid in self._last_type.keys() - shown:
            del self._last_type[tid]
        for tid in sorted(gone):
            self._last_type.pop(tid, None)
            self.limiter.forget([tid])
            last = self._tracks.pop(tid, None)
            if last is not None:
                for ev in delete_events(self.uids.track(tid), last.etype, last.point, t_s):
                    yield "delete", ev

    def _track_budget(self, n_tracks: int, t_s: float) -> float:
        """How many routine track events this update may carry: its share of ``min_interval_s``.

        A second's worth of tracks then goes out spread over that second. Without it, tracks
        that appeared together stay due together and a TAK server gets the whole picture in one
        burst each ``min_interval_s`` (taky takes ~1 s to pass on 1000 events at once). New
        tracks and changed types are never held back; the picture lists the most threatening
        tracks first, so the least threatening are the ones that wait.
        """
        interval = self.config.min_interval_s
        last, self._last_t_s = self._last_t_s, t_s
        if interval <= 0 or last is None or t_s <= last:
            return math.inf
        share = min(t_s - last, interval) / interval
        return math.ceil(round(n_tracks * share, 3)) + 1  # picture times are binary floats

    def encode(self, event: ET.Element) -> bytes:
        """The event in the configured protocol and framing."""
        if self.config.protocol == "protobuf":
            return to_protobuf(event, mesh=self._mesh)
        return to_xml(event)

    # --- sending ----------------------------------------------------------------------------

    def handle(self, update: PictureUpdate) -> None:
        """Encode this update's due events and write them; when the peer is down, count them."""
        self._poll()
        self._ensure_connected()
        frames: list[tuple[str, bytes]] = [(k, self.encode(ev)) for k, ev in self.events(update)]
        if not self.transport.connected:
            self.counters.extra["down_updates"] += 1
            self.counters.extra["down_events"] += len(frames)
            self.counters.dropped += len(frames)
            return
        if self._mesh:
            for kind, frame in frames:
                self._write([(kind, frame)])
            return
        batch: list[tuple[str, bytes]] = []
        size = 0
        for item in frames:
            batch.append(item)
            size += len(item[1])
            if size >= SEND_CHUNK:
                self._write(batch)
                batch, size = [], 0
        if batch:
            self._write(batch)

    def _write(self, batch: list[tuple[str, bytes]]) -> None:
        if not self.transport.connected:
            self.counters.dropped += len(batch)
            self.counters.extra["down_events"] += len(batch)
            return
        try:
            self.transport.send(b"".join(frame for _, frame in batch))
        except TakPeerError as exc:
            self.counters.dropped += len(batch)
            if not self.transport.connected:
                self._lost(str(exc))
            else:
                self._bad(str(exc))
            return
        self.counters.sent += len(batch)
        kinds = Counter(kind for kind, _ in batch)
        self.counters.extra.update({f"sent_{k}": n for k, n in kinds.items()})

    def idle(self) -> None:
        """Read what the server sent (noticing it left) and reconnect when the backoff allows."""
        self._poll()
        self._ensure_connected()

    def close(self) -> None:
        """Close the connection."""
        self.transport.close()
        self.counters.connected = False

    def _poll(self) -> None:
        if not self.transport.connected:
            return
        try:
            self.transport.poll()
        except TakPeerError as exc:
            self._lost(str(exc))

    def _ensure_connected(self) -> None:
        if self.transport.connected or self.stopping:
            return
        now = time.monotonic()
        if now < self._next_attempt:
            return
        try:
            self.transport.connect()
        except TakPeerError as exc:
            self._next_attempt = now + self.backoff.next_delay()
            self.counters.extra["connect_failures"] += 1
            log.warning("cot %s: %s (next try in %.1f s)", self.name, exc,
                        self._next_attempt - now)  # fmt: skip
            return
        self.backoff.reset()
        if self._ever_connected:
            self.counters.reconnects += 1
        self._ever_connected = True
        self.counters.connected = True
        # A new connection may be a new server that knows nothing: zones and every track again.
        self._zones_due_t_s = -math.inf
        self.limiter = TrackRateLimiter(self.config.min_interval_s)
        log.info("cot %s: connected to %s", self.name, self.config.connect)

    def _lost(self, reason: str) -> None:
        self.transport.close()
        self.counters.connected = False
        self._next_attempt = time.monotonic() + self.backoff.next_delay()
        log.warning("cot %s: connection lost: %s", self.name, reason)

    def _bad(self, what: str) -> None:
        self.counters.extra["bad_input"] += 1
        now = time.monotonic()
        if now - self._last_bad_log >= 10.0:
            self._last_bad_log = now
            log.warning("cot %s: %s (skipped, counted in bad_input)", self.name, what)


def _point_of(point: ET.Element) -> tuple[float, float, float]:
    return (float(point.get("lat", 0)), float(point.get("lon", 0)), float(point.get("hae", 0)))


def parse_events(data: bytes) -> Iterable[ET.Element]:
    """Split a CoT XML stream into events (tests and the benchmark read TAK servers with it)."""
    for part in data.split(b"</event>"):
        start = part.find(b"<event")
        if start >= 0:
            yield ET.fromstring(part[start:] + b"</event>")
