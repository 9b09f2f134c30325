import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from luchtwacht.counter.geometry import (
    azimuth_deg,
    debris_footprint,
    in_sector,
    intercept_time,
    segment_clearance,
    time_into_reach,
)

F = np.float64
A = np.array

coord = st.floats(-2000.0, 2000.0, allow_nan=False, allow_infinity=False)
speed = st.floats(-40.0, 40.0, allow_nan=False, allow_infinity=False)


def rows(elements, max_n=3):
    return hnp.arrays(F, st.tuples(st.integers(1, max_n), st.just(3)), elements=elements)


@st.composite
def tracks(draw, max_n=3):
    n = draw(st.integers(1, max_n))
    return draw(hnp.arrays(F, (n, 3), elements=coord)), draw(hnp.arrays(F, (n, 3), elements=speed))


def vec(n, elements):
    return hnp.arrays(F, (n,), elements=elements)


FAST = settings(max_examples=60, deadline=None)


# --- time_into_reach -----------------------------------------------------------------------------


def test_time_into_reach_already_inside_is_zero():
    t = time_into_reach(A([[100.0, 0, 50]]), A([[20.0, 0, 0]]), A([[0.0, 0, 0]]), A([500.0]), 60.0)
    assert t.tolist() == [[0.0]]


def test_time_into_reach_fly_past_hand_computed():
    # Flying east along y = 300 towards a 500 m sphere at the origin: enters at x = -400,
    # i.e. after 600 m at 20 m/s = 30 s.
    t = time_into_reach(
        A([[-1000.0, 300, 0]]), A([[20.0, 0, 0]]), A([[0.0, 0, 0]]), A([500.0]), 60.0
    )
    assert t[0, 0] == pytest.approx(30.0, rel=1e-12)


def test_time_into_reach_nan_when_moving_away_stationary_wide_or_late():
    pos = A([[1000.0, 0, 0], [1000.0, 0, 0], [-1000.0, 600, 0], [-1000.0, 300, 0]])
    vel = A([[20.0, 0, 0], [0.0, 0, 0], [20.0, 0, 0], [20.0, 0, 0]])
    t = time_into_reach(pos, vel, A([[0.0, 0, 0]]), A([500.0]), 29.0)
    assert np.isnan(t).all()


def test_time_into_reach_shape_is_tracks_by_sites():
    pos = A([[0.0, 0, 0], [5000.0, 0, 0]])
    vel = A([[0.0, 0, 0], [-50.0, 0, 0]])
    site = A([[0.0, 0, 0], [1000.0, 0, 0], [0.0, 9000.0, 0]])
    t = time_into_reach(pos, vel, site, A([100.0, 100.0, 100.0]), 200.0)
    assert t.shape == (2, 3)
    assert t[0, 0] == 0.0 and np.isnan(t[0, 1]) and np.isnan(t[0, 2])
    assert t[1, 0] == pytest.approx(98.0) and t[1, 1] == pytest.approx(78.0)
    assert np.isnan(t[1, 2])


@FAST
@given(
    pv=tracks(),
    site=rows(coord, 2),
    rng=st.floats(10.0, 1500.0),
    aim=st.none()
    | st.tuples(hnp.arrays(F, (3,), elements=st.floats(-1500.0, 1500.0)), st.floats(5.0, 120.0)),
)
def test_time_into_reach_root_and_earliest(pv, site, rng, aim):
    pos, vel = pv
    if aim is not None:  # steer track 0 at a point near site 0 so that entries are common
        miss, arrive_s = aim
        vel = vel.copy()
        vel[0] = (site[0] + miss - pos[0]) / arrive_s
    horizon = 100.0
    r = np.full(site.shape[0], rng)
    t = time_into_reach(pos, vel, site, r, horizon)
    assert t.shape == (pos.shape[0], site.shape[0])
    grid = np.linspace(0.0, horizon, 20001)
    for n in range(pos.shape[0]):
        for m in range(site.shape[0]):
            dist = np.linalg.norm(pos[n] + vel[n] * grid[:, None] - site[m], axis=1)
            feasible = grid[dist <= rng * (1 - 1e-9)]
            tn = t[n, m]
            if np.isnan(tn):
                assert feasible.size == 0
                continue
            assert 0.0 <= tn <= horizon
            d = np.linalg.norm(pos[n] + vel[n] * tn - site[m])
            if tn == 0.0:
                assert d <= rng
            else:
                assert d == pytest.approx(rng, rel=1e-6)
                assert feasible.size == 0 or feasible[0] >= tn - 1e-9 * (1 + tn)


# --- intercept_time ------------------------------------------------------------------------------


def test_intercept_head_on_hand_worked():
    # Target 1000 m east closing at 10 m/s; pursuer 30 m/s launched at t = 2 s.
    # 1000 - 10 t = 30 (t - 2)  =>  40 t = 1060  =>  t = 26.5 s (meet 735 m east).
    t = intercept_time(
        A([[1000.0, 0, 0]]), A([[-10.0, 0, 0]]), A([[0.0, 0, 0]]), A([30.0]), A([2.0]), 120.0
    )
    assert t[0, 0] == pytest.approx(26.5, rel=1e-12)


def test_intercept_stationary_target_is_delay_plus_distance_over_speed():
    t = intercept_time(
        A([[300.0, 400, 0]]), A([[0.0, 0, 0]]), A([[0.0, 0, 0]]), A([25.0]), A([3.0]), 120.0
    )
    assert t[0, 0] == pytest.approx(3.0 + 500.0 / 25.0, rel=1e-12)


def test_intercept_fleeing_faster_or_equal_target_is_nan():
    pos = A([[1000.0, 0, 0], [1000.0, 0, 0]])
    vel = A([[40.0, 0, 0], [30.0, 0, 0]])
    t = intercept_time(pos, vel, A([[0.0, 0, 0]]), A([30.0]), A([0.0]), 1e6)
    assert np.isnan(t).all()


def test_intercept_equal_speed_head_on_linear_case():
    # a = |v|² - s² = 0: 1000 - 30 t = 30 (t - 1)  =>  t = 1030 / 60
    t = intercept_time(
        A([[1000.0, 0, 0]]), A([[-30.0, 0, 0]]), A([[0.0, 0, 0]]), A([30.0]), A([1.0]), 120.0
    )
    assert t[0, 0] == pytest.approx(1030.0 / 60.0, rel=1e-12)


def test_intercept_faster_target_crossing_is_earliest_root():
    # Target at 50 m/s flying past within reach of a 30 m/s pursuer: earliest of two roots.
    pos, vel = A([[-1000.0, 200, 0]]), A([[50.0, 0, 0]])
    t = intercept_time(pos, vel, A([[0.0, 0, 0]]), A([30.0]), A([0.0]), 120.0)
    a, b, c = 50.0**2 - 30.0**2, 2 * (-1000.0 * 50.0), 1000.0**2 + 200.0**2
    expected = (-b - math.sqrt(b * b - 4 * a * c)) / (2 * a)
    assert t[0, 0] == pytest.approx(expected, rel=1e-9)


def test_intercept_zero_speed_is_nan_even_at_base_and_horizon_cuts():
    pos = A([[0.0, 0, 0], [1000.0, 0, 0]])
    vel = A([[0.0, 0, 0], [-10.0, 0, 0]])
    t = intercept_time(pos, vel, A([[0.0, 0, 0]]), A([0.0]), A([0.0]), 120.0)
    assert np.isnan(t).all()
    late = intercept_time(pos[1:], vel[1:], A([[0.0, 0, 0]]), A([30.0]), A([2.0]), 26.0)
    assert np.isnan(late).all()


def test_intercept_target_at_base_on_launch_is_delay():
    t = intercept_time(
        A([[50.0, 0, 0]]), A([[-10.0, 0, 0]]), A([[0.0, 0, 0]]), A([20.0]), A([5.0]), 60.0
    )
    assert t[0, 0] == 5.0


@FAST
@given(
    pv=tracks(),
    base=rows(coord, 2),
    spd=vec(2, st.floats(1.0, 60.0)),
    delay=vec(2, st.floats(0.0, 10.0)),
)
def test_intercept_property_equality_earliest_and_vectorised(pv, base, spd, delay):
    pos, vel = pv
    horizon = 150.0
    m = base.shape[0]
    spd, delay = spd[:m], delay[:m]
    t = intercept_time(pos, vel, base, spd, delay, horizon)
    assert t.shape == (pos.shape[0], m)
    for n in range(pos.shape[0]):
        for j in range(m):
            single = intercept_time(
                pos[n : n + 1],
                vel[n : n + 1],
                base[j : j + 1],
                spd[j : j + 1],
                delay[j : j + 1],
                horizon,
            )
            assert np.array_equal(single[0, 0], t[n, j], equal_nan=True)
            grid = np.linspace(delay[j], horizon, 20001)
            gap = np.linalg.norm(pos[n] + vel[n] * grid[:, None] - base[j], axis=1)
            reach = spd[j] * (grid - delay[j])
            scale = 1.0 + float(np.linalg.norm(pos[n] - base[j]) + np.linalg.norm(vel[n]) * horizon)
            feasible = grid[gap <= reach - 1e-9 * scale]
            tn = t[n, j]
            if np.isnan(tn):
                assert feasible.size == 0
                continue
            assert delay[j] <= tn <= horizon
            d = np.linalg.norm(pos[n] + vel[n] * tn - base[j])
            assert d == pytest.approx(spd[j] * (tn - delay[j]), rel=1e-6, abs=1e-6 * scale)
            assert feasible.size == 0 or feasible[0] >= tn - 1e-9 * (1 + tn)


# --- in_sector / azimuth_deg ---------------------------------------------------------------------


def test_azimuth_cardinal_points_and_range():
    pts = A([[0.0, 100, 0], [100.0, 0, 0], [0.0, -100, 0], [-100.0, 0, 0], [-1e-13, 100, 0]])
    az = azimuth_deg(pts, A([[0.0, 0, 0]]))[:, 0]
    assert az[:4] == pytest.approx([0.0, 90.0, 180.0, 270.0])
    assert ((az >= 0.0) & (az < 360.0)).all()


def test_in_sector_wraps_around_north():
    # Boresight 350°, 40° beam covers 330°..10°: azimuth 5° is in, 15° and 320° are out.
    pts = A(
        [
            [1000 * math.sin(math.radians(a)), 1000 * math.cos(math.radians(a)), 0.0]
            for a in (5, 15, 320, 335)
        ]
    )
    inside = in_sector(pts, A([[0.0, 0, 0]]), A([350.0]), A([40.0]), A([2000.0]), A([0.0]))
    assert inside[:, 0].tolist() == [True, False, False, True]


def test_in_sector_omni_and_min_range():
    pts = A([[0.0, -500, 0], [30.0, 0, 40], [0.0, 3000, 0]])
    site = A([[0.0, 0, 0], [0.0, 0, 0]])
    inside = in_sector(
        pts, site, A([0.0, 0.0]), A([360.0, 400.0]), A([1000.0, 1000.0]), A([100.0, 0.0])
    )
    # point 1 is 50 m away: inside the 100 m minimum range of site 0 only.
    assert inside.tolist() == [[True, True], [False, True], [False, False]]


def test_in_sector_shape_points_by_sites():
    pts = A([[0.0, 100, 0]])
    site = A([[0.0, 0, 0], [0.0, 200, 0]])
    inside = in_sector(pts, site, A([0.0, 0.0]), A([10.0, 10.0]), A([500.0, 500.0]), A([0.0, 0.0]))
    assert inside.tolist() == [[True, False]]


# --- debris_footprint ----------------------------------------------------------------------------


def test_debris_hovering_drone_lands_below_with_minimum_radius():
    centre, radius = debris_footprint(A([[120.0, -40.0, 80.0]]), A([[0.0, 0, 0]]))
    assert centre.tolist() == [[120.0, -40.0]]
    assert radius.tolist() == [5.0]


def test_debris_fall_time_hand_checked():
    # v_T = 15 m/s, g = 9.81: terminal speed is reached after 225 / 19.62 = 11.47 m of fall.
    # h = 5 m (not reached): T = sqrt(10 / 9.81) = 1.00964 s.
    # h = 100 m (reached): T = 15 / 9.81 + (100 - 11.4679) / 15 = 1.52905 + 5.90214 = 7.43119 s.
    pos = A([[0.0, 0, 5.0], [0.0, 0, 100.0], [0.0, 0, -3.0]])
    vel = A([[10.0, 0, 0], [0.0, 20.0, -4.0], [10.0, 0, 0]])
    centre, radius = debris_footprint(pos, vel)
    t_low, t_high = math.sqrt(10 / 9.81), 15 / 9.81 + (100 - 225 / 19.62) / 15
    assert t_low == pytest.approx(1.00964, abs=1e-5) and t_high == pytest.approx(7.43119, abs=1e-5)
    assert centre[0] == pytest.approx([10 * t_low, 0.0])
    assert centre[1] == pytest.approx([0.0, 20 * t_high])
    assert centre[2].tolist() == [0.0, 0.0]  # below ground: clamped to h = 0
    assert radius == pytest.approx([0.25 * 10 * t_low + 5, 0.25 * 20 * t_high + 5, 5.0])


def test_debris_rejects_bad_parameters():
    with pytest.raises(ValueError, match="positive"):
        debris_footprint(A([[0.0, 0, 10]]), A([[0.0, 0, 0]]), terminal_ms=0.0)


# --- segment_clearance ---------------------------------------------------------------------------


def test_segment_clearance_on_beside_and_beyond():
    site = A([[0.0, 0, 0]])
    target = A([[100.0, 0, 0]])
    pts = A([[50.0, 0, 0], [50.0, 30, 0], [130.0, 40, 0], [-30.0, 0, 40], [100.0, 0, 0]])
    d = segment_clearance(site, target, pts)
    assert d.shape == (1, 1, 5)
    assert d[0, 0] == pytest.approx([0.0, 30.0, 50.0, 50.0, 0.0])


def test_segment_clearance_axes_and_degenerate_segment():
    site = A([[0.0, 0, 0], [0.0, 100, 0]])
    target = A([[100.0, 0, 0], [0.0, 0, 0]])
    pts = A([[0.0, 50, 0]])
    d = segment_clearance(site, target, pts)
    assert d.shape == (2, 2, 1)
    # track 0 (100, 0, 0): from site 0 along x (point 50 m off); from site 1 diagonal.
    assert d[0, 0, 0] == pytest.approx(50.0)
    assert d[0, 1, 0] == pytest.approx(50.0 / math.sqrt(2))
    # track 1 sits on site 0: zero-length segment → distance to the site.
    assert d[1, 0, 0] == pytest.approx(50.0)
    assert d[1, 1, 0] == pytest.approx(0.0)
