"""Pilot localisation figures: the true pilot, the misses of the estimates, the summary."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from luchtwacht.eval.evaluate import _stats
from luchtwacht.eval.pilots import pilot_figures, pilot_summary, true_pilot
from luchtwacht.geo import SiteOrigin
from luchtwacht.model.detection import ObjectClass
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.sim.targets import RemoteIdEquipment, RfLink, Target, WaypointPath

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
PATH = WaypointPath(((100.0, 200.0, 2.0), (500.0, 200.0, 80.0)), (10.0,))
DRONE = Target("d", ObjectClass.DRONE, 0.02, PATH)


def _view(t: float, pilot_en: tuple[float, float] | None, source: str = "x") -> TrackView:
    v = TrackView(1, t, 0, 0, 0, 0, 0, 0, 0, 0, 0, "drone", 1.0, False, None, ThreatLevel.NONE,
                  (), None, 1.0)  # fmt: skip
    if pilot_en is None:
        return v
    lat, lon, _ = ORIGIN.to_geodetic(np.array([pilot_en[0], pilot_en[1], 0.0])).tolist()
    return dataclasses.replace(v, pilot_lat_deg=lat, pilot_lon_deg=lon, pilot_source=source)


def test_the_true_pilot_is_the_controller_else_the_operator_else_the_take_off_point() -> None:
    assert true_pilot(DRONE) is None  # no link, no Remote ID: nobody to find
    home = dataclasses.replace(DRONE, rf_link=RfLink("ExpressLRS"))
    assert true_pilot(home) == pytest.approx([100.0, 200.0, 3.5])
    rid = RemoteIdEquipment("1581F5FJC11A00P2R9", "60:60:1f:aa:bb:cc", (7.0, 8.0, 1.5))
    assert true_pilot(dataclasses.replace(home, remote_id=rid)) == pytest.approx([7.0, 8.0, 1.5])
    stated = dataclasses.replace(home, rf_link=RfLink("ExpressLRS", pilot_m=(1.0, 2.0, 1.5)))
    assert true_pilot(dataclasses.replace(stated, remote_id=rid)) == pytest.approx([1, 2, 1.5])


def test_figures_are_the_first_estimate_and_the_median_miss() -> None:
    tgt = dataclasses.replace(DRONE, rf_link=RfLink("ELRS", pilot_m=(0.0, 0.0, 1.5)))
    matches = [(1.0, _view(1.0, None)), (2.0, _view(2.0, (30.0, 40.0), "remote id")),
               (3.0, _view(3.0, (0.0, 10.0))), (4.0, _view(4.0, (0.0, 20.0), "rf bearings"))]  # fmt: skip
    t, miss, source = pilot_figures(tgt, matches, ORIGIN)
    assert t == 2.0 and source == "rf bearings"
    assert miss == pytest.approx(20.0, abs=0.01)  # median of 50, 10, 20
    assert pilot_figures(DRONE, matches, ORIGIN) == (None, None, None)


def test_the_summary_counts_the_pilots_found_and_splits_out_rf() -> None:
    r = [SimpleNamespace(has_pilot=True, pilot_s=4.0, pilot_err_m=30.0, pilot_source="rf bearings (2 detectors)"),
         SimpleNamespace(has_pilot=True, pilot_s=1.0, pilot_err_m=0.5, pilot_source="remote id"),
         SimpleNamespace(has_pilot=True, pilot_s=None, pilot_err_m=None, pilot_source=None),
         SimpleNamespace(has_pilot=False, pilot_s=None, pilot_err_m=None, pilot_source=None)]  # fmt: skip
    s = pilot_summary(r, _stats)
    assert (s["pilots"], s["pilots_located"]) == (3, 2)
    assert s["pilot_err_rf_m"]["median"] == 30.0 and s["pilot_err_m"]["n"] == 2
    assert s["time_to_pilot_s"]["of"] == 3
    assert pilot_summary(r[3:], _stats) == {}
