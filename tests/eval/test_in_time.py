"""eval.in_time: could an intruder have been stopped before its breach, proposed at classification."""

from __future__ import annotations

from luchtwacht.eval.in_time import stoppable
from luchtwacht.model.detection import ObjectClass
from luchtwacht.sim.effects import counterable
from luchtwacht.sim.targets import RfLink, Target, WaypointPath
from tests.counter.helpers import effector

# Straight in from 3 km north at 15 m/s: at the zone edge (300 m) after 180 s.
PATH = WaypointPath(((0.0, 3000.0, 80.0), (0.0, 0.0, 80.0)), (15.0,), hover_at_end=False)
BREACH_S = 180.0


def _drone(**kw: object) -> Target:
    return Target("intruder", ObjectClass.DRONE, 0.05, PATH, role="intruder", **kw)  # type: ignore[arg-type]


def test_a_jammer_in_reach_in_time_could_have_stopped_it() -> None:
    jam = effector("rf_jammer", at=(0.0, 300.0, 5.0))
    assert stoppable(_drone(), [jam], 10.0, BREACH_S, 20.0)
    # The run's own (countered) path is judged on the pilot's path all the same.
    (countered,) = counterable([_drone()])
    assert stoppable(countered, [jam], 10.0, BREACH_S, 20.0)


def test_classified_too_late_for_the_reaction_time_it_could_not() -> None:
    jam = effector("rf_jammer", at=(0.0, 300.0, 5.0))
    assert not stoppable(_drone(), [jam], 165.0, BREACH_S, 20.0)
    assert stoppable(_drone(), [jam], 165.0, BREACH_S, 5.0)


def test_an_effector_that_cannot_act_on_the_drone_does_not_count() -> None:
    jam = effector("rf_jammer", at=(0.0, 300.0, 5.0))
    assert not stoppable(_drone(emits_rf=False), [jam], 10.0, BREACH_S, 20.0)
    elrs = RfLink("ExpressLRS", centre_mhz=868.0, bandwidth_mhz=0.5)
    assert not stoppable(_drone(rf_link=elrs), [jam], 10.0, BREACH_S, 20.0)
    gnss = effector("gnss_jammer", at=(0.0, 300.0, 5.0))
    assert stoppable(_drone(emits_rf=False), [gnss], 10.0, BREACH_S, 20.0)
    assert not stoppable(_drone(emits_rf=False, gnss_nav=False), [gnss], 10.0, BREACH_S, 20.0)


def test_out_of_reach_before_the_breach_it_could_not() -> None:
    far = effector("net", at=(2000.0, -2000.0, 5.0))  # 300 m reach, nowhere near the path
    assert not stoppable(_drone(), [far], 10.0, BREACH_S, 20.0)
    # An interceptor from the zone meets it on the way in.
    icpt = effector("interceptor", at=(0.0, 0.0, 5.0))
    assert stoppable(_drone(), [icpt], 10.0, BREACH_S, 20.0)
    assert not stoppable(_drone(), [], 10.0, BREACH_S, 20.0)
