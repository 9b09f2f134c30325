import numpy as np
import pytest
from scipy.stats import chi2

from luchtwacht.tracking.measurement import measure
from luchtwacht.tracking.triangulation import (
    Rejection,
    TriangulationConfig,
    pair_bearings,
    triangulate,
    triangulate_one,
)

SENSORS = np.array([[0.0, 0.0, 2.0], [1000.0, 0.0, 5.0], [400.0, 900.0, 10.0]])


def _bearings(target: np.ndarray, sensors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless azimuth and elevation (K, M) of targets (K, 3) seen from sensors (M, 3)."""
    x = np.zeros((*target.shape[:-1], sensors.shape[0], 6))
    x[..., :3] = target[..., None, :]
    z = measure(x, sensors, "azimuth_elevation")
    return z[..., 0], z[..., 1]


def _rotation_to_principal(c: np.ndarray) -> np.ndarray:
    return np.linalg.eigh(c)[1]


def test_noiseless_rays_intersect_exactly_in_3d_for_many_targets():
    rng = np.random.default_rng(0)
    targets = rng.uniform([-3000, 1500, 30], [3000, 4000, 400], (500, 3))
    az, el = _bearings(targets, SENSORS)
    res = triangulate(SENSORS, az, 0.005, el, 0.005)
    assert res.ok.all()
    np.testing.assert_allclose(res.position, targets, atol=1e-6)
    np.testing.assert_allclose(res.chi2, 0.0, atol=1e-12)
    assert (res.dof == 3).all()  # 6 angles − 3 unknowns


def test_noiseless_azimuth_only_pair_recovers_horizontal_position_and_uses_height_prior():
    target = np.array([700.0, 1800.0, 120.0])
    az, _ = _bearings(target[None], SENSORS[:2])
    cfg = TriangulationConfig(up_prior_m=80.0, up_prior_std_m=150.0)
    pos, cov, verdict = triangulate_one(SENSORS[:2], az[0], 0.01, config=cfg)
    assert verdict is Rejection.ACCEPTED
    np.testing.assert_allclose(pos[:2], target[:2], atol=1e-6)
    assert pos[2] == pytest.approx(80.0)
    assert cov[2, 2] == pytest.approx(150.0**2)
    np.testing.assert_allclose(cov[:2, 2], 0.0, atol=1e-9)


def test_azimuth_only_covariance_is_stansfield_closed_form():
    # Stansfield (1947): P⁻¹ = Σ nᵢnᵢᵀ / (ρᵢ² σᵢ²), nᵢ = (cos az, −sin az).
    target = np.array([300.0, 2500.0, 0.0])
    az, _ = _bearings(target[None], SENSORS[:2])
    sig = np.array([0.01, 0.02])
    res = triangulate(SENSORS[:2], az, sig)
    rho = np.linalg.norm((target - SENSORS[:2])[:, :2], axis=1)
    n = np.stack([np.cos(az[0]), -np.sin(az[0])], axis=1)
    info = np.einsum("m,mi,mj->ij", 1 / (rho**2 * sig**2), n, n)
    np.testing.assert_allclose(res.covariance[0, :2, :2], np.linalg.inv(info), rtol=1e-6)


def _check_against_monte_carlo(cov: np.ndarray, samples: np.ndarray, truth: np.ndarray) -> None:
    scatter = np.cov((samples - truth).T)
    # Compare in the principal frame of the predicted covariance: variances along each
    # axis within 10 %, and the off-diagonal correlation within 0.1.
    v = _rotation_to_principal(cov)
    pred = v.T @ cov @ v
    got = v.T @ scatter @ v
    np.testing.assert_allclose(np.diag(got), np.diag(pred), rtol=0.10)
    d = np.sqrt(np.diag(got))
    corr = got / np.outer(d, d)
    assert np.abs(corr - np.eye(len(d))).max() < 0.1
    assert np.abs((samples - truth).mean(axis=0) / np.sqrt(np.diag(cov))).max() < 0.1


def test_azimuth_only_covariance_matches_monte_carlo_scatter():
    rng = np.random.default_rng(1)
    target = np.array([600.0, 2000.0, 50.0])
    az, _ = _bearings(target[None], SENSORS[:2])
    sig = np.radians(0.5)
    trials = 20000
    noisy = az + rng.normal(0.0, sig, (trials, 2))
    res = triangulate(SENSORS[:2], noisy, sig)
    assert res.ok.all()
    predicted = triangulate(SENSORS[:2], az, sig).covariance[0, :2, :2]
    _check_against_monte_carlo(predicted, res.position[:, :2], target[:2])


def test_3d_covariance_matches_monte_carlo_scatter():
    rng = np.random.default_rng(2)
    target = np.array([-500.0, 2200.0, 250.0])
    az, el = _bearings(target[None], SENSORS)
    sig_az, sig_el = np.radians(0.4), np.radians(0.6)
    trials = 20000
    res = triangulate(
        SENSORS,
        az + rng.normal(0.0, sig_az, (trials, 3)),
        sig_az,
        el + rng.normal(0.0, sig_el, (trials, 3)),
        sig_el,
    )
    assert res.ok.mean() > 0.99  # the χ² gate at 0.997 drops ~0.3 %
    predicted = triangulate(SENSORS, az, sig_az, el, sig_el).covariance[0]
    _check_against_monte_carlo(predicted, res.position, target)
    # χ² of the residuals follows its 3 degrees of freedom.
    assert res.chi2.mean() == pytest.approx(3.0, rel=0.05)


def test_target_seen_by_two_bearing_only_sensors_is_localised_within_expected_error():
    rng = np.random.default_rng(3)
    target = np.array([1500.0, 3000.0, 80.0])
    az, _ = _bearings(target[None], SENSORS[:2])
    sig = np.radians(1.0)  # a typical RF direction finder
    trials = 5000
    res = triangulate(SENSORS[:2], az + rng.normal(0.0, sig, (trials, 2)), sig)
    assert res.ok.all()
    err = res.position[:, :2] - target[:2]
    d2 = np.einsum("ki,kij,kj->k", err, np.linalg.inv(res.covariance[:, :2, :2]), err)
    inside = (d2 < chi2.ppf(0.95, 2)).mean()
    assert 0.93 < inside < 0.97
    # Expected error: 1° at ~3.3 km is ~58 m across each ray; the rays cross at only 21.7°, so
    # the fix stretches along the bisector to a predicted RMS of ~270 m. Monte Carlo agrees.
    predicted_rms = np.sqrt(np.trace(triangulate(SENSORS[:2], az, sig).covariance[0, :2, :2]))
    assert np.sqrt((err**2).sum(axis=1).mean()) < 1.1 * predicted_rms


def test_near_parallel_rays_are_rejected_with_a_reason():
    # Targets on and near the extension of the baseline, and one well off it.
    s = SENSORS[:2]
    targets = np.array([[5000.0, 0.0, 50], [5000.0, 180.0, 50], [5000.0, 2500.0, 50]])
    az, _ = _bearings(targets, s)
    res = triangulate(s, az, 0.01)
    # atan(180/4000) − atan(180/5000) = 0.515°; atan(2500/4000) − atan(2500/5000) = 5.44°.
    assert np.degrees(res.crossing_rad) == pytest.approx([0.0, 0.515, 5.44], abs=0.01)
    assert list(res.reason) == [
        Rejection.NEAR_PARALLEL,
        Rejection.NEAR_PARALLEL,
        Rejection.ACCEPTED,
    ]
    assert "parallel" in res.reason_text(0)
    loose = triangulate(s, az, 0.01, config=TriangulationConfig(min_crossing_deg=0.4))
    assert loose.reason[1] == Rejection.ACCEPTED
    np.testing.assert_allclose(loose.position[1, :2], targets[1, :2], atol=1e-6)
    # The ill-conditioning the threshold guards against: along-ray σ grows as 1/sin(crossing).
    sd_along = np.sqrt(np.linalg.eigvalsh(loose.covariance[:, :2, :2])[:, 1])
    assert sd_along[1] > 8 * sd_along[2]


def test_behind_sensor_out_of_range_and_inconsistent_heights():
    s = SENSORS[:2]
    # Rays pointing away from each other cross behind the sensors.
    behind = triangulate(s, np.radians([-45.0, 45.0]), 0.01)
    assert behind.reason[0] == Rejection.BEHIND_SENSOR
    # In front but beyond a 2 km range limit.
    far = np.array([[500.0, 4000.0, 60.0]])
    az, el = _bearings(far, s)
    cfg = TriangulationConfig(max_range_m=2000.0)
    assert triangulate(s, az, 0.01, config=cfg).reason[0] == Rejection.OUT_OF_RANGE
    # Elevations implying heights 100 m apart at 4 km with σ_el = 2 mrad (σ_h ≈ 8 m).
    el_bad = el + np.array([[0.0, 100.0 / 4000.0]])
    res = triangulate(s, az, 0.002, el_bad, 0.002)
    assert res.reason[0] == Rejection.INCONSISTENT and res.dof[0] == 1
    assert triangulate(s, az, 0.002, el, 0.002).reason[0] == Rejection.ACCEPTED


def test_pairing_keeps_true_pairs_with_consistent_heights():
    rng = np.random.default_rng(4)
    s_a, s_b = SENSORS[0], SENSORS[1]
    targets = np.array([[-800.0, 2500.0, 40.0], [400.0, 1800.0, 200.0], [1600.0, 2800.0, 450.0]])
    sig = np.radians(0.3)
    az_a, el_a = _bearings(targets, s_a[None])
    az_b, el_b = _bearings(targets, s_b[None])
    order_b = np.array([2, 0, 1])  # sensor b reports in another order
    pairs = pair_bearings(
        s_a,
        az_a[:, 0] + rng.normal(0, sig, 3),
        s_b,
        az_b[order_b, 0] + rng.normal(0, sig, 3),
        sig,
        sig,
        el_a[:, 0] + rng.normal(0, sig, 3),
        el_b[order_b, 0] + rng.normal(0, sig, 3),
        sig,
        sig,
        TriangulationConfig(max_range_m=6000.0),
    )
    assert pairs.result.position.shape == (9, 3)
    ia, ib, pos, cov = pairs.accepted()
    assert sorted(zip(ia.tolist(), ib.tolist(), strict=True)) == [(0, 1), (1, 2), (2, 0)]
    err = pos - targets[ia]
    d2 = np.einsum("ki,kij,kj->k", err, np.linalg.inv(cov), err)
    assert (d2 < chi2.ppf(0.999, 3)).all()
    ghosts = pairs.result.reason[~pairs.result.ok]
    assert len(ghosts) == 6 and Rejection.INCONSISTENT in set(ghosts.tolist())


def test_pairing_azimuth_only_prunes_ghosts_by_range():
    s_a, s_b = SENSORS[0], SENSORS[1]
    targets = np.array([[200.0, 1500.0, 50.0], [900.0, 1200.0, 50.0]])
    az_a, _ = _bearings(targets, s_a[None])
    az_b, _ = _bearings(targets, s_b[None])
    pairs = pair_bearings(s_a, az_a[:, 0], s_b, az_b[:, 0], 0.005, 0.005)
    # Without limits both ghosts (at 4.6 km and 0.9 km) are as valid as the real targets.
    assert pairs.result.ok.all()
    limits = TriangulationConfig(min_range_m=1100.0, max_range_m=3000.0)
    near = pair_bearings(s_a, az_a[:, 0], s_b, az_b[:, 0], 0.005, 0.005, config=limits)
    assert list(near.result.reason) == [0, Rejection.OUT_OF_RANGE, Rejection.OUT_OF_RANGE, 0]
    ia, ib, pos, _ = near.accepted()
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(pos[:, :2], targets[:, :2], atol=1e-6)


def test_needs_two_rays():
    with pytest.raises(ValueError, match="two rays"):
        triangulate(SENSORS[:1], np.array([0.3]), 0.01)
