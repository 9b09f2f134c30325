"""The compiled IMM and EKF kernels against the numpy IMM and measurement models."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.tracking import imm_kernels
from luchtwacht.tracking.imm import (
    ca_model,
    ct_model,
    imm_combine,
    imm_mix,
    imm_predict,
    imm_update,
    ncv_model,
)
from luchtwacht.tracking.imm_kernels import (
    KIND_AZ_EL,
    KIND_AZIMUTH,
    KIND_CARTESIAN,
    KIND_RADAR,
    KIND_RADAR_DOPPLER,
    MODEL_CA,
    MODEL_CT,
    MODEL_NCV,
    ekf_update_rows,
    gate_refine,
    imm_pda_update_inplace,
    imm_predict_inplace,
    imm_update_inplace,
    model_fq,
    runs_parallel,
    turn_rate,
)
from luchtwacht.tracking.measurement import MeasurementKind, ekf_innovation, ekf_update, measure

KINDS: dict[int, MeasurementKind] = {
    KIND_RADAR: "radar",
    KIND_RADAR_DOPPLER: "radar_doppler",
    KIND_AZIMUTH: "azimuth",
    KIND_AZ_EL: "azimuth_elevation",
}
MODELS = np.array([MODEL_NCV, MODEL_CA, MODEL_CT], np.int64)
Q = np.array([0.5, 2.0, 0.5])
PI = np.array([[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [0.1, 0.05, 0.85]])


def spd(rng, n, k, scale):
    a = rng.normal(size=(n, k, k)) * scale
    return a @ np.swapaxes(a, -1, -2) + np.eye(k) * scale**2


@settings(max_examples=40, deadline=None)
@given(dt=st.floats(0.0, 8.0), omega=st.floats(-1.5, 1.5), q=st.floats(0.0, 20.0))
def test_model_matrices_equal_the_numpy_models(dt, omega, q):
    f, qm = np.empty((9, 9)), np.empty((9, 9))
    for model, (f_ref, q_ref) in (
        (MODEL_NCV, ncv_model(np.array([dt]), q)),
        (MODEL_CA, ca_model(np.array([dt]), q)),
        (MODEL_CT, ct_model(np.array([dt]), omega, q)),
    ):
        model_fq(model, dt, omega, q, f, qm)
        np.testing.assert_allclose(f, f_ref[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(qm, q_ref[0], rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(dt=st.floats(0.01, 5.0), omega=st.floats(-1.0, 1.0))
def test_a_negative_step_undoes_the_transition(dt, omega):
    f, fb, qm = np.empty((9, 9)), np.empty((9, 9)), np.empty((9, 9))
    for model in (MODEL_CA, MODEL_CT):
        model_fq(model, dt, omega, 1.0, f, qm)
        model_fq(model, -dt, omega, 1.0, fb, qm)
        x = np.arange(9.0)
        if model == MODEL_CT:  # the turn keeps a = B v
            x[6], x[7], x[8] = -omega * x[4], omega * x[3], 0.0
        np.testing.assert_allclose(fb @ (f @ x), x, rtol=1e-9, atol=1e-9)
        assert (np.linalg.eigvalsh(qm) >= -1e-12).all()  # noise of |dt|


def test_turn_rate_is_read_from_velocity_and_acceleration_and_bounded():
    x = np.zeros(9)
    x[3], x[4] = 10.0, 0.0  # east at 10 m/s
    x[7] = 2.0  # accelerating north: turning left (anticlockwise) at 0.2 rad/s
    assert np.isclose(turn_rate(x, 0.05, 1.0), 0.2)
    x[7] = -2.0
    assert np.isclose(turn_rate(x, 0.05, 1.0), -0.2)
    x[7] = 0.0
    assert np.isclose(turn_rate(x, 0.05, 1.0), 0.05)  # straight: the smallest turn
    x[7] = 50.0
    assert np.isclose(turn_rate(x, 0.05, 1.0), 1.0)


def random_imm(rng, n):
    xm = np.zeros((n, 3, 9))
    xm[:, :, :3] = rng.uniform(-3000, 3000, (n, 1, 3)) + rng.normal(0, 5, (n, 3, 3))
    xm[:, :, 3:6] = rng.normal(0, 15, (n, 1, 3)) + rng.normal(0, 1, (n, 3, 3))
    xm[:, :, 6:] = rng.normal(0, 1, (n, 3, 3))
    pm = spd(rng, n * 3, 9, 3.0).reshape(n, 3, 9, 9)
    mu = rng.dirichlet(np.ones(3), n)
    return xm, pm, mu


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 8), dt=st.floats(0.05, 4.0))
def test_imm_predict_equals_mix_predict_combine(seed, n, dt):
    rng = np.random.default_rng(seed)
    xm, pm, mu = random_imm(rng, n)
    x0, p0, c = imm_mix(xm, pm, mu, PI)
    omega = np.array([turn_rate(x0[i, 2], 0.05, 1.0) for i in range(n)])
    dts = np.full(n, dt)
    fq = [ncv_model(dts, Q[0]), ca_model(dts, Q[1]), ct_model(dts, omega, Q[2])]
    f = np.stack([m[0] for m in fq], axis=1)
    qm = np.stack([m[1] for m in fq], axis=1)
    x_ref, p_ref = imm_predict(x0, p0, f, qm)
    xc, pc = imm_combine(x_ref, p_ref, c)
    x6, p6 = np.zeros((n, 6)), np.zeros((n, 6, 6))
    imm_predict_inplace(xm, pm, mu, dts, PI, MODELS, Q, 0.05, 1.0, x6, p6)
    np.testing.assert_allclose(mu, c, rtol=1e-12)
    np.testing.assert_allclose(xm, x_ref, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(pm, p_ref, rtol=1e-8, atol=1e-7)
    np.testing.assert_allclose(x6, xc[:, :6], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(p6, pc[:, :6, :6], rtol=1e-8, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6))
def test_imm_pda_with_one_certain_plot_is_the_imm_update(seed, n):
    # One plot per track with β = 1, β₀ = 0 and clutter far too thin to matter: the PDA update
    # is the plain model-conditioned EKF update, and the mode probabilities follow N(ν; 0, S_j).
    rng = np.random.default_rng(seed)
    xm, pm, mu = random_imm(rng, n)
    z = xm[:, 0, :3] + rng.normal(0, 10, (n, 3))
    r = spd(rng, n, 3, 4.0)
    a = [v.copy() for v in (xm, pm, mu)]
    rows = np.arange(n, dtype=np.int64)
    x6, p6 = np.zeros((n, 6)), np.zeros((n, 6, 6))
    imm_update_inplace(a[0], a[1], a[2], rows, z, r, KIND_CARTESIAN, np.zeros(3), x6, p6)
    y6, q6 = np.zeros((n, 6)), np.zeros((n, 6, 6))
    ones = np.ones(n)
    imm_pda_update_inplace(
        xm, pm, mu, rows, rows, ones, 0.0 * ones, z, r, 0.9, np.full(n, -80.0), y6, q6
    )
    np.testing.assert_allclose(mu, a[2], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xm, a[0], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(pm, a[1], rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(y6, x6, rtol=1e-9, atol=1e-8)


def imm_pda_reference(xm, pm, mu, plots, pd, ln_beta_fa):
    """IMM-PDAF of one track in plain numpy: plots is [(z, R, β)], β₀ = 1 − Σ β."""
    h = np.hstack([np.eye(3), np.zeros((3, 6))])
    beta = np.array([b for _, _, b in plots])
    best = int(np.argmax(beta))
    xm, pm, lam = xm.copy(), pm.copy(), np.empty(mu.size)
    for j in range(mu.size):
        x, p = xm[j], pm[j]
        nus = np.array([z - h @ x for z, _, _ in plots])
        like = 1.0 - pd
        for (_, rr, _), nu in zip(plots, nus, strict=True):
            s = h @ p @ h.T + rr
            g = np.exp(-0.5 * nu @ np.linalg.solve(s, nu)) / np.sqrt(np.linalg.det(2 * np.pi * s))
            like += pd * g / np.exp(ln_beta_fa)
        lam[j] = mu[j] * like
        s = h @ p @ h.T + plots[best][1]
        k = p @ h.T @ np.linalg.inv(s)
        nbar = beta @ nus
        spread = (beta[:, None, None] * nus[:, :, None] * nus[:, None, :]).sum(0)
        spread -= np.outer(nbar, nbar)
        xm[j] = x + k @ nbar
        pm[j] = p - beta.sum() * k @ s @ k.T + k @ spread @ k.T
    return xm, pm, lam / lam.sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 5), n_plots=st.integers(1, 4))
def test_imm_pda_equals_a_numpy_imm_pdaf(seed, n, n_plots):
    rng = np.random.default_rng(seed)
    xm, pm, mu = random_imm(rng, n)
    z = np.concatenate([xm[:, 0, :3] + rng.normal(0, 15, (n, 3)) for _ in range(n_plots)])
    r = spd(rng, n * n_plots, 3, 4.0)
    track = np.tile(np.arange(n, dtype=np.int64), n_plots)
    det = np.arange(n * n_plots, dtype=np.int64)
    w = rng.dirichlet(np.ones(n_plots + 1), n)  # per track: β₀ then the plots' β
    beta = np.concatenate([w[:, 1 + k] for k in range(n_plots)])
    ln_fa = np.full(det.size, -14.0)
    refs = [
        imm_pda_reference(
            xm[i], pm[i], mu[i], [(z[d], r[d], beta[d]) for d in det[track == i]], 0.85, -14.0
        )
        for i in range(n)
    ]
    x6, p6 = np.zeros((n, 6)), np.zeros((n, 6, 6))
    order = rng.permutation(det.size)  # pairs in any order
    imm_pda_update_inplace(
        xm, pm, mu, track[order], det[order], beta[order], w[:, 0], z, r, 0.85, ln_fa, x6, p6
    )
    for i, (x_ref, p_ref, mu_ref) in enumerate(refs):
        np.testing.assert_allclose(mu[i], mu_ref, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(xm[i], x_ref, rtol=1e-9, atol=1e-8)
        np.testing.assert_allclose(pm[i], p_ref, rtol=1e-7, atol=1e-7)
    xc, pc = imm_combine(xm, pm, mu)
    np.testing.assert_allclose(x6, xc[:, :6], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(p6, pc[:, :6, :6], rtol=1e-7, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 8))
def test_imm_cartesian_update_equals_numpy(seed, n):
    rng = np.random.default_rng(seed)
    xm, pm, mu = random_imm(rng, n)
    z = xm[:, 0, :3] + rng.normal(0, 10, (n, 3))
    r = spd(rng, n, 3, 4.0)
    x_ref, p_ref, mu_ref, ll_ref = imm_update(xm, pm, mu, z, r)
    xc, pc = imm_combine(x_ref, p_ref, mu_ref)
    x6, p6 = np.zeros((n, 6)), np.zeros((n, 6, 6))
    rows = np.arange(n, dtype=np.int64)
    ll = imm_update_inplace(xm, pm, mu, rows, z, r, KIND_CARTESIAN, np.zeros(3), x6, p6)
    np.testing.assert_allclose(ll, ll_ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(xm, x_ref, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(pm, p_ref, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(x6, xc[:, :6], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(p6, pc[:, :6, :6], rtol=1e-7, atol=1e-7)
    assert (np.linalg.eigvalsh(pm) > 0).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(sorted(KINDS)), n=st.integers(1, 6))
def test_ekf_kernel_equals_the_numpy_ekf_and_gate(seed, kind, n):
    rng = np.random.default_rng(seed)
    sensor = rng.normal(0, 100, 3)
    x = np.zeros((n, 6))
    x[:, :3] = sensor + rng.uniform(500, 5000, (n, 3)) * rng.choice([-1, 1], (n, 3))
    x[:, 3:] = rng.normal(0, 15, (n, 3))
    p = spd(rng, n, 6, 5.0)
    name = KINDS[kind]
    m = {"radar": 3, "radar_doppler": 4, "azimuth": 1, "azimuth_elevation": 2}[name]
    r = np.broadcast_to(np.diag([1e-4, 1e-4, 25.0, 1.0][:m]), (n, m, m)).copy()
    truth = x + rng.normal(0, 3, x.shape)
    z = measure(truth, sensor, name) + rng.normal(0, 1e-3, (n, m))
    nu, s, _ = ekf_innovation(x, p, z, r, sensor, name)
    d2_ref = np.einsum("ni,nij,nj->n", nu, np.linalg.inv(s), nu)
    rows = np.arange(n, dtype=np.int64)
    keep, d2, logdet = gate_refine(x, p, rows, rows, z, r, kind, sensor, np.inf)
    assert keep.tolist() == list(range(n))
    np.testing.assert_allclose(d2, d2_ref, rtol=1e-7)
    np.testing.assert_allclose(logdet, np.log(np.linalg.det(s)), rtol=1e-9, atol=1e-9)
    x_ref, p_ref = ekf_update(x, p, z, r, sensor, name)
    ll = ekf_update_rows(x, p, rows, z, r, kind, sensor)
    np.testing.assert_allclose(
        ll, -0.5 * (d2_ref + np.log(np.linalg.det(s)) + m * np.log(2 * np.pi)), rtol=1e-7
    )
    np.testing.assert_allclose(x, x_ref, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(p, p_ref, rtol=1e-6, atol=1e-6)


def test_azimuth_innovation_is_wrapped_across_south():
    sensor = np.zeros(3)
    x = np.array([[-1.0, -1000.0, 0.0, 0.0, 0.0, 0.0]])  # just west of due south: az ≈ −π
    p = np.eye(6)[None] * 100.0
    z = np.array([[np.pi - 0.001]])  # just east of due south: az ≈ +π
    keep, d2, _ = gate_refine(
        x, p, np.zeros(1, np.int64), np.zeros(1, np.int64), z, np.eye(1)[None] * 1e-4,
        KIND_AZIMUTH, sensor, 100.0,
    )  # fmt: skip
    assert keep.size == 1 and d2[0] < 1.0


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 70),
    dt=st.sampled_from([0.0, -0.7, 0.05, 1.0, 4.0]),
    kind=st.sampled_from([KIND_CARTESIAN, *sorted(KINDS)]),
)
def test_serial_and_parallel_kernels_give_identical_results(seed, n, dt, kind):
    rng = np.random.default_rng(seed)
    xm, pm, mu = random_imm(rng, n)
    dts = np.where(rng.random(n) < 0.2, 0.0, dt)  # some tracks not stepped this scan
    rows = np.sort(rng.choice(n, rng.integers(1, n + 1), replace=False)).astype(np.int64)
    dim = (3, 3, 4, 1, 2)[kind]
    sensor = rng.normal(0, 100, 3)
    z = rng.normal(0, 1, (rows.size, dim)) * 0.01 + (
        xm[rows, 0, :dim] if kind == KIND_CARTESIAN else 0.3
    )
    r = spd(rng, rows.size, dim, 0.01 if kind != KIND_CARTESIAN else 4.0)
    results = []
    for predict, update in (
        (imm_kernels._imm_predict_serial, imm_kernels._imm_update_serial),
        (imm_kernels._imm_predict_parallel, imm_kernels._imm_update_parallel),
    ):
        a = [xm.copy(), pm.copy(), mu.copy(), np.zeros((n, 6)), np.zeros((n, 6, 6))]
        predict(a[0], a[1], a[2], dts, PI, MODELS, Q, 0.05, 1.0, a[3], a[4])
        ll = update(a[0], a[1], a[2], rows, z, r, kind, sensor, a[3], a[4])
        results.append([*a, ll])
    for serial, parallel in zip(*results, strict=True):
        np.testing.assert_array_equal(serial, parallel)  # bit for bit: same per-track code


def test_kernels_run_serially_below_the_threshold_and_in_parallel_from_it(monkeypatch):
    calls: list[str] = []
    for name in (
        "_imm_predict_serial",
        "_imm_predict_parallel",
        "_imm_update_serial",
        "_imm_update_parallel",
    ):
        kernel = getattr(imm_kernels, name)

        def spy(*args, _name=name, _kernel=kernel):
            calls.append(_name)
            return _kernel(*args)

        monkeypatch.setattr(imm_kernels, name, spy)
    monkeypatch.setattr(imm_kernels, "PARALLEL_MIN_TRACKS", 5)
    assert not runs_parallel(4) and runs_parallel(5) and runs_parallel(5000)
    rng = np.random.default_rng(3)
    for n, expected in ((4, "serial"), (5, "parallel"), (9, "parallel")):
        calls.clear()
        xm, pm, mu = random_imm(rng, n)
        x6, p6 = np.zeros((n, 6)), np.zeros((n, 6, 6))
        imm_predict_inplace(xm, pm, mu, np.ones(n), PI, MODELS, Q, 0.05, 1.0, x6, p6)
        rows = np.arange(n, dtype=np.int64)
        z = xm[:, 0, :3] + 1.0
        imm_update_inplace(xm, pm, mu, rows, z, spd(rng, n, 3, 4.0), KIND_CARTESIAN, z[0], x6, p6)
        # The update picks by its own row count: 4 rows of 9 tracks run serially.
        imm_update_inplace(
            xm, pm, mu, rows[:4], z[:4], spd(rng, 4, 3, 4.0), KIND_CARTESIAN, z[0], x6, p6
        )
        assert calls == [
            f"_imm_predict_{expected}",
            f"_imm_update_{expected}",
            "_imm_update_serial",
        ]


def test_the_default_threshold_keeps_small_scans_on_one_thread():
    assert not runs_parallel(100)
    assert runs_parallel(100_000)
