"""Which drones are authorised to fly here: the site's whitelist and its policy for the rest.

Broadcasting Remote ID makes a drone *cooperative* (it says who it is), not *authorised* (allowed
to fly here). The site file lists the authorised ones (``authorised:``): each entry names a UAS ID
(the ANSI/CTA-2063-A serial or the CAA registration the drone broadcasts) and/or an operator ID
(the Remote ID Operator ID message), optionally a validity window (ISO 8601 UTC) and an area (a
polygon of [lat, lon] vertices, or ``any``). A track matching a valid entry is friendly: no alert,
no countermeasure. ``policy.cooperative_unlisted`` says what a Remote ID drone that is not
authorised is: ``intruder`` (the default: threat, alerts and countermeasure proposals as for a
non-cooperative drone) or ``tolerated`` (known and lower threat, never proposed). See
docs/authorisation.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import Point, Polygon

Policy = Literal["intruder", "tolerated"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthorisedEntry(_Strict):
    """One authorised drone or operator, as the site file lists it."""

    name: str = Field(min_length=1)  # who or what, and why (shown with the track)
    uas_id: str | None = Field(default=None, min_length=1)
    operator_id: str | None = Field(default=None, min_length=1)
    valid_from: dt.datetime | None = None  # ISO 8601 with a zone (Z); None: no start
    valid_to: dt.datetime | None = None
    area: Literal["any"] | list[tuple[float, float]] = "any"  # [lat, lon] vertices, or anywhere

    @model_validator(mode="after")
    def _check(self) -> AuthorisedEntry:
        if self.uas_id is None and self.operator_id is None:
            raise ValueError("an authorised entry needs uas_id, operator_id or both")
        for stamp in (self.valid_from, self.valid_to):
            if stamp is not None and stamp.utcoffset() is None:
                raise ValueError("valid_from/valid_to need a time zone (e.g. 2026-06-12T08:00Z)")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if isinstance(self.area, list):
            if len(self.area) < 3:
                raise ValueError("area: a polygon needs at least 3 [lat, lon] vertices")
            if not Polygon([(lon, lat) for lat, lon in self.area]).is_valid:
                raise ValueError("area: the polygon crosses itself")
        return self


class PolicySection(_Strict):
    """What the site makes of drones that are not on the whitelist."""

    cooperative_unlisted: Policy = "intruder"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check: authorised or not, the entry, and the reason in words."""

    authorised: bool
    entry: str | None  # the matching entry's name (also when it does not apply now or here)
    reason: str  # "authorised", "not listed", "not yet valid", "expired", "outside its area"


class Authorisations:
    """The whitelist of one site and its policy for cooperative drones not on it."""

    def __init__(
        self, entries: Sequence[AuthorisedEntry] = (), policy: Policy = "intruder"
    ) -> None:
        self.entries = tuple(entries)
        self.policy: Policy = policy
        # Plain polygons (prepared ones cannot be pickled, and a list holds few entries).
        self._areas: list[Polygon | None] = [
            None if e.area == "any" else Polygon([(lon, lat) for lat, lon in e.area])
            for e in self.entries
        ]

    def __eq__(self, other: object) -> bool:
        """Equal when the same entries and policy (scenarios built two ways compare equal)."""
        if not isinstance(other, Authorisations):
            return NotImplemented
        return (self.entries, self.policy) == (other.entries, other.policy)

    def __hash__(self) -> int:
        return hash((self.policy, tuple(e.name for e in self.entries)))

    def check(
        self, uas_id: str | None, operator_id: str | None, t_s: float, lat: float, lon: float
    ) -> Verdict:
        """Whether a drone with these identities at this UTC time and place is authorised.

        An entry matches when every identity it names equals the drone's. Any matching entry
        that is valid now and covers the position authorises; otherwise the reason is the first
        matching entry's (window before area), or "not listed" when none matches.
        """
        first: Verdict | None = None
        for entry, area in zip(self.entries, self._areas, strict=True):
            if entry.uas_id is not None and entry.uas_id != uas_id:
                continue
            if entry.operator_id is not None and entry.operator_id != operator_id:
                continue
            if entry.valid_from is not None and t_s < entry.valid_from.timestamp():
                reason = "not yet valid"
            elif entry.valid_to is not None and t_s > entry.valid_to.timestamp():
                reason = "expired"
            elif area is not None and not area.covers(Point(lon, lat)):
                reason = "outside its area"
            else:
                return Verdict(True, entry.name, "authorised")
            first = first or Verdict(False, entry.name, reason)
        return first or Verdict(False, None, "not listed")

    def describe(self) -> dict[str, object]:
        """The list and policy as plain data, for the recording's metadata."""
        return {
            "policy": {"cooperative_unlisted": self.policy},
            "authorised": [e.model_dump(mode="json", exclude_none=True) for e in self.entries],
        }
