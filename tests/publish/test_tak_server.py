"""The CoT publisher against a real TAK server (taky 0.10) on loopback, over TCP and TLS.

A second TAK client connected to the same server must receive Luchtwacht's events with the
right fields; stopping and restarting the server loses only the updates sent while it was down.
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from luchtwacht.node.ports import Subscription
from luchtwacht.publish.base import PublishContext
from luchtwacht.publish.cot import CotConfig, CotPublisher, cot_time
from tests.publish.taky_server import Pki, TakClient, Taky, need_taky
from tests.publish.test_cot import ORIGIN, RUNWAY, alert_change, rid, track, update

SITE = "EHVK Volkel"
TRACK_UID = "luchtwacht.ehvk-volkel.track.7"
PILOT_UID = "luchtwacht.ehvk-volkel.pilot.1581f5fkd229400db"
ZONE_UID = "luchtwacht.ehvk-volkel.zone.runway"
ALERT_UID = "luchtwacht.ehvk-volkel.alert.3"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    need_taky()
    return Pki(tmp_path_factory.mktemp("tak-pki"))


def start(cfg: CotConfig, zones: bool = True) -> tuple[CotPublisher, Subscription]:
    sub = Subscription(cfg.name)
    ctx = PublishContext(SITE, ORIGIN, (RUNWAY,) if zones else ())
    pub = CotPublisher(cfg, ctx, sub)
    pub.start()
    return pub, sub


def settle(pub: CotPublisher, sub: Subscription, timeout_s: float = 5.0) -> None:
    """Wait until the publisher has taken every queued update (and handled it)."""
    deadline = time.monotonic() + timeout_s
    while len(sub) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # the last one taken is being handled


def until(check: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def check_picture(client: TakClient) -> None:
    """What a TAK user sees of one hostile drone, its pilot, the runway zone and the alert."""
    client.wait_for(
        lambda evs: {TRACK_UID, PILOT_UID, ZONE_UID, ALERT_UID} <= {e.get("uid") for e in evs}
    )
    drone = client.by_uid(TRACK_UID)[-1]
    assert drone.get("type") == "a-h-A-M-F-Q"
    assert drone.get("how") == "m-f"
    point = drone.find("point")
    assert point is not None
    # taky re-writes the point with 6 decimals (lat/lon) and 1 (hae, ce, le)
    assert float(point.get("lat", "")) == pytest.approx(51.6612345, abs=1e-6)
    assert float(point.get("lon", "")) == pytest.approx(5.7012345, abs=1e-6)
    assert (point.get("hae"), point.get("ce"), point.get("le")) == ("148.2", "9.0", "3.5")
    trk = drone.find("detail/track")
    assert trk is not None
    assert (trk.get("course"), trk.get("speed")) == ("275.0", "14.25")
    stale = time.mktime(time.strptime(drone.get("stale", "")[:19], "%Y-%m-%dT%H:%M:%S"))
    start_ = time.mktime(time.strptime(drone.get("start", "")[:19], "%Y-%m-%dT%H:%M:%S"))
    assert stale - start_ == pytest.approx(5.0, abs=1.0)  # max(3 x 1 s, 5 s)
    remarks = drone.findtext("detail/remarks") or ""
    assert "drone p=0.91" in remarks and "1581F5FKD229400DB" in remarks
    assert "rotor micro-Doppler" in remarks
    assert drone.find("detail/contact").get("callsign") == "drone 7 1581F5FKD229400DB"  # type: ignore[union-attr]
    assert drone.find("detail/link").get("uid") == PILOT_UID  # type: ignore[union-attr]
    pilot = client.by_uid(PILOT_UID)[-1]
    assert pilot.get("type") == "a-h-G"
    assert pilot.find("detail/link").get("uid") == TRACK_UID  # type: ignore[union-attr]
    zone = client.by_uid(ZONE_UID)[-1]
    assert zone.get("type") == "u-d-f"
    assert len(zone.findall("detail/link")) == 5
    alert = client.by_uid(ALERT_UID)[-1]
    assert alert.get("type") == "b-a-g"
    assert alert.find("detail/emergency").get("type") == "Geo-fence Breached"  # type: ignore[union-attr]


def hostile_update(t_s: float) -> object:
    return update(
        (track(uas_id="1581F5FKD229400DB"),),
        t_s,
        new=frozenset({7}),
        alert_changes=(alert_change(),),
        remote_ids=(rid(),),
    )


def types_of(events: list[ET.Element], uid: str) -> list[str]:
    return [e.get("type", "") for e in events if e.get("uid") == uid]


def test_tcp_second_client_receives_the_picture_and_the_delete() -> None:
    with Taky() as taky:
        client = TakClient(taky.port)
        pub, sub = start(CotConfig(name="tak-tcp", connect=f"127.0.0.1:{taky.port}"))
        try:
            sub.offer(hostile_update(time.time()))  # type: ignore[arg-type]
            check_picture(client)
            # The drone goes: its event is staled at once and deleted.
            sub.offer(update((), time.time(), dropped=frozenset({7})))
            client.wait_for(lambda evs: "t-x-d-d" in types_of(evs, TRACK_UID + ".delete"))
            delete = client.by_uid(TRACK_UID + ".delete")[-1]
            assert delete.find("detail/link").get("uid") == TRACK_UID  # type: ignore[union-attr]
            final = client.by_uid(TRACK_UID)[-1]
            assert final.get("stale") == final.get("time")
        finally:
            pub.stop()
            client.close()
    assert pub.counters.dropped == 0 and pub.counters.errors == 0
    assert pub.counters.extra["sent_track"] == 1 and pub.counters.extra["sent_delete"] >= 2


def test_tls_with_client_certificates(pki: Pki) -> None:
    with Taky(pki) as taky:
        client = TakClient(taky.port, pki.context("atak-1"))
        files = pki.client("luchtwacht")
        cfg = CotConfig(
            name="tak-tls",
            transport="tls",
            connect=f"127.0.0.1:{taky.port}",
            cert=files.cert,
            key=files.key,
            ca=pki.ca,
        )
        pub, sub = start(cfg)
        try:
            sub.offer(hostile_update(time.time()))  # type: ignore[arg-type]
            check_picture(client)
        finally:
            pub.stop()
            client.close()
        assert pub.counters.dropped == 0


def test_tls_refuses_a_certificate_from_another_ca(pki: Pki, tmp_path: Path) -> None:
    stranger = Pki(tmp_path / "other")
    files = stranger.client("intruder")
    with Taky(pki) as taky:
        client = TakClient(taky.port, pki.context("atak-1"))
        cfg = CotConfig(
            name="tak-bad",
            transport="tls",
            connect=f"127.0.0.1:{taky.port}",
            cert=files.cert,
            key=files.key,
            ca=pki.ca,  # trusts taky; taky does not trust it
            min_interval_s=0.0,
            backoff_first_s=0.05,
            backoff_max_s=0.1,
        )
        pub, sub = start(cfg, zones=False)
        c = pub.counters

        def refusals() -> int:
            return c.extra["connect_failures"] + c.reconnects

        try:
            deadline = time.monotonic() + 5.0
            while refusals() < 3 and time.monotonic() < deadline:
                sub.offer(update((track(),), time.time()))
                time.sleep(0.05)
        finally:
            pub.stop()
            client.close()
    # TLS 1.3 may finish the client's side before the server rejects the certificate: then the
    # handshake "succeeds", the first write may even land in a socket buffer (counted as sent),
    # and the server's hang-up is seen on the next read. Either way it is refused again and
    # again, and nothing is ever relayed.
    assert refusals() >= 3
    assert client.by_uid(TRACK_UID) == []


def test_restart_loses_only_what_was_sent_while_down() -> None:
    taky = Taky()
    port = taky.port
    taky.start()
    client = TakClient(port)
    cfg = CotConfig(
        name="tak-restart",
        connect=f"127.0.0.1:{port}",
        min_interval_s=0.0,
        backoff_first_s=0.05,
        backoff_max_s=0.2,
    )
    pub, sub = start(cfg, zones=False)
    t0 = time.time()
    times: list[str] = []

    def send(i: int) -> None:
        # one track, one event per update; its time (ms) names the update
        sub.offer(
            update((track(),), t0 + i * 0.05, seq=i, new=frozenset({7}) if i == 0 else frozenset())
        )
        time.sleep(0.01)

    try:
        for i in range(20):
            send(i)
        client.wait_for(lambda evs: len(types_of(evs, TRACK_UID)) >= 20)
        before = [e.get("time", "") for e in client.by_uid(TRACK_UID)]
        assert len(before) == 20
        client.close()
        taky.stop()
        for i in range(20, 40):  # the server is down
            send(i)
        settle(pub, sub)
        assert pub.counters.extra["down_updates"] == 20
        assert not pub.counters.connected
        taky = Taky(port=port)
        taky.start()
        client = TakClient(port)
        until(lambda: pub.counters.connected, 5.0)
        assert pub.counters.reconnects == 1
        for i in range(40, 60):
            send(i)
        client.wait_for(lambda evs: len(types_of(evs, TRACK_UID)) >= 20)
        after = [e.get("time", "") for e in client.by_uid(TRACK_UID)]
        times = before + after
    finally:
        pub.stop()
        client.close()
        taky.stop()
    expected = [cot_time(t0 + i * 0.05) for i in (*range(20), *range(40, 60))]
    assert times == expected  # nothing lost but the 20 sent while down, nothing twice
    c = pub.counters
    assert (c.sent, c.dropped, c.extra["down_events"]) == (40, 20, 20)


def test_taky_speaks_xml_only_protobuf_is_refused() -> None:
    """taky 0.10 parses its input as XML: a TAK Protocol v1 stream is an XML syntax error."""
    with Taky() as taky:
        client = TakClient(taky.port)
        cfg = CotConfig(
            name="tak-proto",
            connect=f"127.0.0.1:{taky.port}",
            protocol="protobuf",
            min_interval_s=0.0,
            backoff_first_s=0.05,
            backoff_max_s=0.1,
        )
        pub, sub = start(cfg, zones=False)
        try:
            for i in range(5):
                sub.offer(update((track(),), time.time(), seq=i))
                time.sleep(0.1)
            settle(pub, sub)
            until(lambda: pub.counters.reconnects >= 1)
        finally:
            pub.stop()
            client.close()
        assert client.by_uid(TRACK_UID) == []
        assert pub.counters.reconnects >= 1  # taky hung up on us
        assert "XML Syntax Error" in taky.log.read_text()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP peer whose kernel accepts connections that nobody reads: a TAK server that hangs."""
    srv = socket.create_server(("127.0.0.1", 0), backlog=8)
    yield srv.getsockname()[1]
    srv.close()


def test_a_server_that_stops_reading_costs_a_write_timeout_not_the_node(
    silent_server: int,
) -> None:
    port = silent_server
    cfg = CotConfig(
        name="tak-hung",
        connect=f"127.0.0.1:{port}",
        min_interval_s=0.0,
        write_timeout_s=0.2,
        backoff_first_s=0.05,
        backoff_max_s=0.1,
    )
    pub, sub = start(cfg, zones=False)
    many = tuple(track(i, class_reasons=("x" * 500,)) for i in range(300))
    try:
        t_begin = time.monotonic()
        for i in range(40):
            sub.offer(update(many, time.time(), seq=i))  # never blocks
        assert time.monotonic() - t_begin < 0.5
        until(lambda: pub.counters.dropped > 0, 5.0)
    finally:
        pub.stop()
    assert pub.counters.dropped > 0  # writes timed out, counted
    assert pub.counters.sent > 0  # until the peer's buffers filled up
