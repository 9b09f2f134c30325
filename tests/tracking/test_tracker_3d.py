"""The tracker's 3D configurations: IMM motion and radar plots updated in (az, el, r[, ṙ])."""

import dataclasses
import math

import numpy as np
import pytest

from luchtwacht.eval.radar3d import polar_of
from luchtwacht.geo.frames import aer_covariance_to_enu
from luchtwacht.model.detection import N_CLASSES, DetectionBatch
from luchtwacht.tracking.tracker import Tracker, TrackerConfig

SIG = np.array([math.radians(0.3), math.radians(0.3), 5.0, 0.5])


def turning_truth(n_scans, omega=0.25, speed=20.0, turn=(15, 35)):
    """A drone flying east, turning left at ``omega`` during scans ``turn``, then straight."""
    states = []
    x = np.array([-300.0, 1500.0, 120.0])
    heading = math.pi / 2  # east, azimuth convention: clockwise from north
    for k in range(n_scans):
        v = speed * np.array([math.sin(heading), math.cos(heading), 0.0])
        states.append(np.concatenate([x, v]))
        sub = 20
        for _ in range(sub):
            w = omega if turn[0] <= k < turn[1] else 0.0
            heading -= w / sub  # anticlockwise seen from above: azimuth decreases
            v = speed * np.array([math.sin(heading), math.cos(heading), 0.0])
            x = x + v / sub
    return np.array(states)


def enu_batch(k, pos, rng, sigma=5.0):
    z = (pos + rng.normal(0, sigma, 3))[None]
    return DetectionBatch(
        "radar", np.array([float(k)]), z, np.eye(3)[None] * sigma**2, np.zeros((1, N_CLASSES)),
        scan_t_s=float(k),
    )  # fmt: skip


def polar_batch(k, state, rng, doppler=False):
    m = 4 if doppler else 3
    pol = polar_of(state[None])[:, :m] + rng.normal(0, 1, (1, m)) * SIG[:m]
    az, el, r = pol[:, 0], pol[:, 1], pol[:, 2]
    z = np.column_stack([r * np.cos(el) * np.sin(az), r * np.cos(el) * np.cos(az), r * np.sin(el)])
    cov = aer_covariance_to_enu(
        np.degrees(az), np.degrees(el), r, [math.degrees(SIG[0])], [math.degrees(SIG[1])], [SIG[2]]
    )
    return DetectionBatch(
        "radar", np.array([float(k)]), z, cov, np.zeros((1, N_CLASSES)), scan_t_s=float(k),
        polar=pol, polar_cov=np.diag(SIG[:m] ** 2)[None], sensor_enu_m=np.zeros(3),
    )  # fmt: skip


def run(tracker, truth, make):
    errors: list[float] = []
    mu: list[np.ndarray] = []
    for k, state in enumerate(truth):
        tracker.process(make(k, state))
        conf = tracker.tracks.confirmed
        assert conf.sum() <= 1
        if conf.any():
            errors.append(float(np.linalg.norm(tracker.tracks.x[conf][0, :3] - state[:3])))
            if tracker.tracks.mu.shape[1]:
                mu.append(tracker.tracks.mu[conf][0])
        else:
            errors.append(np.nan)
            mu.append(np.full(3, np.nan))
    return np.array(errors), np.array(mu)


def test_imm_follows_a_turn_better_than_one_quiet_ncv_model_and_knows_it_is_turning():
    truth = turning_truth(50)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    imm_err, mu = run(
        Tracker(TrackerConfig(motion="imm")), truth, lambda k, s: enu_batch(k, s[:3], rng_a)
    )
    ncv_err, _ = run(
        Tracker(TrackerConfig(q_m2_s3=0.5)), truth, lambda k, s: enu_batch(k, s[:3], rng_b)
    )
    turn = slice(20, 35)  # a few scans into the turn, until it ends
    assert np.sqrt(np.mean(imm_err[turn] ** 2)) < 0.6 * np.sqrt(np.mean(ncv_err[turn] ** 2))
    assert np.isfinite(imm_err[2:]).all()  # one track all along, confirmed from the 2nd plot
    ncv_mode, turn_modes = mu[8:15, 0].mean(), mu[turn, 1:].sum(axis=1).mean()
    assert ncv_mode > 0.5  # straight: mostly NCV
    assert turn_modes > 0.6  # turning: CA and CT carry it


def cluttered_batch(k, state, rng, rate, side=400.0, sigma=5.0):
    """The target's plot (PD 0.95) and Poisson false alarms in a cube around it."""
    pts = [state[:3] + rng.normal(0, sigma, 3)] if rng.random() < 0.95 else []
    pts += [state[:3] + rng.uniform(-side / 2, side / 2, 3) for _ in range(rng.poisson(rate))]
    z = np.array(pts).reshape(-1, 3)
    n = len(z)
    return DetectionBatch(
        "radar", np.full(n, float(k)), z, np.broadcast_to(np.eye(3) * sigma**2, (n, 3, 3)).copy(),
        np.zeros((n, N_CLASSES)), scan_t_s=float(k),
    )  # fmt: skip


def test_imm_with_jpda_holds_a_turning_drone_in_dense_clutter():
    # Ten false alarms a scan within 200 m of a drone that turns at 0.25 rad/s: the IMM with
    # JPDA weights keeps one track through the turn, closer than one NCV model with JPDA.
    rate, side = 10.0, 400.0
    err: dict[str, list[float]] = {"imm": [], "ncv": []}
    confirmed = []
    for motion in err:
        for seed in range(3):
            rng = np.random.default_rng(seed)
            cfg = TrackerConfig(
                motion=motion, assoc="jpda", pd=0.95, clutter_density_m3=rate / side**3
            )
            tr = Tracker(cfg)
            for k, state in enumerate(turning_truth(50)):
                tr.process(cluttered_batch(k, state, rng, rate, side))
                conf = tr.tracks.confirmed
                if motion == "imm":
                    confirmed.append(int(conf.sum()))
                if 20 <= k < 35:
                    d = np.linalg.norm(tr.tracks.x[conf][:, :3] - state[:3], axis=1)
                    err[motion].append(float(d.min()) if d.size else np.inf)
    imm, ncv = np.array(err["imm"]), np.array(err["ncv"])
    assert np.isfinite(imm).all() and imm.max() < 40.0  # never lost in the turn
    assert np.sqrt(np.mean(imm**2)) < 0.8 * np.sqrt(np.mean(ncv[np.isfinite(ncv)] ** 2))
    assert np.mean(confirmed[5:]) <= 1.1  # the clutter makes (almost) no confirmed tracks


@pytest.mark.parametrize("motion", ["ncv", "imm"])
@pytest.mark.parametrize("doppler", [False, True])
def test_radar_plots_update_in_their_own_space(motion, doppler):
    # A drone 1.5 km out; 0.3° is ~8 m across the beam, 5 m in range: ~12 m per plot.
    truth = turning_truth(40, omega=0.0)
    rng = np.random.default_rng(11)
    tr = Tracker(TrackerConfig(motion=motion))
    plots: list[float] = []

    def make(k, s):
        b = polar_batch(k, s, rng, doppler)
        plots.append(float(np.linalg.norm(b.z[0] - s[:3])))
        return b

    v_err: list[float] = []
    v_radial: list[float] = []

    def make_and_watch(k, s):
        if k > 20:  # the state after the previous scan, against that scan's truth
            v = tr.tracks.x[tr.tracks.confirmed][0, 3:] - truth[k - 1, 3:]
            v_err.append(float(np.linalg.norm(v)))
            v_radial.append(float(abs(v @ truth[k - 1, :3]) / np.linalg.norm(truth[k - 1, :3])))
        return make(k, s)

    err, _ = run(tr, truth, make_and_watch)
    assert np.isfinite(err[2:]).all()
    raw = np.sqrt(np.mean(np.square(plots[10:])))
    assert 9.0 < raw < 16.0
    assert np.sqrt(np.mean(err[10:] ** 2)) < 0.7 * raw
    assert np.mean(v_err) < (3.0 if motion == "ncv" else 2.2)  # the IMM's NCV model is quieter
    if doppler:  # range rate pins the radial velocity (σ 0.5 m/s)
        assert np.mean(v_radial) < 0.6


def test_a_radar_plot_far_off_in_azimuth_is_not_taken():
    truth = turning_truth(12, omega=0.0)
    rng = np.random.default_rng(3)
    tr = Tracker(TrackerConfig(motion="imm"))
    for k, s in enumerate(truth[:10]):
        tr.process(polar_batch(k, s, rng))
    hits = int(tr.tracks.hits[0])
    far = polar_batch(10, truth[10], rng)
    pol = far.polar.copy()
    pol[0, 0] += math.radians(5.0)  # 5° off: 130 m across the beam at 1.5 km
    az, el, r = pol[:, 0], pol[:, 1], pol[:, 2]
    z = np.column_stack([r * np.cos(el) * np.sin(az), r * np.cos(el) * np.cos(az), r * np.sin(el)])
    tr.process(dataclasses.replace(far, polar=pol, z=z))
    assert int(tr.tracks.hits[0]) == hits and len(tr.tracks) == 2  # a new tentative track


def test_imm_applies_a_late_radar_batch_by_retrodiction():
    truth = turning_truth(12, omega=0.0)
    rng = np.random.default_rng(8)
    tr = Tracker(TrackerConfig(motion="imm", oosm_window_s=3.0))
    for k in range(10):
        tr.process(polar_batch(k, truth[k], rng))
    hits = int(tr.tracks.hits[0])
    late = polar_batch(8.5, (truth[8] + truth[9]) / 2, rng)
    tr.process(late)
    assert int(tr.tracks.hits[0]) == hits + 1 and len(tr.tracks) == 1
    tr.process(polar_batch(10, truth[10], rng))
    assert np.linalg.norm(tr.tracks.x[0, :3] - truth[10, :3]) < 15.0
    assert np.all(np.linalg.eigvalsh(tr.tracks.Pm[0]) > 0)


def test_motion_and_association_choices_are_checked():
    with pytest.raises(ValueError, match="motion"):
        Tracker(TrackerConfig(motion="singer"))
    with pytest.raises(ValueError, match="association"):
        Tracker(TrackerConfig(motion="imm", assoc="mht"))


def test_a_polar_batch_must_be_complete():
    def batch(polar, polar_cov=None, sensor=None):
        return DetectionBatch(
            "r", np.zeros(1), np.zeros((1, 3)), np.eye(3)[None], np.zeros((1, N_CLASSES)),
            polar=polar, polar_cov=polar_cov, sensor_enu_m=sensor,
        )  # fmt: skip

    with pytest.raises(ValueError, match="polar"):
        batch(np.zeros((1, 3)))  # no covariance nor sensor position
    with pytest.raises(ValueError, match="polar"):
        batch(np.zeros((1, 2)), np.eye(2)[None], np.zeros(3))
    assert len(batch(np.zeros((1, 4)), np.eye(4)[None], np.zeros(3))) == 1
