import dataclasses
from collections import deque

import numpy as np
import pytest

from luchtwacht.model.detection import N_CLASSES, DetectionBatch
from luchtwacht.tracking.association import gate, gnn
from luchtwacht.tracking.tracker import CONFIRMED, Tracker, TrackerConfig

SIGMA = 5.0


def batch(t, pts, sensor="radar", ident=(), counts_misses=True):
    pts = np.asarray(pts, dtype=float).reshape(-1, 3)
    n = pts.shape[0]
    return DetectionBatch(
        sensor_id=sensor,
        t_s=np.full(n, float(t)),
        z=pts,
        R=np.broadcast_to(np.eye(3) * SIGMA**2, (n, 3, 3)).copy(),
        class_loglik=np.zeros((n, N_CLASSES)),
        ident=ident,
        counts_misses=counts_misses,
        scan_t_s=float(t),
    )


def truth(t, start, vel):
    return np.asarray(start, float) + np.asarray(vel, float) * t


def test_gnn_prefers_the_globally_cheapest_assignment():
    # Track 0 sits between both detections; track 1 only fits detection 1: the global optimum
    # gives track 0 detection 0 even though detection 1 is its nearest.
    x = np.zeros((2, 6))
    x[0, :3] = [0, 0, 0]
    x[1, :3] = [12, 0, 0]
    p = np.broadcast_to(np.eye(6) * 25.0, (2, 6, 6)).copy()
    z = np.array([[-9.0, 0, 0], [8.0, 0, 0]])
    r = np.broadcast_to(np.eye(3) * 25.0, (2, 3, 3)).copy()
    pairs = gate(x, p, z, r, gate_d2=16.27)
    ti, di = gnn(pairs, 2, 2)
    assert dict(zip(ti.tolist(), di.tolist(), strict=True)) == {0: 0, 1: 1}


def test_gate_excludes_far_detections():
    x = np.zeros((1, 6))
    p = np.eye(6)[None] * 25.0
    z = np.array([[500.0, 0, 0], [3.0, 4.0, 0]])
    r = np.broadcast_to(np.eye(3) * 25.0, (2, 3, 3)).copy()
    pairs = gate(x, p, z, r, gate_d2=16.27)
    assert pairs.det.tolist() == [1]


def test_crossing_targets_keep_their_tracks():
    rng = np.random.default_rng(5)
    tr = Tracker()
    a0, av = (-300.0, -300.0, 100.0), (10.0, 10.0, 0.0)
    b0, bv = (300.0, -300.0, 100.0), (-10.0, 10.0, 0.0)
    ids_at_end = {}
    for k in range(61):
        pts = [
            truth(k, a0, av) + rng.normal(0, SIGMA, 3),
            truth(k, b0, bv) + rng.normal(0, SIGMA, 3),
        ]
        tr.process(batch(k, pts))
        if k == 10:
            conf = tr.tracks.confirmed
            assert conf.sum() == 2
            start = {int(i): tr.tracks.x[j, 0] for j, i in enumerate(tr.tracks.track_id) if conf[j]}
    conf = tr.tracks.confirmed
    for j, i in enumerate(tr.tracks.track_id):
        if conf[j]:
            ids_at_end[int(i)] = tr.tracks.x[j, 0]
    assert set(ids_at_end) == set(start)  # no new tracks, no lost ones
    for i, x0 in start.items():
        # the track that started on the left (A) ends on the right, and vice versa
        assert np.sign(ids_at_end[i]) == -np.sign(x0)


def test_confirmation_after_m_of_n_and_velocity_from_two_points():
    tr = Tracker(TrackerConfig(confirm_m=3, confirm_n=4))
    for k, expect in enumerate([0, 0, 1]):
        tr.process(batch(k, [truth(k, (0, 0, 50), (20, 0, 0))]))
        assert int(tr.tracks.confirmed.sum()) == expect
        if k == 1:
            np.testing.assert_allclose(tr.tracks.x[0, 3:], [20, 0, 0], atol=1e-6)


def confirmed_track(pd=float("nan"), coast_s=5.0):
    tr = Tracker(TrackerConfig(coast_s=coast_s))
    for k in range(6):
        tr.process(dataclasses.replace(batch(k, [truth(k, (0, 0, 50), (5, 0, 0))]), pd=pd))
    assert tr.tracks.status[0] == CONFIRMED
    return tr, int(tr.tracks.track_id[0])


def test_a_confirmed_track_missed_twice_is_held_then_dropped():
    # PD 0.9 and a 60 s mean life: a track hit every scan sits near ln(60) = 4.1 in log-odds
    # after the decay; each miss costs ln(0.1) = -2.3. One miss leaves it reported (r = 0.86),
    # two hold it unreported (r = 0.35), four take it below 1 % and delete it.
    tr, tid = confirmed_track()
    reported = []
    for k in (6, 7, 8):
        tr.process(batch(k, np.empty((0, 3))))
        assert tid in tr.tracks.track_id
        reported.append(bool(tr.tracks.confirmed[0]))
    assert reported == [True, False, False]
    assert 0.03 < tr.tracks.existence[0] < 0.07  # expit(-2.96) after the third miss
    tr.process(batch(9, np.empty((0, 3))))
    assert tid not in tr.tracks.track_id
    assert tid in tr.deleted_ids


@pytest.mark.parametrize(("clutter_m3", "confirmed_at"), [(1e-10, 1), (1e-7, 2), (1e-5, 5)])
def test_confirmation_waits_for_more_plots_where_clutter_is_dense(clutter_m3, confirmed_at):
    # Two plots fix a velocity; whether that is evidence enough depends on how likely a false
    # alarm is to fall where the second plot fell (SPRT on the existence log-odds).
    tr = Tracker()
    for k in range(6):
        b = batch(k, [truth(k, (0, 0, 50), (12, 0, 0))])
        tr.process(dataclasses.replace(b, clutter_density_m3=clutter_m3))
        if bool(tr.tracks.confirmed.any()):
            break
    assert k == confirmed_at


def test_a_held_track_is_reported_again_under_its_id_when_hit():
    tr, tid = confirmed_track()
    for k in (6, 7):
        tr.process(batch(k, np.empty((0, 3))))
    assert not tr.tracks.confirmed[0]
    tr.process(batch(8, [truth(8, (0, 0, 50), (5, 0, 0))]))
    assert tr.tracks.confirmed[0] and int(tr.tracks.track_id[0]) == tid
    assert tr.tracks.existence[0] > 0.99


def test_existence_decays_with_time_not_with_the_number_of_batches():
    # Ten batches 0.1 s apart decay existence as much as one batch 1 s later.
    a, _ = confirmed_track()
    b, _ = confirmed_track()
    for j in range(1, 11):
        a.process(dataclasses.replace(batch(5 + j / 10, np.empty((0, 3))), counts_misses=False))
    b.process(dataclasses.replace(batch(6, np.empty((0, 3))), counts_misses=False))
    np.testing.assert_allclose(a.tracks.score, b.tracks.score, rtol=1e-9)
    assert b.tracks.score[0] < confirmed_track()[0].tracks.score[0]


def test_a_sensor_that_often_misses_lets_tracks_coast_longer():
    # PD 0.5: a miss costs only ln(0.5) = -0.69. The track is still reported after four misses
    # and deleted at the twelfth (the coast time is set long here so that it does not decide).
    tr, tid = confirmed_track(pd=0.5, coast_s=30.0)
    for k in range(6, 17):
        tr.process(dataclasses.replace(batch(k, np.empty((0, 3))), pd=0.5))
        assert tid in tr.tracks.track_id
        assert bool(tr.tracks.confirmed[0]) == (k < 10)
    tr.process(dataclasses.replace(batch(17, np.empty((0, 3))), pd=0.5))
    assert tid not in tr.tracks.track_id


def test_a_silent_sensor_lets_tracks_coast_then_drop():
    # No batches at all (the sensor stopped reporting): the coast time decides.
    tr, tid = confirmed_track()
    tr.maintain(5.0 + 4.9)
    assert tid in tr.tracks.track_id
    tr.maintain(5.0 + 5.1)
    assert tid not in tr.tracks.track_id


def test_single_clutter_plots_never_confirm():
    rng = np.random.default_rng(9)
    tr = Tracker()
    for k in range(30):
        tr.process(batch(k, rng.uniform(-5000, 5000, (5, 3))))
    assert tr.tracks.confirmed.sum() == 0


def test_cooperative_identity_sticks_to_the_fused_track():
    tr = Tracker()
    for k in range(5):
        p = truth(k, (100, 100, 60), (3, 0, 0))
        tr.process(batch(k, [p]))
        tr.process(
            batch(
                k + 0.5,
                [p + np.array([1.5, 0, 0])],
                sensor="rid",
                ident=("SERIAL123",),
                counts_misses=False,
            )
        )
    assert len(tr.tracks) == 1
    assert tr.tracks.ident[0] == "SERIAL123"


def test_a_sensor_claiming_perfect_detection_drops_tracks_on_the_second_miss():
    # PD 1.0 is trusted to 99 %: one miss costs ln(0.01) = -4.6 (kept), two cost -9.2 (dropped).
    # (From the 4.1 the 60 s mean life leaves: -0.5 after one miss, -5.1 < ln(1/99) after two.)
    tr, tid = confirmed_track(pd=1.0)
    tr.process(dataclasses.replace(batch(6, np.empty((0, 3))), pd=1.0))
    assert tid in tr.tracks.track_id
    tr.process(dataclasses.replace(batch(7, np.empty((0, 3))), pd=1.0))
    assert tid not in tr.tracks.track_id


def test_a_sensor_looking_elsewhere_does_not_charge_misses():
    # Radar A sees a drone every scan; radars B and C report targets far away in the same scans.
    tr = Tracker()
    for k in range(12):
        tr.process(batch(k, [truth(k, (0, 0, 80), (8, 0, 0))], sensor="A"))
        tr.process(batch(k + 0.1, [truth(k, (20_000, 0, 80), (-8, 0, 0))], sensor="B"))
        tr.process(batch(k + 0.2, [truth(k, (0, 20_000, 80), (0, -8, 0))], sensor="C"))
    assert int(tr.tracks.confirmed.sum()) == 3
    assert tr.deleted_ids == deque()


def test_misses_from_the_sensor_that_saw_the_track_still_count():
    tr = Tracker()
    for k in range(6):
        tr.process(batch(k, [truth(k, (0, 0, 80), (8, 0, 0))], sensor="A"))
    for k in range(6, 10):  # B keeps reporting elsewhere, A reports nothing: A's misses drop it
        tr.process(batch(k + 0.1, [truth(k, (20_000, 0, 80), (-8, 0, 0))], sensor="B"))
        tr.process(batch(k, np.empty((0, 3)), sensor="A"))
    assert not (tr.tracks.z0[:, 0] < 1000).any()


def test_a_late_measurement_within_the_window_is_applied_by_retrodiction():
    rng = np.random.default_rng(2)
    tr = Tracker(TrackerConfig(oosm_window_s=3.0))
    for k in range(8):
        tr.process(batch(k, [truth(k, (0, 0, 50), (10, 0, 0)) + rng.normal(0, SIGMA, 3)]))
    hits = int(tr.tracks.hits[0])
    tr.process(batch(6.5, [truth(6.5, (0, 0, 50), (10, 0, 0))]))  # arrives after scan 7
    assert int(tr.tracks.hits[0]) == hits + 1 and len(tr.tracks) == 1
    tr.process(batch(8, [truth(8, (0, 0, 50), (10, 0, 0)) + rng.normal(0, SIGMA, 3)]))
    assert np.linalg.norm(tr.tracks.x[0, :3] - truth(8, (0, 0, 50), (10, 0, 0))) < 3 * SIGMA
    tr.process(batch(2.0, [truth(2, (0, 0, 50), (10, 0, 0))]))  # 6 s late: beyond the window
    assert tr.late_rejected == 1 and int(tr.tracks.hits[0]) == hits + 2


def test_a_swarm_of_fifty_drones_in_formation_is_held():
    # 30 m spacing, 5 m noise, 95 % detection. With a 40 m/s velocity prior the second plot of a
    # new track can be a neighbour's: now and then a track starts with a wrong velocity, strays
    # for a scan or two and is replaced. The swarm stays covered; strays stay rare.
    rng = np.random.default_rng(50)
    grid = np.array([(30.0 * i, 30.0 * j, 100.0) for i in range(10) for j in range(5)])
    vel = np.array([12.0, 5.0, 0.0])
    tr = Tracker()
    covered, strays = [], 0
    for k in range(40):
        truth_k = grid + vel * k
        pts = truth_k + rng.normal(0, SIGMA, grid.shape)
        keep = rng.random(len(pts)) < 0.95
        tr.process(batch(k, pts[keep]))
        if k >= 8:
            conf = tr.tracks.confirmed
            d = np.linalg.norm(tr.tracks.x[conf, None, :3] - truth_k[None], axis=2)
            strays += int((d.min(axis=1) > 25.0).sum())
            covered.append(int((d.min(axis=0) < 25.0).sum()))
    assert min(covered) >= 48 and covered[-1] == 50
    assert strays <= 4
    assert tr._next_id - 1 <= 53  # 50 drones and at most three re-initiations


def test_same_instant_plots_of_two_sensors_make_no_wild_velocity():
    tr = Tracker()
    tr.process(batch(0.0, [(0.0, 0.0, 50.0)], sensor="A"))
    tr.process(batch(0.0, [(3.0, 2.0, 50.0)], sensor="B"))
    assert len(tr.tracks) == 1
    assert np.linalg.norm(tr.tracks.x[0, 3:]) < 5.0  # no 3000 m/s from a 1 ms time base


def test_plots_of_one_sweep_are_applied_at_their_own_times():
    # A 20 m/s target plotted early in a batch whose latest plot is 0.9 s later elsewhere.
    tr = Tracker()
    for k in range(10):
        early = truth(k, (0, 0, 50), (20, 0, 0))
        other = truth(k + 0.9, (5000, 0, 50), (0, 10, 0))
        b = DetectionBatch(
            "r", np.array([float(k), k + 0.9]), np.array([early, other]),
            np.broadcast_to(np.eye(3) * 25.0, (2, 3, 3)).copy(), np.zeros((2, N_CLASSES)),
        )  # fmt: skip
        tr.process(b)
    row = int(np.argmin(np.abs(tr.tracks.x[:, 0] - 200)))
    # the state is kept at the batch time (9.9 s): the target is then at 198 m, not 180 m
    assert tr.tracks.x[row, 0] == pytest.approx(198.0, abs=6.0)


def test_a_late_hit_does_not_move_the_last_hit_time_backwards():
    tr, _ = confirmed_track()
    tr.process(batch(5.5, [truth(5.5, (0, 0, 50), (5, 0, 0))]))  # newest hit at 5.5
    tr.process(batch(3.0, [truth(3.0, (0, 0, 50), (5, 0, 0))]))  # a late plot of the same target
    assert tr.tracks.last_hit_t_s[0] == 5.5


@pytest.mark.parametrize(("sensor", "both_move"), [("plain", False), ("cluttered", True)])
def test_association_is_chosen_per_sensor(sensor, both_move):
    # Two parallel tracks 20 m apart, then one plot between them. GNN gives it to one track;
    # JPDA (chosen for the "cluttered" sensor only) shares it between both.
    cfg = TrackerConfig(assoc_by_sensor=(("cluttered", "jpda"),))
    tr = Tracker(cfg)
    for k in range(8):
        pts = [truth(k, (0, 0, 50), (10, 0, 0)), truth(k, (0, 20, 50), (10, 0, 0))]
        tr.process(batch(k, pts, sensor=sensor))
    assert int(tr.tracks.confirmed.sum()) == 2
    before = tr.predicted(8.0)[0][:, 1].copy()
    tr.process(batch(8, [truth(8, (0, 10, 50), (10, 0, 0))], sensor=sensor))
    moved = np.abs(tr.tracks.x[:, 1] - before) > 0.5
    assert int(moved.sum()) == (2 if both_move else 1)


def test_an_unknown_association_is_refused():
    with pytest.raises(ValueError, match="unknown association"):
        Tracker(TrackerConfig(assoc_by_sensor=(("x", "mht"),)))


def test_a_late_batch_does_not_decay_existence_twice():
    a, _ = confirmed_track()
    b, _ = confirmed_track()
    quiet = dict(counts_misses=False)
    a.process(dataclasses.replace(batch(4.5, np.empty((0, 3))), **quiet))  # late, then on time
    a.process(dataclasses.replace(batch(6.0, np.empty((0, 3))), **quiet))
    b.process(dataclasses.replace(batch(6.0, np.empty((0, 3))), **quiet))
    np.testing.assert_allclose(a.tracks.score, b.tracks.score, rtol=1e-12)


def test_two_point_velocity_is_carried_from_the_plot_time_to_the_track_time():
    # A 50 m/s target: its second plot is stamped 0.2 s before the batch's newest plot.
    tr = Tracker()
    tr.process(batch(0.0, [(0.0, 0.0, 50.0)]))
    b = batch(1.0, [(40.0, 0.0, 50.0), (3000.0, 3000.0, 50.0)])
    b = dataclasses.replace(b, t_s=np.array([0.8, 1.0]))
    tr.process(b)
    row = int(np.flatnonzero(tr.tracks.hits == 2)[0])
    assert tr.tracks.t_s[row] == 1.0
    np.testing.assert_allclose(tr.tracks.x[row, 3], 50.0, rtol=1e-9)
    np.testing.assert_allclose(tr.tracks.x[row, 0], 50.0, atol=1e-9)  # at 1.0 s, not 40 m


def test_a_released_sensor_frees_its_bit_so_the_hundredth_connection_still_charges_misses():
    """A live node names each connection's sensor anew: 100 connections over its life must not
    leave the 100th without a seen_by bit (it would charge no misses, and tracks never drop)."""
    tracker = Tracker(TrackerConfig())
    for k in range(100):
        sensor = f"sapient-{k}"
        tracker.process(batch(float(k), [[100.0 * k, 0.0, 50.0]], sensor=sensor))
        assert tracker._sensor_bit(sensor) != 0
        tracker.release_sensor(sensor)
    assert len(tracker._bits) == 0
    # Every released sensor's bit left the tracks it saw.
    assert len(tracker.tracks) > 0 and (tracker.tracks.seen_by == 0).all()
    live = "sapient-live"
    for t in range(3):
        tracker.process(batch(200.0 + t, [[0.0, 5000.0, 50.0]], sensor=live))
    bit = tracker._sensor_bit(live)
    assert bit != 0 and (tracker.tracks.seen_by & bit).any()
    tracker.release_sensor(live)
    assert not (tracker.tracks.seen_by & bit).any()
    assert tracker.sensor_names(bit) == ()
