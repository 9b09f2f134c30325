"""Cursor-on-Target events: the type mapping, ce/le, stale, rate limits, TAK Protocol v1 framing
(decoded with takproto), UDP multicast SA over loopback and property tests of the builder."""

from __future__ import annotations

import dataclasses
import itertools
import math
import socket
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import takproto
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.picture import AlertChange, AlertSnapshot, PictureUpdate, RemoteIdSnapshot
from luchtwacht.model.track import AlertState, ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.node.ports import Subscription
from luchtwacht.publish.base import PublishContext
from luchtwacht.publish.cot import (
    UNKNOWN_ERROR_M,
    CotConfig,
    CotPublisher,
    Uids,
    circular_error_m,
    cot_time,
    cot_type,
    linear_error_m,
    to_protobuf,
    to_xml,
    track_event,
    valid_time,
)

T0 = 1_796_000_000.0  # 2026-11-30, UTC seconds
ORIGIN = SiteOrigin(51.6564, 5.7083, 52.0)
RUNWAY = Zone("runway", ((51.66, 5.69), (51.66, 5.72), (51.65, 5.72), (51.65, 5.69)))


def track(track_id: int = 7, **kw: object) -> TrackView:
    """A hostile-looking drone near Volkel unless told otherwise."""
    base: dict[str, object] = dict(
        track_id=track_id,
        t_s=T0,
        lat_deg=51.6612345,
        lon_deg=5.7012345,
        alt_m=148.2,
        east_m=0.0,
        north_m=0.0,
        up_m=96.2,
        speed_ms=14.25,
        heading_deg=275.0,
        climb_ms=0.0,
        object_class="drone",
        class_prob=0.91,
        cooperative=False,
        uas_id=None,
        threat=ThreatLevel.HIGH,
        zones_inside=(),
        time_to_breach_s=None,
        pos_std_m=6.0,
        ellipse_m=(9.0, 4.0, 30.0),
        class_probs=(("drone", 0.91), ("bird", 0.07)),
        class_reasons=("rotor micro-Doppler", "RF link DJI O3"),
        alt_std_m=3.5,
    )
    base.update(kw)
    return TrackView(**base)  # type: ignore[arg-type]


def update(
    tracks: tuple[TrackView, ...] = (),
    t_s: float = T0,
    *,
    new: frozenset[int] = frozenset(),
    dropped: frozenset[int] = frozenset(),
    alert_changes: tuple[AlertChange, ...] = (),
    remote_ids: tuple[RemoteIdSnapshot, ...] = (),
    seq: int = 0,
) -> PictureUpdate:
    return PictureUpdate(
        seq=seq,
        t_s=t_s,
        site="EHVK Volkel",
        tracks=tracks,
        new_tracks=new,
        dropped_tracks=dropped,
        alerts=(),
        alert_changes=alert_changes,
        recommendations=(),
        engagements=(),
        feeds=(),
        nodes=(),
        remote_ids=remote_ids,
    )


def rid(track_id: int | None = 7, uas_id: str = "1581F5FKD229400DB") -> RemoteIdSnapshot:
    return RemoteIdSnapshot(
        uas_id=uas_id,
        mac="60:60:1f:aa:bb:cc",
        track_id=track_id,
        lat_deg=None,
        lon_deg=None,
        alt_m=None,
        operator_lat_deg=51.6401,
        operator_lon_deg=5.6902,
        operator_alt_m=55.0,
        operator_id="NLD-OP-12345",
        self_id="survey",
        ua_type="helicopter_or_multirotor",
        id_type="serial_number",
        last_t_s=T0,
    )


def alert_change(kind: str = "raised", track_id: int = 7) -> AlertChange:
    snap = AlertSnapshot(
        alert_id=3,
        track_id=track_id,
        zone="runway",
        level=ThreatLevel.CRITICAL,
        kind="breach",
        raised_t_s=T0,
        updated_t_s=T0,
        object_class="drone",
        uas_id=None,
        state=AlertState.CLEARED if kind == "cleared" else AlertState.ACTIVE,
        cleared_t_s=None,
        acknowledged_by=None,
        message="drone over the runway",
    )
    return AlertChange(T0, kind, snap)


def publisher(**kw: object) -> CotPublisher:
    """A publisher whose events we read directly (its transport is never opened)."""
    cfg = CotConfig(name="tak", connect="127.0.0.1:9", **kw)
    return CotPublisher(cfg, PublishContext("EHVK Volkel", ORIGIN, (RUNWAY,)), Subscription("t"))


# --- mapping --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        (dict(threat=ThreatLevel.HIGH), "a-h-A-M-F-Q"),
        (dict(threat=ThreatLevel.MEDIUM), "a-h-A-M-F-Q"),
        (dict(threat=ThreatLevel.LOW, zones_inside=("runway",)), "a-h-A-M-F-Q"),
        (dict(threat=ThreatLevel.LOW), "a-u-A-M-F-Q"),
        (dict(threat=ThreatLevel.HIGH, cooperative=True, uas_id="X1"), "a-n-A-M-F-Q"),
        (dict(threat=ThreatLevel.HIGH, own_asset="interceptor-1"), "a-f-A-M-F-Q"),
        (dict(object_class="aircraft", cooperative=True, icao="484abc"), "a-n-A-C"),
        (dict(object_class="aircraft", threat=ThreatLevel.NONE), "a-u-A-C"),
        (dict(object_class="bird", threat=ThreatLevel.HIGH), "a-n-A"),
        (dict(object_class="unknown", threat=ThreatLevel.LOW), "a-u-A"),
        (dict(object_class="unknown", threat=ThreatLevel.MEDIUM), "a-s-A"),
        (dict(object_class="unknown", threat=ThreatLevel.HIGH, cooperative=True), "a-u-A"),
    ],
)
def test_type_mapping(kw: dict[str, object], expected: str) -> None:
    assert cot_type(track(7, **kw)) == expected


def test_ce_is_the_semi_major_axis_and_le_the_vertical_sigma() -> None:
    assert circular_error_m(track(ellipse_m=(9.0, 4.0, 30.0))) == 9.0
    assert circular_error_m(track(ellipse_m=(5.0, 5.0, 0.0))) == 5.0  # round: sigma itself
    assert circular_error_m(track(ellipse_m=None, pos_std_m=6.0)) == 6.0
    assert circular_error_m(track(ellipse_m=(math.nan, 1.0, 0.0))) == UNKNOWN_ERROR_M
    assert linear_error_m(track(alt_std_m=3.5)) == 3.5
    assert linear_error_m(track(alt_std_m=None)) == UNKNOWN_ERROR_M
    assert linear_error_m(track(alt_std_m=-1.0)) == UNKNOWN_ERROR_M


def test_track_event_fields() -> None:
    pilot = ("luchtwacht.ehvk-volkel.pilot.x", "a-h-G")
    ev = track_event(
        track(uas_id="1581F5FKD229400DB", time_to_breach_s=42.0),
        Uids("EHVK Volkel"),
        T0,
        5.0,
        pilot,
    )
    assert ev is not None
    back = ET.fromstring(to_xml(ev))
    assert back.get("uid") == "luchtwacht.ehvk-volkel.track.7"
    assert back.get("type") == "a-h-A-M-F-Q"
    assert back.get("how") == "m-f"
    assert back.get("time") == back.get("start") == "2026-11-30T00:53:20.000Z"
    assert back.get("stale") == "2026-11-30T00:53:25.000Z"
    point = back.find("point")
    assert point is not None
    assert float(point.get("lat", "")) == pytest.approx(51.6612345, abs=1e-7)
    assert float(point.get("hae", "")) == pytest.approx(148.2)
    assert (point.get("ce"), point.get("le")) == ("9.0", "3.5")
    trk = back.find("detail/track")
    assert trk is not None
    assert (trk.get("course"), trk.get("speed")) == ("275.0", "14.25")
    remarks = back.findtext("detail/remarks") or ""
    for part in ("drone p=0.91", "bird 0.07", "threat HIGH", "1581F5FKD229400DB", "micro-Doppler"):
        assert part in remarks
    contact = back.find("detail/contact")
    assert contact is not None
    assert contact.get("callsign") == "drone 7 1581F5FKD229400DB"
    link = back.find("detail/link")
    assert link is not None
    assert (link.get("uid"), link.get("type")) == pilot


def test_stale_follows_the_update_interval() -> None:
    assert CotConfig(name="a", connect="h:1").track_stale_s == 5.0
    assert CotConfig(name="a", connect="h:1", min_interval_s=4.0).track_stale_s == 12.0
    assert CotConfig(name="a", connect="h:1", stale_s=2.0).track_stale_s == 2.0


def test_config_is_checked() -> None:
    with pytest.raises(ValidationError, match="tls needs cert"):
        CotConfig(name="a", connect="h:8089", transport="tls")
    with pytest.raises(ValidationError, match="IPv4 address"):
        CotConfig(name="a", connect="tak.example:6969", transport="udp")
    assert CotConfig(name="a", connect="10.0.0.7:4242", transport="udp").port == 4242
    with pytest.raises(ValidationError, match="HOST:PORT"):
        CotConfig(name="a", connect="nohost")
    with pytest.raises(ValidationError, match="extra"):
        CotConfig(name="a", connect="h:1", colour="red")  # type: ignore[call-arg]
    cfg = CotConfig(name="a", connect="[::1]:8087")
    assert (cfg.host, cfg.port) == ("::1", 8087)


# --- what an update yields ------------------------------------------------------------------


def kinds(events: Iterator[tuple[str, ET.Element]]) -> list[tuple[str, str, str]]:
    return [(k, ev.get("type", ""), ev.get("uid", "")) for k, ev in events]


def test_rate_limit_per_track_and_changes_go_at_once() -> None:
    pub = publisher()
    first = kinds(pub.events(update((track(),), T0, new=frozenset({7}))))
    assert [k for k, _, _ in first] == ["zone", "track"]
    assert kinds(pub.events(update((track(),), T0 + 0.3))) == []  # not due
    # The threat fell: the type changes (hostile → unknown), so it goes at once.
    calmer = kinds(pub.events(update((track(threat=ThreatLevel.LOW),), T0 + 0.5)))
    assert [(k, t) for k, t, _ in calmer] == [("track", "a-u-A-M-F-Q")]
    assert kinds(pub.events(update((track(threat=ThreatLevel.LOW),), T0 + 0.9))) == []
    assert len(kinds(pub.events(update((track(threat=ThreatLevel.LOW),), T0 + 1.6)))) == 1
    # Zones come back after zone_interval_s.
    later = kinds(pub.events(update((), T0 + 61.0)))
    assert ("zone", "u-d-f", "luchtwacht.ehvk-volkel.zone.runway") in later


def test_routine_updates_are_spread_over_the_interval() -> None:
    """100 tracks born together: after the first burst, about a tenth goes with each update."""
    pub = publisher(min_interval_s=1.0)
    many = tuple(track(i, threat=ThreatLevel.LOW) for i in range(100))
    first = kinds(pub.events(update(many, T0, new=frozenset(range(100)))))
    assert sum(k == "track" for k, _, _ in first) == 100  # new tracks are never held back
    sent_at: dict[str, list[float]] = {}
    for step in range(1, 31):
        t_s = T0 + step * 0.1
        out = [uid for k, _, uid in kinds(pub.events(update(many, t_s))) if k == "track"]
        assert len(out) <= 11  # ceil(100 x 0.1 / 1.0) + 1
        for uid in out:
            sent_at.setdefault(uid, []).append(t_s)
    assert len(sent_at) == 100  # every track went again
    # At T0 + 1 s all 100 are due and 11 go per update: 89 + 78 + ... + 1 wait; then they are
    # staggered and nothing waits again. Tracks not yet due are not counted.
    assert pub.counters.extra["deferred"] == sum(range(89, 0, -11))
    for times in sent_at.values():
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))
        assert times[0] - T0 <= 2.0  # none waits more than an interval past due


def test_pilot_linked_both_ways_and_deleted_when_gone() -> None:
    pub = publisher(min_interval_s=0.0)
    events = dict(
        ((k, ev.get("uid")), ev)
        for k, ev in pub.events(update((track(),), T0, remote_ids=(rid(),), new=frozenset({7})))
    )
    pilot_uid = "luchtwacht.ehvk-volkel.pilot.1581f5fkd229400db"
    pilot = events[("pilot", pilot_uid)]
    drone = events[("track", "luchtwacht.ehvk-volkel.track.7")]
    assert pilot.get("type") == "a-h-G"  # a hostile drone's pilot
    assert pilot.find("detail/link").get("uid") == drone.get("uid")  # type: ignore[union-attr]
    assert drone.find("detail/link").get("uid") == pilot_uid  # type: ignore[union-attr]
    assert "NLD-OP-12345" in (pilot.findtext("detail/remarks") or "")
    # The drone lands, its Remote ID goes quiet: both are staled and deleted.
    gone = kinds(pub.events(update((), T0 + 1, dropped=frozenset({7}))))
    assert ("delete", "a-h-G", pilot_uid) in gone
    assert ("delete", "t-x-d-d", pilot_uid + ".delete") in gone
    assert ("delete", "a-h-A-M-F-Q", "luchtwacht.ehvk-volkel.track.7") in gone
    final = next(
        ev for k, ev in publisher(min_interval_s=0.0).events(update((track(),), T0)) if k == "track"
    )
    assert final.get("stale") != final.get("time")
    pub2 = publisher(min_interval_s=0.0)
    list(pub2.events(update((track(),), T0)))
    deletes = [ev for k, ev in pub2.events(update((), T0 + 2, dropped=frozenset({7})))]
    assert deletes[0].get("stale") == deletes[0].get("time")  # stale now: clients drop it
    assert deletes[1].find("detail/__forcedelete") is not None


def rf_located(**kw: object) -> TrackView:
    """The hostile drone with a pilot located from two RF detectors' bearings on its controller."""
    base: dict[str, object] = dict(
        pilot_lat_deg=51.6422, pilot_lon_deg=5.6871, pilot_err_m=85.0,
        pilot_ellipse_m=(85.0, 30.0, 42.0), pilot_source="rf bearings (2 detectors)",
        pilot_age_s=1.0, rf_protocol="ExpressLRS 2.4",
    )  # fmt: skip
    base.update(kw)
    return dataclasses.replace(track(), **base)  # type: ignore[arg-type]


def test_an_rf_located_pilot_is_a_point_with_its_error_linked_both_ways_and_goes_with_it() -> None:
    """ATAK sees where the RF detectors put the pilot, how sure (ce = the 1-sigma semi-major),
    whence; the point goes when the estimate does, and when the drone does."""
    pub = publisher(min_interval_s=0.0)
    events = {
        (k, ev.get("uid")): ev
        for k, ev in pub.events(update((rf_located(),), T0, new=frozenset({7})))
    }
    pilot_uid = "luchtwacht.ehvk-volkel.pilot.track-7"
    pilot = events[("pilot", pilot_uid)]
    drone = events[("track", "luchtwacht.ehvk-volkel.track.7")]
    back = ET.fromstring(to_xml(pilot))
    assert back.get("type") == "a-h-G"  # a hostile drone's pilot
    point = back.find("point")
    assert point is not None
    assert float(point.get("lat", "nan")) == pytest.approx(51.6422)
    assert float(point.get("ce", "nan")) == pytest.approx(85.0)
    assert float(point.get("hae", "nan")) == pytest.approx(ORIGIN.alt_m)  # on the ground
    remarks = back.findtext("detail/remarks") or ""
    assert "rf bearings (2 detectors)" in remarks and "85 x 30 m" in remarks
    assert "ExpressLRS 2.4" in remarks
    assert back.find("detail/link").get("uid") == drone.get("uid")  # type: ignore[union-attr]
    assert drone.find("detail/link").get("uid") == pilot_uid  # type: ignore[union-attr]
    # The estimate is withdrawn (bearings too old): its point is deleted, the drone stays.
    quiet = dataclasses.replace(rf_located(), pilot_lat_deg=None, pilot_lon_deg=None)
    gone = kinds(pub.events(update((quiet,), T0 + 1)))
    assert ("delete", "a-h-G", pilot_uid) in gone
    assert ("track", "a-h-A-M-F-Q", "luchtwacht.ehvk-volkel.track.7") in gone
    # Back, then the drone goes: both are deleted.
    list(pub.events(update((rf_located(),), T0 + 2)))
    gone = kinds(pub.events(update((), T0 + 3, dropped=frozenset({7}))))
    assert ("delete", "a-h-G", pilot_uid) in gone
    assert ("delete", "a-h-A-M-F-Q", "luchtwacht.ehvk-volkel.track.7") in gone


def test_a_remote_id_operator_position_is_not_sent_twice_as_an_rf_located_pilot() -> None:
    """A drone whose broadcast names its operator's position: that point, not a second one."""
    pub = publisher(min_interval_s=0.0)
    both = rf_located(pilot_source="remote id")
    uids = [
        ev.get("uid")
        for k, ev in pub.events(update((both,), T0, remote_ids=(rid(),)))
        if k == "pilot"
    ]
    assert uids == ["luchtwacht.ehvk-volkel.pilot.1581f5fkd229400db"]


def test_a_track_missing_from_the_picture_is_deleted_even_if_its_drop_was_lost() -> None:
    """The subscription may lose the update that named the drop: the difference still shows it."""
    pub = publisher(min_interval_s=0.0)
    list(pub.events(update((track(1), track(2)), T0, new=frozenset({1, 2}))))
    out = kinds(pub.events(update((track(2),), T0 + 1)))  # no dropped_tracks: that update was lost
    assert ("delete", "t-x-d-d", "luchtwacht.ehvk-volkel.track.1.delete") in out
    assert not any(uid.startswith("luchtwacht.ehvk-volkel.track.2.") for _, _, uid in out)
    assert kinds(pub.events(update((track(2),), T0 + 2))) == [
        ("track", "a-h-A-M-F-Q", "luchtwacht.ehvk-volkel.track.2")
    ]


def test_alerts_are_geofence_breaches_and_cancelled_when_cleared() -> None:
    pub = publisher()
    raised = [ev for k, ev in pub.events(update((track(),), T0, alert_changes=(alert_change(),)))]
    alert = next(ev for ev in raised if ev.get("uid") == "luchtwacht.ehvk-volkel.alert.3")
    assert alert.get("type") == "b-a-g"
    emergency = alert.find("detail/emergency")
    assert emergency is not None
    assert emergency.get("type") == "Geo-fence Breached"
    assert "drone over the runway" in (alert.findtext("detail/remarks") or "")
    assert alert.find("detail/link").get("uid") == "luchtwacht.ehvk-volkel.track.7"  # type: ignore[union-attr]
    cleared = [
        ev
        for k, ev in pub.events(update((), T0 + 5, alert_changes=(alert_change("cleared"),)))
        if k == "alert"
    ]
    assert [ev.get("type") for ev in cleared] == ["b-a-o-can"]
    # Without its track the alert sits at the zone's centre.
    point = cleared[0].find("point")
    assert point is not None
    assert float(point.get("lat", "")) == pytest.approx(51.655)


def test_zone_is_a_closed_polygon() -> None:
    zone = next(ev for k, ev in publisher().events(update()) if k == "zone")
    points = [link.get("point") for link in zone.findall("detail/link")]
    assert len(points) == 5 and points[0] == points[-1] == "51.6600000,5.6900000"
    assert zone.get("type") == "u-d-f"


def test_bad_tracks_are_skipped_and_counted() -> None:
    pub = publisher(min_interval_s=0.0)
    out = kinds(pub.events(update((track(1, lat_deg=math.nan), track(2, lat_deg=91.0), track(3)))))
    assert [uid for k, _, uid in out if k == "track"] == ["luchtwacht.ehvk-volkel.track.3"]
    assert pub.counters.extra["bad_input"] == 2
    assert kinds(pub.events(update((track(),), math.inf))) == []
    assert pub.counters.extra["bad_input"] == 3


def test_excluded_classes_are_not_sent() -> None:
    pub = publisher(min_interval_s=0.0, exclude_classes=("clutter", "bird"))
    out = kinds(pub.events(update((track(1, object_class="bird"), track(2)))))
    assert [uid for k, _, uid in out if k == "track"] == ["luchtwacht.ehvk-volkel.track.2"]


# --- TAK Protocol v1 --------------------------------------------------------------------------


def _varint(data: bytes) -> tuple[int, int]:
    value, shift, i = 0, 0, 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


@pytest.mark.parametrize("mesh", [False, True])
def test_protobuf_framing_round_trip(mesh: bool) -> None:
    ev = track_event(track(uas_id="1581F5FKD229400DB"), Uids("EHVK Volkel"), T0, 5.0)
    assert ev is not None
    frame = to_protobuf(ev, mesh=mesh)
    if mesh:
        assert frame[:3] == b"\xbf\x01\xbf"
    else:
        assert frame[0] == 0xBF
        length, used = _varint(frame[1:])
        assert len(frame) == 1 + used + length  # one whole, length-delimited TakMessage
    msg = takproto.parse_proto(bytearray(frame))
    cot = msg.cotEvent
    assert cot.uid == "luchtwacht.ehvk-volkel.track.7"
    assert cot.type == "a-h-A-M-F-Q"
    assert (cot.lat, cot.lon, cot.hae) == pytest.approx((51.6612345, 5.7012345, 148.2))
    assert (cot.ce, cot.le) == (9.0, 3.5)
    assert cot.sendTime == cot.startTime == int(T0 * 1000)
    assert cot.staleTime == int((T0 + 5.0) * 1000)
    assert (cot.detail.track.course, cot.detail.track.speed) == (275.0, 14.25)
    assert cot.detail.contact.callsign == "drone 7 1581F5FKD229400DB"
    assert "1581F5FKD229400DB" in cot.detail.xmlDetail  # remarks ride in xmlDetail


# --- UDP multicast SA over loopback ----------------------------------------------------------


def _receiver(group: str) -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((group, 0))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    sock.settimeout(3.0)
    port: int = sock.getsockname()[1]
    return sock, port


@pytest.mark.parametrize("protocol", ["xml", "protobuf"])
def test_multicast_sa_over_loopback(protocol: str) -> None:
    group = "239.2.3.1"
    rx, port = _receiver(group)
    cfg = CotConfig(
        name="sa",
        transport="udp",
        connect=f"{group}:{port}",
        interface="127.0.0.1",
        protocol=protocol,
    )
    sub = Subscription("sa")
    pub = CotPublisher(cfg, PublishContext("EHVK Volkel", ORIGIN, (RUNWAY,)), sub)
    pub.start()
    try:
        sub.offer(update((track(),), time.time(), new=frozenset({7})))
        got: dict[str, str] = {}
        while len(got) < 2:
            data, _ = rx.recvfrom(65536)
            if protocol == "xml":
                ev = ET.fromstring(data)
                got[ev.get("uid", "")] = ev.get("type", "")
            else:
                assert data[:3] == b"\xbf\x01\xbf"  # mesh framing
                cot = takproto.parse_proto(bytearray(data)).cotEvent
                got[cot.uid] = cot.type
    finally:
        pub.stop()
        rx.close()
    assert got == {
        "luchtwacht.ehvk-volkel.zone.runway": "u-d-f",
        "luchtwacht.ehvk-volkel.track.7": "a-h-A-M-F-Q",
    }
    assert pub.counters.sent == 2 and pub.counters.dropped == 0


# --- property tests ---------------------------------------------------------------------------

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
texts = st.text(max_size=40)


@st.composite
def any_track(draw: st.DrawFn) -> TrackView:
    return track(
        draw(st.integers(0, 2**63 - 1)),
        lat_deg=draw(st.one_of(st.floats(-90, 90), floats)),
        lon_deg=draw(st.one_of(st.floats(-180, 180), floats)),
        alt_m=draw(st.one_of(st.floats(-1e4, 1e5), floats)),
        speed_ms=draw(floats),
        heading_deg=draw(floats),
        object_class=draw(st.sampled_from(["drone", "bird", "aircraft", "clutter", "unknown"])),
        class_prob=draw(floats),
        cooperative=draw(st.booleans()),
        uas_id=draw(st.none() | texts),
        icao=draw(st.none() | texts),
        threat=draw(st.sampled_from(list(ThreatLevel))),
        zones_inside=tuple(draw(st.lists(texts, max_size=3))),
        time_to_breach_s=draw(st.none() | floats),
        pos_std_m=draw(floats),
        ellipse_m=draw(st.none() | st.tuples(floats, floats, floats)),
        class_reasons=tuple(draw(st.lists(texts, max_size=3))),
        alt_std_m=draw(st.none() | floats),
        own_asset=draw(st.none() | texts),
    )


def _tree(el: ET.Element) -> tuple[object, ...]:
    return (el.tag, dict(el.attrib), el.text or "", tuple(_tree(c) for c in el))


@settings(max_examples=150, deadline=None)
@given(any_track(), st.one_of(st.floats(0, 4e9), floats), texts)
def test_any_track_gives_valid_cot_or_none(tr: TrackView, t_s: float, site: str) -> None:
    ev = track_event(tr, Uids(site), t_s, 5.0)
    finite = all(math.isfinite(v) for v in (tr.lat_deg, tr.lon_deg, tr.alt_m))
    if ev is None:  # only a position or a time that CoT cannot carry is refused
        assert (
            not finite
            or not valid_time(t_s)
            or abs(tr.lat_deg) > 90
            or abs(tr.lon_deg) > 180
            or abs(tr.alt_m) >= 1e7
        )
        return
    back = ET.fromstring(to_xml(ev))  # well-formed XML whatever the text fields held
    # our writer keeps the tree exactly (ElementTree's own turns a \r in text into \n)
    assert _tree(back) == _tree(ev)
    point = back.find("point")
    assert point is not None
    for name in ("lat", "lon", "hae", "ce", "le"):
        assert math.isfinite(float(point.get(name, "nan")))
    assert 0 <= float(point.get("ce", "-1")) <= UNKNOWN_ERROR_M
    trk = back.find("detail/track")
    if trk is not None:
        assert 0 <= float(trk.get("course", "-1")) <= 360
    cot = takproto.parse_proto(bytearray(to_protobuf(ev, mesh=False))).cotEvent
    assert cot.uid == back.get("uid") and cot.type == back.get("type")
    # takproto converts with int(timestamp * 1000): a binary-float millisecond may come out 1 less
    assert abs(cot.sendTime - math.floor(t_s * 1000)) <= 1


def test_cot_time_format() -> None:
    assert cot_time(T0 + 0.1234) == "2026-11-30T00:53:20.123Z"
    assert dataclasses.is_dataclass(track())


def test_hostile_text_from_the_radio_stays_text() -> None:
    """A Remote ID serial is whatever a transmitter sends: markup and control bytes included."""
    nasty = 'a"b<c>&d\r\n\te\x00\x1b\ud800</remarks></detail></event><event uid="x">'
    ev = track_event(track(uas_id=nasty, own_asset=nasty), Uids(nasty), T0, 5.0)
    assert ev is not None
    back = ET.fromstring(to_xml(ev))
    assert back.get("uid", "").startswith("luchtwacht.a-b-c-d")
    remarks = back.findtext("detail/remarks") or ""
    assert 'Remote ID a"b<c>&d\r\n\te</remarks></detail></event><event uid="x">' in remarks
    callsign = back.find("detail/contact").get("callsign")  # type: ignore[union-attr]
    assert callsign == nasty.replace("\x00", "").replace("\x1b", "").replace("\ud800", "")


def test_every_counter_is_there_from_the_start() -> None:
    """stats() runs on another thread: no key may appear later (the copy would see it change)."""
    stats = publisher().stats()
    for name in ("sent", "dropped", "reconnects", "down_updates", "down_events", "sent_track"):
        assert stats[name] == 0


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.none(), floats, st.floats(-90, 90)),
    st.one_of(st.none(), floats, st.floats(-180, 180)),
    st.one_of(st.none(), floats),
    st.one_of(st.none(), texts),
    texts,
)
def test_any_pilot_gives_valid_cot_or_none(
    lat: float | None, lon: float | None, alt: float | None, uas_id: str | None, who: str
) -> None:
    """A Remote ID System message's operator position is radio input too."""
    from luchtwacht.publish.cot import pilot_event

    snap = dataclasses.replace(
        rid(), uas_id=uas_id, operator_lat_deg=lat, operator_lon_deg=lon, operator_alt_m=alt,
        operator_id=who, self_id=who,
    )  # fmt: skip
    ev = pilot_event(snap, track(), Uids("s"), T0, 5.0, ORIGIN.alt_m)
    if ev is None:
        return
    back = ET.fromstring(to_xml(ev))
    point = back.find("point")
    assert point is not None
    assert abs(float(point.get("lat", "nan"))) <= 90 and abs(float(point.get("lon", "nan"))) <= 180
    assert math.isfinite(float(point.get("hae", "nan")))
    assert back.get("uid", "").startswith("luchtwacht.s.pilot.")
    assert lat is not None and lon is not None


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.none(), floats, st.floats(-90, 90)),
    st.one_of(st.none(), floats, st.floats(-180, 180)),
    st.one_of(st.none(), floats),
    st.one_of(st.none(), texts),
)
def test_any_rf_located_pilot_gives_valid_cot_or_none(
    lat: float | None, lon: float | None, err: float | None, source: str | None
) -> None:
    """Bearings from an RF detector are radio input: whatever the estimate, valid CoT or none."""
    from luchtwacht.publish.cot import located_pilot_event

    drone = rf_located(pilot_lat_deg=lat, pilot_lon_deg=lon, pilot_err_m=err, pilot_source=source)
    ev = located_pilot_event(drone, Uids("s"), T0, 5.0, ORIGIN.alt_m)
    if ev is None:
        return
    back = ET.fromstring(to_xml(ev))
    point = back.find("point")
    assert point is not None
    assert abs(float(point.get("lat", "nan"))) <= 90 and abs(float(point.get("lon", "nan"))) <= 180
    assert 0 <= float(point.get("ce", "nan")) <= UNKNOWN_ERROR_M
    assert lat is not None and lon is not None
    takproto.parse_proto(to_protobuf(ev, mesh=True))
