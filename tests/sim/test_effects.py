"""Effect models: a countered drone flies its base path until an effect, then the effect."""

from __future__ import annotations

import math

import numpy as np
import pytest

from luchtwacht.model.detection import ObjectClass
from luchtwacht.sim.effects import Countered, counterable
from luchtwacht.sim.targets import F64, LinkLoss, Target, Trajectory, WaypointPath

State = tuple[F64, F64]


def east(speed: float = 10.0, height: float = 50.0, t_start_s: float = 0.0) -> WaypointPath:
    """Straight east from (0, 0, height) at ``speed``, from ``t_start_s`` on."""
    return WaypointPath(((0.0, 0.0, height), (100_000.0, 0.0, height)), (speed,), t_start_s)


def countered(
    path: Trajectory,
    link_loss: LinkLoss | None = None,
    home: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Countered:
    return Countered(path, link_loss or LinkLoss(), home)


def at(path: Trajectory, t_s: float) -> State:
    s = path.state(t_s)
    assert s is not None, f"no state at t = {t_s}"
    return s


def close(actual: F64, expected: tuple[float, ...] | list[float], tol: float = 1e-9) -> None:
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=float), rtol=0.0, atol=tol)


def drone(name: str, path: Trajectory, link_loss: LinkLoss | None = None) -> Target:
    return Target(name, ObjectClass.DRONE, 0.02, path, "intruder", link_loss=link_loss)


# --- before the effect ---------------------------------------------------------------------------


@pytest.mark.parametrize("effect", ["hover", "land", "return_home", "captured", "downed"])
def test_before_the_effect_the_state_is_the_base_path_exactly(effect: str) -> None:
    base = east(speed=7.0)
    path = countered(base)
    for t in (0.0, 3.3, 9.999):
        b, c = at(base, t), at(path, t)
        assert np.array_equal(b[0], c[0]) and np.array_equal(b[1], c[1])
    assert path.apply(10.0, effect, "eff") is True
    assert (path.effect, path.at_s, path.cause) == (effect, 10.0, "eff")
    for t in (0.0, 3.3, 9.999):
        b, c = at(base, t), at(path, t)
        assert np.array_equal(b[0], c[0]) and np.array_equal(b[1], c[1])
    # From the effect on it differs from the base path.
    later = path.state(14.0)
    assert later is None or not np.array_equal(later[0], at(base, 14.0)[0])


# --- failsafes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "speed"),
    [((1.0, 0.0), 12.0), ((0.6, 0.8), 10.0), ((-0.8, 0.6), 4.0)],
)
def test_hover_brakes_at_4_ms2_to_a_stop_along_its_track_then_holds(
    direction: tuple[float, float], speed: float
) -> None:
    ux, uy = direction
    far = (ux * 100_000.0, uy * 100_000.0, 50.0)
    path = countered(WaypointPath(((0.0, 0.0, 50.0), far), (speed,)), LinkLoss("hover"))
    assert path.apply(10.0, "hover", "jam")
    p0 = np.array([ux, uy, 0.0]) * speed * 10.0 + np.array([0.0, 0.0, 50.0])
    t_b = speed / 4.0
    stop_d = speed**2 / 8.0
    unit = np.array([ux, uy, 0.0])
    # Halfway through braking: distance v·t − 2·t², speed halved.
    half = t_b / 2
    pos, vel = at(path, 10.0 + half)
    close(pos, list(p0 + unit * (speed * half - 2.0 * half * half)))
    close(vel, list(unit * speed / 2))
    # Stopped after v/4 s, v²/8 m further along its track…
    pos, vel = at(path, 10.0 + t_b)
    close(pos, list(p0 + unit * stop_d))
    close(vel, [0.0, 0.0, 0.0])
    # …and held there, at its height, for good.
    for t in (10.0 + t_b + 0.5, 60.0, 3000.0):
        pos, vel = at(path, t)
        close(pos, list(p0 + unit * stop_d))
        close(vel, [0.0, 0.0, 0.0])


def test_land_brakes_then_descends_at_the_link_loss_rate_and_is_gone_on_the_ground() -> None:
    path = countered(east(speed=8.0, height=30.0), LinkLoss("land", descent_ms=3.0))
    assert path.apply(5.0, "land", "jam")
    # At 5 s it is at x = 40 doing 8 m/s: it brakes for 2 s over 8 m, stopping at x = 48.
    close(at(path, 7.0)[0], [48.0, 0.0, 30.0])
    pos, vel = at(path, 11.0)  # 4 s of descent at 3 m/s
    close(pos, [48.0, 0.0, 18.0])
    close(vel, [0.0, 0.0, -3.0])
    close(at(path, 16.9)[0], [48.0, 0.0, 0.3], tol=1e-6)
    assert path.state(17.0) is None  # 30 m / 3 m/s = 10 s after stopping
    assert path.state(100.0) is None


def test_return_home_flies_back_at_the_link_loss_speed_and_lands_where_it_took_off() -> None:
    # It takes off from (0, 0, 0), climbs to 40 m in 10 s, then flies east at 10 m/s.
    climb = WaypointPath(((0.0, 0.0, 0.0), (0.0, 0.0, 40.0), (1000.0, 0.0, 40.0)), (4.0, 10.0))
    (tgt,) = counterable([drone("d", climb, LinkLoss("return_home", speed_ms=8.0))])
    path = tgt.path
    assert isinstance(path, Countered) and path.home_m == (0.0, 0.0, 0.0)
    assert path.apply(30.0, "return_home", "jam")  # at x = 200
    # Brakes 2.5 s to x = 212.5 (t = 32.5), then 212.5 m home at 8 m/s: there at t = 59.0625.
    close(at(path, 32.5)[0], [212.5, 0.0, 40.0])
    pos, vel = at(path, 40.0)
    close(pos, [152.5, 0.0, 40.0])
    close(vel, [-8.0, 0.0, 0.0])
    pos, vel = at(path, 69.0625)  # 10 s of descent over home at 2 m/s
    close(pos, [0.0, 0.0, 20.0])
    close(vel, [0.0, 0.0, -2.0])
    close(at(path, 79.0)[0], [0.0, 0.0, 0.125])
    assert path.state(79.0625) is None
    assert path.state(80.0) is None


def test_return_home_goes_to_the_link_loss_home_when_one_is_set() -> None:
    home = (300.0, -400.0, 0.0)
    path = countered(east(speed=10.0, height=40.0), LinkLoss("return_home", home_m=home))
    assert path.apply(0.0, "return_home", "jam")
    # Brakes 2.5 s to x = 12.5, then flies 500 m towards (300, −400) at 10 m/s.
    d = math.hypot(287.5, 400.0)
    pos, vel = at(path, 2.5 + 20.0)
    close(vel, [10.0 * 287.5 / d, -10.0 * 400.0 / d, 0.0])
    close(pos, [12.5 + 200.0 * 287.5 / d, -200.0 * 400.0 / d, 40.0], tol=1e-6)
    pos, _ = at(path, 2.5 + d / 10.0 + 1.0)  # over home, coming down at 2 m/s
    close(pos, [300.0, -400.0, 38.0], tol=1e-6)
    assert path.state(2.5 + d / 10.0 + 20.0) is None


def test_a_drone_first_seen_in_the_air_that_returns_home_comes_down_instead_of_vanishing() -> None:
    # Enters the scene already at 60 m and flies west; when jammed it flies back to where it
    # was first seen, at 60 m — and should then descend, not disappear at 60 m.
    west = WaypointPath(((500.0, 0.0, 60.0), (-1000.0, 0.0, 60.0)), (10.0,))
    (tgt,) = counterable([drone("d", west, LinkLoss("return_home", speed_ms=10.0))])
    path = tgt.path
    assert isinstance(path, Countered)
    assert path.apply(10.0, "return_home", "jam")  # at x = 400, stops at 387.5 at t = 12.5
    arrive = 12.5 + 112.5 / 10.0
    s = path.state(arrive + 1.0)
    assert s is not None and s[0][2] < 60.0


# --- netted and downed ---------------------------------------------------------------------------


def test_captured_comes_straight_down_at_4_ms_and_is_gone_on_the_ground() -> None:
    path = countered(east(speed=10.0, height=50.0))
    assert path.apply(10.0, "captured", "net")
    pos, vel = at(path, 10.0)
    close(pos, [100.0, 0.0, 50.0])
    close(vel, [0.0, 0.0, -4.0])
    pos, vel = at(path, 12.5)
    close(pos, [100.0, 0.0, 40.0])
    close(vel, [0.0, 0.0, -4.0])
    close(at(path, 22.4)[0], [100.0, 0.0, 0.4], tol=1e-9)
    assert path.state(22.5) is None  # 50 m / 4 m/s
    assert path.state(1000.0) is None


def test_downed_falls_faster_than_a_parachute_loses_its_forward_speed_and_is_gone() -> None:
    path = countered(east(speed=10.0, height=200.0))
    assert path.apply(10.0, "downed", "gun")
    t_term = 15.0 / 9.81
    heights = []
    for dt in (1.0, 2.0, 3.0, 5.0, 8.0):
        pos, vel = at(path, 10.0 + dt)
        heights.append(float(pos[2]))
        assert 200.0 - pos[2] > 4.0 * dt  # below where a netted drone would be
        # forward speed decays with a 2 s time constant; position integrates it
        close(vel[:2], [10.0 * math.exp(-dt / 2.0), 0.0])
        close(pos[:2], [100.0 + 20.0 * (1.0 - math.exp(-dt / 2.0)), 0.0])
    assert heights == sorted(heights, reverse=True)
    close(at(path, 11.0)[0], [100.0 + 20.0 * (1 - math.exp(-0.5)), 0.0, 200.0 - 9.81 / 2])
    # Past terminal speed it falls at 15 m/s.
    _, vel = at(path, 15.0)
    assert math.isclose(vel[2], -15.0)
    # On the ground (200 m) after t_term + the rest at 15 m/s, and never far forward (< 20 m).
    ground = t_term + (200.0 - 0.5 * 9.81 * t_term**2) / 15.0
    pos, _ = at(path, 10.0 + ground - 0.05)
    assert 0.0 < pos[2] < 1.0 and pos[0] < 120.0
    assert path.state(10.0 + ground + 0.01) is None
    assert path.state(500.0) is None


# --- which effects count -------------------------------------------------------------------------


@pytest.mark.parametrize("terminal", ["captured", "downed"])
def test_only_the_first_failsafe_counts_but_a_drone_in_one_can_still_be_brought_down(
    terminal: str,
) -> None:
    path = countered(east(speed=10.0, height=50.0), LinkLoss("hover"))
    assert path.apply(10.0, "hover", "rf")  # stops at x = 112.5 at t = 12.5
    for other in ("land", "return_home", "hover"):
        assert path.apply(20.0, other, "gnss") is False
    assert (path.effect, path.at_s, path.cause) == ("hover", 10.0, "rf")
    close(at(path, 20.0)[0], [112.5, 0.0, 50.0])
    assert path.apply(20.0, terminal, "kinetic") is True
    # The latest effect and its effector; ``at_s`` stays when it first stopped being the pilot's.
    assert (path.effect, path.history[-1][0], path.cause) == (terminal, 20.0, "kinetic")
    assert path.at_s == 10.0
    pos, vel = at(path, 20.0)
    close(pos, [112.5, 0.0, 50.0])  # from where the failsafe had taken it
    pos, vel = at(path, 21.0)
    close(pos[:2], [112.5, 0.0])  # no forward speed left to carry it
    assert pos[2] < 50.0 and vel[2] < 0.0


@pytest.mark.parametrize("first", ["captured", "downed"])
def test_a_drone_brought_down_cannot_be_affected_again(first: str) -> None:
    path = countered(east())
    assert path.apply(10.0, first, "a")
    for effect in ("hover", "land", "return_home", "captured", "downed"):
        assert path.apply(10.5, effect, "b") is False
    assert (path.effect, path.at_s, path.cause) == (first, 10.0, "a")


def test_effects_apply_in_time_order() -> None:
    path = countered(east())
    assert path.apply(10.0, "hover", "a")
    assert path.apply(5.0, "captured", "b") is False
    assert path.effect == "hover"


def test_an_effect_on_a_drone_not_flying_has_none() -> None:
    later = countered(east(t_start_s=20.0))
    assert later.apply(10.0, "captured", "net") is False
    assert later.effect is None and later.at_s == math.inf
    base = at(east(t_start_s=20.0), 25.0)
    assert np.array_equal(at(later, 25.0)[0], base[0])
    # one that has left the scene (no hover at the end) cannot be affected either
    gone = countered(WaypointPath(((0.0, 0.0, 50.0), (100.0, 0.0, 50.0)), (10.0,), 0.0, False))
    assert gone.apply(11.0, "hover", "rf") is False and gone.effect is None


def test_an_unknown_effect_is_an_error() -> None:
    path = countered(east())
    with pytest.raises(ValueError, match="unknown effect 'explode'"):
        path.apply(5.0, "explode", "x")
    assert path.effect is None


def test_the_failsafe_flown_before_a_capture_stays_in_the_history() -> None:
    path = countered(east(speed=10.0, height=50.0), LinkLoss("hover"))
    assert path.apply(10.0, "hover", "rf")  # held at x = 112.5 from t = 12.5
    close(at(path, 15.0)[0], [112.5, 0.0, 50.0])
    assert path.apply(20.0, "captured", "net")
    close(at(path, 15.0)[0], [112.5, 0.0, 50.0])


# --- counterable ---------------------------------------------------------------------------------


def test_counterable_wraps_drones_only_and_every_run_gets_its_own_paths() -> None:
    ll = LinkLoss("land", delay_s=3.0)
    climb = WaypointPath(((10.0, 20.0, 0.0), (10.0, 20.0, 50.0), (500.0, 20.0, 50.0)), (5.0, 10.0))
    targets = (
        drone("d1", climb, ll),
        drone("d2", east()),
        Target("bird", ObjectClass.BIRD, 0.01, east(speed=9.0), "bird"),
        Target("jet", ObjectClass.AIRCRAFT, 40.0, east(speed=200.0, height=3000.0), "airliner"),
    )
    run_a, run_b = counterable(targets), counterable(list(targets))
    for run in (run_a, run_b):
        assert [t.name for t in run] == ["d1", "d2", "bird", "jet"]
        assert run[2] is targets[2] and run[3] is targets[3]
        for k in (0, 1):
            path = run[k].path
            assert isinstance(path, Countered) and path.base is targets[k].path
            assert path.effect is None
    p1, p2 = run_a[0].path, run_a[1].path
    assert isinstance(p1, Countered) and isinstance(p2, Countered)
    assert p1.link_loss is ll and p1.home_m == (10.0, 20.0, 0.0)  # where it took off
    assert p2.link_loss == LinkLoss() and p2.home_m == (0.0, 0.0, 0.0)  # ground below
    # Everything else about the target is kept.
    assert run_a[0].link_loss is ll and run_a[0].rcs_m2 == 0.02 and run_a[0].role == "intruder"
    # An effect in one run does not leak into another run, nor into the scenario's targets.
    assert p1.apply(30.0, "captured", "net")
    other = run_b[0].path
    assert isinstance(other, Countered) and other is not p1 and other.effect is None
    assert np.array_equal(at(other, 40.0)[0], at(climb, 40.0)[0])
    assert targets[0].path is climb and not isinstance(targets[0].path, Countered)
    assert counterable(targets)[0].path.state(40.0) is not None
