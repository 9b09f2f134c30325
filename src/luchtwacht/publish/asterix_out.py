"""ASTERIX out: the node's confirmed tracks as CAT062 system tracks over UDP, CAT065 batch markers.

Where it sits: node core → :class:`~luchtwacht.node.ports.Subscription` →
:class:`AsterixOutPublisher` (one thread) → UDP datagrams to an air traffic or air defence
system (unicast, or a multicast group). An SDPS sends its system tracks periodically, not on every
plot: every ``period_s`` of picture time the publisher takes the newest picture and sends one
*batch*: a CAT062 record for every confirmed track, one more (with TSE, "last message") for
each track that ended since the last batch, split over as many datagrams as it takes to keep
each under ``max_datagram_bytes``, then (``cat065``) a CAT065 SDPS status and end-of-batch.

Encoding, in two implementations kept byte-for-byte equal by a property test
(``tests/publish/test_asterix_out.py``):

* :func:`encode_system_track_reference` builds each record with libasterix
  (``asterix.generated``, EUROCONTROL CAT062 ed. 1.21). It costs 0.6–2 ms per record, too slow
  for 1000 tracks a second on the node's interpreter (the GIL is shared with the tracker);
* :func:`encode_system_track`, the path the publisher uses, packs the same fixed set of items with
  ``struct`` (~15 µs per record). CAT065 (two records per batch) goes through libasterix itself.

The content of a record (:class:`SystemTrack`) is computed once, in integers of each item's
LSB, by :func:`system_track`: every value is rounded to its LSB and clamped to the item's range
(each clamp counted). Items sent (ed. 1.21; each is laid out identically in ed. 1.18, the edition
``asterix-decoder`` reads):

==========  =================================  ============================================
Item        Content                            From the track (``TrackView``)
==========  =================================  ============================================
I062/010    SAC/SIC                            the publisher's ``sac``/``sic``
I062/015    service identification             ``service_id``
I062/070    time of track information          ``t_s`` (UTC) as time of day, LSB 1/128 s
I062/105    WGS-84 position                    ``lat_deg``/``lon_deg``, LSB 180/2^25 deg
I062/100    Cartesian position                 ``east_m``/``north_m``: X east, Y north of the
                                               site origin in its local tangent plane, 0.5 m
I062/185    Cartesian velocity                 ``speed_ms``/``heading_deg`` → VX/VY, 0.25 m/s
I062/380    ADR target address; EMC 13 (UAV)   ``icao``; ``object_class``/``uas_id``/``own_asset``
I062/040    track number                       ``track_id`` mod 65536 (next free if in use)
I062/080    track status (2 octets)            MON, MRH=1, SRC, CNF=0, SIM, TSE, TSB
I062/290    TRK age                            since this publisher first sent the track
I062/130    geometric altitude (WGS-84 HAE)    ``alt_m`` in ft, LSB 6.25 ft
I062/220    rate of climb/descent              ``climb_ms`` in ft/min, LSB 6.25 ft/min
I062/500    APC, COV, APW, AGA                 ``ellipse_m`` (or ``pos_std_m``), ``alt_std_m``
==========  =================================  ============================================

See docs/asterix-out.md for the rules behind each choice (units, clamps, numbering, class).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from luchtwacht.hostport import HostPort, parse_hostport
from luchtwacht.model.picture import PictureUpdate
from luchtwacht.model.track import TrackView
from luchtwacht.node.ports import Subscription
from luchtwacht.publish.base import ERROR_LOG_EVERY_S, Backoff, PublishContext, PublisherThread

log = logging.getLogger(__name__)

__all__ = [
    "CAT062_EDITION",
    "CAT065_EDITION",
    "Accuracy",
    "AsterixOutConfig",
    "AsterixOutPublisher",
    "SystemTrack",
    "TrackNumbers",
    "encode_batch_markers",
    "encode_system_track",
    "encode_system_track_reference",
    "pack_datagrams",
    "system_track",
]

CAT062_EDITION = (1, 21)
CAT065_EDITION = (1, 6)

FT_M = 0.3048  # international foot, m
DAY_S = 86_400.0
TOD_LSB_S = 1.0 / 128.0  # I062/070, I065/030
LATLON_LSB_DEG = 180.0 / 2**25  # I062/105, I062/500 APW
XY_LSB_M = 0.5  # I062/100, I062/500 APC and COV
V_LSB_MS = 0.25  # I062/185
ALT_LSB_FT = 6.25  # I062/130, I062/500 AGA
ROCD_LSB_FTMIN = 6.25  # I062/220
AGE_LSB_S = 0.25  # I062/290
ALT_MIN_FT = -1500.0  # I062/130's range (CAT062 ed. 1.21 §5.2.17)
ALT_MAX_FT = 150_000.0
ECAT_UAV = 13  # I062/380 EMC: "unmanned aerial vehicle" (the ADS-B emitter category)
DATABLOCK_HEADER_BYTES = 3  # CAT (1) + LEN (2)
UDP_MAX_PAYLOAD = 65_507

# WGS84, for the metres → degrees of the WGS-84 accuracy (I062/500 APW).
_WGS84_A_M = 6_378_137.0
_WGS84_E2 = 6.694379990141317e-3

_I16 = (-(2**15), 2**15 - 1)
_I24 = (-(2**23), 2**23 - 1)
_I32 = (-(2**31), 2**31 - 1)
_U8 = (0, 2**8 - 1)
_U16 = (0, 2**16 - 1)


# ---------------------------------------------------------------------------------------------
# Settings


class AsterixOutConfig(BaseModel):
    """One ASTERIX CAT062 output (site file ``publish: asterix: [...]``).

    - ``name``: unique among the publishers (stats, logs).
    - ``send_to``: ``HOST:PORT`` to send to: a unicast address or host name, or an IPv4
      multicast group (224.0.0.0/4).
    - ``ttl``: IP time-to-live (multicast hops); None leaves the system's default (1 for
      multicast, 64 for unicast on Linux).
    - ``interface``: IPv4 address of the interface multicast leaves by (None: the routing table's).
    - ``multicast_loop``: multicast is also delivered to listeners on this host.
    - ``sac``/``sic``: the system's System Area Code and System Identification Code (I062/010).
    - ``service_id``: I062/015 and I065/015.
    - ``period_s``: one batch per this many seconds of picture time (1.0: the usual SDPS rate).
    - ``max_datagram_bytes``: no datagram is longer (1400 stays under an Ethernet MTU).
    - ``cat065``: send a CAT065 SDPS status and end-of-batch after each batch.
    - ``emitter_category``: when I062/380 EMC says "unmanned aerial vehicle": ``drones`` for
      every track classified a drone (and our own interceptors), ``remote_id`` only for drones
      that identify themselves by Remote ID, ``off`` never.
    - ``simulated``: set I062/080 SIM on every track (a demo or a replay, not a live picture).
    - ``altitude_source``: what I062/080 SRC names as the source of a non-cooperative track's
      altitude: ``3d_radar`` (2), ``triangulation`` (3: bearings from several sensors) or
      ``none`` (0). Tracks with a Remote ID or ADS-B identity report their own: GNSS (1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    send_to: HostPort
    ttl: int | None = Field(default=None, ge=1, le=255)
    interface: str | None = None
    multicast_loop: bool = True
    sac: int = Field(ge=0, le=255)
    sic: int = Field(ge=0, le=255)
    service_id: int = Field(default=1, ge=0, le=255)
    period_s: float = Field(default=1.0, ge=0.1, le=60.0)
    max_datagram_bytes: int = Field(default=1400, ge=256, le=UDP_MAX_PAYLOAD)
    cat065: bool = True
    emitter_category: Literal["drones", "remote_id", "off"] = "drones"
    simulated: bool = False
    altitude_source: Literal["3d_radar", "triangulation", "none"] = "3d_radar"

    @field_validator("interface")
    @classmethod
    def _ipv4_interface(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.IPv4Address(value)  # ValueError names the text
        return value


# ---------------------------------------------------------------------------------------------
# Record content in LSB units


@dataclass(frozen=True, slots=True)
class Accuracy:
    """I062/500 subfields in LSB units: APC X/Y and COV (0.5 m), APW (180/2^25 deg), AGA."""

    apc_x: int
    apc_y: int
    cov: int
    apw_lat: int
    apw_lon: int
    aga: int | None  # 6.25 ft; None when the track has no vertical uncertainty


@dataclass(frozen=True, slots=True)
class SystemTrack:
    """One CAT062 record, every field an integer in its item's LSB (clamped to its range)."""

    sac: int
    sic: int
    service_id: int
    tod: int  # I062/070, 1/128 s since midnight UTC
    lat: int  # I062/105, 180/2^25 deg
    lon: int
    x: int  # I062/100, 0.5 m
    y: int
    vx: int  # I062/185, 0.25 m/s
    vy: int
    track_number: int  # I062/040
    mon: int  # I062/080 MON: 1 monosensor track, 0 multisensor
    src: int  # I062/080 SRC: source of the I062/130 altitude
    sim: int  # I062/080 SIM
    tse: int  # I062/080 TSE: last message for this track
    tsb: int  # I062/080 TSB: first message for this track
    alt: int | None  # I062/130, 6.25 ft
    rocd: int | None  # I062/220, 6.25 ft/min
    address: int | None  # I062/380 ADR, 24-bit
    ecat: int | None  # I062/380 EMC
    age: int | None  # I062/290 TRK, 0.25 s
    accuracy: Accuracy | None  # I062/500


def _clamp(value: float, bounds: tuple[int, int], name: str, clamps: Counter[str]) -> int:
    """``value`` rounded to an integer within ``bounds``; a clamp is counted under ``name``."""
    raw = round(value)
    lo, hi = bounds
    if raw < lo:
        clamps[name] += 1
        return lo
    if raw > hi:
        clamps[name] += 1
        return hi
    return int(raw)


_SRC = {"none": 0, "3d_radar": 2, "triangulation": 3}


def _altitude_source(view: TrackView, setting: str) -> int:
    """I062/080 SRC: 1 GNSS when the target reports it (Remote ID, ADS-B), else the setting's."""
    return 1 if view.uas_id is not None or view.icao is not None else _SRC[setting]


def _is_uav(view: TrackView, rule: str) -> bool:
    if rule == "off":
        return False
    if rule == "remote_id":
        return view.uas_id is not None
    return view.object_class == "drone" or view.uas_id is not None or view.own_asset is not None


def _accuracy(view: TrackView, clamps: Counter[str]) -> Accuracy | None:
    """I062/500 from the 1-sigma ellipse (or the circular ``pos_std_m``) and ``alt_std_m``.

    With the ellipse's semi-axes a, b and the major axis' bearing θ (clockwise from north),
    σx² = a² sin²θ + b² cos²θ, σy² = a² cos²θ + b² sin²θ, Cov(X,Y) = (a² − b²) sinθ cosθ; COV
    carries sign(Cov)·√|Cov| (CAT062 ed. 1.21, I062/500 note 1). APW converts σy, σx to degrees
    of latitude and longitude with the WGS84 meridian and prime-vertical radii at the track.
    """
    if view.ellipse_m is not None:
        a, b, bearing = view.ellipse_m
        th = math.radians(bearing)
        s, c = math.sin(th), math.cos(th)
        var_x = a * a * s * s + b * b * c * c
        var_y = a * a * c * c + b * b * s * s
        cov = (a * a - b * b) * s * c
    else:
        var_x = var_y = view.pos_std_m * view.pos_std_m
        cov = 0.0
    if not all(math.isfinite(v) for v in (var_x, var_y, cov)) or var_x < 0 or var_y < 0:
        clamps["accuracy_invalid"] += 1
        return None
    sx, sy = math.sqrt(var_x), math.sqrt(var_y)
    cov_m = math.copysign(math.sqrt(abs(cov)), cov)
    phi = math.radians(view.lat_deg)
    w = math.sqrt(1.0 - _WGS84_E2 * math.sin(phi) ** 2)
    meridian_m = _WGS84_A_M * (1.0 - _WGS84_E2) / w**3
    normal_m = _WGS84_A_M / w
    lat_deg = math.degrees(sy / meridian_m)
    cos_phi = max(math.cos(phi), 1e-9)
    lon_deg = math.degrees(sx / (normal_m * cos_phi))
    aga: int | None = None
    if view.alt_std_m is not None and math.isfinite(view.alt_std_m):
        aga = _clamp(view.alt_std_m / FT_M / ALT_LSB_FT, _U8, "accuracy", clamps)
    return Accuracy(
        apc_x=_clamp(sx / XY_LSB_M, _U16, "accuracy", clamps),
        apc_y=_clamp(sy / XY_LSB_M, _U16, "accuracy", clamps),
        cov=_clamp(cov_m / XY_LSB_M, _I16, "accuracy", clamps),
        apw_lat=_clamp(lat_deg / LATLON_LSB_DEG, _U16, "accuracy", clamps),
        apw_lon=_clamp(lon_deg / LATLON_LSB_DEG, _U16, "accuracy", clamps),
        aga=aga,
    )


def system_track(
    view: TrackView,
    *,
    config: AsterixOutConfig,
    track_number: int,
    first: bool = False,
    last: bool = False,
    age_s: float | None = None,
    clamps: Counter[str] | None = None,
) -> SystemTrack | None:
    """The CAT062 record of one track, in LSB units; None if its position is not finite.

    ``first``/``last`` set TSB/TSE; ``age_s`` is the track's age for I062/290 (None: not sent).
    Values outside an item's range are clamped to it and counted in ``clamps`` by kind
    (``position``, ``velocity``, ``altitude``, ``climb``, ``age``, ``accuracy``).
    """
    clamps = clamps if clamps is not None else Counter()
    core = (view.t_s, view.lat_deg, view.lon_deg, view.east_m, view.north_m)
    if not all(math.isfinite(v) for v in core) or not -90.0 <= view.lat_deg <= 90.0:
        return None
    tod = round((view.t_s % DAY_S) / TOD_LSB_S) % round(DAY_S / TOD_LSB_S)
    lon = (view.lon_deg + 180.0) % 360.0 - 180.0
    vx = vy = 0.0
    if math.isfinite(view.speed_ms) and math.isfinite(view.heading_deg):
        h = math.radians(view.heading_deg)
        vx, vy = view.speed_ms * math.sin(h), view.speed_ms * math.cos(h)
    else:
        clamps["velocity_invalid"] += 1
    alt: int | None = None
    if math.isfinite(view.alt_m):
        alt_ft = view.alt_m / FT_M
        if not ALT_MIN_FT <= alt_ft <= ALT_MAX_FT:
            clamps["altitude"] += 1
            alt_ft = min(max(alt_ft, ALT_MIN_FT), ALT_MAX_FT)
        alt = round(alt_ft / ALT_LSB_FT)
    rocd: int | None = None
    if math.isfinite(view.climb_ms):
        rocd = _clamp(view.climb_ms / FT_M * 60.0 / ROCD_LSB_FTMIN, _I16, "climb", clamps)
    address: int | None = None
    if view.icao:
        try:
            address = int(view.icao, 16)
        except ValueError:
            address = None
        if address is not None and not 0 <= address < 2**24:
            address = None
    age: int | None = None
    if age_s is not None and math.isfinite(age_s):
        age = _clamp(max(age_s, 0.0) / AGE_LSB_S, _U8, "age", clamps)
    return SystemTrack(
        sac=config.sac,
        sic=config.sic,
        service_id=config.service_id,
        tod=tod,
        lat=round(view.lat_deg / LATLON_LSB_DEG),
        lon=_clamp(lon / LATLON_LSB_DEG, _I32, "position", clamps),
        x=_clamp(view.east_m / XY_LSB_M, _I24, "position", clamps),
        y=_clamp(view.north_m / XY_LSB_M, _I24, "position", clamps),
        vx=_clamp(vx / V_LSB_MS, _I16, "velocity", clamps),
        vy=_clamp(vy / V_LSB_MS, _I16, "velocity", clamps),
        track_number=track_number & 0xFFFF,
        mon=1 if len(view.sensors) == 1 else 0,
        src=_altitude_source(view, config.altitude_source),
        sim=1 if config.simulated else 0,
        tse=1 if last else 0,
        tsb=1 if first else 0,
        alt=alt,
        rocd=rocd,
        address=address,
        ecat=ECAT_UAV if _is_uav(view, config.emitter_category) else None,
        age=age,
        accuracy=_accuracy(view, clamps),
    )


# ---------------------------------------------------------------------------------------------
# Encoding: the fast path


@functools.lru_cache(maxsize=256)
def _fspec(frns: tuple[int, ...]) -> bytes:
    """The FSPEC announcing the items of these FRNs (7 per octet, FX in bit 1)."""
    octets = bytearray()
    for frn in frns:
        i, bit = divmod(frn - 1, 7)
        while len(octets) <= i:
            octets.append(0)
        octets[i] |= 0x80 >> bit
    for i in range(len(octets) - 1):
        octets[i] |= 0x01
    return bytes(octets)


_PACK_010 = struct.Struct(">BB")
_PACK_105 = struct.Struct(">ii")
_PACK_185 = struct.Struct(">hh")
_PACK_H = struct.Struct(">H")
_PACK_h = struct.Struct(">h")
_PACK_APC = struct.Struct(">HH")


def _i24(v: int) -> bytes:
    return (v & 0xFFFFFF).to_bytes(3, "big")


def encode_system_track(st: SystemTrack) -> bytes:
    """One CAT062 record (FSPEC + items in UAP order), packed directly: the publisher's path.

    FRNs of ed. 1.21's UAP: 010=1, 015=3, 070=4, 105=5, 100=6, 185=7, 380=11, 040=12, 080=13,
    290=14, 130=18, 220=20, 500=27. :func:`encode_system_track_reference` is the same record by
    libasterix; a property test keeps the two equal byte for byte.
    """
    frns = [1, 3, 4, 5, 6, 7]
    body = [
        _PACK_010.pack(st.sac, st.sic),
        bytes((st.service_id,)),
        st.tod.to_bytes(3, "big"),
        _PACK_105.pack(st.lat, st.lon),
        _i24(st.x) + _i24(st.y),
        _PACK_185.pack(st.vx, st.vy),
    ]
    if st.address is not None or st.ecat is not None:
        frns.append(11)
        # Compound: primary subfield of 3 octets when EMC (subfield 21) is there, else 1.
        primary = bytearray((0x80 if st.address is not None else 0x00,))
        if st.ecat is not None:
            primary[0] |= 0x01
            primary += bytes((0x01, 0x02))
        part = bytes(primary)
        if st.address is not None:
            part += st.address.to_bytes(3, "big")
        if st.ecat is not None:
            part += bytes((st.ecat,))
        body.append(part)
    frns += [12, 13]
    body.append(_PACK_H.pack(st.track_number))
    # I062/080, two octets: MON SPI MRH SRC(3) CNF FX | SIM TSE TSB FPC AFF STP KOS FX.
    # MRH=1 (the geometric altitude is the one to trust: there is no Mode C), CNF=0 (confirmed).
    body.append(
        bytes(
            (
                (st.mon << 7) | (1 << 5) | (st.src << 2) | 0x01,
                (st.sim << 7) | (st.tse << 6) | (st.tsb << 5),
            )
        )
    )
    if st.age is not None:
        frns.append(14)
        body.append(bytes((0x80, st.age)))
    if st.alt is not None:
        frns.append(18)
        body.append(_PACK_h.pack(st.alt))
    if st.rocd is not None:
        frns.append(20)
        body.append(_PACK_h.pack(st.rocd))
    acc = st.accuracy
    if acc is not None:
        frns.append(27)
        body.append(
            bytes((0xF0 if acc.aga is not None else 0xE0,))
            + _PACK_APC.pack(acc.apc_x, acc.apc_y)
            + _PACK_h.pack(acc.cov)
            + _PACK_APC.pack(acc.apw_lat, acc.apw_lon)
            + (bytes((acc.aga,)) if acc.aga is not None else b"")
        )
    return _fspec(tuple(frns)) + b"".join(body)


def encode_system_track_reference(st: SystemTrack) -> bytes:
    """The same CAT062 record built by libasterix (``Cat_062_1_21``): the reference encoding."""
    import asterix.generated as gen  # ~1 s to load; only the reference and CAT065 need it

    items: dict[str, object] = {
        "010": (("SAC", st.sac), ("SIC", st.sic)),
        "015": st.service_id,
        "070": st.tod,
        "105": (("LAT", st.lat), ("LON", st.lon)),
        "100": (("X", st.x), ("Y", st.y)),
        "185": (("VX", st.vx), ("VY", st.vy)),
        "040": st.track_number,
        "080": (
            (("MON", st.mon), ("SPI", 0), ("MRH", 1), ("SRC", st.src), ("CNF", 0), None),
            (
                ("SIM", st.sim),
                ("TSE", st.tse),
                ("TSB", st.tsb),
                ("FPC", 0),
                ("AFF", 0),
                ("STP", 0),
                ("KOS", 0),
                None,
            ),
        ),
    }
    i380: dict[str, int] = {}
    if st.address is not None:
        i380["ADR"] = st.address
    if st.ecat is not None:
        i380["EMC"] = st.ecat
    if i380:
        items["380"] = i380
    if st.age is not None:
        items["290"] = {"TRK": st.age}
    if st.alt is not None:
        items["130"] = st.alt
    if st.rocd is not None:
        items["220"] = st.rocd
    acc = st.accuracy
    if acc is not None:
        i500: dict[str, object] = {
            "APC": (("X", acc.apc_x), ("Y", acc.apc_y)),
            "COV": acc.cov,
            "APW": (("LAT", acc.apw_lat), ("LON", acc.apw_lon)),
        }
        if acc.aga is not None:
            i500["AGA"] = acc.aga
        items["500"] = i500
    rec = gen.Cat_062_1_21.cv_record.create(items)  # type: ignore[arg-type]
    return bytes(rec.unparse().to_bytes())


def pack_datagrams(category: int, records: Sequence[bytes], max_bytes: int) -> list[bytes]:
    """Records in as few datagrams as fit ``max_bytes``, each one data block (CAT, LEN, records).

    Records are kept in order and whole; a record that alone would not fit cannot happen for
    CAT062 (≤ 70 bytes against ``max_bytes`` ≥ 256) and raises ValueError.
    """
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = DATABLOCK_HEADER_BYTES
    for rec in records:
        if DATABLOCK_HEADER_BYTES + len(rec) > max_bytes:
            raise ValueError(f"a {len(rec)}-byte record does not fit a {max_bytes}-byte datagram")
        if size + len(rec) > max_bytes and chunk:
            out.append(bytes((category,)) + size.to_bytes(2, "big") + b"".join(chunk))
            chunk, size = [], DATABLOCK_HEADER_BYTES
        chunk.append(rec)
        size += len(rec)
    if chunk:
        out.append(bytes((category,)) + size.to_bytes(2, "big") + b"".join(chunk))
    return out


def encode_batch_markers(
    *,
    sac: int,
    sic: int,
    service_id: int,
    t_s: float,
    batch_number: int,
    overload: bool = False,
) -> bytes:
    """One CAT065 data block (ed. 1.6, libasterix): an SDPS status and an end-of-batch record.

    SDPS status: I065/000=1, /010, /015, /030 time, /040 NOGO=0 (operational), OVL=1 if the
    publisher fell behind the picture since the last batch. End of batch: I065/000=2, /010,
    /015, /020 batch number (0..255, cyclic), /030.
    """
    import asterix.generated as gen

    cat = gen.Cat_065_1_6
    tod = round((t_s % DAY_S) / TOD_LSB_S) % round(DAY_S / TOD_LSB_S)
    status = cat.cv_record.create(
        {
            "000": 1,
            "010": (("SAC", sac), ("SIC", sic)),
            "015": service_id,
            "030": tod,
            "040": (
                ("NOGO", 0),
                ("OVL", 1 if overload else 0),
                ("TSV", 0),
                ("PSS", 0),
                ("STTN", 0),
                0,
            ),
        }
    )
    end = cat.cv_record.create(
        {
            "000": 2,
            "010": (("SAC", sac), ("SIC", sic)),
            "015": service_id,
            "020": batch_number & 0xFF,
            "030": tod,
        }
    )
    return bytes(cat.create([status, end]).unparse().to_bytes())


# ---------------------------------------------------------------------------------------------
# Track numbers


class TrackNumbers:
    """I062/040 track numbers: Luchtwacht's ``track_id`` mod 65536, or the next free one.

    A number stays with its track until the track's last message (TSE) has gone; it is free again
    only after that batch (:meth:`release`), so no batch carries the end of one track and the
    start of another under the same number.
    """

    SIZE = 65_536

    def __init__(self) -> None:
        self._by_track: dict[int, int] = {}
        self._used: set[int] = set()

    def get(self, track_id: int) -> int | None:
        """The track's number, assigned now if it has none; None if all 65536 are in use."""
        number = self._by_track.get(track_id)
        if number is not None:
            return number
        if len(self._used) >= self.SIZE:
            return None
        number = track_id % self.SIZE
        while number in self._used:
            number = (number + 1) % self.SIZE
        self._by_track[track_id] = number
        self._used.add(number)
        return number

    def release(self, track_ids: Iterable[int]) -> None:
        """Free the numbers of tracks that ended."""
        for tid in track_ids:
            number = self._by_track.pop(tid, None)
            if number is not None:
                self._used.discard(number)

    def tracks(self) -> set[int]:
        """The tracks that hold a number (sent and not ended)."""
        return set(self._by_track)

    def __len__(self) -> int:
        return len(self._by_track)


# ---------------------------------------------------------------------------------------------
# The publisher


class AsterixOutPublisher(PublisherThread):
    """Sends the picture as CAT062 system tracks (and CAT065 markers) over UDP, once a period.

    The socket is non-blocking: a datagram the kernel cannot take at once is dropped and counted
    (``dropped``, ``send_buffer_full``), as is one that fails (``send_errors``). Figures in
    ``stats()``: ``sent`` datagrams, ``batches``, ``records`` (CAT062), ``ended`` (TSE records),
    ``clamped_*`` per kind, ``skipped_tracks`` (not finite, or no track number left).
    """

    kind = "asterix"

    def __init__(
        self, config: AsterixOutConfig, ctx: PublishContext, subscription: Subscription
    ) -> None:
        super().__init__(config.name, subscription, idle_s=min(0.2, config.period_s / 2))
        self.config = config
        self.ctx = ctx
        self.numbers = TrackNumbers()
        self._host, self._port = parse_hostport(config.send_to)
        self._sock: socket.socket | None = None
        self._addr: tuple[str, int] | None = None
        self._backoff = Backoff(0.5, 30.0)
        self._retry_at = 0.0
        self._views: dict[int, TrackView] = {}  # newest view of every track since the last batch
        self._first_sent: dict[int, float] = {}  # picture time each track was first sent
        self._next_due: float | None = None
        self._last_batch_t: float | None = None
        self._batch_number = 0
        self._lost_seen = 0
        self._last_log = -math.inf

    # --- the socket -------------------------------------------------------------------------

    def _open(self) -> socket.socket | None:
        """The UDP socket, made (and the host resolved) on first use and after a failure."""
        if self._sock is not None:
            return self._sock
        now = time.monotonic()
        if now < self._retry_at:
            return None
        try:
            infos = socket.getaddrinfo(self._host, self._port, socket.AF_INET, socket.SOCK_DGRAM)
            addr = infos[0][4]
            self._addr = (str(addr[0]), int(addr[1]))
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                if ipaddress.IPv4Address(self._addr[0]).is_multicast:
                    if self.config.ttl is not None:
                        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.config.ttl)
                    loop = 1 if self.config.multicast_loop else 0
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, loop)
                    if self.config.interface is not None:
                        sock.setsockopt(
                            socket.IPPROTO_IP,
                            socket.IP_MULTICAST_IF,
                            socket.inet_aton(self.config.interface),
                        )
                elif self.config.ttl is not None:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, self.config.ttl)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
        except OSError as exc:
            self.counters.extra["socket_failures"] += 1
            self._retry_at = now + self._backoff.next_delay()
            self._log(f"cannot send to {self.config.send_to}: {exc}")
            return None
        if self.counters.extra["socket_failures"]:
            self.counters.reconnects += 1
        self._backoff.reset()
        self._sock = sock
        self.counters.connected = True
        return sock

    def _send(self, datagrams: Sequence[bytes]) -> None:
        """Hand each datagram to the kernel without waiting; what it refuses is dropped."""
        sock = self._open()
        if sock is None or self._addr is None:
            self.counters.dropped += len(datagrams)
            return
        for dgram in datagrams:
            try:
                sock.sendto(dgram, self._addr)
            except BlockingIOError:
                self.counters.dropped += 1
                self.counters.extra["send_buffer_full"] += 1
            except OSError as exc:
                self.counters.dropped += 1
                self.counters.extra["send_errors"] += 1
                self.counters.connected = False
                self._log(f"send to {self.config.send_to} failed: {exc}")
            else:
                self.counters.sent += 1
                self.counters.connected = True

    def _log(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= ERROR_LOG_EVERY_S:
            log.warning("publisher %s: %s", self.name, message)
            self._last_log = now

    # --- the batches ------------------------------------------------------------------------

    def handle(self, update: PictureUpdate) -> None:
        """Keep the newest view of each track; send a batch when one is due (picture time)."""
        for view in update.tracks:
            self._views[view.track_id] = view
        t = update.t_s
        backwards = self._last_batch_t is not None and t < self._last_batch_t
        if self._next_due is None or t >= self._next_due or backwards:
            self._batch(update)
            period = self.config.period_s
            due = self._next_due
            # Stay on the period's grid; start a new grid after a gap or a jump back in time.
            on_grid = due is not None and not backwards and t - due < period
            self._next_due = due + period if on_grid and due is not None else t + period
            self._last_batch_t = t

    def _batch(self, update: PictureUpdate) -> None:
        """Encode and send one batch: every track now, and a last message for each that ended."""
        clamps: Counter[str] = Counter()
        records: list[bytes] = []
        current = {v.track_id for v in update.tracks}
        for view in update.tracks:
            first = view.track_id not in self._first_sent
            records += self._record(view, first=first, last=False, clamps=clamps)
        ended = [tid for tid in self.numbers.tracks() if tid not in current]
        for tid in ended:
            last_view = self._views.get(tid)
            if last_view is not None:
                records += self._record(last_view, first=False, last=True, clamps=clamps)
                self.counters.extra["ended"] += 1
        self.numbers.release(ended)
        for tid in ended:
            self._first_sent.pop(tid, None)
        self._views = {v.track_id: v for v in update.tracks}
        for kind, n in clamps.items():
            self.counters.extra[f"clamped_{kind}"] += n
        datagrams = pack_datagrams(62, records, self.config.max_datagram_bytes)
        if self.config.cat065:
            lost = self.subscription.lost
            datagrams.append(
                encode_batch_markers(
                    sac=self.config.sac,
                    sic=self.config.sic,
                    service_id=self.config.service_id,
                    t_s=update.t_s,
                    batch_number=self._batch_number,
                    overload=lost > self._lost_seen,
                )
            )
            self._lost_seen = lost
        self._batch_number = (self._batch_number + 1) % 256
        self.counters.extra["batches"] += 1
        self.counters.extra["records"] += len(records)
        self._send(datagrams)

    def _record(
        self, view: TrackView, *, first: bool, last: bool, clamps: Counter[str]
    ) -> list[bytes]:
        """The track's encoded record (a list of one), or none if it cannot be sent."""
        number = self.numbers.get(view.track_id)
        if number is None:
            self.counters.extra["skipped_tracks"] += 1
            return []
        t_first = self._first_sent.setdefault(view.track_id, view.t_s)
        st = system_track(
            view,
            config=self.config,
            track_number=number,
            first=first,
            last=last,
            age_s=view.t_s - t_first,
            clamps=clamps,
        )
        if st is None:
            self.counters.extra["skipped_tracks"] += 1
            if first:  # never sent: it holds no number
                self.numbers.release([view.track_id])
                self._first_sent.pop(view.track_id, None)
            return []
        return [encode_system_track(st)]

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
