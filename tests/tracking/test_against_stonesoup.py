"""Models, filters and associators against Stone Soup's, value for value (the bench extra).

State orders differ: Luchtwacht keeps [e, n, u, ve, vn, vu] (and accelerations after), Stone Soup
per axis [x, ẋ, y, ẏ, z, ż]; bearings differ too: Luchtwacht's azimuth is clockwise from north,
Stone Soup's bearing anticlockwise from the x (east) axis. Each test maps one onto the other.
"""

import datetime
import math
from typing import Any

import numpy as np
import pytest

from luchtwacht.tracking.association import GatedPairs, gate, gnn
from luchtwacht.tracking.history import rts_smooth
from luchtwacht.tracking.imm import ca_model, ct_model
from luchtwacht.tracking.jpda import likelihood_ratios, marginals
from luchtwacht.tracking.kalman import update
from luchtwacht.tracking.measurement import ekf_update
from luchtwacht.tracking.models import ncv_process_noise, ncv_transition

REASON = "stonesoup not installed (pip install stonesoup==1.9.1, the 'bench' extra)"


def _ss(module: str, *names: str) -> list[Any]:
    """Stone Soup classes by name, or skip the module's tests without Stone Soup."""
    mod = pytest.importorskip(module, reason=REASON)
    return [getattr(mod, n) for n in names]


(GNNWith2DAssignment,) = _ss("stonesoup.dataassociator.neighbour", "GNNWith2DAssignment")
(JPDA,) = _ss("stonesoup.dataassociator.probability", "JPDA")
(DistanceHypothesiser,) = _ss("stonesoup.hypothesiser.distance", "DistanceHypothesiser")
(PDAHypothesiser,) = _ss("stonesoup.hypothesiser.probability", "PDAHypothesiser")
(Mahalanobis,) = _ss("stonesoup.measures", "Mahalanobis")
(LinearGaussian,) = _ss("stonesoup.models.measurement.linear", "LinearGaussian")
(CartesianToElevationBearingRange,) = _ss(
    "stonesoup.models.measurement.nonlinear", "CartesianToElevationBearingRange"
)
CombinedLinearGaussianTransitionModel, ConstantAcceleration, ConstantVelocity, KnownTurnRate = _ss(
    "stonesoup.models.transition.linear",
    "CombinedLinearGaussianTransitionModel", "ConstantAcceleration", "ConstantVelocity",
    "KnownTurnRate",
)  # fmt: skip
(KalmanPredictor,) = _ss("stonesoup.predictor.kalman", "KalmanPredictor")
(KalmanSmoother,) = _ss("stonesoup.smoother.kalman", "KalmanSmoother")
(Detection,) = _ss("stonesoup.types.detection", "Detection")
(SingleHypothesis,) = _ss("stonesoup.types.hypothesis", "SingleHypothesis")
(GaussianStatePrediction,) = _ss("stonesoup.types.prediction", "GaussianStatePrediction")
(GaussianState,) = _ss("stonesoup.types.state", "GaussianState")
(Track,) = _ss("stonesoup.types.track", "Track")
ExtendedKalmanUpdater, KalmanUpdater = _ss(
    "stonesoup.updater.kalman", "ExtendedKalmanUpdater", "KalmanUpdater"
)
Bearing, Elevation = _ss("stonesoup.types.angle", "Bearing", "Elevation")


T0 = datetime.datetime(2026, 1, 1)
SS6 = [0, 3, 1, 4, 2, 5]  # Stone Soup index k holds Luchtwacht state SS6[k]


def to_ss(v):
    """Luchtwacht 6-state (or 6×6) in Stone Soup's per-axis order."""
    v = np.asarray(v, dtype=float)
    return v[SS6] if v.ndim == 1 else v[np.ix_(SS6, SS6)]


def test_ncv_matrices_equal_stone_soups_constant_velocity():
    dt, q = 1.7, 2.5
    ss = CombinedLinearGaussianTransitionModel([ConstantVelocity(q)] * 3)
    step = datetime.timedelta(seconds=dt)
    np.testing.assert_allclose(
        to_ss(ncv_transition(np.array([dt]))[0]), ss.matrix(time_interval=step)
    )
    np.testing.assert_allclose(
        to_ss(ncv_process_noise(np.array([dt]), q)[0]), ss.covar(time_interval=step), rtol=1e-12
    )


def test_ca_matrices_equal_stone_soups_constant_acceleration():
    dt, q = 0.8, 3.0
    f, qm = ca_model(np.array([dt]), q)
    order = [0, 3, 6, 1, 4, 7, 2, 5, 8]  # per axis: position, velocity, acceleration
    ss = CombinedLinearGaussianTransitionModel([ConstantAcceleration(q)] * 3)
    step = datetime.timedelta(seconds=dt)
    np.testing.assert_allclose(f[0][np.ix_(order, order)], ss.matrix(time_interval=step))
    np.testing.assert_allclose(
        qm[0][np.ix_(order, order)], ss.covar(time_interval=step), rtol=1e-12
    )


def test_coordinated_turn_transition_equals_stone_soups_known_turn_rate():
    # Stone Soup's KnownTurnRate takes NCV blocks for Q; Luchtwacht integrates the turn exactly
    # (checked against Van Loan in test_imm.py), so only the transitions are compared.
    dt, w = 1.5, 0.2
    f, _ = ct_model(np.array([dt]), w, 1.0)
    order = [0, 3, 1, 4]  # x, ẋ, y, ẏ
    ss = KnownTurnRate(turn_noise_diff_coeffs=np.array([1.0, 1.0]), turn_rate=w)
    np.testing.assert_allclose(
        f[0][np.ix_(order, order)],
        ss.matrix(time_interval=datetime.timedelta(seconds=dt)),
        atol=1e-12,
    )


def gaussian(rng):
    x = np.concatenate([rng.uniform(-2000, 2000, 3), rng.normal(0, 10, 3)])
    a = rng.normal(size=(6, 6))
    p = a @ a.T + np.eye(6) * 25.0
    return x, p


@pytest.mark.parametrize("seed", range(5))
def test_kalman_update_equals_stone_soups(seed):
    rng = np.random.default_rng(seed)
    x, p = gaussian(rng)
    z = x[:3] + rng.normal(0, 20, 3)
    b = rng.normal(size=(3, 3))
    r = b @ b.T + np.eye(3) * 9.0
    xu, pu = update(x[None], p[None], z[None], r[None])
    mm = LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=r)
    pred = GaussianStatePrediction(to_ss(x).reshape(6, 1), to_ss(p), timestamp=T0)
    post = KalmanUpdater(mm).update(
        SingleHypothesis(pred, Detection(z.reshape(3, 1), timestamp=T0, measurement_model=mm))
    )
    np.testing.assert_allclose(
        to_ss(xu[0]), np.asarray(post.state_vector, float).ravel(), rtol=1e-9
    )
    np.testing.assert_allclose(to_ss(pu[0]), np.asarray(post.covar, float), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_radar_ekf_equals_stone_soups_extended_kalman_filter(seed):
    rng = np.random.default_rng(seed)
    x, p = gaussian(rng)
    sensor = rng.normal(0, 50, 3)
    d = x[:3] - sensor
    az = math.atan2(d[0], d[1])
    el = math.atan2(d[2], math.hypot(d[0], d[1]))
    rng_m = float(np.linalg.norm(d))
    sig = np.array([math.radians(0.5), math.radians(0.3), 8.0])
    meas = np.array([az, el, rng_m]) + rng.normal(0, 1, 3) * sig * 0.5
    xu, pu = ekf_update(x[None], p[None], meas[None], np.diag(sig**2)[None], sensor, "radar")
    # Stone Soup measures (elevation, bearing, range) with the bearing from the x (east) axis.
    mm = CartesianToElevationBearingRange(
        ndim_state=6, mapping=(0, 2, 4), noise_covar=np.diag([sig[1] ** 2, sig[0] ** 2, sig[2] ** 2]),
        translation_offset=sensor.reshape(3, 1),
    )  # fmt: skip
    z_ss = np.array(
        [[Elevation(meas[1])], [Bearing(math.pi / 2 - meas[0])], [meas[2]]], dtype=object
    )
    pred = GaussianStatePrediction(to_ss(x).reshape(6, 1), to_ss(p), timestamp=T0)
    post = ExtendedKalmanUpdater(mm).update(
        SingleHypothesis(pred, Detection(z_ss, timestamp=T0, measurement_model=mm))
    )
    # Stone Soup takes this model's Jacobian by finite differences (Luchtwacht's is analytic):
    # agreement to a few parts in a million is what that allows.
    post_x = np.asarray(post.state_vector, float).ravel()
    np.testing.assert_allclose(to_ss(xu[0]), post_x, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(to_ss(pu[0]), np.asarray(post.covar, float), rtol=1e-4, atol=1e-4)


def scene(rng, n_t, n_d):
    xs = np.zeros((n_t, 6))
    xs[:, :3] = rng.uniform(0, 300, (n_t, 3))
    ps = np.broadcast_to(np.eye(6) * 400.0, (n_t, 6, 6)).copy()
    zs = np.concatenate(
        [xs[:, :3] + rng.normal(0, 15, (n_t, 3)), rng.uniform(0, 300, (n_d - n_t, 3))]
    )
    r = np.eye(3) * 100.0
    return xs, ps, zs, r


@pytest.mark.parametrize("seed", range(4))
def test_gnn_assignment_equals_stone_soups(seed):
    rng = np.random.default_rng(seed)
    xs, ps, zs, r = scene(rng, 4, 6)
    # Mahalanobis distance, as Stone Soup's hypothesiser: cost d² would rank differently only
    # through ln|S|, equal here (same P and R for every pair).
    pairs = gate(xs, ps, zs, np.broadcast_to(r, (6, 3, 3)).copy(), 1e9)
    ti, di = gnn(GatedPairs(pairs.track, pairs.det, pairs.d2, np.sqrt(pairs.d2)), 4, 6)
    mm = LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=r)
    tm = CombinedLinearGaussianTransitionModel([ConstantVelocity(0.0)] * 3)
    predictor = KalmanPredictor(tm)
    hyp = DistanceHypothesiser(
        predictor, KalmanUpdater(mm), measure=Mahalanobis(), missed_distance=1e6
    )
    tracks = [
        Track([GaussianState(to_ss(x).reshape(6, 1), to_ss(p), timestamp=T0)])
        for x, p in zip(xs, ps, strict=True)
    ]
    dets = [Detection(z.reshape(3, 1), timestamp=T0, measurement_model=mm) for z in zs]
    hyps = GNNWith2DAssignment(hyp).associate(set(tracks), set(dets), T0)
    ours = dict(zip(ti.tolist(), di.tolist(), strict=True))
    theirs = {tracks.index(t): dets.index(h.measurement) for t, h in hyps.items() if h.measurement}
    assert ours == theirs


def test_jpda_marginals_equal_stone_soups_exact_jpda():
    rng = np.random.default_rng(11)
    xs, ps, zs, r = scene(rng, 2, 4)
    zs[2] = (xs[0, :3] + xs[1, :3]) / 2  # a detection both tracks want
    pd, clutter = 0.9, 1e-6
    pairs = gate(xs, ps, zs, np.broadcast_to(r, (4, 3, 3)).copy(), 40.0)
    psi = likelihood_ratios(pairs, pd, clutter)
    beta, beta_miss = marginals(pairs, psi, 2, 4)
    mm = LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=r)
    tm = CombinedLinearGaussianTransitionModel([ConstantVelocity(0.0)] * 3)
    hyp = PDAHypothesiser(KalmanPredictor(tm), KalmanUpdater(mm), clutter_spatial_density=clutter,
                          prob_detect=pd, prob_gate=1.0)  # fmt: skip
    tracks = [
        Track([GaussianState(to_ss(x).reshape(6, 1), to_ss(p), timestamp=T0)])
        for x, p in zip(xs, ps, strict=True)
    ]
    dets = [Detection(z.reshape(3, 1), timestamp=T0, measurement_model=mm) for z in zs]
    gated = {(int(t), int(d)) for t, d in zip(pairs.track, pairs.det, strict=True)}
    multi = JPDA(hyp).associate(set(tracks), set(dets), T0)
    for i, track in enumerate(tracks):
        probs = {
            dets.index(h.measurement): float(h.probability) for h in multi[track] if h.measurement
        }
        miss = next(float(h.probability) for h in multi[track] if not h.measurement)
        np.testing.assert_allclose(beta_miss[i], miss, rtol=1e-6)
        for k in range(pairs.track.size):
            if pairs.track[k] == i:
                np.testing.assert_allclose(beta[k], probs[int(pairs.det[k])], rtol=1e-6)
        # Stone Soup hypothesises every detection; outside our gate its weight is negligible.
        assert all(probs[d] < 1e-6 for d in probs if (i, d) not in gated)


def test_rts_matches_stone_soup_kalman_smoother():
    # Stone Soup filters a track with irregular gaps and smooths it; the RTS smoother run on
    # the same filtered states must give its smoothed states.
    rng = np.random.default_rng(11)
    q = 2.0
    model = CombinedLinearGaussianTransitionModel([ConstantVelocity(q)] * 3)
    meas = LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=np.eye(3) * 25.0)
    predictor, updater = KalmanPredictor(model), KalmanUpdater(meas)
    t = np.cumsum(rng.choice([0.5, 1.0, 2.0], 15))
    at = [T0 + datetime.timedelta(seconds=float(s)) for s in t]
    prior = GaussianState(
        np.zeros((6, 1)), np.eye(6) * 400.0, at[0] - datetime.timedelta(seconds=1.0)
    )
    track = Track()
    for k in range(t.size):
        pred = predictor.predict(prior, timestamp=at[k])
        z = np.array([[8.0 * t[k]], [-3.0 * t[k]], [40.0]]) + rng.normal(0.0, 5.0, (3, 1))
        prior = updater.update(SingleHypothesis(pred, Detection(z, pred.timestamp, meas)))
        track.append(prior)
    inv = np.argsort(SS6)  # Luchtwacht index j holds Stone Soup state inv[j]
    x = np.array([np.asarray(s.state_vector).ravel()[inv] for s in track])
    p = np.array([s.covar[np.ix_(inv, inv)] for s in track])
    smoothed = KalmanSmoother(transition_model=model).smooth(track)
    xs, ps = rts_smooth(np.zeros(t.size, np.int64), t, x, p, q)
    for k, state in enumerate(smoothed):
        np.testing.assert_allclose(np.asarray(state.state_vector).ravel(), xs[k][SS6], atol=1e-6)
        np.testing.assert_allclose(state.covar, ps[k][np.ix_(SS6, SS6)], rtol=1e-6, atol=1e-6)
    assert not np.allclose(xs, x)  # the smoother did change the states
