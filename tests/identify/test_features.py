"""Track-history features and the classifier's motion terms, on hand-made track tables."""

from __future__ import annotations

import math

import numpy as np

from luchtwacht.identify.classify import (
    DRONE_KINDS,
    classify,
    explain,
    feature_loglik,
)
from luchtwacht.identify.features import TrackFeatures, flocking
from luchtwacht.model.detection import N_CLASSES, ObjectClass, RfEmitter
from luchtwacht.tracking.tracker import CONFIRMED, TrackTable

D, B, A = ObjectClass.DRONE, ObjectClass.BIRD, ObjectClass.AIRCRAFT


def table(ids: list[int]) -> TrackTable:
    """A table of confirmed tracks with a 1 m/s velocity error (P_vv = 1)."""
    n = len(ids)
    tt = TrackTable()
    for name in TrackTable._FIELDS:  # every column, so rows can be kept and appended
        empty = getattr(tt, name)
        setattr(tt, name, np.zeros((n, *empty.shape[1:]), dtype=empty.dtype))
    tt.x = np.zeros((n, 6))
    tt.P = np.tile(np.eye(6), (n, 1, 1))
    tt.t_s = np.zeros(n)
    tt.track_id = np.array(ids, np.int64)
    tt.hits = np.full(n, 10, np.int64)
    tt.status = np.full(n, CONFIRMED, np.int8)
    tt.score = np.full(n, 5.0)
    tt.class_ev = np.zeros((n, N_CLASSES))
    tt.ident = np.full(n, None, dtype=object)
    tt.emitter = np.full(n, None, dtype=object)
    return tt


def fly(tt: TrackTable, feats: TrackFeatures, motion, seconds: float, dt: float = 1.0):
    """Set every row's state from ``motion(t) -> (pos (n,3), vel (n,3))`` each ``dt``; features."""
    f = None
    for k in range(1, int(seconds / dt) + 1):
        t = k * dt
        pos, vel = motion(t)
        tt.x[:, :3], tt.x[:, 3:] = pos, vel
        tt.t_s = np.full(len(tt), t)
        f = feats.update(tt, t)
    assert f is not None
    return f


def test_hover_straight_and_weave_are_told_apart():
    tt, feats = table([1, 2, 3]), TrackFeatures()
    rng = np.random.default_rng(0)

    def motion(t):
        # a drone flies in for 10 s, then hovers (its velocity estimate noisy)
        hover = (
            ([500.0 - 10 * max(0.0, 10 - t), 0.0, 60.0], [10.0, 0.0, 0.0])
            if t <= 10
            else ([500.0, 0.0, 60.0], rng.normal(0, 0.3, 3))
        )
        straight = ([-2000.0 + 40.0 * t, 800.0, 150.0], [40.0, 0.0, 0.0])  # fast, straight
        w = 2 * math.pi / 8.0  # a bird swaying 6 m across its course every 8 s
        weave = ([0.0, 10.0 * t, 40.0], [6.0 * w * math.cos(w * t), 10.0, 0.0])
        pos = np.array([hover[0], straight[0], weave[0]])
        return pos, np.array([hover[1], straight[1], weave[1]])

    f = fly(tt, feats, motion, 30.0)
    hov, fast, bird = 0, 1, 2
    assert f.hover_s[hov] >= 15.0 and f.hover_s[fast] == 0.0 and f.hover_s[bird] == 0.0
    assert f.straightness[fast] > 0.99 and f.turn_deg_s[fast] < 0.5
    assert f.weave_ms[fast] < 0.5 and f.weave_ms[bird] > 3.0
    assert f.weave_sigma[bird] > 1.5  # in units of the filter's 1.4 m/s horizontal σ
    assert f.turn_deg_s[bird] > 10.0
    assert math.isclose(f.speed_mean_ms[fast], 40.0, rel_tol=1e-6)
    assert f.settled_s[fast] >= 25.0 and f.age_s[fast] >= 29.0
    cls = classify(tt, f)
    assert cls.label(hov) == "drone" and cls.kind(hov) == "multirotor"
    assert cls.label(bird) == "bird"
    # a hover is strong evidence against a bird and an aircraft, none against clutter
    hover_term = feature_loglik(tt, f)["hover"][hov]
    assert hover_term[B] < -5 and hover_term[A] < hover_term[B] and hover_term[D] == 0.0


def test_a_flock_counts_its_company_and_a_loner_has_none():
    pos = np.array([[0, 0, 50], [30, 10, 50], [60, -20, 55], [5000, 0, 50], [20, 20, 50.0]])
    vel = np.array([[10, 0, 0], [11, 1, 0], [9, -1, 0], [10, 0, 0], [-10, 0, 0.0]])
    n = flocking(pos, vel, np.ones(5, dtype=bool))
    # three fly together; the loner is far; the fifth is near but flies the other way
    assert n.tolist() == [2, 2, 2, 0, 0]
    assert flocking(pos, vel, np.array([True, False, True, True, True])).tolist() == [1, 0, 1, 0, 0]


def test_a_weaving_flock_is_birds_and_a_steady_formation_is_not():
    """Company strengthens what the motion says: flocking alone must not make a swarm birds."""
    ids = list(range(1, 13))
    tt, feats = table(ids), TrackFeatures()
    rng = np.random.default_rng(1)
    offsets = rng.uniform(-60, 60, (12, 3)) * [1, 1, 0.1]
    phase = rng.uniform(0, 2 * math.pi, 6)

    def motion(t):
        w = 2 * math.pi / 9.0
        pos = offsets + np.array([12.0 * t, 0.0, 50.0])
        pos[6:, 1] += 3000.0  # the formation flies 3 km away from the flock
        vel = np.tile([12.0, 0.0, 0.0], (12, 1))
        vel[:6, 1] += 5.0 * w * np.cos(w * t + phase)  # the flock's birds weave
        vel[6:] += rng.normal(0, 0.3, (6, 3))  # the formation holds station, noisy estimate
        return pos, vel

    f = fly(tt, feats, motion, 25.0)
    assert (f.flock_mean[:6] >= 3).all() and (f.flock_n[6:] == 5).all()
    cls = classify(tt, f)
    assert [cls.label(i) for i in range(6)] == ["bird"] * 6
    assert all(cls.label(i) != "bird" for i in range(6, 12))
    company = feature_loglik(tt, f)["company"]
    assert (company[:6, B] > 1.0).all() and (company[6:, B] == 0.0).all()
    words = explain(tt, cls, np.arange(12, dtype=np.int64), f)
    assert any("flies with" in w for w in words[0])


def test_a_long_steady_leg_flown_alone_makes_a_drone_but_not_in_a_flock_nor_weaving():
    """A lone track that holds course and speed (within the filter's noise) for a minute is no
    bird; the same flight in a flock (starlings commute on a common course) or with a sway is
    not counted. The reason names how long the course was held, not how long it was watched."""
    ids = list(range(1, 6))
    tt, feats = table(ids), TrackFeatures()
    rng = np.random.default_rng(4)
    w = 2 * math.pi / 10.0

    def motion(t):
        pos = np.array([[18.0 * t, 0.0, 70.0], [18.0 * t, 3000.0, 70.0],
                        [18.0 * t, 3040.0, 72.0], [18.0 * t, 3080.0, 68.0],
                        [18.0 * t, -3000.0, 70.0]])  # fmt: skip
        vel = np.tile([18.0, 0.0, 0.0], (5, 1)) + rng.normal(0, 0.3, (5, 3))
        vel[4, 1] += 6.0 * w * math.cos(w * t)  # a lone bird swaying 6 m across every 10 s
        return pos, vel

    f = fly(tt, feats, motion, 8.0)
    steady_then = feature_loglik(tt, f)["steady"][0, B]
    f = fly(tt, feats, lambda t: motion(t + 8.0), 60.0)
    lone, flock, bird = 0, 1, 4
    assert f.steady_s[lone] >= 55.0 and f.steady_s[bird] < 10.0
    assert (f.flock_mean[1:4] >= 1.5).all()
    steady = feature_loglik(tt, f)["steady"]
    assert steady[lone, B] < steady_then - 2.0  # each second of the long leg counted
    assert steady[flock, B] > steady[lone, B] + 2.0  # …but not in a flock
    assert steady[bird, B] > 0.0  # the swaying bird weaves
    cls = classify(tt, f)
    assert cls.label(lone) == "drone" and cls.label(bird) == "bird"
    assert cls.label(flock) != "drone"
    (words,) = explain(tt, cls, np.array([lone], dtype=np.int64), f)
    assert any(
        w.startswith("held course and speed for") and int(w.split()[-2]) >= 55 for w in words
    )


def test_features_follow_the_tracks_rows_and_forget_deleted_tracks():
    tt, feats = table([5, 9]), TrackFeatures()

    def still(t):
        return np.array([[0, 0, 50.0], [900, 0, 50.0]]), np.zeros((2, 3))

    f = fly(tt, feats, still, 10.0)
    assert f.hover_s.tolist() == [9.0, 9.0]
    tt.keep(np.array([False, True]))  # track 5 deleted; a new track 7 born
    new = table([7])
    tt.append(new)
    tt.t_s = np.array([11.0, 11.0])
    f = feats.update(tt, 11.0)
    assert f.track_id.tolist() == [9, 7] and len(feats) == 2
    assert f.hover_s[0] == 10.0 and f.hover_s[1] == 0.0 and f.settled_s[1] == 0.0


def test_an_rf_link_and_a_fast_straight_flight_make_a_fixed_wing_drone():
    tt, feats = table([1]), TrackFeatures()
    tt.emitter[0] = RfEmitter(protocol="Mavlink telemetry")

    def motion(t):
        return np.array([[-3000.0 + 45.0 * t, 0.0, 120.0]]), np.array([[45.0, 0.0, 0.0]])

    f = fly(tt, feats, motion, 12.0)
    cls = classify(tt, f)
    assert cls.label(0) == "drone" and cls.kind(0) == "fixed-wing" == DRONE_KINDS[1]
    assert feature_loglik(tt, f)["rf"][0, D] > 3.0
    # without the features only the instantaneous speed counts, and no sub-class is given
    assert classify(tt).kind(0) is None
