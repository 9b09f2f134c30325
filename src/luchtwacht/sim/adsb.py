"""Simulated ADS-B: 1090 MHz extended squitters from aircraft, and the receiver that hears them.

Each target fitted with :class:`AdsbEquipment` (an airliner, a helicopter) broadcasts DF 17
extended squitters as an ADS-B Out transponder does (DO-260B): airborne position (type code
11, barometric altitude in 25 ft steps, CPR-encoded latitude/longitude alternating even and odd
frames) twice a second, airborne velocity (type code 19, ground speed) twice a second and its
identification (type code 4, callsign) every 5 s. The receiver writes each message it hears as
an AVR line (``*<28 hex digits>;``), the raw format dump1090 and readsb serve, which Luchtwacht's
Mode S ingest decodes with pyModeS. The 24-bit parity is pyModeS's CRC of the message.

The simulator has no weather: its "barometric" altitude is the aircraft's height above the
WGS84 ellipsoid (the ingest, told a geoid undulation of 0, takes it back as such).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyModeS import util as modes_util

from luchtwacht.geo import SiteOrigin
from luchtwacht.sim.targets import Target

_CHARSET = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"
_FT = 0.3048
_KT = 1852.0 / 3600.0


@dataclass(frozen=True, slots=True)
class AdsbEquipment:
    """An ADS-B Out transponder: 24-bit ICAO address (6 hex digits) and callsign."""

    icao: str
    callsign: str = ""

    def __post_init__(self) -> None:
        if len(self.icao) != 6 or any(c not in "0123456789abcdefABCDEF" for c in self.icao):
            raise ValueError(f"ICAO address must be 6 hex digits, not {self.icao!r}")
        if len(self.callsign) > 8 or any(c.upper() not in _CHARSET for c in self.callsign):
            raise ValueError(f"callsign must be up to 8 of A-Z, 0-9 and space: {self.callsign!r}")


def _frame(icao: str, me: int) -> str:
    """DF 17, capability 5, the ICAO address and a 56-bit ME field, with its parity, as hex."""
    body = (17 << 83) | (5 << 80) | (int(icao, 16) << 56) | me
    msg = f"{body << 24:028X}"
    parity = modes_util.crc(msg)  # the remainder with a zero parity field is the parity
    return f"{(body << 24) | parity:028X}"


def identification(eq: AdsbEquipment, category: int = 3) -> str:
    """Type code 4 (aircraft identification), emitter category ``category``, the callsign."""
    me = (4 << 51) | (category << 48)
    for k, ch in enumerate(eq.callsign.upper().ljust(8)):
        me |= _CHARSET.index(ch) << (42 - 6 * k)
    return _frame(eq.icao, me)


def _altitude_code(alt_ft: float) -> int:
    """12-bit altitude field with the Q bit set: 25 ft steps from −1000 ft."""
    n = max(0, min(2047, round((alt_ft + 1000.0) / 25.0)))
    return ((n >> 4) << 5) | (1 << 4) | (n & 0xF)


def cpr_encode(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """Airborne CPR (17 bits each) of a position, even or odd frame (DO-260B §A.1.7)."""
    i = 1 if odd else 0
    d_lat = 360.0 / (60 - i)
    yz = math.floor(131072.0 * (lat % d_lat) / d_lat + 0.5)
    r_lat = d_lat * (yz / 131072.0 + math.floor(lat / d_lat))
    nl = modes_util.cprNL(r_lat)
    d_lon = 360.0 / max(nl - i, 1)
    xz = math.floor(131072.0 * (lon % d_lon) / d_lon + 0.5)
    return yz % 131072, xz % 131072


def airborne_position(eq: AdsbEquipment, lat: float, lon: float, alt_m: float, odd: bool) -> str:
    """Type code 11 airborne position with barometric altitude."""
    yz, xz = cpr_encode(lat, lon, odd)
    me = (11 << 51) | (_altitude_code(alt_m / _FT) << 36) | (int(odd) << 34) | (yz << 17) | xz
    return _frame(eq.icao, me)


def airborne_velocity(eq: AdsbEquipment, ve_ms: float, vn_ms: float, vu_ms: float) -> str:
    """Type code 19, subtype 1: ground speed east/north in knots, vertical rate in ft/min."""
    ve, vn = ve_ms / _KT, vn_ms / _KT
    vr = vu_ms / _FT * 60.0
    me = (19 << 51) | (1 << 48)
    me |= (int(ve < 0) << 42) | (min(round(abs(ve)) + 1, 1023) << 32)
    me |= (int(vn < 0) << 31) | (min(round(abs(vn)) + 1, 1023) << 21)
    me |= (int(vr < 0) << 19) | (min(round(abs(vr) / 64.0) + 1, 511) << 10)  # source: GNSS
    return _frame(eq.icao, me)


@dataclass(frozen=True, slots=True)
class AdsbReceiverConfig:
    """A 1090 MHz receiver on site and its reach."""

    receiver_id: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    range_m: float = 150_000.0
    p_receive: float = 0.9
    latency_s: float = 0.05


class AdsbReceiverSim:
    """The receiver's AVR feed: every 0.5 s, what each ADS-B aircraft in range sent."""

    def __init__(
        self, config: AdsbReceiverConfig, origin: SiteOrigin, epoch_s: float, seed: int
    ) -> None:
        self.cfg = config
        self.origin = origin
        self.epoch_s = epoch_s
        self.rng = np.random.default_rng(seed)
        self.site_enu = origin.to_enu(config.lat_deg, config.lon_deg, config.alt_m)
        self.next_tick_s = 0.0
        self._tick = 0

    def tick(self, t_s: float, targets: Sequence[Target]) -> list[tuple[float, bytes]]:
        """Half a second of squitters: (arrival time s, AVR line) for every message heard."""
        out: list[tuple[float, bytes]] = []
        for tgt in targets:
            eq = tgt.adsb
            if eq is None:
                continue
            s = tgt.path.state(t_s)
            if s is None or float(np.linalg.norm(s[0] - self.site_enu)) > self.cfg.range_m:
                continue
            pos, vel = s
            lat, lon, alt = (float(v) for v in self.origin.to_geodetic(pos))
            msgs = [
                airborne_position(eq, lat, lon, alt, odd=self._tick % 2 == 1),
                airborne_velocity(eq, float(vel[0]), float(vel[1]), float(vel[2])),
            ]
            if self._tick % 10 == 0:
                msgs.append(identification(eq))
            for k, m in enumerate(msgs):
                if self.rng.random() < self.cfg.p_receive:
                    out.append((t_s + self.cfg.latency_s + 0.01 * k, f"*{m};\n".encode()))
        self._tick += 1
        self.next_tick_s = t_s + 0.5
        return out
