"""Remote ID receiver feed → cooperative position detections keyed by UAS ID.

Reads the receiver's JSON lines (schema in ``luchtwacht.sim.remoteid_rx``), decodes the carried
frames with :mod:`luchtwacht.ingest.remoteid` (Bluetooth legacy / long-range advertising, Wi-Fi
Beacon and NAN), keeps per transmitter what the static messages said (UAS ID, operator position
and ID) and turns each Location/Vector message into a one-detection batch in site ENU whose
covariance follows the broadcast accuracy classes (95 % bounds, so σ ≈ bound / 2).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass

import numpy as np

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest import remoteid as rid
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.model.detection import N_CLASSES, DetectionBatch

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 16_384
TRANSMITTER_TTL_S = 600.0  # forget a transmitter unheard this long (Bluetooth MACs rotate)
# Transmitters (MACs) held at most: a flood of spoofed MACs is counted, not kept. Past this the
# ones unheard for a minute go first; a new MAC that still finds no room is refused.
MAX_TRANSMITTERS = 2048
CROWDED_TTL_S = 60.0
_UNKNOWN_H_STD_M = 30.0
_UNKNOWN_V_STD_M = 50.0


@dataclass(slots=True)
class Transmitter:
    """What one Remote ID transmitter (by MAC) has told us so far."""

    mac: str
    uas_id: str | None = None
    id_type: str = ""
    ua_type: str = ""
    operator_lat: float | None = None
    operator_lon: float | None = None
    operator_alt_m: float | None = None
    operator_id: str | None = None
    description: str | None = None
    last_t_s: float | None = None
    messages: int = 0
    # Its latest position claim (Location message) in site ENU, with the 1-σ horizontal and
    # vertical accuracy it declared and the fix time: for the spoofing check (identify.spoofing).
    fix_enu_m: tuple[float, float, float] | None = None
    fix_std_m: tuple[float, float] = (_UNKNOWN_H_STD_M, _UNKNOWN_V_STD_M)
    fix_t_s: float | None = None


def _decode_transport(transport: str, payload: bytes) -> list[rid.SingleMessage]:
    if transport in ("bt4-legacy", "bt5-long-range", "ble"):
        _, msg = rid.decode_ble_advertising(payload)
        return list(msg.messages) if isinstance(msg, rid.MessagePack) else [msg]
    if transport in ("wifi-beacon", "wifi-nan", "wifi"):
        _, msgs = rid.decode_wifi_frame(payload)
        return list(msgs)
    raise rid.RemoteIdError("transport", f"unknown transport {transport[:40]!r}")


class RemoteIdPipe:
    """Decoder state for one Remote ID receiver feed: JSON lines in, detection batches out."""

    def __init__(
        self, sensor_id: str, origin: SiteOrigin, *, geoid_undulation_m: float = 0.0
    ) -> None:
        self.sensor_id = sensor_id
        self.origin = origin
        # Barometric altitude is pressure altitude, near height above mean sea level: on the
        # ellipsoid it sits the geoid undulation higher (≈ 43–47 m in the Netherlands).
        self.geoid_undulation_m = geoid_undulation_m
        self.transmitters: dict[str, Transmitter] = {}
        self.counters = FeedCounters()
        self._logged: set[str] = set()
        self._partial = b""

    def _reject(self, exc: rid.RemoteIdError) -> None:
        reason = (
            f"{exc.field}: {exc}"[:160] if not str(exc).startswith(exc.field) else str(exc)[:160]
        )
        key = exc.field
        # Padding errors quote the offending byte's position: one reason for them all.
        self.counters.reject(
            "padding: non-zero bytes after the pack's messages" if key == "padding" else reason
        )
        if key not in self._logged:
            self._logged.add(key)
            log.warning("feed %s: rejected Remote ID report: %s", self.sensor_id, exc)

    def feed(self, data: bytes, t_rx_s: float | None = None) -> list[DetectionBatch]:
        """Consume bytes of the feed (any chunking); return batches for complete lines."""
        buf = self._partial + data
        *lines, self._partial = buf.split(b"\n")
        if len(self._partial) > MAX_LINE_BYTES:
            self._partial = b""
            self._reject(
                rid.RemoteIdError("line", f"longer than {MAX_LINE_BYTES} bytes without a newline")
            )
        out = []
        for line in lines:
            if not line.strip():
                continue
            try:
                batch = self._line(line)
            except rid.RemoteIdError as exc:
                self._reject(exc)
                continue
            self.counters.decoded += 1
            if batch is not None:
                out.append(batch)
        return out

    def flush(self) -> list[DetectionBatch]:
        """Nothing is held back: every Location message is its own batch."""
        return []

    def _line(self, line: bytes) -> DetectionBatch | None:
        if len(line) > MAX_LINE_BYTES:
            raise rid.RemoteIdError("line", f"longer than {MAX_LINE_BYTES} bytes")
        try:
            rec = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise rid.RemoteIdError("json", f"not a JSON object: {exc}") from None
        except RecursionError:
            raise rid.RemoteIdError("json", "nested too deeply") from None
        if not isinstance(rec, dict):
            raise rid.RemoteIdError("json", "not a JSON object")
        t_rx = _field_time(rec)
        mac = rec.get("mac")
        if not isinstance(mac, str) or len(mac) != 17:
            raise rid.RemoteIdError("mac", "missing or not aa:bb:cc:dd:ee:ff")
        transport = rec.get("transport")
        if not isinstance(transport, str):
            raise rid.RemoteIdError("transport", "missing")
        hexpayload = rec.get("payload")
        if not isinstance(hexpayload, str):
            raise rid.RemoteIdError("payload", "missing")
        try:
            payload = bytes.fromhex(hexpayload)
        except ValueError:
            raise rid.RemoteIdError("payload", "not hexadecimal") from None
        messages = _decode_transport(transport, payload)
        if len(self.transmitters) > 256 and t_rx % 60.0 < 1.0:  # now and then, not per line
            self.transmitters = {
                k: v
                for k, v in self.transmitters.items()
                if v.last_t_s is None or t_rx - v.last_t_s < TRANSMITTER_TTL_S
            }
        tx = self.transmitters.get(mac.lower())
        if tx is None:
            tx = self._admit_transmitter(mac.lower(), t_rx)
        tx.messages += 1
        tx.last_t_s = t_rx
        location: rid.LocationVector | None = None
        for m in messages:
            if isinstance(m, rid.BasicId):
                tx.uas_id, tx.id_type, tx.ua_type = m.uas_id, m.id_type.name, m.ua_type.name
            elif isinstance(m, rid.System):
                tx.operator_lat, tx.operator_lon, tx.operator_alt_m = (
                    m.operator_lat,
                    m.operator_lon,
                    m.operator_alt_geo_m,
                )
            elif isinstance(m, rid.OperatorId):
                tx.operator_id = m.operator_id
            elif isinstance(m, rid.SelfId):
                tx.description = m.description
            elif isinstance(m, rid.LocationVector):
                location = m
        if location is None or location.lat is None or location.lon is None:
            return None
        return self._detection(tx, location, t_rx)

    def _admit_transmitter(self, mac: str, t_rx: float) -> Transmitter:
        """A new transmitter, if there is room: else the quiet ones go, or it is refused."""
        if len(self.transmitters) >= MAX_TRANSMITTERS:
            self.transmitters = {
                k: v
                for k, v in self.transmitters.items()
                if v.last_t_s is not None and t_rx - v.last_t_s < CROWDED_TTL_S
            }
            if len(self.transmitters) >= MAX_TRANSMITTERS:
                raise rid.RemoteIdError(
                    "mac", f"more than {MAX_TRANSMITTERS} transmitters heard: a new one ignored"
                )
        tx = Transmitter(mac)
        self.transmitters[mac] = tx
        return tx

    def _detection(self, tx: Transmitter, loc: rid.LocationVector, t_rx: float) -> DetectionBatch:
        if loc.alt_geo_m is not None:
            alt = loc.alt_geo_m
        elif loc.alt_baro_m is not None:
            alt = loc.alt_baro_m + self.geoid_undulation_m
        else:
            alt = None
        if alt is None and loc.height_m is not None:
            alt = self.origin.alt_m + loc.height_m
        if alt is None:
            raise rid.RemoteIdError("alt_geo_m", "no geodetic, barometric or height value")
        if loc.lat is None or loc.lon is None:
            raise rid.RemoteIdError("lat", "position unknown")
        z = self.origin.to_enu(loc.lat, loc.lon, alt).reshape(1, 3)
        h_bound = loc.horizontal_accuracy.bound_m
        v_bound = loc.vertical_accuracy.bound_m
        h_std = h_bound / 2.0 if h_bound is not None else _UNKNOWN_H_STD_M
        v_std = v_bound / 2.0 if v_bound is not None else _UNKNOWN_V_STD_M
        cov = np.diag([h_std**2, h_std**2, v_std**2]).reshape(1, 3, 3)
        t_fix = _measurement_time(t_rx, loc.timestamp_s)
        tx.fix_enu_m = (float(z[0, 0]), float(z[0, 1]), float(z[0, 2]))
        tx.fix_std_m = (h_std, v_std)
        tx.fix_t_s = t_fix
        return DetectionBatch(
            sensor_id=self.sensor_id,
            t_s=np.array([t_fix]),
            z=z,
            R=cov,
            class_loglik=np.zeros((1, N_CLASSES)),
            ident=(tx.uas_id,),
            counts_misses=False,
            extra=({"mac": tx.mac, "uas_id": tx.uas_id},),
        )


def _field_time(rec: dict[str, object]) -> float:
    """Receive time of a feed record (ISO 8601 UTC) as UTC seconds."""
    raw = rec.get("time")
    if not isinstance(raw, str):
        raise rid.RemoteIdError("time", "missing")
    try:
        stamp = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise rid.RemoteIdError("time", f"not ISO 8601: {raw[:40]!r}") from None
    if stamp.tzinfo is None:
        raise rid.RemoteIdError("time", "no time zone")
    return stamp.timestamp()


def _measurement_time(t_rx_s: float, after_hour_s: float | None) -> float:
    """Absolute time of a fix stamped in seconds after the hour, resolved against receive time."""
    if after_hour_s is None:
        return t_rx_s
    hour = math.floor(t_rx_s / 3600.0) * 3600.0
    t = hour + after_hour_s
    if t > t_rx_s + 1800.0:
        t -= 3600.0
    elif t < t_rx_s - 1800.0:
        t += 3600.0
    return t
