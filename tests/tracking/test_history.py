"""Track histories in hindsight: what they keep, what they drop, and the RTS smoother."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.tracking.history import TrackHistory, rts_smooth
from luchtwacht.tracking.models import ncv_predict
from luchtwacht.tracking.tracker import Tracker
from tests.tracking.test_tracker import batch


def run(frames):
    """Feed (t, points) frames one scan each; return the tracker and its history."""
    tr, hist = Tracker(), TrackHistory()
    online = []
    for t, pts in frames:
        tr.process(batch(t, pts))
        hist.record(tr.tracks)
        online.append(set(tr.tracks.track_id[tr.tracks.confirmed].tolist()))
    return tr, hist, online


def test_history_runs_from_first_to_last_plot_of_an_ended_track():
    # Plots at t = 0…5, then nothing: the live picture reports from the second plot on and
    # coasts after t = 5; the history holds t = 0…5 exactly, first (tentative) state included.
    frames = [(t, [[10.0 * t, 0.0, 50.0]]) for t in range(6)] + [(t, []) for t in range(6, 20)]
    tr, hist, online = run(frames)
    assert len(tr.tracks) == 0  # deleted during the coast
    (tid,) = set().union(*online)
    assert not online[0] and all(tid in o for o in online[1:6])
    assert tid in online[6]  # the live picture still reports the coasting track
    rows = hist.finish()
    assert rows.step.tolist() == list(range(6)) and set(rows.track_id.tolist()) == {tid}
    np.testing.assert_allclose(rows.t_s, np.arange(6.0))
    assert abs(rows.x[0, 0]) < 1e-9  # the first plot itself


def test_keep_coasts_keeps_every_state_up_to_deletion():
    # run_stonesoup.py's rule: the coasted predictions after the last plot count too.
    frames = [(t, [[10.0 * t, 0.0, 50.0]]) for t in range(6)] + [(t, []) for t in range(6, 20)]
    tr, hist, _ = run(frames)
    assert len(tr.tracks) == 0
    rows = hist.finish(keep_coasts=True)
    last = int(rows.step.max())
    assert rows.step.tolist() == list(range(last + 1)) and last > 5  # coasts until deleted
    np.testing.assert_allclose(rows.x[:6], hist.finish().x)


def test_unconfirmed_tracks_are_not_history():
    frames = [(0, [[0.0, 0.0, 50.0], [5000.0, 0.0, 50.0]])] + [
        (t, [[10.0 * t, 0.0, 50.0]]) for t in range(1, 5)
    ]
    _, hist, _ = run(frames)
    rows = hist.finish()
    assert np.all(np.abs(rows.x[:, 0] - 5000.0) > 1000.0)  # the lone plot never became a track
    assert rows.step.tolist() == [0, 1, 2, 3, 4]


def test_a_track_live_at_the_end_keeps_the_coasts_it_was_reported_with():
    frames = [(t, [[10.0 * t, 0.0, 50.0]]) for t in range(10)] + [(10, []), (11, [])]
    tr, hist, online = run(frames)
    (tid,) = tr.tracks.track_id.tolist()
    rows = hist.finish()
    kept = rows.step[rows.track_id == tid].tolist()
    reported_coasts = [k for k in (10, 11) if tid in online[k]]
    assert reported_coasts  # two misses after ten hits: still reported
    assert kept == list(range(10)) + reported_coasts


def test_history_refuses_a_step_back_in_time():
    tr, hist = Tracker(), TrackHistory()
    tr.process(batch(5.0, [[0.0, 0.0, 50.0]]))
    hist.record(tr.tracks)
    tr.process(batch(4.0, [[0.0, 0.0, 50.0]]))  # a late batch: the table is retrodicted
    with pytest.raises(ValueError, match="time order"):
        hist.record(tr.tracks)


def test_smoothed_history_beats_the_filtered_one_on_a_noisy_track():
    rng = np.random.default_rng(3)
    truth = np.array([[12.0 * t, -4.0 * t, 60.0] for t in range(30)])
    frames = [(t, [truth[t] + rng.normal(0.0, 5.0, 3)]) for t in range(30)]
    tr, hist, _ = run(frames)
    filt = hist.finish()
    smooth = hist.finish(smooth_q_m2_s3=tr.config.q_m2_s3)
    assert filt.step.tolist() == smooth.step.tolist() == list(range(30))
    err_f = np.linalg.norm(filt.x[:, :3] - truth, axis=1).mean()
    err_s = np.linalg.norm(smooth.x[:, :3] - truth, axis=1).mean()
    assert err_s < 0.8 * err_f
    np.testing.assert_allclose(smooth.x[-1], filt.x[-1])  # the last state has nothing after it


def random_track(rng, n, dt_choices=(0.5, 1.0, 2.0)):
    """Filtered-like states: NCV Kalman steps with random innovations and random time gaps."""
    t = np.cumsum(rng.choice(dt_choices, n))
    x = np.zeros((n, 6))
    p = np.zeros((n, 6, 6))
    xi, pi = rng.normal(0, 50, 6), np.eye(6) * 100.0
    r = np.eye(3) * 25.0
    h = np.hstack([np.eye(3), np.zeros((3, 3))])
    for k in range(n):
        if k:
            xi, pi = (
                a[0] for a in ncv_predict(xi[None], pi[None], np.array([t[k] - t[k - 1]]), 2.0)
            )
        s = h @ pi @ h.T + r
        g = pi @ h.T @ np.linalg.inv(s)
        xi = xi + g @ rng.normal(0.0, 6.0, 3)  # a random innovation
        pi = (np.eye(6) - g @ h) @ pi
        pi = 0.5 * (pi + pi.T)
        x[k], p[k] = xi, pi
    return t, x, p


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.integers(1, 12), min_size=1, max_size=5))
def test_smoothing_many_tracks_at_once_equals_one_at_a_time_and_stays_spd(seed, lengths):
    rng = np.random.default_rng(seed)
    tracks = [random_track(rng, n) for n in lengths]
    ids = np.concatenate([np.full(n, i) for i, n in enumerate(lengths)]).astype(np.int64)
    t = np.concatenate([a[0] for a in tracks])
    x = np.concatenate([a[1] for a in tracks])
    p = np.concatenate([a[2] for a in tracks])
    xs, ps = rts_smooth(ids, t, x, p, 2.0)
    for i, (ti, xi, pi) in enumerate(tracks):
        one_x, one_p = rts_smooth(np.zeros(ti.size, np.int64), ti, xi, pi, 2.0)
        np.testing.assert_allclose(xs[ids == i], one_x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ps[ids == i], one_p, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ps, ps.transpose(0, 2, 1), atol=1e-9)
    assert np.all(np.linalg.eigvalsh(ps) > 0)
    # Smoothing never adds uncertainty: P_f − P_s is positive semi-definite.
    assert np.all(np.linalg.eigvalsh(p - ps) > -1e-6 * np.abs(p).max())
