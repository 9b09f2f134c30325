"""The faster SAPIENT delivery path against the one it replaced (issue #17).

:class:`~tests.ingest.sapient_pipe_before.PipeBefore` is the pipe's delivery path as it was;
both pipes are fed the same random streams of valid and invalid messages in the same random
chunks, with and without a load budget, and must give the same batches, the same rejections
(total and by reason), the same answers and the same node state.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sapient_msg.bsi_flex_335_v2_0 import location_pb2, range_bearing_pb2

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import SapientMessage, SapientPipe, frame, new_ulid
from luchtwacht.sim.radar import RadarConfig, RadarSim
from tests.ingest.sapient_pipe_before import PipeBefore

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
EPOCH = 1_781_299_800.0
NODES = (
    RadarConfig(
        node_id="4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat_deg=51.655, lon_deg=5.705, alt_m=75.0
    ),
    RadarConfig(
        node_id="9d2e4f60-1b3c-4d5e-8f70-a1b2c3d4e5f6", lat_deg=51.66, lon_deg=5.712, alt_m=70.0
    ),
    RadarConfig(
        node_id="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", lat_deg=51.65, lon_deg=5.70, alt_m=60.0
    ),
)
RB = range_bearing_pb2
LOC = location_pb2

# What one DetectionReport may get wrong or do unusually (None: a plain valid report).
FLAWS = (
    None,
    None,
    None,
    None,
    "azimuth out of range",
    "negative error",
    "nan range",
    "bad report id",
    "bad object id",
    "no object id",
    "node id in capitals",
    "unknown node",
    "lost",
    "angle only",
    "no azimuth or range",
    "no elevation",
    "inside minimum range",
    "platform datum",
    "magnetic datum",
    "grid datum",
    "radians and km",
    "utm",
    "utm bad zone",
    "utm off the map",
    "geoid datum",
    "range rate",
    "rf link",
    "confidence above 1",
    "blank class",
)


def detection(
    node_id: str, t_s: float, rng: np.random.Generator, geodetic: bool, flaw: str | None
) -> SapientMessage:
    """One DetectionReport as a radar or a fusion node sends it, with ``flaw`` applied."""
    msg = SapientMessage()
    msg.timestamp.seconds = math.floor(t_s)
    msg.timestamp.nanos = round((t_s - math.floor(t_s)) * 1e9) % 1_000_000_000
    msg.node_id = node_id.upper() if flaw == "node id in capitals" else node_id
    if flaw == "unknown node":
        msg.node_id = "11111111-2222-4333-8444-555555555555"
    dr = msg.detection_report
    dr.report_id = "not-a-ulid" if flaw == "bad report id" else new_ulid(t_s, rng)
    if flaw != "no object id":
        dr.object_id = "I" * 26 if flaw == "bad object id" else new_ulid(t_s, rng)
    if flaw in ("utm", "utm bad zone", "utm off the map"):
        loc = dr.location
        loc.x, loc.y, loc.z = 680_000.0 + rng.uniform(-500, 500), 5_725_000.0, 120.0
        if flaw == "utm off the map":
            loc.x = 1e30
        loc.x_error, loc.y_error, loc.z_error = 3.0, 3.0, 8.0
        loc.coordinate_system = LOC.LOCATION_COORDINATE_SYSTEM_UTM_M
        loc.utm_zone = "99" if flaw == "utm bad zone" else "31U"
        loc.datum = LOC.LOCATION_DATUM_WGS84_E
    elif geodetic:
        loc = dr.location
        loc.x = 5.70 + rng.uniform(-0.03, 0.03)
        loc.y = 51.65 + rng.uniform(-0.02, 0.02)
        loc.z = rng.uniform(60.0, 400.0)
        loc.x_error, loc.y_error, loc.z_error = 2e-5, 2e-5, 8.0
        loc.coordinate_system = LOC.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        loc.datum = (
            LOC.LOCATION_DATUM_WGS84_G if flaw == "geoid datum" else LOC.LOCATION_DATUM_WGS84_E
        )
    else:
        rb = dr.range_bearing
        rb.azimuth = 400.0 if flaw == "azimuth out of range" else rng.uniform(0.0, 360.0)
        rb.elevation = rng.uniform(0.0, 20.0)
        rb.range = float("nan") if flaw == "nan range" else rng.uniform(200.0, 8000.0)
        rb.azimuth_error, rb.elevation_error, rb.range_error = 0.6, 0.8, 8.0
        if flaw == "negative error":
            rb.range_error = -1.0
        rb.coordinate_system = RB.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
        rb.datum = {
            "platform datum": RB.RANGE_BEARING_DATUM_PLATFORM,
            "magnetic datum": RB.RANGE_BEARING_DATUM_MAGNETIC,
            "grid datum": RB.RANGE_BEARING_DATUM_GRID,
        }.get(flaw or "", RB.RANGE_BEARING_DATUM_TRUE)
        if flaw in ("angle only", "no azimuth or range"):
            rb.ClearField("range")
            rb.ClearField("range_error")
        if flaw == "no azimuth or range":
            rb.ClearField("azimuth")
        if flaw == "no elevation":
            rb.ClearField("elevation")
        if flaw == "inside minimum range":
            rb.range = 0.5
        if flaw == "radians and km":
            rb.coordinate_system = RB.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM
            rb.azimuth, rb.elevation, rb.range = 1.0, 0.05, 3.5
            rb.azimuth_error, rb.elevation_error, rb.range_error = 0.01, 0.01, 0.01
    if flaw == "lost":
        dr.state = "Lost"
    if flaw == "range rate":
        info = dr.object_info.add()
        info.type, info.value, info.error = "RangeRate", str(rng.uniform(-20, 20)), 0.5
    if flaw == "rf link":
        info = dr.object_info.add()
        info.type, info.value = "Protocol", "OcuSync"
        sig = dr.signal.add()
        sig.centre_frequency = 2.44e9
        sig.amplitude = -60.0
    for k in range(int(rng.integers(0, 3))):
        c = dr.classification.add()
        c.type = ("UAV Rotary Wing", "Bird", "Clutter")[k]
        c.confidence = float(rng.uniform(0.1, 0.9))
    if flaw == "blank class":
        dr.classification.add().type = " "
    dr.detection_confidence = 1.5 if flaw == "confidence above 1" else rng.uniform(0.5, 0.99)
    return msg


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], list[float]]:
    """Chunks of one SAPIENT stream and the arrival time of each chunk."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    sims = [RadarSim(cfg, ORIGIN, EPOCH, seed=seed) for cfg in NODES]
    registered = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    located = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    # How each node stamps its plots: one stamp per scan, or each plot as the beam passes.
    per_plot = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    stream = b""
    for k, sim in enumerate(sims):
        if registered[k]:
            stream += frame(sim.registration(0.0))
        if located[k]:
            stream += frame(sim.status_report(0.0))
    t = dict.fromkeys(range(3), EPOCH + 1.0)
    for _ in range(draw(st.integers(1, 60))):
        event = draw(st.sampled_from(["det"] * 8 + ["status", "register", "garbage", "scan"]))
        k = draw(st.integers(0, 2))
        if event == "scan":  # the node's next scan: a later stamp, sometimes far later
            t[k] += draw(st.sampled_from([0.05, 0.2, 0.3, 1.0, 12.0]))
        elif event == "status":
            stream += frame(sims[k].status_report(t[k] - EPOCH))
        elif event == "register":
            stream += frame(sims[k].registration(t[k] - EPOCH))
        elif event == "garbage":
            stream += len(body := draw(st.binary(max_size=40))).to_bytes(4, "little") + body
        else:
            for _ in range(draw(st.integers(1, 8))):
                jitter = float(rng.uniform(0.0, 0.004)) if per_plot[k] else 0.0
                flaw = draw(st.sampled_from(FLAWS))
                geodetic = k == 1 or draw(st.booleans())
                msg = detection(NODES[k].node_id, t[k] + jitter, rng, geodetic, flaw)
                stream += frame(msg)
    if draw(st.booleans()):  # an out-of-step length prefix: the reader resets
        at = draw(st.integers(0, len(stream)))
        stream = stream[:at] + (5 << 20).to_bytes(4, "little") + stream[at:]
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    edges = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(edges)]
    times = [EPOCH + 0.01 * i for i in range(len(chunks))]
    return chunks, times


class Share:
    """A load budget that lets ``per_delivery`` reports through each delivery."""

    def __init__(self, per_delivery: int) -> None:
        self.per_delivery = per_delivery
        self.spent = 0

    def available(self, n: int, t_s: float) -> int:
        return self.per_delivery

    def spend(self, n: int) -> None:
        self.spent += n


def same_batch(a: object, b: object) -> None:
    assert type(a) is type(b)
    assert dataclasses.is_dataclass(a)
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)  # NaN equal to NaN
        else:
            assert x == y or (x != x and y != y), f.name


def answers(pipe: SapientPipe) -> list[bytes]:
    """The pipe's answers without their wall-clock stamps."""
    out = []
    for framed in pipe.take_replies():
        msg = SapientMessage.FromString(framed[4:])
        msg.ClearField("timestamp")
        out.append(msg.SerializeToString(deterministic=True))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams(), budget=st.sampled_from([None, 3, 50]))
def test_the_fast_delivery_path_gives_what_the_old_one_gave(data, budget):
    chunks, times = data
    new, old = SapientPipe("s", ORIGIN), PipeBefore("s", ORIGIN)
    for pipe in (new, old):
        pipe.magnetic_declination_deg = 2.0
        pipe.budget = None if budget is None else Share(budget)
    for chunk, t_rx in zip(chunks, times, strict=True):
        got, want = new.feed(chunk, t_rx), old.feed(chunk, t_rx)
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            same_batch(a, b)
        assert answers(new) == answers(old)
    got, want = new.flush(), old.flush()
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        same_batch(a, b)
    assert new.counters == old.counters
    assert new.replies_suppressed == old.replies_suppressed
    assert new.nodes == old.nodes
    assert new.node_ids_here == old.node_ids_here


def test_the_random_streams_reach_every_outcome():
    """The property above is only as good as its streams: they must make batches of both kinds,
    reject for many reasons and shed reports (one fixed stream, fed to the new pipe)."""
    rng = np.random.default_rng(5)
    sims = [RadarSim(cfg, ORIGIN, EPOCH, seed=5) for cfg in NODES[:2]]
    stream = b"".join(frame(s.registration(0.0)) + frame(s.status_report(0.0)) for s in sims)
    for scan in range(4):
        for flaw in FLAWS:
            for k in range(2):
                msg = detection(NODES[k].node_id, EPOCH + 1 + scan, rng, k == 1, flaw)
                stream += frame(msg)
    pipe = SapientPipe("s", ORIGIN)
    out = pipe.feed(stream) + pipe.flush()
    kinds = {type(b).__name__ for b in out}
    assert kinds == {"DetectionBatch", "BearingBatch"}
    assert len(pipe.counters.rejected_by_reason) >= 12
    assert any(b.emitter for b in out)  # the RF link was read
    assert "SapientMessage: malformed protobuf" not in pipe.counters.rejected_by_reason
