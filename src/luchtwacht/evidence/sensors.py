"""What a recording shows about its sensors: data arrivals, SAPIENT status, position and range.

Every input feed's raw rows give its arrival times (rows whose format ends in ``-out`` are what
the node sent, not what the sensor delivered, and are left out). A SAPIENT node's stream is
reassembled frame by frame (:class:`~luchtwacht.transport.sapient_tcp.FrameReader`) to read its
Registration (name, the ``Detection``/``MaxRange`` capability) and its StatusReports (the
``system`` state — SYSTEM_OK or not — and ``node_location``). Other feeds' positions and ranges
are not in the recording, so :class:`SensorRecord` leaves them unknown.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from luchtwacht.evidence.recording import Recording
from luchtwacht.ingest.sapient import (
    SapientError,
    location_geodetic,
    parse_message,
    registered_max_range_m,
)
from luchtwacht.transport.sapient_tcp import FrameReader

__all__ = ["SensorRecord", "StatusPoint", "read_sensors"]


@dataclass(frozen=True, slots=True)
class StatusPoint:
    """A SAPIENT StatusReport: when it arrived and the node's ``system`` state (e.g. SYSTEM_OK)."""

    t_s: float
    system: str

    @property
    def healthy(self) -> bool:
        """SYSTEM_OK is healthy; WARNING, ERROR, TAMPER and the rest are not."""
        return self.system == "SYSTEM_OK"


@dataclass(slots=True)
class SensorRecord:
    """One sensor as the recording shows it up to the window's end."""

    sensor_id: str
    name: str
    fmt: str
    arrivals_s: NDArray[np.float64]  # arrival times of the data it delivered, sorted
    status: list[StatusPoint] = field(default_factory=list)
    position: tuple[float, float, float] | None = None  # lat deg, lon deg, ellipsoidal alt m
    range_m: float | None = None  # declared detection range
    undecodable_frames: int = 0

    @property
    def where(self) -> str:
        """Where its position and range come from, in words (for reports)."""
        if self.fmt != "sapient":
            return "not in the recording (only SAPIENT nodes report their position and range)"
        if self.position is None:
            return "no StatusReport with node_location recorded"
        if self.range_m is None:
            return "position from StatusReport; no MaxRange capability in its Registration"
        return "position from StatusReport, range from Registration MaxRange"


def read_sensors(rec: Recording, until_s: float) -> dict[str, SensorRecord]:
    """Every sensor with a registered feed or raw data up to ``until_s``, by sensor id."""
    sensors: dict[str, SensorRecord] = {
        f.sensor_id: SensorRecord(f.sensor_id, f.name, f.fmt, np.empty(0)) for f in rec.feeds()
    }
    if not rec.has("raw"):
        return sensors
    arrivals: dict[str, list[float]] = {sid: [] for sid in sensors}
    readers: dict[str, FrameReader] = {}
    rows = rec.db.execute(
        "SELECT t_rx_s, sensor_id, format, payload FROM raw WHERE t_rx_s <= ? ORDER BY seq",
        (until_s,),
    )
    for t_rx, sid, fmt, payload in rows:
        fmt = str(fmt)
        if fmt.endswith("-out"):
            continue
        sid = str(sid)
        s = sensors.get(sid)
        if s is None:
            s = sensors[sid] = SensorRecord(sid, sid, fmt, np.empty(0))
            arrivals[sid] = []
        arrivals[sid].append(float(t_rx))
        if fmt != "sapient":
            continue
        reader = readers.setdefault(sid, FrameReader())
        try:
            bodies = list(reader.feed(bytes(payload)))
        except SapientError:
            s.undecodable_frames += 1
            continue
        for body in bodies:
            _read_sapient(s, float(t_rx), body)
    for sid, times in arrivals.items():
        sensors[sid].arrivals_s = np.sort(np.asarray(times, dtype=float))
    return sensors


def _read_sapient(s: SensorRecord, t_rx: float, body: bytes) -> None:
    try:
        msg = parse_message(body)
    except SapientError:
        s.undecodable_frames += 1
        return
    content = msg.WhichOneof("content")
    if content == "registration":
        reg = msg.registration
        if reg.name and s.name == s.sensor_id:
            s.name = reg.name
        rng = registered_max_range_m(reg)  # the same reading of the capability as the node's
        if math.isfinite(rng):
            s.range_m = rng
    elif content == "status_report":
        rep = msg.status_report
        field_desc = rep.DESCRIPTOR.fields_by_name["system"].enum_type
        known = field_desc.values_by_number.get(rep.system) if field_desc is not None else None
        s.status.append(StatusPoint(t_rx, known.name if known is not None else str(rep.system)))
        if rep.HasField("node_location"):
            # a location it cannot place leaves the last good one
            with contextlib.suppress(SapientError):
                s.position = location_geodetic(rep.node_location, "status_report.node_location")
