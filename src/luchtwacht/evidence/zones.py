"""Reading a track row's ``zones_inside`` (the recorder joins the zone names with commas)."""

from __future__ import annotations

__all__ = ["inside_zone"]


def inside_zone(zone: str, zones_inside: object) -> bool:
    """Whether the stored ``zones_inside`` text names ``zone``.

    A name that itself holds a comma cannot be split back out of the joined text; it is then
    matched as a substring (which can only over-report a track as inside, never hide one).
    """
    text = str(zones_inside or "")
    if "," in zone:
        return zone in text
    return zone in text.split(",")
