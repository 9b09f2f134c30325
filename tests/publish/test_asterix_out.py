"""ASTERIX CAT062 out, checked by an independent decoder over real UDP sockets on loopback.

The publisher's datagrams are received on a loopback socket and handed to CroatiaControl's
``asterix-decoder`` (C++; its own venv, built by ``make peers``, ed. 1.18 of CAT062 and 1.3 of
CAT065), run in a subprocess; every field is compared with the track it came from, within half an
LSB. libasterix (ed. 1.21) decodes the same bytes in process as a second opinion, and is the
reference the fast encoder is kept byte-equal to.
"""

from __future__ import annotations

import itertools
import json
import math
import socket
import struct
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asterix.generated as gen
import pytest
from asterix.base import Bits, RawDatablock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.picture import PictureUpdate
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.node.ports import Subscription
from luchtwacht.publish.asterix_out import (
    ALT_LSB_FT,
    FT_M,
    LATLON_LSB_DEG,
    Accuracy,
    AsterixOutConfig,
    AsterixOutPublisher,
    SystemTrack,
    TrackNumbers,
    encode_system_track,
    encode_system_track_reference,
    pack_datagrams,
    system_track,
)
from luchtwacht.publish.base import PublishContext

REPO = Path(__file__).resolve().parents[2]
PEER_PYTHON = REPO / ".venv" / "peers" / "asterix-decoder" / "bin" / "python"
ORIGIN = SiteOrigin(52.0906, 5.1214, 10.0)
T0 = 1_796_652_116.25  # 2026-12-07 14:01:56.25 UTC

# Runs in the peer's venv: a JSON list of hex datagrams on stdin → a list of record lists.
PEER_SCRIPT = """
import json, sys
import asterix
out = [asterix.parse(bytes.fromhex(h), verbose=False) for h in json.load(sys.stdin)]
json.dump(out, sys.stdout, default=str)
"""


def peer_decode(datagrams: list[bytes]) -> list[list[dict[str, Any]]]:
    """Decode each datagram with asterix-decoder in its own interpreter."""
    if not PEER_PYTHON.exists():
        pytest.skip(f"asterix-decoder is not built at {PEER_PYTHON} (run `make peers`)")
    done = subprocess.run(
        [str(PEER_PYTHON), "-c", PEER_SCRIPT],
        input=json.dumps([d.hex() for d in datagrams]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: list[list[dict[str, Any]]] = json.loads(done.stdout)
    return result


def lib_decode(datagram: bytes) -> list[tuple[int, Any]]:
    """Decode with libasterix (strict): (category, record) for each record of each block."""
    blocks = RawDatablock.parse(Bits.from_bytes(datagram))
    assert not isinstance(blocks, ValueError), blocks
    out: list[tuple[int, Any]] = []
    for block in blocks:
        cat = block.get_category()
        records: Any = (
            gen.Cat_062_1_21.cv_uap.parse(block.get_raw_records())
            if cat == 62
            else gen.Cat_065_1_6.cv_uap.parse(block.get_raw_records())
        )
        assert not isinstance(records, ValueError), records
        out += [(cat, r) for r in records]
    return out


def view(
    track_id: int,
    east_m: float,
    north_m: float,
    alt_m: float = 120.0,
    *,
    t_s: float = T0,
    speed_ms: float = 18.0,
    heading_deg: float = 250.0,
    icao: str | None = None,
    object_class: str = "drone",
    uas_id: str | None = None,
    ellipse_m: tuple[float, float, float] | None = (12.0, 5.0, 40.0),
    alt_std_m: float | None = 6.0,
    sensors: tuple[str, ...] = ("radar-1", "rf-1"),
) -> TrackView:
    """A confirmed track at ENU (east, north) of the site, with its WGS84 position to match."""
    lat, lon, alt = ORIGIN.to_geodetic([east_m, north_m, alt_m - ORIGIN.alt_m]).tolist()
    return TrackView(
        track_id=track_id,
        t_s=t_s,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        east_m=east_m,
        north_m=north_m,
        up_m=alt_m - ORIGIN.alt_m,
        speed_ms=speed_ms,
        heading_deg=heading_deg,
        climb_ms=-1.5,
        object_class=object_class,
        class_prob=0.8,
        cooperative=icao is not None or uas_id is not None,
        uas_id=uas_id,
        threat=ThreatLevel.MEDIUM,
        zones_inside=(),
        time_to_breach_s=None,
        pos_std_m=8.0,
        icao=icao,
        sensors=sensors,
        ellipse_m=ellipse_m,
        alt_std_m=alt_std_m,
    )


def picture(seq: int, t_s: float, tracks: list[TrackView]) -> PictureUpdate:
    """A picture update holding these tracks (nothing else)."""
    return PictureUpdate(
        seq=seq,
        t_s=t_s,
        site="test",
        tracks=tuple(tracks),
        new_tracks=frozenset(),
        dropped_tracks=frozenset(),
        alerts=(),
        alert_changes=(),
        recommendations=(),
        engagements=(),
        feeds=(),
        nodes=(),
    )


class Receiver:
    """A UDP socket on loopback that collects datagrams (unicast, or joined to a group)."""

    def __init__(self, group: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        if group is None:
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((group, 0))
            mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("127.0.0.1"))
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        self.port = self.sock.getsockname()[1]

    def collect(self, until: int, timeout_s: float = 5.0, linger_s: float = 0.1) -> list[bytes]:
        """Datagrams until ``until`` have come (or the timeout), then any within ``linger_s``."""
        out: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            wait = max(0.01, deadline - time.monotonic()) if len(out) < until else linger_s
            self.sock.settimeout(wait)
            try:
                out.append(self.sock.recv(65_535))
            except TimeoutError:
                if len(out) >= until:
                    break
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def publisher(port: int, host: str = "127.0.0.1", **settings: Any) -> AsterixOutPublisher:
    config = AsterixOutConfig(
        name="atc", send_to=f"{host}:{port}", sac=25, sic=200, service_id=3, **settings
    )
    return AsterixOutPublisher(config, PublishContext("test", ORIGIN), Subscription("atc"))


def cat062(records: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [r for dgram in records for r in dgram if r["category"] == 62]


def val(record: dict[str, Any], *path: str) -> Any:
    node: Any = record
    for key in path:
        node = node[key]
    return node["val"]


def check_fields(rec: dict[str, Any], v: TrackView) -> None:
    """One decoded CAT062 record against the track it came from, field by field."""
    assert val(rec, "I010", "SAC") == 25 and val(rec, "I010", "SIC") == 200
    assert val(rec, "I015", "SID") == 3
    assert val(rec, "I070", "ToT") == pytest.approx(v.t_s % 86_400, abs=1 / 256)
    assert val(rec, "I105", "Lat") == pytest.approx(v.lat_deg, abs=LATLON_LSB_DEG / 2 + 1e-9)
    assert val(rec, "I105", "Lon") == pytest.approx(v.lon_deg, abs=LATLON_LSB_DEG / 2 + 1e-9)
    assert val(rec, "I100", "X") == pytest.approx(v.east_m, abs=0.25 + 1e-9)
    assert val(rec, "I100", "Y") == pytest.approx(v.north_m, abs=0.25 + 1e-9)
    h = math.radians(v.heading_deg)
    assert val(rec, "I185", "Vx") == pytest.approx(v.speed_ms * math.sin(h), abs=0.125 + 1e-9)
    assert val(rec, "I185", "Vy") == pytest.approx(v.speed_ms * math.cos(h), abs=0.125 + 1e-9)
    assert val(rec, "I130", "Alt") == pytest.approx(v.alt_m / FT_M, abs=ALT_LSB_FT / 2 + 1e-9)
    assert val(rec, "I220", "RoC") == pytest.approx(v.climb_ms / FT_M * 60, abs=3.125 + 1e-9)
    assert val(rec, "I080", "CNF") == 0  # confirmed
    assert val(rec, "I080", "MON") == (1 if len(v.sensors) == 1 else 0)
    assert val(rec, "I080", "MRH") == 1
    assert val(rec, "I080", "SRC") == (1 if v.icao or v.uas_id else 2)  # GNSS, else 3D radar
    if v.icao is not None:
        assert val(rec, "I380", "ADR", "ADR") == v.icao.upper()
    if v.object_class == "drone" or v.uas_id is not None or v.own_asset is not None:
        assert val(rec, "I380", "EMC", "ECAT") == 13
    else:
        assert "EMC" not in rec.get("I380", {})
    assert v.ellipse_m is not None and v.alt_std_m is not None
    a, b, bearing = v.ellipse_m
    s, c = math.sin(math.radians(bearing)), math.cos(math.radians(bearing))
    assert val(rec, "I500", "APC", "APC_X") == pytest.approx(
        math.sqrt(a * a * s * s + b * b * c * c), abs=0.25 + 1e-9
    )
    assert val(rec, "I500", "APC", "APC_Y") == pytest.approx(
        math.sqrt(a * a * c * c + b * b * s * s), abs=0.25 + 1e-9
    )
    cov = (a * a - b * b) * s * c
    assert val(rec, "I500", "COV", "COV_XY") == pytest.approx(
        math.copysign(math.sqrt(abs(cov)), cov), abs=0.25 + 1e-9
    )
    assert val(rec, "I500", "AGA", "AGA_Acc") == pytest.approx(
        v.alt_std_m / FT_M, abs=ALT_LSB_FT / 2 + 1e-9
    )


# --- against the independent decoder, over UDP ------------------------------------------------


def test_tracks_round_trip_through_asterix_decoder(receiver: Receiver) -> None:
    """Three tracks over a running publisher's thread: every field as the peer decodes it."""
    tracks = [
        view(70_001, 1234.4, -999.9, icao="4840d6", object_class="aircraft", heading_deg=45.0),
        view(12, -4321.0, 2500.3, alt_m=-35.0, sensors=("radar-1",)),
        view(13, 50_000.0, 49_999.5, alt_m=3000.0, speed_ms=300.0, heading_deg=300.0),
    ]
    pub = publisher(receiver.port)
    pub.start()
    try:
        pub.subscription.offer(picture(1, T0, tracks))
        got = receiver.collect(until=2)
    finally:
        pub.stop()
    decoded = peer_decode(got)
    assert [r["category"] for d in decoded for r in d] == [62, 62, 62, 65, 65]
    records = {val(r, "I040", "TrkN"): r for r in cat062(decoded)}
    # Track numbers: the track id mod 65536.
    assert set(records) == {70_001 % 65_536, 12, 13}
    for v in tracks:
        rec = records[v.track_id % 65_536]
        check_fields(rec, v)
        assert val(rec, "I080", "TSB") == 1 and val(rec, "I080", "TSE") == 0
    status, end = [r for d in decoded for r in d if r["category"] == 65]
    assert val(status, "I000", "Typ") == 1 and val(status, "I040", "NOGO") == 0
    assert val(end, "I000", "Typ") == 2 and val(end, "I020", "BTN") == 0
    assert val(end, "I030", "ToD") == pytest.approx(T0 % 86_400, abs=1 / 256)
    assert val(end, "I010", "SAC") == 25 and val(end, "I015", "SID") == 3
    # libasterix, in process, reads the same datagrams the same way.
    lib = [rec for d in got for cat, rec in lib_decode(d) if cat == 62]
    assert len(lib) == 3
    first = next(r for r in lib if r.get_item("040").as_uint() == 70_001 % 65_536)
    lat = first.get_item("105").variation.get_item("LAT").variation.content.as_quantity("°")
    assert lat == pytest.approx(tracks[0].lat_deg, abs=LATLON_LSB_DEG)
    assert first.get_item("380").variation.get_item("ADR").as_uint() == 0x4840D6
    stats = pub.stats()
    assert stats["sent"] == 2 and stats["dropped"] == 0 and stats["records"] == 3
    assert stats["kind"] == "asterix"


def test_first_and_last_messages_and_the_period(receiver: Receiver) -> None:
    """TSB on a track's first record, TSE (at its last position) once it has gone; one batch
    per period of picture time, however many updates come in between."""
    a, b = view(1, 100.0, 200.0), view(2, -300.0, 50.0)
    pub = publisher(receiver.port, period_s=1.0, cat065=False)
    pub.handle(picture(1, T0, [a, b]))  # batch 1: both new
    b_last = view(2, -310.0, 55.0, t_s=T0 + 0.5)
    pub.handle(picture(2, T0 + 0.5, [a, b_last]))  # not due: no batch
    pub.handle(picture(3, T0 + 0.9, [a]))  # 2 gone; still not due
    pub.handle(picture(4, T0 + 1.0, [a]))  # batch 2: a, and b's last message
    pub.handle(picture(5, T0 + 2.0, [view(1, 110.0, 210.0, t_s=T0 + 2.0)]))  # batch 3: a alone
    pub.close()
    got = receiver.collect(until=3)
    decoded = peer_decode(got)
    assert len(decoded) == 3
    batch1, batch2, batch3 = ({val(r, "I040", "TrkN"): r for r in d} for d in decoded)
    assert {k: val(r, "I080", "TSB") for k, r in batch1.items()} == {1: 1, 2: 1}
    assert {k: val(r, "I080", "TSB") for k, r in batch2.items()} == {1: 0, 2: 0}
    assert {k: val(r, "I080", "TSE") for k, r in batch2.items()} == {1: 0, 2: 1}
    check_fields(batch2[2], b_last)  # the last message is where it was last seen
    assert list(batch3) == [1] and val(batch3[1], "I080", "TSE") == 0
    assert val(batch3[1], "I290", "TRK", "TRK") == 2.0  # age since first sent
    assert pub.stats()["ended"] == 1 and pub.stats()["batches"] == 3


def test_multicast_on_loopback() -> None:
    """A multicast group, sent by the loopback interface with a TTL, joined by a receiver."""
    group = "239.255.62.1"
    try:
        rx = Receiver(group)
    except OSError as exc:
        pytest.skip(f"multicast on loopback is not available here: {exc}")
    try:
        pub = publisher(rx.port, host=group, ttl=1, interface="127.0.0.1")
        v = view(7, 2500.0, -1500.0)
        pub.handle(picture(1, T0, [v]))
        pub.close()
        got = rx.collect(until=2, timeout_s=2.0)
    finally:
        rx.close()
    if not got:
        pytest.skip("multicast on loopback: nothing arrives in this sandbox")
    (rec,) = cat062(peer_decode(got))
    check_fields(rec, v)


def test_a_thousand_tracks_split_into_datagrams_under_the_limit(receiver: Receiver) -> None:
    """1000 tracks (out to 50 km, up to 300 m/s, some below the ellipsoid) in one batch: every
    datagram under the limit, every record decoded by the peer and equal to its track."""
    tracks = [
        view(
            10_000 + i,
            east_m=50_000.0 * math.cos(i),
            north_m=50_000.0 * math.sin(i) * (i % 7) / 6,
            alt_m=-40.0 + (i % 50) * 100.0,
            speed_ms=300.0 * (i % 11) / 10,
            heading_deg=(i * 37.0) % 360.0,
            icao=f"{i:06x}" if i % 3 == 0 else None,
            object_class="drone" if i % 2 else "bird",
        )
        for i in range(1000)
    ]
    pub = publisher(receiver.port, max_datagram_bytes=1400)
    pub.handle(picture(1, T0, tracks))
    pub.close()
    sent = pub.counters.sent
    got = receiver.collect(until=sent)
    assert len(got) == sent > 10
    assert max(len(d) for d in got) <= 1400
    assert pub.stats()["dropped"] == 0
    records = {val(r, "I040", "TrkN"): r for r in cat062(peer_decode(got))}
    assert len(records) == 1000
    for v in tracks:
        check_fields(records[v.track_id % 65_536], v)


def test_the_demo_pictures_out_through_a_running_publisher() -> None:
    """The node's own pictures (the demo scenario, 20 s) through the publisher's thread: one
    batch a second, and every record equal to its track in the picture of its time."""
    from luchtwacht.pipeline import Pipeline
    from luchtwacht.sim.scenario import default_scenario

    rx = Receiver()
    p = Pipeline(default_scenario())
    check = p.subscribe("check", maxsize=100_000)
    config = AsterixOutConfig(
        name="atc", send_to=f"127.0.0.1:{rx.port}", sac=25, sic=200, service_id=3
    )
    ctx = PublishContext("demo", p.origin)
    pub = AsterixOutPublisher(config, ctx, p.subscribe("atc", 100_000))
    pub.start()
    try:
        p.run(20.0)
        deadline = time.monotonic() + 10
        while len(pub.subscription) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pub.stop()
        got = rx.collect(until=pub.counters.sent)
        rx.close()
    assert len(got) == pub.counters.sent and pub.counters.dropped == 0
    pictures = {round((u.t_s % 86_400) * 128): u for u in check.take()}
    decoded = peer_decode(got)
    ends = [r for d in decoded for r in d if r["category"] == 65 and val(r, "I000", "Typ") == 2]
    assert len(ends) == 20  # one batch per second of picture time
    records = cat062(decoded)
    assert len(records) > 20
    for rec in records:
        if val(rec, "I080", "TSE"):
            continue
        update = pictures[round(val(rec, "I070", "ToT") * 128)]
        (track,) = [t for t in update.tracks if t.track_id % 65_536 == val(rec, "I040", "TrkN")]
        check_fields(rec, track)


# --- failures are counted, never raised --------------------------------------------------------


def test_a_socket_that_cannot_be_made_drops_and_counts() -> None:
    """Multicast out of an interface this host does not have: each batch dropped and counted."""
    pub = publisher(9, host="239.255.62.2", interface="192.0.2.77")
    pub.handle(picture(1, T0, [view(1, 10.0, 10.0)]))
    stats = pub.stats()
    assert stats["sent"] == 0 and stats["dropped"] == 2  # the CAT062 and CAT065 datagrams
    assert stats["socket_failures"] == 1 and stats["errors"] == 0 and not stats["connected"]


def test_tracks_that_cannot_be_encoded_are_skipped_and_counted(receiver: Receiver) -> None:
    bad = view(5, 0.0, 0.0)
    bad = TrackView(**{**{f: getattr(bad, f) for f in bad.__slots__}, "lat_deg": math.nan})
    good = view(6, 100.0, 100.0)
    pub = publisher(receiver.port, cat065=False)
    pub.handle(picture(1, T0, [bad, good]))
    pub.close()
    (rec,) = cat062(peer_decode(receiver.collect(until=1)))
    assert val(rec, "I040", "TrkN") == 6
    assert pub.stats()["skipped_tracks"] == 1 and len(pub.numbers) == 1


def test_track_numbers_stay_unique() -> None:
    numbers = TrackNumbers()
    assert numbers.get(5) == 5 and numbers.get(65_541) == 6  # 5 is taken: the next free one
    assert numbers.get(5) == 5
    numbers.release([5])
    assert numbers.get(65_541 + 65_536) == 5


# --- properties ---------------------------------------------------------------------------------

_accuracies = st.builds(
    Accuracy,
    apc_x=st.integers(0, 2**16 - 1),
    apc_y=st.integers(0, 2**16 - 1),
    cov=st.integers(-(2**15), 2**15 - 1),
    apw_lat=st.integers(0, 2**16 - 1),
    apw_lon=st.integers(0, 2**16 - 1),
    aga=st.none() | st.integers(0, 255),
)
_system_tracks = st.builds(
    SystemTrack,
    sac=st.integers(0, 255),
    sic=st.integers(0, 255),
    service_id=st.integers(0, 255),
    tod=st.integers(0, 86_400 * 128 - 1),
    lat=st.integers(-(2**24), 2**24),
    lon=st.integers(-(2**25), 2**25 - 1),
    x=st.integers(-(2**23), 2**23 - 1),
    y=st.integers(-(2**23), 2**23 - 1),
    vx=st.integers(-(2**15), 2**15 - 1),
    vy=st.integers(-(2**15), 2**15 - 1),
    track_number=st.integers(0, 65_535),
    mon=st.integers(0, 1),
    src=st.integers(0, 7),
    sim=st.integers(0, 1),
    tse=st.integers(0, 1),
    tsb=st.integers(0, 1),
    alt=st.none() | st.integers(-240, 24_000),
    rocd=st.none() | st.integers(-(2**15), 2**15 - 1),
    address=st.none() | st.integers(0, 2**24 - 1),
    ecat=st.none() | st.just(13),
    age=st.none() | st.integers(0, 255),
    accuracy=st.none() | _accuracies,
)


@settings(max_examples=150, deadline=None)
@given(_system_tracks)
def test_fast_encoder_equals_libasterix(track: SystemTrack) -> None:
    """The struct-packed record is libasterix's record, byte for byte."""
    assert encode_system_track(track) == encode_system_track_reference(track)


def _finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


_views = st.builds(
    view,
    track_id=st.integers(0, 2**40),
    east_m=_finite(-5e6, 5e6),
    north_m=_finite(-5e6, 5e6),
    alt_m=_finite(-2000.0, 60_000.0),
    speed_ms=_finite(0.0, 9000.0),
    heading_deg=_finite(0.0, 360.0),
    icao=st.none() | st.integers(0, 2**24 - 1).map(lambda a: f"{a:06x}"),
    ellipse_m=st.none() | st.tuples(_finite(0.0, 1e5), _finite(0.0, 1e5), st.floats(0, 180)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_views, min_size=1, max_size=40), st.integers(256, 1500))
def test_extreme_tracks_encode_validly_or_are_clamped(
    tracks: list[TrackView], max_bytes: int
) -> None:
    """Far, fast, low or badly known tracks: each record decodes, each value within its LSB of
    the track or at its item's limit with the clamp counted; each datagram within the limit."""
    cfg = AsterixOutConfig(name="x", send_to="127.0.0.1:9", sac=1, sic=2)
    clamps: Counter[str] = Counter()
    records = []
    for i, v in enumerate(tracks):
        rec = system_track(v, config=cfg, track_number=i, age_s=100.0, clamps=clamps)
        assert rec is not None
        records.append(encode_system_track(rec))
    datagrams = pack_datagrams(62, records, max_bytes)
    assert all(len(d) <= max_bytes for d in datagrams)
    decoded = [r for d in datagrams for _, r in lib_decode(d)]
    assert len(decoded) == len(tracks)
    assert clamps["age"] == len(tracks)  # 100 s is past I062/290's 63.75 s
    for v, r in zip(tracks, decoded, strict=True):
        x = r.get_item("100").variation.get_item("X").variation.content.as_quantity("m")
        if abs(v.east_m) < 4_194_000:
            assert x == pytest.approx(v.east_m, abs=0.25 + 1e-6)
        else:
            assert abs(x) >= 4_194_000 and clamps["position"] > 0
        alt_ft = r.get_item("130").variation.content.as_quantity("ft")
        want_ft = min(max(v.alt_m / FT_M, -1500.0), 150_000.0)
        assert alt_ft == pytest.approx(want_ft, abs=ALT_LSB_FT / 2 + 1e-6)
        if want_ft != v.alt_m / FT_M:
            assert clamps["altitude"] > 0
        vx = r.get_item("185").variation.get_item("VX").variation.content.as_quantity("m/s")
        want_vx = v.speed_ms * math.sin(math.radians(v.heading_deg))
        if abs(want_vx) < 8191:
            assert vx == pytest.approx(want_vx, abs=0.125 + 1e-6)
        else:
            assert clamps["velocity"] > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sets(st.integers(0, 140_000), max_size=6), min_size=1, max_size=6))
def test_every_track_begins_once_and_ends_once(pictures: list[set[int]]) -> None:
    """Tracks come and go (ids that collide mod 65536 among them): over the wire, each number
    runs TSB … TSE once per track, is never held by two tracks in one batch, and every track
    sent is ended once the picture is empty."""
    rx = Receiver()
    try:
        pub = publisher(rx.port, cat065=False)
        for i, ids in enumerate([*pictures, set()]):
            t = T0 + i
            tracks = [view(tid, 10.0 * k, 5.0, t_s=t) for k, tid in enumerate(sorted(ids))]
            pub.handle(picture(i, t, tracks))
        pub.close()
        got = rx.collect(until=pub.counters.sent, timeout_s=2.0, linger_s=0.005)
    finally:
        rx.close()
    assert len(got) == pub.counters.sent
    open_numbers: set[int] = set()
    begun = ended = 0
    for dgram in got:
        batch = [r for _, r in lib_decode(dgram)]
        numbers = [r.get_item("040").as_uint() for r in batch]
        assert len(numbers) == len(set(numbers))
        for number, rec in zip(numbers, batch, strict=True):
            status = rec.get_item("080").variation
            tsb, tse = status.get_item("TSB").as_uint(), status.get_item("TSE").as_uint()
            if tsb:
                assert number not in open_numbers
                open_numbers.add(number)
                begun += 1
            assert number in open_numbers
            if tse:
                open_numbers.discard(number)
                ended += 1
    lifetimes = sum(len(ids - before) for before, ids in itertools.pairwise([set(), *pictures]))
    assert not open_numbers and begun == ended == lifetimes
    assert len(pub.numbers) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(20, 90), min_size=0, max_size=1000),
    st.integers(256, 1500),
)
def test_records_are_packed_whole_and_in_order(sizes: list[int], max_bytes: int) -> None:
    """Up to 1000 records of CAT062 sizes: every datagram one data block with a true LEN,
    within the limit, and together the records in order, none split."""
    records = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    datagrams = pack_datagrams(62, records, max_bytes)
    assert all(len(d) <= max_bytes and d[0] == 62 for d in datagrams)
    assert all(int.from_bytes(d[1:3], "big") == len(d) for d in datagrams)
    assert b"".join(d[3:] for d in datagrams) == b"".join(records)
    # Greedy: a datagram closes only when the next record would not fit.
    lengths = [len(d) for d in datagrams]
    consumed = 0
    for length in lengths[:-1]:
        body = length - 3
        while body > 0:
            body -= sizes[consumed]
            consumed += 1
        assert body == 0 and length + sizes[consumed] > max_bytes


@pytest.mark.parametrize(
    "bad",
    [
        {"send_to": "no-port"},
        {"send_to": "127.0.0.1:70000"},
        {"sac": 256},
        {"sic": -1},
        {"interface": "eth0"},
        {"period_s": 0.0},
        {"max_datagram_bytes": 100},
        {"emitter_category": "birds"},
        {"surprise": 1},
    ],
)
def test_settings_are_checked_when_read(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    good: dict[str, Any] = {"name": "atc", "send_to": "127.0.0.1:8600", "sac": 1, "sic": 2}
    AsterixOutConfig(**good)
    with pytest.raises(ValidationError):
        AsterixOutConfig(**{**good, **bad})
