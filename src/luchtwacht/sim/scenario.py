"""Scenarios: a site, its protected zones, its sensors and the targets flying through it.

``default_scenario`` is the demo: Volkel Air Base (EHVK, Noord-Brabant), a protected zone around
its runways up to 500 m, an electronically scanned 3D radar and a Remote ID receiver on site;
two non-cooperative quadcopters that approach and enter the zone, a Remote ID compliant hobby
drone loitering legally outside it, a flock of birds crossing it, and an airliner descending
towards Eindhoven (EHEH) through the radar's coverage south of the base.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from luchtwacht.counter.catalogue import EffectorSpec
from luchtwacht.counter.recommend import REACTION_S
from luchtwacht.geo import SiteOrigin
from luchtwacht.geo.sites import RUNWAY_HEADING_DEG, VOLKEL, volkel_runway
from luchtwacht.geo.sites import polar as polar  # re-exported: scenarios and tests use it
from luchtwacht.identify.authorisation import Authorisations
from luchtwacht.model.detection import ObjectClass
from luchtwacht.model.zone import Zone
from luchtwacht.sim.adsb import AdsbReceiverConfig
from luchtwacht.sim.bearing_sensor import BearingSensorConfig
from luchtwacht.sim.operator import OperatorPolicy
from luchtwacht.sim.radar import RadarConfig
from luchtwacht.sim.remoteid_rx import RemoteIdReceiverConfig
from luchtwacht.sim.targets import Orbit, RemoteIdEquipment, Target, Wander, WaypointPath
from luchtwacht.sim.weather import Weather


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a run needs; the simulated clock starts at ``epoch_s`` (UTC seconds)."""

    name: str
    origin: SiteOrigin
    zones: tuple[Zone, ...]
    radars: tuple[RadarConfig, ...]
    remoteid_receivers: tuple[RemoteIdReceiverConfig, ...]
    targets: tuple[Target, ...]
    duration_s: float
    epoch_s: float
    seed: int
    bearing_sensors: tuple[BearingSensorConfig, ...] = ()  # RF detectors, acoustic arrays
    adsb_receivers: tuple[AdsbReceiverConfig, ...] = ()
    weather: Weather = field(default_factory=Weather)  # rain, fog, clutter: applied to sensors
    effectors: tuple[EffectorSpec, ...] = ()  # countermeasures on site (simulated SAPIENT nodes)
    operator: OperatorPolicy | None = None  # the simulated duty operator; None: nobody decides
    no_fire: tuple[Zone, ...] = ()  # areas nothing may be brought down in
    # The site's whitelist and its policy for Remote ID drones not on it (identify.authorisation)
    authorisations: Authorisations = field(default_factory=Authorisations)
    # The operator's reaction time the counter stage plans with (a site file's
    # approval.reaction_s); the simulated operator's own is ``operator.reaction_s``.
    reaction_s: float = REACTION_S


def flock(
    name_prefix: str,
    path: WaypointPath,
    n: int,
    rng: np.random.Generator,
    rcs_m2: tuple[float, float] = (0.005, 0.02),
    spread_m: float = 60.0,
    vertical_spread_m: float = 10.0,
    sway_m: tuple[float, float] = (3.0, 10.0),
    period_s: tuple[float, float] = (6.0, 12.0),
) -> tuple[Target, ...]:
    """``n`` birds weaving along ``path``, named ``"{name_prefix} 1"`` … ``"{name_prefix} n"``.

    Each bird draws, in this order, its RCS, a horizontal offset within ±``spread_m`` (east, north),
    a vertical offset within ±``vertical_spread_m``, a sway amplitude, a sway period and a phase
    from ``rng``. Shared by ``default_scenario`` and scenario files so that a seed yields the same
    flock either way; the order of draws is therefore part of the contract.
    """
    return tuple(
        Target(
            f"{name_prefix} {k + 1}",
            ObjectClass.BIRD,
            rcs_m2=float(rng.uniform(*rcs_m2)),
            role="bird",
            path=Wander(
                base=path,
                offset_m=(
                    float(rng.uniform(-spread_m, spread_m)),
                    float(rng.uniform(-spread_m, spread_m)),
                    float(rng.uniform(-vertical_spread_m, vertical_spread_m)),
                ),
                sway_m=float(rng.uniform(*sway_m)),
                period_s=float(rng.uniform(*period_s)),
                phase_rad=float(rng.uniform(0, 2 * math.pi)),
            ),
        )
        for k in range(n)
    )


def formation_offsets(
    n: int, formation: str, spacing_m: float, heading_deg: float
) -> list[tuple[float, float, float]]:
    """ENU offsets of ``n`` slots of a formation flying towards ``heading_deg`` (true).

    ``grid``: rows of ⌈√n⌉ abreast, rows behind each other; ``line``: one row abreast;
    ``column``: one behind the other; ``vee``: a V with the leader at the point; ``ring``: a
    circle of circumference n·spacing. Slots are ``spacing_m`` apart.
    """
    h = math.radians(heading_deg)
    fwd = (math.sin(h), math.cos(h))
    right = (math.cos(h), -math.sin(h))
    slots: list[tuple[float, float]] = []  # (along, across) in metres
    if formation == "grid":
        cols = math.ceil(math.sqrt(n))
        for k in range(n):
            row, col = divmod(k, cols)
            slots.append((-row * spacing_m, (col - (cols - 1) / 2) * spacing_m))
    elif formation == "line":
        slots = [(0.0, (k - (n - 1) / 2) * spacing_m) for k in range(n)]
    elif formation == "column":
        slots = [(-k * spacing_m, 0.0) for k in range(n)]
    elif formation == "vee":
        for k in range(n):
            rank, side = (k + 1) // 2, (1 if k % 2 else -1)
            slots.append((-rank * spacing_m, side * rank * spacing_m if k else 0.0))
    elif formation == "ring":
        radius = n * spacing_m / (2 * math.pi)
        slots = [
            (radius * math.cos(2 * math.pi * k / n), radius * math.sin(2 * math.pi * k / n))
            for k in range(n)
        ]
    else:
        raise ValueError(f"unknown formation {formation!r}: grid, line, column, vee or ring")
    return [(a * fwd[0] + c * right[0], a * fwd[1] + c * right[1], 0.0) for a, c in slots]


def swarm(
    name_prefix: str,
    path: WaypointPath,
    n: int,
    rng: np.random.Generator,
    formation: str = "grid",
    spacing_m: float = 25.0,
    rcs_m2: tuple[float, float] = (0.01, 0.03),
    jitter_m: float = 1.5,
    role: str = "intruder",
    emits_rf: bool = True,
) -> tuple[Target, ...]:
    """``n`` drones flying ``path`` in formation, named ``"{name_prefix} 1"`` … .

    Each keeps its slot (heading of the first leg) with a small station-keeping sway
    (``jitter_m``); each draws its RCS, sway period and phase from ``rng`` in that order.
    """
    (e0, n0, _), (e1, n1, _) = path.points_m[0], path.points_m[1]
    heading = math.degrees(math.atan2(e1 - e0, n1 - n0))
    out = []
    for k, off in enumerate(formation_offsets(n, formation, spacing_m, heading)):
        out.append(
            Target(
                f"{name_prefix} {k + 1}",
                ObjectClass.DRONE,
                rcs_m2=float(rng.uniform(*rcs_m2)),
                role=role,
                emits_rf=emits_rf,
                path=Wander(
                    base=path,
                    offset_m=off,
                    sway_m=jitter_m,
                    period_s=float(rng.uniform(4.0, 9.0)),
                    phase_rad=float(rng.uniform(0, 2 * math.pi)),
                ),
            )
        )
    return tuple(out)


def default_scenario(seed: int = 7, duration_s: float = 240.0) -> Scenario:
    """The demo scenario at Volkel Air Base (see module docstring); ``seed`` drives every draw."""
    origin = VOLKEL
    rng = np.random.default_rng(seed)
    zone = volkel_runway()
    site = origin.to_geodetic(np.array(polar(RUNWAY_HEADING_DEG - 90.0, 300.0, 10.0)))
    radar = RadarConfig(
        node_id="4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c",
        lat_deg=float(site[0]),
        lon_deg=float(site[1]),
        alt_m=float(site[2]),
        name="EHVK 3D radar",
    )
    rid_rx = RemoteIdReceiverConfig(
        receiver_id="rid-ehvk-1",
        lat_deg=float(site[0]),
        lon_deg=float(site[1]),
        alt_m=float(site[2]),
    )
    intruder_a = Target(
        "Intruder A",
        ObjectClass.DRONE,
        rcs_m2=0.02,
        role="intruder",
        path=WaypointPath(
            points_m=(
                polar(RUNWAY_HEADING_DEG, 4400, 90),
                polar(RUNWAY_HEADING_DEG, 1200, 90),
                polar(RUNWAY_HEADING_DEG + 20, 400, 60),
            ),
            speeds_ms=(22.0, 10.0),
        ),
    )
    launch_b = polar(148.0, 2300)
    intruder_b = Target(
        "Intruder B",
        ObjectClass.DRONE,
        rcs_m2=0.03,
        role="intruder",
        path=WaypointPath(
            points_m=(
                (launch_b[0], launch_b[1], 2.0),
                (launch_b[0], launch_b[1], 110.0),
                polar(148.0, 250, 110),
                polar(200.0, 150, 80),
            ),
            speeds_ms=(5.0, 14.0, 6.0),
            t_start_s=15.0,
        ),
    )
    hobby_centre = polar(330.0, 1600)
    hobby = Target(
        "Hobby drone (Remote ID)",
        ObjectClass.DRONE,
        rcs_m2=0.02,
        role="cooperative",
        path=Orbit(
            centre_m=(hobby_centre[0], hobby_centre[1]), radius_m=150.0, speed_ms=7.0, height_m=60.0
        ),
        remote_id=RemoteIdEquipment(
            uas_id="1581F5FJD229V00QZ7",
            mac="60:60:1f:a3:5c:21",
            operator_enu_m=(hobby_centre[0] + 180.0, hobby_centre[1] - 120.0, 1.5),
            operator_id="NLD87astrdge12k8",
            description="Recreational flight",
        ),
    )
    flock_path = WaypointPath(
        points_m=(polar(150.0, 1500, 45), polar(330.0, 1500, 45)),
        speeds_ms=(11.0,),
        t_start_s=10.0,
        hover_at_end=False,
    )
    birds = flock("Bird", flock_path, 10, rng)
    glide = math.tan(math.radians(3.0))
    airliner = Target(
        "Airliner (approach EHEH)",
        ObjectClass.AIRCRAFT,
        rcs_m2=40.0,
        role="airliner",
        path=WaypointPath(
            points_m=((9500.0, -3500.0, 1500.0), (-9500.0, -3500.0, 1500.0 - 19000.0 * glide)),
            speeds_ms=(80.0,),
            hover_at_end=False,
        ),
    )
    epoch = dt.datetime(2026, 6, 12, 21, 30, tzinfo=dt.UTC).timestamp()
    return Scenario(
        name="ehvk-default",
        origin=origin,
        zones=(zone,),
        radars=(radar,),
        remoteid_receivers=(rid_rx,),
        targets=(intruder_a, intruder_b, hobby, *birds, airliner),
        duration_s=duration_s,
        epoch_s=epoch,
        seed=seed,
    )
