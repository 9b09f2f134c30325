"""Truth matching: targets flying close together keep their tracks (CLEAR MOT continuity)."""

from luchtwacht.eval.truth import TruthMatcher
from luchtwacht.model.detection import ObjectClass
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.sim.targets import Target, WaypointPath


def view(track_id: int, east: float) -> TrackView:
    return TrackView(
        track_id, 0.0, 0.0, 0.0, 0.0, east, 0.0, 50.0, 10.0, 90.0, 0.0, "drone", 0.9, False,
        None, ThreatLevel(0), (), None, 5.0,
    )  # fmt: skip


def still(name: str, east: float) -> Target:
    return Target(
        name,
        ObjectClass.DRONE,
        0.02,
        WaypointPath(((east, 0.0, 50.0), (east, 1.0, 50.0)), (1e-6,)),
    )


def test_a_pairing_is_kept_while_the_track_stays_within_reach():
    a, b = still("A", 50.0), still("B", 55.0)
    m = TruthMatcher([a, b], max_dist_m=150.0)
    m.observe(1.0, [view(1, 49.0), view(2, 57.0)])  # nearest: A-1, B-2
    # Tracks cross over by a few metres: nearest neighbour alone would swap them.
    m.observe(2.0, [view(1, 56.0), view(2, 50.0)])
    assert m.history["A"].track_ids == [1] and m.history["B"].track_ids == [2]
    # A track beyond reach is let go, and the target takes the best free one.
    m.observe(3.0, [view(1, 400.0), view(3, 51.0)])
    assert m.history["A"].track_ids == [1, 3]
