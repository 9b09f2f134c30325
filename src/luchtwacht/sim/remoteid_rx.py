"""Simulated Drone Remote ID broadcasts and the receiver that hears them.

Each Remote ID equipped target broadcasts ASTM F3411 messages over Bluetooth 4 legacy
advertising as the standard's minimum schedule asks: Location/Vector every second, and Basic ID,
System and Operator ID each at least every 3 s (F3411-22a §5.4.5). The receiver hears a packet
within its range with probability ``p_receive`` and writes one JSON line per advertisement —
the live receiver feed schema that ``ingest.remoteid_feed`` reads::

    {"time": ISO-8601 UTC, "receiver": str, "transport": "bt4-legacy", "mac": "aa:bb:..",
     "rssi_dbm": float, "payload": hex of the advertising data (AD structures)}
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest import remoteid as rid
from luchtwacht.sim.targets import Target


@dataclass(frozen=True, slots=True)
class RemoteIdReceiverConfig:
    """A Remote ID receiver on site (Bluetooth + Wi-Fi) and its reach."""

    receiver_id: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    range_m: float = 3000.0
    p_receive: float = 0.9
    gnss_std_m: float = 1.2  # error of the drone's own GNSS fix that it broadcasts
    latency_s: float = 0.02
    clock_offset_s: float = 0.0  # the receiver's clock minus true time (its "time" stamps)


class RemoteIdReceiverSim:
    """Produces the receiver's JSON-lines feed for every Remote ID target in range."""

    def __init__(
        self, config: RemoteIdReceiverConfig, origin: SiteOrigin, epoch_s: float, seed: int
    ) -> None:
        self.cfg = config
        self.origin = origin
        self.epoch_s = epoch_s
        self.rng = np.random.default_rng(seed)
        self.site_enu = origin.to_enu(config.lat_deg, config.lon_deg, config.alt_m)
        self.next_tick_s = 0.0
        self._tick = 0
        self._counters: dict[tuple[str, int], int] = {}

    def _counter(self, mac: str, kind: int) -> int:
        c = self._counters.get((mac, kind), -1) + 1
        self._counters[(mac, kind)] = c % 256
        return c % 256

    def _messages(self, tgt: Target, t_s: float) -> list[tuple[int, bytes]]:
        """Messages the transmitter sends in this one-second slot: (type, 25 bytes)."""
        eq = tgt.remote_id
        s = tgt.path.state(t_s)
        if eq is None or s is None:
            raise ValueError(f"{tgt.name} has no Remote ID or does not exist at {t_s} s")
        pos, vel = s
        fix = pos + np.asarray(eq.spoof_offset_m) + self.rng.normal(0.0, self.cfg.gnss_std_m, 3)
        lat, lon, alt = self.origin.to_geodetic(fix)
        abs_t = self.epoch_s + t_s
        speed = float(math.hypot(vel[0], vel[1]))
        course = math.degrees(math.atan2(vel[0], vel[1])) % 360.0
        out: list[tuple[int, bytes]] = [
            (
                rid.MessageType.LOCATION,
                rid.encode_location(
                    status=rid.Status.AIRBORNE,
                    height_type=rid.HeightType.ABOVE_TAKEOFF,
                    track_direction_deg=course,
                    speed_ms=min(speed, 254.0),
                    vertical_speed_ms=float(np.clip(vel[2], -62.0, 62.0)),
                    lat=float(lat),
                    lon=float(lon),
                    alt_geo_m=float(alt),
                    alt_baro_m=float(alt),
                    height_m=float(fix[2]),
                    horizontal_accuracy=rid.HorizontalAccuracy.M_3,
                    vertical_accuracy=rid.VerticalAccuracy.M_10,
                    baro_accuracy=rid.VerticalAccuracy.M_10,
                    speed_accuracy=rid.SpeedAccuracy.MS_1,
                    timestamp_s=round(abs_t % 3600.0, 1) % 3600.0,
                    timestamp_accuracy_s=0.1,
                ),
            )
        ]
        slot = self._tick % 3
        if slot == 0:
            out.append(
                (
                    rid.MessageType.BASIC_ID,
                    rid.encode_basic_id(
                        rid.IdType.SERIAL_NUMBER, rid.UaType.HELICOPTER_OR_MULTIROTOR, eq.uas_id
                    ),
                )
            )
        elif slot == 1:
            op_lat, op_lon, op_alt = self.origin.to_geodetic(np.asarray(eq.operator_enu_m))
            out.append(
                (
                    rid.MessageType.SYSTEM,
                    rid.encode_system(
                        operator_location_type=rid.OperatorLocationType.LIVE_GNSS,
                        classification_type=rid.ClassificationType.EU,
                        operator_lat=float(op_lat),
                        operator_lon=float(op_lon),
                        operator_alt_geo_m=float(op_alt),
                        ua_category=rid.UaCategory.OPEN,
                        ua_class=rid.UaClass.CLASS_1,
                        timestamp=int(abs_t),
                    ),
                )
            )
        elif eq.operator_id:
            out.append((rid.MessageType.OPERATOR_ID, rid.encode_operator_id(0, eq.operator_id)))
        return out

    def tick(self, t_s: float, targets: Sequence[Target]) -> list[tuple[float, bytes]]:
        """One second of broadcasts: (arrival time s, JSON line) for every packet heard."""
        lines: list[tuple[float, bytes]] = []
        for tgt in targets:
            if tgt.remote_id is None:
                continue
            s = tgt.path.state(t_s)
            if s is None:
                continue
            dist = float(np.linalg.norm(s[0] - self.site_enu))
            if dist > self.cfg.range_m:
                continue
            for k, (kind, msg) in enumerate(self._messages(tgt, t_s)):
                if self.rng.random() >= self.cfg.p_receive:
                    continue
                adv = rid.encode_ble_advertising(msg, self._counter(tgt.remote_id.mac, kind))
                t_rx = t_s + self.cfg.latency_s + 0.05 * k
                rssi = -40.0 - 20.0 * math.log10(max(dist, 1.0)) + float(self.rng.normal(0, 2))
                stamp = dt.datetime.fromtimestamp(
                    self.epoch_s + t_rx + self.cfg.clock_offset_s, tz=dt.UTC
                )
                line = {
                    "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "receiver": self.cfg.receiver_id,
                    "transport": "bt4-legacy",
                    "mac": tgt.remote_id.mac,
                    "rssi_dbm": round(rssi, 1),
                    "payload": adv.hex(),
                }
                lines.append((t_rx, json.dumps(line).encode() + b"\n"))
        self._tick += 1
        self.next_tick_s = t_s + 1.0
        return lines
