"""The effector catalogue: what each countermeasure on site is, where it stands and what it can do.

Five generic classes, least force first (:data:`FORCE_ORDER`): an **RF jammer** denies a drone's
control/video link on the bands it covers (the drone then flies its link-loss failsafe); a
**GNSS jammer** denies satellite navigation within its range (the drone flies its GNSS failsafe,
and so does everything else there that navigates by GNSS — manned aircraft included); a **net
launcher** fires a net with a parachute at short range; an **interceptor** drone is launched,
flies to the target and nets it; a **hard kill** effector (generic: gun, laser, missile) disables
the drone, which falls. Each is a SAPIENT edge node (BSI Flex 335 v2.0 node types JAMMER and
KINETIC) tasked by the fusion node; the catalogue keeps what SAPIENT does not carry: bands,
speeds, magazine, probability of effect.

The figures a site gives are its own equipment's; :data:`DEFAULTS` are plausible generic values,
not any product's datasheet.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The value types live in ``model`` (stages share them); re-exported with the catalogue.
from luchtwacht.model.engagement import FORCE_ORDER as FORCE_ORDER
from luchtwacht.model.engagement import JAMMERS as JAMMERS
from luchtwacht.model.engagement import EffectorKind as EffectorKind
from luchtwacht.model.engagement import EffectorSpec as EffectorSpec

SAPIENT_NODE_TYPE: dict[EffectorKind, str] = {
    "rf_jammer": "NODE_TYPE_JAMMER",
    "gnss_jammer": "NODE_TYPE_JAMMER",
    "net": "NODE_TYPE_KINETIC",
    "interceptor": "NODE_TYPE_KINETIC",
    "hard_kill": "NODE_TYPE_KINETIC",
}
ENGAGE_MODE = "Engage"  # the SAPIENT mode an effector engages in
STANDBY_MODE = "Standby"  # …and the one it holds otherwise
ISM_BANDS_MHZ: tuple[tuple[float, float], ...] = ((2400.0, 2483.5), (5725.0, 5850.0))


DEFAULTS: dict[EffectorKind, dict[str, object]] = {
    "rf_jammer": {
        "max_range_m": 1500.0,
        "ready_s": 2.0,
        "beamwidth_deg": 60.0,
        "bands_mhz": ISM_BANDS_MHZ,
    },
    "gnss_jammer": {"max_range_m": 1000.0, "ready_s": 2.0},
    "net": {
        "max_range_m": 300.0,
        "min_range_m": 20.0,
        "ready_s": 3.0,
        "speed_ms": 40.0,
        "p_effect": 0.6,
        "shots": 4,
    },
    "interceptor": {
        "max_range_m": 3000.0,
        "ready_s": 10.0,
        "speed_ms": 30.0,
        "p_effect": 0.7,
        "shots": 2,
    },
    "hard_kill": {
        "max_range_m": 1200.0,
        "min_range_m": 50.0,
        "ready_s": 2.0,
        "speed_ms": 800.0,
        "p_effect": 0.5,
        "shots": 20,
    },
}


class EffectorFigures(BaseModel):
    """An effector as a file gives it (scenario or site): kind, node id and any figures.

    Unset figures keep the kind's :data:`DEFAULTS`. Where it stands is the including
    section's business (ENU in a scenario, WGS84 in a site file).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    node_id: UUID
    kind: EffectorKind
    max_range_m: float | None = Field(default=None, gt=0)
    min_range_m: float | None = Field(default=None, ge=0)
    ready_s: float | None = Field(default=None, ge=0)
    speed_ms: float | None = Field(default=None, gt=0)
    p_effect: float | None = Field(default=None, gt=0, le=1)
    shots: int | None = Field(default=None, ge=0)
    beamwidth_deg: float | None = Field(default=None, gt=0, le=360)
    bands_mhz: list[tuple[float, float]] | None = None
    eirp_dbm: float | None = Field(default=None, allow_inf_nan=False)

    @field_validator("bands_mhz")
    @classmethod
    def _bands(cls, v: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        for lo, hi in v or []:
            if not 0 < lo < hi:
                raise ValueError("each band is [low, high] MHz with 0 < low < high")
        return v

    def build(self, enu_m: tuple[float, float, float]) -> EffectorSpec:
        """The catalogue entry of this effector standing at ``enu_m``."""
        fields: dict[str, Any] = dict(DEFAULTS[self.kind])
        given = self.model_dump(
            include=set(EffectorFigures.model_fields) - {"name", "node_id", "kind"},
            exclude_none=True,
        )
        if "bands_mhz" in given:
            given["bands_mhz"] = tuple(tuple(b) for b in given["bands_mhz"])
        fields.update(given)
        return EffectorSpec(
            name=self.name, node_id=str(self.node_id), kind=self.kind, enu_m=enu_m, **fields
        )
