"""Protected zones as an operator defines them: a WGS84 polygon with an altitude band."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Zone:
    """A protected volume: polygon vertices (lat, lon in degrees) and a height band in metres.

    Heights are above the site origin (≈ above ground at the site), the way airspace around an
    air base is drawn for drones.
    """

    name: str
    vertices_deg: tuple[tuple[float, float], ...]  # (lat, lon), not closed
    floor_m: float = 0.0
    ceiling_m: float = 500.0
    warn_time_s: float = 60.0  # alert this long before a predicted breach

    def __post_init__(self) -> None:
        if len(self.vertices_deg) < 3:
            raise ValueError(f"zone {self.name!r}: a polygon needs at least 3 vertices")
        if self.ceiling_m <= self.floor_m:
            raise ValueError(f"zone {self.name!r}: ceiling_m must be above floor_m")
