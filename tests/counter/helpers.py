"""Shared builders for the counter-stage tests: track views, effectors, SAPIENT node states."""

from __future__ import annotations

import math

from luchtwacht.counter.catalogue import DEFAULTS, EffectorKind, EffectorSpec
from luchtwacht.ingest.sapient import NodeState
from luchtwacht.model.track import ThreatLevel, TrackView

T0 = 1_800_000_000.0


def view(
    track_id: int,
    east: float,
    north: float,
    up: float = 80.0,
    *,
    speed: float = 0.0,
    heading: float = 0.0,
    climb: float = 0.0,
    cls: str = "drone",
    coop: bool = False,
    threat: ThreatLevel = ThreatLevel.HIGH,
    ttb: float | None = None,
    zones: tuple[str, ...] = (),
    rf: str | None = None,
    rf_band: tuple[float, float] | None = None,
    icao: str | None = None,
    uas_id: str | None = None,
    t_s: float = T0,
) -> TrackView:
    """A confirmed track view at an ENU position (the geodetic fields are not read here)."""
    return TrackView(
        track_id=track_id, t_s=t_s, lat_deg=51.0, lon_deg=5.0, alt_m=up, east_m=east,
        north_m=north, up_m=up, speed_ms=speed, heading_deg=heading, climb_ms=climb,
        object_class=cls, class_prob=0.9, cooperative=coop, uas_id=uas_id, threat=threat,
        zones_inside=zones, time_to_breach_s=ttb, pos_std_m=5.0, icao=icao, rf_protocol=rf,
        rf_band_mhz=rf_band,
    )  # fmt: skip


def effector(
    kind: EffectorKind,
    name: str | None = None,
    at: tuple[float, float, float] = (0.0, 0.0, 5.0),
    **over: object,
) -> EffectorSpec:
    """An effector of a kind with its catalogue defaults, overridden where given."""
    fields: dict[str, object] = {**DEFAULTS[kind], **over}
    node = f"00000000-0000-4000-8000-{abs(hash(name or kind)) % 10**12:012d}"
    return EffectorSpec(name=name or kind, node_id=node, kind=kind, enu_m=at, **fields)  # type: ignore[arg-type]


def online(spec: EffectorSpec, t_s: float = T0, magazine: int | None = None) -> NodeState:
    """The SAPIENT state of an effector node that registered and reported OK at ``t_s``."""
    status = () if magazine is None else (f"INFO OTHER Magazine {magazine}",)
    return NodeState(
        spec.node_id, registered=True, node_types=("NODE_TYPE_JAMMER",), system="SYSTEM_OK",
        last_status_t_s=t_s, status=status,
    )  # fmt: skip


def heading_to(frm: tuple[float, float], to: tuple[float, float]) -> float:
    """Compass heading (deg) from one ENU point to another."""
    return math.degrees(math.atan2(to[0] - frm[0], to[1] - frm[1])) % 360.0
