"""Remote ID spoofing: claims against independent tracks and radar coverage (identify.spoofing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from luchtwacht.identify.spoofing import (
    ALPHA,
    MAX_CLAIMS,
    PERSIST_S,
    Claim,
    Coverage,
    SpoofMonitor,
    SpoofResult,
    detection_probability,
    latest_claims,
    sensor_split,
)
from luchtwacht.ingest.remoteid_feed import Transmitter
from luchtwacht.model.track import ThreatLevel

RADAR = Coverage("radar", (0.0, 0.0, 10.0), 10_000.0, 1.0)
UAS = "1581F5FJD229V00QZ8"


def _cov(n: int, std_m: float = 10.0) -> np.ndarray:
    return np.tile(np.eye(3) * std_m**2, (n, 1, 1))


def _run(
    mon: SpoofMonitor,
    claim_at: tuple[float, float, float],
    pos: np.ndarray,
    ident: list[object],
    independent: list[bool],
    rid_only: list[bool],
    seconds: float,
    radars: tuple[Coverage, ...] = (RADAR,),
    step_s: float = 0.5,
) -> list[tuple[float, SpoofResult]]:
    """Cycle the monitor over ``seconds`` with a fresh claim each cycle; results by time."""
    out = []
    n = pos.shape[0]
    for t in np.arange(0.0, seconds + 1e-9, step_s):
        claims = [Claim(UAS, float(t), claim_at, 2.0, 5.0)]
        res = mon.update(
            float(t), claims, pos, _cov(n), np.arange(1, n + 1, dtype=np.int64), ident,
            np.array(independent, dtype=bool), np.array(rid_only, dtype=bool), radars,
        )  # fmt: skip
        out.append((float(t), res))
    return out


def test_detection_probability_is_half_at_the_registered_range_and_capped_near():
    pd = detection_probability(np.array([100.0, 3_000.0, 9_000.0, 10_000.0]), 10_000.0, 0.9)
    assert pd[0] == pytest.approx(0.9)
    assert pd[3] == pytest.approx(0.5, abs=1e-9)
    assert np.all(np.diff(pd) <= 0.0)


def test_a_claim_the_radar_should_see_with_no_track_there_is_declared_and_its_ghost_hidden():
    # Row 0: the real drone's radar track, 900 m south of the claim; row 1: the claim's own
    # Remote ID-only track (the ghost).
    claim = (0.0, 1_500.0, 80.0)
    pos = np.array([[0.0, 600.0, 80.0], list(claim)])
    mon = SpoofMonitor(pd_max=0.9)
    runs = _run(mon, claim, pos, [None, UAS], [True, False], [False, True], 6.0)
    for t, res in runs:
        assert res.hidden.tolist() == [False, True]  # hidden from the first cycle on
        assert not res.inconsistent.any()
        if t < PERSIST_S - 1e-6:
            assert res.findings == ()
    t_first = next(t for t, res in runs if res.findings)
    assert t_first == pytest.approx(PERSIST_S)  # PD 0.9: three looks are already enough
    f = runs[-1][1].findings[0]
    assert (f.kind, f.uas_id, f.track_id, f.level) == ("spoof", UAS, 1, ThreatLevel.HIGH)
    assert f.distance_m == pytest.approx(900.0)
    assert f.duration_s == pytest.approx(6.0)
    assert UAS in f.message and "900 m" in f.message and "track 1" in f.message
    assert mon.declared == 1


def test_a_weak_radar_needs_more_looks_before_a_claim_is_called_spoofed():
    # Near the radar's registered range its PD is ½: ln(½)·n ≤ ln(ALPHA) needs n ≥ 10 looks.
    claim = (0.0, 9_950.0, 100.0)
    pos = np.array([list(claim)])
    mon = SpoofMonitor(pd_max=0.9)
    runs = _run(mon, claim, pos, [UAS], [False], [True], 14.0)
    t_first = next(t for t, res in runs if res.findings)
    pd = float(detection_probability(np.array([9_950.0]), 10_000.0, 0.9)[0])
    assert t_first == pytest.approx(math.ceil(math.log(ALPHA) / math.log1p(-pd) * 2) / 2, abs=0.5)
    assert t_first > 8.0
    f = runs[-1][1].findings[0]
    assert math.isinf(f.distance_m) and "no independent track" in f.message


def test_an_honest_drone_the_radar_sees_where_it_claims_is_not_flagged():
    claim = (200.0, 1_000.0, 60.0)
    pos = np.array([[212.0, 990.0, 55.0]])  # the fused track (radar and Remote ID), ident on it
    mon = SpoofMonitor()
    for _, res in _run(mon, claim, pos, [UAS], [True], [False], 10.0):
        assert res.findings == () and not res.hidden.any() and not res.inconsistent.any()
    # …nor when the radar's own track has not taken the UAS ID (the tracker made two tracks):
    pos2 = np.array([[212.0, 990.0, 55.0], list(claim)])
    mon2 = SpoofMonitor()
    for _, res in _run(mon2, claim, pos2, [None, UAS], [True, False], [False, True], 10.0):
        assert res.findings == ()
    assert mon.states == {} and mon2.states == {}


def test_a_track_whose_claim_stays_far_loses_its_claim_and_is_alerted():
    claim = (0.0, 1_500.0, 80.0)
    pos = np.array([[0.0, 1_000.0, 80.0]])  # radar and once the claim: ident on it
    mon = SpoofMonitor()
    runs = _run(mon, claim, pos, [UAS], [True], [False], 5.0)
    early = [res for t, res in runs if t < PERSIST_S - 1e-6]
    assert all(not res.inconsistent.any() and res.findings == () for res in early)
    last = runs[-1][1]
    assert last.inconsistent.tolist() == [True] and not last.hidden.any()
    f = last.findings[0]
    assert f.track_id == 1 and f.distance_m == pytest.approx(500.0)
    assert "claims a position 500 m away" in f.message


def test_outside_radar_coverage_a_remote_id_only_track_stays_as_before():
    claim = (0.0, 15_000.0, 80.0)  # beyond the registered 10 km
    pos = np.array([list(claim)])
    for radars in ((RADAR,), ()):
        mon = SpoofMonitor()
        for _, res in _run(mon, claim, pos, [UAS], [False], [True], 8.0, radars=radars):
            assert res.findings == () and not res.hidden.any()


def test_a_flood_of_uas_ids_keeps_the_state_bounded_and_counts_the_rest():
    mon = SpoofMonitor()
    rng = np.random.default_rng(1)
    pos = np.empty((0, 3))
    for t in range(3):
        xyz = rng.uniform((-3e3, -3e3, 50.0), (3e3, 3e3, 300.0), (3 * MAX_CLAIMS, 3)).tolist()
        claims = [
            Claim(f"FAKE{i:06d}", float(t), (e, n, u), 2.0, 5.0) for i, (e, n, u) in enumerate(xyz)
        ]
        res = mon.update(
            float(t), claims, pos, np.empty((0, 3, 3)), np.empty(0, np.int64), [],
            np.empty(0, bool), np.empty(0, bool), (RADAR,),
        )  # fmt: skip
        assert res.hidden.shape == (0,)
        assert len(mon.states) <= MAX_CLAIMS
    assert mon.claims_refused >= 2 * MAX_CLAIMS


def test_latest_claims_takes_each_uas_ids_newest_fix_and_skips_ones_without():
    a = Transmitter("aa:aa:aa:aa:aa:01", uas_id=UAS, fix_enu_m=(1.0, 2.0, 3.0), fix_t_s=10.0)
    b = Transmitter("aa:aa:aa:aa:aa:02", uas_id=UAS, fix_enu_m=(4.0, 5.0, 6.0), fix_t_s=11.0)
    c = Transmitter("aa:aa:aa:aa:aa:03", uas_id="OTHER")  # no Location message yet
    d = Transmitter("aa:aa:aa:aa:aa:04", fix_enu_m=(0.0, 0.0, 0.0), fix_t_s=12.0)  # no UAS ID
    claims = latest_claims([a, b, c, d])
    assert [(cl.uas_id, cl.enu_m, cl.t_s) for cl in claims] == [(UAS, (4.0, 5.0, 6.0), 11.0)]


def test_sensor_split_tells_independent_from_remote_id_only_tracks():
    names = {0: (), 1: ("radar-1",), 2: ("rid-1",), 3: ("radar-1", "rid-1"), 4: ("rf-1",)}
    seen_by = np.array([1, 2, 3, 4, 0, 2], dtype=np.int64)
    ind, only = sensor_split(seen_by, names.__getitem__, {"rid-1"})
    assert ind.tolist() == [True, False, True, True, False, False]
    assert only.tolist() == [False, True, False, False, False, True]
