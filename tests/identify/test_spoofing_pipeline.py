"""Remote ID spoofing through the whole pipeline (scenarios/remoteid-spoofer.yaml, cut short).

The spoofer broadcasts a position 900 m north of where the radar sees it. The claim is alerted
as a spoof within 10 s of its first broadcast, naming the radar track 900 m away; no track of
the picture stands at the claimed position; the radar track stays non-cooperative and is
alerted as an intruder. Honest Remote ID drones the radar sees (cooperative-hobby.yaml) raise
no spoof alert and keep their UAS IDs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.model.track import TrackView
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file

ROOT = Path(__file__).resolve().parents[2]
SPOOFER_UAS = "1581F5FJD229V00QZ8"


def _fly(name: str, seconds: float) -> tuple[Pipeline, list[TrackView], dict[str, float]]:
    scen = load_scenario_file(ROOT / "scenarios" / f"{name}.yaml")
    pipe = Pipeline(scen)
    heard: dict[str, float] = {}

    def hear(batch: DetectionBatch | BearingBatch, applied: bool) -> None:
        if isinstance(batch, DetectionBatch) and not batch.counts_misses:
            for uas in batch.ident:
                if uas is not None:
                    heard.setdefault(uas, batch.time_s)

    pipe.batch_observers.append(hear)
    views: list[TrackView] = []
    pipe.run(seconds, on_cycle=lambda q: views.extend(q.views))
    return pipe, views, heard


@pytest.fixture(scope="module")
def spoofer() -> tuple[Pipeline, list[TrackView], dict[str, float]]:
    return _fly("remoteid-spoofer", 75.0)


def test_the_spoof_is_alerted_within_10_s_naming_the_radar_track_900_m_away(spoofer):
    pipe, views, heard = spoofer
    raised = [ev for ev in pipe.events if ev.kind == "raised" and ev.alert.kind == "spoof"]
    assert len(raised) == 1
    alert = raised[0].alert
    assert alert.uas_id == SPOOFER_UAS and alert.zone == ""
    assert raised[0].t_s - heard[SPOOFER_UAS] <= 10.0
    radar_tracks = {v.track_id for v in views if "radar-1" in v.sensors}
    assert alert.track_id in radar_tracks
    dist = float(alert.message.split(" is ")[1].split(" m ")[0])
    assert 800.0 <= dist <= 1000.0
    assert alert in pipe.alerts.open_alerts  # the claim goes on: the alert stays open


def test_no_ghost_at_the_claimed_position_and_the_real_drone_is_an_alerted_intruder(spoofer):
    pipe, views, _ = spoofer
    assert views
    # Every track of the picture is the radar's; none carries the spoofed claim.
    assert all("radar-1" in v.sensors for v in views)
    assert all(v.uas_id is None and not v.cooperative for v in views)
    # The real drone's track (the only one) is alerted as a non-cooperative intruder.
    zone_alerts = [
        ev.alert for ev in pipe.events if ev.kind == "raised" and ev.alert.kind != "spoof"
    ]
    assert zone_alerts and all(a.track_id in {v.track_id for v in views} for a in zone_alerts)
    assert all("non-cooperative" in a.message for a in zone_alerts)
    # Its tracker row may exist, but its claim is nowhere near a track of the picture.
    tx = next(t for t in pipe.remote_id_transmitters() if t.uas_id == SPOOFER_UAS)
    assert tx.fix_enu_m is not None
    last = [v for v in views if v.t_s == views[-1].t_s]
    d = [np.hypot(v.east_m - tx.fix_enu_m[0], v.north_m - tx.fix_enu_m[1]) for v in last]
    assert min(d) > 500.0


def test_honest_remote_id_drones_the_radar_sees_raise_no_spoof_alert():
    pipe, views, heard = _fly("cooperative-hobby", 45.0)
    assert not [ev for ev in pipe.events if ev.alert.kind == "spoof"]
    assert pipe.spoofing.declared == 0
    # Their tracks keep their claims: cooperative, with their UAS IDs.
    shown = {v.uas_id for v in views if v.cooperative and v.uas_id is not None}
    assert len(shown) >= 3 and shown <= set(heard)
