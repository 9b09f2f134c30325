import datetime
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.eval.metrics import gospa, gospa_over_scans, ospa, ospa_over_scans

C, P = 50.0, 2.0
HALF = C**P / 2  # 1250: GOSPA cost of one missed or one false target


# --- hand-worked cases -------------------------------------------------------------------------


def test_two_empty_sets_are_at_distance_zero():
    r = gospa(np.empty((0, 2)), np.empty((0, 2)))
    assert (r.distance, r.localisation, r.missed, r.false) == (0.0, 0.0, 0.0, 0.0)
    assert ospa(np.empty((0, 2)), []) == 0.0


def test_one_missed_target():
    r = gospa([[10.0, 20.0]], np.empty((0, 2)))
    assert r.distance == pytest.approx(math.sqrt(HALF))  # (c²/2)^(1/2) = 35.36
    assert (r.missed, r.false, r.n_missed, r.n_false) == (HALF, 0.0, 1, 0)
    assert ospa([[10.0, 20.0]], []) == C


def test_one_false_track():
    r = gospa([], [[0.0, 0.0, 5.0]])
    assert r.distance == pytest.approx(math.sqrt(HALF))
    assert (r.missed, r.false, r.n_missed, r.n_false) == (0.0, HALF, 0, 1)


def test_assigned_pair_inside_the_cut_off():
    r = gospa([[0.0, 0.0]], [[3.0, 4.0]])  # distance 5
    assert r.distance == pytest.approx(5.0)
    assert r.localisation == pytest.approx(25.0)
    assert (r.n_assigned, r.n_missed, r.n_false) == (1, 0, 0)
    assert ospa([[0.0, 0.0]], [[3.0, 4.0]]) == pytest.approx(5.0)


def test_pair_beyond_the_cut_off_is_one_miss_and_one_false():
    r = gospa([[0.0, 0.0]], [[60.0, 80.0]])  # distance 100 > c
    assert r.distance == pytest.approx(C)  # (c²/2 + c²/2)^(1/2)
    assert (r.localisation, r.n_assigned, r.n_missed, r.n_false) == (0.0, 0, 1, 1)
    assert ospa([[0.0, 0.0]], [[60.0, 80.0]]) == pytest.approx(C)


def test_mixed_case_and_ospa_normalisation():
    truth = [[0.0, 0.0], [100.0, 0.0], [1000.0, 1000.0]]
    est = [[3.0, 4.0], [100.0, 6.0]]
    r = gospa(truth, est)
    assert (r.n_assigned, r.n_missed, r.n_false) == (2, 1, 0)
    assert r.localisation == pytest.approx(25.0 + 36.0)
    assert r.distance == pytest.approx(math.sqrt(61.0 + HALF))
    # OSPA: (1/3 (25 + 36 + 50²))^(1/2)
    assert ospa(truth, est) == pytest.approx(math.sqrt((61.0 + C**2) / 3))


def test_gospa_picks_the_optimal_assignment_not_the_greedy_one():
    # Greedy nearest pairing (t0-e0 at 1) would force t1-e1 at 60 > c; the optimum pairs both.
    truth = [[0.0, 0.0], [-30.0, 0.0]]
    est = [[-1.0, 0.0], [30.0, 0.0]]
    r = gospa(truth, est)
    assert r.n_assigned == 2
    assert r.localisation == pytest.approx(30.0**2 + 29.0**2)


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="alpha"):
        gospa([[0.0]], [[1.0]], alpha=1.0)
    with pytest.raises(ValueError, match="p must"):
        ospa([[0.0]], [[1.0]], p=0.5)
    with pytest.raises(ValueError, match="dimension"):
        gospa([[0.0, 1.0]], [[1.0, 2.0, 3.0]])


def test_average_over_scans_counts_empty_scans_and_groups_by_scan():
    truth_scan = np.array([0, 0, 2])
    truth_xy = np.array([[0.0, 0.0], [500.0, 0.0], [0.0, 0.0]])
    est_scan = np.array([2, 0])  # order does not matter
    est_xy = np.array([[3.0, 4.0], [0.0, 1.0]])
    s = gospa_over_scans(truth_scan, truth_xy, est_scan, est_xy, n_scans=4)
    expected = [math.sqrt(1.0 + HALF), 0.0, 5.0, 0.0]
    np.testing.assert_allclose(s.distance, expected)
    assert s.mean == pytest.approx(sum(expected) / 4)
    assert s.n_missed.tolist() == [1, 0, 0, 0] and s.n_false.tolist() == [0, 0, 0, 0]
    assert s.n_truth.tolist() == [2, 0, 1, 0]
    assert s.mean_localisation == pytest.approx(math.sqrt((1.0 + 25.0) / 2))
    o = ospa_over_scans(truth_scan, truth_xy, est_scan, est_xy, n_scans=4)
    np.testing.assert_allclose(o.distance, [math.sqrt((1.0 + C**2) / 2), 0.0, 5.0, 0.0])
    # n_scans defaults to one past the last scan seen
    assert gospa_over_scans(truth_scan, truth_xy, est_scan, est_xy).distance.size == 3


# --- metric properties -------------------------------------------------------------------------


def point_sets(dim: int = 2, max_size: int = 5):
    coord = st.integers(-80, 80).map(float)  # integer grid: exact zero iff equal, no subnormals
    point = st.lists(coord, min_size=dim, max_size=dim)
    return st.lists(point, min_size=0, max_size=max_size).map(
        lambda pts: np.array(pts, dtype=float).reshape(-1, dim)
    )


def same_multiset(x, y):
    return x.shape == y.shape and sorted(map(tuple, x)) == sorted(map(tuple, y))


@settings(max_examples=150, deadline=None)
@given(point_sets(), point_sets(), st.sampled_from([1.0, 2.0, 3.0]))
def test_metric_axioms_hold_for_both(x, y, p):
    for d in (lambda a, b: gospa(a, b, C, p).distance, lambda a, b: ospa(a, b, C, p)):
        dxy = d(x, y)
        assert dxy >= 0.0
        assert dxy == pytest.approx(d(y, x), abs=1e-9)
        assert (dxy == 0.0) == same_multiset(x, y)
        assert d(x, x[::-1]) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(point_sets(max_size=4), point_sets(max_size=4), point_sets(max_size=4))
def test_triangle_inequality(x, y, z):
    # OSPA is a metric (Schuhmacher et al. 2008); so is GOSPA for alpha = 2 (Rahmathullah 2017).
    for d in (lambda a, b: ospa(a, b, C, P), lambda a, b: gospa(a, b, C, P).distance):
        assert d(x, z) <= d(x, y) + d(y, z) + 1e-9


@settings(max_examples=100, deadline=None)
@given(point_sets(dim=3, max_size=6), point_sets(dim=3, max_size=6))
def test_gospa_equals_brute_force_over_partial_assignments(x, y):
    """The definition, enumerated: min over partial assignments of loc + c²/2 (unassigned)."""
    n, m = len(x), len(y)
    best = HALF * (n + m)
    for k in range(1, min(n, m) + 1):
        for xi in itertools.combinations(range(n), k):
            for yj in itertools.permutations(range(m), k):
                dd = np.linalg.norm(x[list(xi)] - y[list(yj)], axis=1)
                if np.all(dd < C):
                    best = min(best, float(np.sum(dd**2)) + HALF * (n + m - 2 * k))
    r = gospa(x, y, C, P)
    assert r.distance == pytest.approx(math.sqrt(best), abs=1e-9)
    assert r.localisation + r.missed + r.false == pytest.approx(best, abs=1e-6)


# --- cross-checks against Stone Soup -----------------------------------------------------------


def _stonesoup():
    return pytest.importorskip(
        "stonesoup.metricgenerator.ospametric",
        reason="stonesoup not installed (pip install stonesoup==1.9.1, the 'bench' extra)",
    )


def _states(points, t):
    state = pytest.importorskip("stonesoup.types.state")
    return [state.State(pt.reshape(-1, 1), timestamp=t) for pt in points]


def _random_sets(rng, dim=2):
    n, m = rng.integers(0, 9, size=2)
    # Clustered so some pairs fall inside and some beyond c.
    return rng.uniform(0, 200, (n, dim)), rng.uniform(0, 200, (m, dim))


def test_gospa_matches_stonesoup_gospametric_on_random_sets():
    ospametric = _stonesoup()
    metric = ospametric.GOSPAMetric(c=C, p=P)
    rng = np.random.default_rng(2024)
    t = datetime.datetime(2025, 1, 1)
    for _ in range(60):
        x, y = _random_sets(rng)
        if len(x) + len(y) == 0:
            continue
        ss, _ = metric.compute_gospa_metric(_states(y, t), _states(x, t))
        mine = gospa(x, y, C, P)
        assert mine.distance == pytest.approx(ss.value["distance"], rel=1e-9, abs=1e-9)
        assert mine.localisation == pytest.approx(ss.value["localisation"], rel=1e-9, abs=1e-9)
        assert mine.missed == pytest.approx(ss.value["missed"])
        assert mine.false == pytest.approx(ss.value["false"])


def test_ospa_matches_stonesoup_ospametric_on_random_sets():
    ospametric = _stonesoup()
    rng = np.random.default_rng(7)
    t = datetime.datetime(2025, 1, 1)
    for p in (1.0, 2.0):
        metric = ospametric.OSPAMetric(c=C, p=p)
        for _ in range(40):
            x, y = _random_sets(rng, dim=3)
            if len(x) + len(y) == 0:
                continue
            theirs = float(metric.compute_OSPA_distance(_states(y, t), _states(x, t)).value)
            mine = ospa(x, y, C, p)
            if p == 1.0:
                assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-9)
            else:
                # Stone Soup solves the assignment on d and raises to p afterwards; minimising
                # Σ dᵖ (the definition) can only give the same or a lower value.
                assert mine <= theirs + 1e-9


def test_average_matches_stonesoup_compute_over_time():
    ospametric = _stonesoup()
    measures = pytest.importorskip("stonesoup.measures")

    rng = np.random.default_rng(11)
    t0 = datetime.datetime(2025, 1, 1)
    truth_scan, truth_xy, est_scan, est_xy = [], [], [], []
    for k in range(6):
        x, y = _random_sets(rng)
        x = np.vstack([x, [[1.0, 1.0]]])  # every scan has truth, so both average the same scans
        truth_scan += [k] * len(x)
        truth_xy += x.tolist()
        est_scan += [k] * len(y)
        est_xy += y.tolist()
    ts = [t0 + datetime.timedelta(seconds=k) for k in range(6)]
    metric = ospametric.GOSPAMetric(c=C, p=P, measure=measures.Euclidean(mapping=[0, 1]))
    est_states = [_states([p], ts[k])[0] for p, k in zip(np.array(est_xy), est_scan, strict=True)]
    truth_states = [
        _states([p], ts[k])[0] for p, k in zip(np.array(truth_xy), truth_scan, strict=True)
    ]
    res = metric.compute_over_time(
        est_states, list(range(len(est_states))), truth_states, list(range(len(truth_states)))
    )
    theirs = np.mean([m.value["distance"] for m in res.value])
    mine = gospa_over_scans(truth_scan, truth_xy, est_scan, est_xy, n_scans=6, c=C, p=P)
    assert mine.mean == pytest.approx(theirs, rel=1e-9)


def test_matches_the_shared_benchmark_gospa(shared):
    """Same numbers as ``gospa_own`` of ../shared/bench/run_stonesoup.py (the benchmark's score)."""
    _stonesoup()
    import importlib.util

    path = shared.dir("bench") / "run_stonesoup.py"
    spec = importlib.util.spec_from_file_location("shared_run_stonesoup", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(3)
    for _ in range(50):
        x, y = _random_sets(rng)
        g, loc, missed, false = mod.gospa_own(x, y, C, P)
        r = gospa(x, y, C, P)
        assert r.distance == pytest.approx(g, rel=1e-12)
        assert r.localisation == pytest.approx(loc)
        assert (r.n_missed, r.n_false) == (missed, false)


def _dense_reference(x, y, c, p):
    """The textbook computation: one dense assignment on min(d, c)^p over all pairs."""
    from scipy.optimize import linear_sum_assignment

    d = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2)
    r, k = linear_sum_assignment(np.minimum(d, c) ** p)
    dd = d[r, k]
    ok = dd < c
    loc = float(np.sum(dd[ok] ** p))
    gos = (loc + c**p / 2 * (len(x) + len(y) - 2 * ok.sum())) ** (1 / p)
    osp = (
        (float(np.sum(np.minimum(dd, c) ** p)) + c**p * abs(len(x) - len(y))) / max(len(x), len(y))
    ) ** (1 / p)
    return gos, loc, osp


@pytest.mark.parametrize("spread", [300.0, 3000.0])  # one big cluster / many small ones
def test_component_decomposition_equals_one_dense_assignment(spread):
    rng = np.random.default_rng(int(spread))
    truth = rng.uniform(0, spread, (250, 2))
    hit = rng.random(250) < 0.9
    est = np.vstack(
        [truth[hit] + rng.normal(0, 20, (hit.sum(), 2)), rng.uniform(0, spread, (30, 2))]
    )
    for p in (1.0, 2.0):
        g_ref, loc_ref, o_ref = _dense_reference(truth, est, C, p)
        r = gospa(truth, est, C, p)
        assert r.distance == pytest.approx(g_ref, rel=1e-9)
        assert r.localisation == pytest.approx(loc_ref, rel=1e-9)
        assert ospa(truth, est, C, p) == pytest.approx(o_ref, rel=1e-9)
