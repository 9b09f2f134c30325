import numpy as np

from luchtwacht.identify.classify import UNKNOWN, classify, identity_kind, kinematic_loglik
from luchtwacht.model.detection import N_CLASSES, DetectionBatch, ObjectClass, class_report_loglik
from luchtwacht.tracking.tracker import Tracker


def feed(tr, t, pos, ident=None, labels=None, conf=0.8):
    n = 1
    ll = (
        class_report_loglik([labels], np.array([conf]))
        if labels is not None
        else np.zeros((n, N_CLASSES))
    )
    tr.process(
        DetectionBatch(
            "s",
            np.array([float(t)]),
            np.asarray([pos], float),
            np.eye(3)[None] * 25.0,
            ll,
            ident=(ident,) if ident else (),
            counts_misses=ident is None,
        )
    )


def test_identity_kinds():
    assert identity_kind(None) is None
    assert identity_kind("1581F5FJD229V00QZ7") == "remoteid"
    assert identity_kind("icao:4840D6") == "adsb"
    assert identity_kind("tisb:ABC123") == "adsb"


def test_adsb_track_is_a_cooperative_aircraft_and_remote_id_a_cooperative_drone():
    tr = Tracker()
    for k in range(4):
        feed(tr, k, (1000 + 70 * k, 0, 900), ident="icao:4840D6")
        feed(tr, k + 0.2, (-500, 300 + 5 * k, 60), ident="1581F5FJD229V00QZ7")
    cls = classify(tr.tracks)
    labels = {tr.tracks.ident[i]: cls.label(i) for i in range(len(tr.tracks))}
    assert labels == {"icao:4840D6": "aircraft", "1581F5FJD229V00QZ7": "drone"}
    assert cls.cooperative.all()


def test_radar_class_reports_and_kinematics_decide_between_bird_and_drone():
    tr = Tracker()
    for k in range(8):  # a slow flyer reported as a bird most of the time
        feed(tr, k, (10 * k, 0, 40), labels=ObjectClass.BIRD if k % 4 else ObjectClass.DRONE)
    cls = classify(tr.tracks)
    assert cls.label(0) == "bird" and not cls.cooperative[0]
    # an undecided fresh track stays unknown rather than guessing
    tr2 = Tracker()
    feed(tr2, 0, (0, 0, 50))
    assert classify(tr2.tracks).class_idx[0] == UNKNOWN


def test_kinematics_rule_out_hovering_birds_and_slow_aircraft():
    ll = kinematic_loglik(np.array([0.0, 80.0]), np.array([60.0, 1200.0]))
    hover, fast = ll
    assert hover[ObjectClass.BIRD] < hover[ObjectClass.DRONE] - 2
    assert hover[ObjectClass.AIRCRAFT] < -10
    assert fast[ObjectClass.AIRCRAFT] == 0.0 and fast[ObjectClass.DRONE] < -10


def test_each_track_carries_its_class_probabilities_and_reasons_in_words() -> None:
    """The picture's tracks say how sure the classifier is of every class, and why."""
    from luchtwacht.pipeline import Pipeline
    from luchtwacht.sim.scenario import default_scenario

    node = Pipeline(default_scenario())
    node.run(60)
    assert node.views
    for view in node.views:
        labels = [label for label, _ in view.class_probs]
        probs = [p for _, p in view.class_probs]
        assert sorted(labels) == sorted(c.label for c in ObjectClass)
        assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1.0) < 0.01
        if view.object_class != "unknown":
            assert labels[0] == view.object_class
        assert view.class_reasons, view
        assert view.ellipse_m is not None and view.ellipse_m[0] >= view.ellipse_m[1] > 0
    by_uas = [v for v in node.views if v.uas_id]
    assert by_uas and all("broadcasts Remote ID" in v.class_reasons for v in by_uas)
