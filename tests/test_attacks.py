"""Attacks on a live node over real sockets (issue 12), each shown to fail.

Every test starts a :class:`LiveNode` on loopback with a :class:`ManualClock` and plays the
attacker as a client on the same machine would: TLS without or with the wrong certificate, a
certificate speaking for another node's id, impersonating a connected radar, blinding the
tracker with degenerate plots, Remote ID and ASTERIX from unlisted sources, a registration flood.
"""

import asyncio
import contextlib
import dataclasses
import json
import socket
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

from luchtwacht.ingest.sapient import frame, parse_message, validate
from luchtwacht.node import ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.site import (
    AsterixRadarSection,
    AsterixSection,
    RemoteIdSection,
    SapientClientSection,
    SapientSection,
    SiteConfig,
    TlsSection,
    default_site,
)
from luchtwacht.store.replay import replay
from luchtwacht.transport.pki import client_context, init_ca, issue
from tests.live import (
    accepted,
    advance,
    drone,
    iter_frames,
    radar_stream,
    read_frames,
    started,
    until,
)

RADAR_ID = default_scenario().radars[0].node_id


def make_pki(root: Path) -> dict[str, tuple[str, str, str]]:
    """A site CA with the node's server certificate and three client certificates, plus a
    certificate for radar-north from a foreign CA: name → (cert, key, ca)."""
    site, other = root / "pki", root / "other"
    init_ca(site, "test site CA")
    init_ca(other, "someone else's CA")
    issue(site, "fusion", server=True, dns=["localhost"], ips=["127.0.0.1"])
    out = {}
    for name in ("radar-north", "intruder", "jammer-ne"):
        cert, key = issue(site, name)
        out[name] = (str(cert), str(key), str(site / "ca.crt"))
    cert, key = issue(other, "radar-north")
    out["foreign"] = (str(cert), str(key), str(site / "ca.crt"))
    out["fusion"] = (str(site / "fusion.crt"), str(site / "fusion.key"), str(site / "ca.crt"))
    return out


def tls_site(root: Path, pki: dict[str, tuple[str, str, str]], **sapient: object) -> SiteConfig:
    cert, key, ca = pki["fusion"]
    return default_site().model_copy(
        update={
            "tls": TlsSection(cert=Path(cert), key=Path(key), ca=Path(ca), handshake_timeout_s=2),
            "sapient": SapientSection(
                listen="127.0.0.1:0",
                clients=[
                    SapientClientSection(name="radar-north", node_ids=[RADAR_ID]),
                    SapientClientSection(name="jammer-ne", node_ids=[str(uuid.uuid4())]),
                    SapientClientSection(name="intruder-unused", node_ids=[str(uuid.uuid4())]),
                ],
                **sapient,
            ),
            "stats_json": root / "stats.json",
            "record": root / "tls.sqlite",
        }
    )


async def tls_connect(
    host: str, port: int, who: tuple[str, str, str] | None, ca: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    # No client certificate at all, or the given one.
    ctx = ssl.create_default_context(cafile=ca) if who is None else client_context(*who)
    return await asyncio.open_connection(host, port, ssl=ctx, server_hostname="localhost")


def test_sapient_over_mutual_tls_admits_only_listed_certificates_for_their_own_node_ids(tmp_path):
    pki = make_pki(tmp_path)
    clock = ManualClock(time.time())
    node = LiveNode(tls_site(tmp_path, pki), clock=clock)
    ca = pki["fusion"][2]

    async def scenario() -> dict[str, Any]:
        runner, host, port = await started(node, "sapient")
        epoch = clock.now() - 6.5
        _, scans = radar_stream(epoch, range(6))

        # The radar with its own certificate: registered, fused.
        reader, writer = await tls_connect(host, port, pki["radar-north"], ca)
        writer.write(scans[0])
        await writer.drain()
        (ack,) = await read_frames(reader, 1)
        assert validate(ack) == "registration_ack" and ack.registration_ack.acceptance
        for chunk in scans[1:]:
            writer.write(chunk)
        await writer.drain()
        n_good = sum(1 for c in scans for _ in iter_frames(c))
        await until(lambda: accepted(node) >= n_good)

        # No certificate, or one from another CA: the handshake fails, nothing reaches SAPIENT.
        for who in (None, pki["foreign"]):
            try:
                r, w = await tls_connect(host, port, who, ca)
                w.write(scans[0])
                await w.drain()
                assert await asyncio.wait_for(r.read(), 3) == b""
            except (ssl.SSLError, ConnectionError):
                pass
        await until(lambda: node.tls_failures >= 2)

        # A valid certificate the site does not list: cut off at once.
        r, w = await tls_connect(host, port, pki["intruder"], ca)
        w.write(scans[0])
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await w.drain()
            assert await asyncio.wait_for(r.read(), 3) == b""

        # The jammer's certificate speaking for the radar's node id: refused, named.
        jr, jw = await tls_connect(host, port, pki["jammer-ne"], ca)
        jw.write(scans[0])
        await jw.drain()
        (refusal,) = await read_frames(jr, 1)
        assert not refusal.registration_ack.acceptance
        assert (
            "not allowed for this connection's certificate"
            in (refusal.registration_ack.ack_response_reason[0])
        )
        await advance(node, clock, 2.0)
        stats = node.stats()
        node.stop_event.set()
        await runner
        for wr in (writer, jw):
            wr.close()
        return stats

    stats = asyncio.run(scenario())
    sap = stats["feeds"]["sapient"]
    assert sap["connections"]["closed_by_reason"]["certificate not listed in sapient.clients"] == 1
    assert sap["accepted"] == sum(
        1 for c in radar_stream(time.time(), range(6))[1] for _ in iter_frames(c)
    )
    assert stats["bind_refused"] >= 1 and stats["tls_failures"] >= 2
    assert stats["confirmed_tracks"] >= 1
    (radar,) = stats["sensor_nodes"].values()
    assert radar["registered"]
    # Replay refuses what the live node refused: the allowed ids are in the recording.
    core = replay(tmp_path / "tls.sqlite")
    assert core.bind_refused >= 1


def test_plain_tcp_is_refused_without_the_site_saying_so_and_tls_needs_its_certificates(tmp_path):
    import pydantic
    import pytest

    from luchtwacht.site import SiteConfigError

    with pytest.raises(pydantic.ValidationError, match="needs the site's tls section"):
        SiteConfig.model_validate({"site": {"lat": 52, "lon": 5}, "sapient": {}})
    missing = default_site().model_copy(
        update={
            "tls": TlsSection(
                cert=tmp_path / "a.crt", key=tmp_path / "a.key", ca=tmp_path / "ca.crt"
            ),
            "sapient": SapientSection(listen="127.0.0.1:0"),
        }
    )
    with pytest.raises(SiteConfigError, match=r"a\.crt"):
        LiveNode(missing, clock=ManualClock(0.0))


def test_a_connected_radar_cannot_be_moved_or_given_ghost_plots_from_another_connection(tmp_path):
    """Sensor impersonation: a StatusReport with the radar's node id 2 km away, then plots under
    its id in the runway zone, from a second connection while the radar is connected."""
    site = default_site().model_copy(
        update={"sapient": SapientSection(listen="127.0.0.1:0", transport="tcp")}
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    sc = default_scenario()

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        epoch = clock.now() - 3.0
        _, scans = radar_stream(epoch, range(3))
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"".join(scans))
        await writer.drain()
        await read_frames(reader, 1)
        await until(lambda: accepted(node) >= sum(1 for c in scans for _ in iter_frames(c)))
        before = node.core.sapient_registry[RADAR_ID]
        where = (before.lat_deg, before.lon_deg)

        moved = other_radar(0.018)  # ~2 km north, the radar's own node id
        fake = RadarSim(moved, sc.origin, epoch, 5)
        ghost = b"".join(fake.scan(3.0, [drone()]))  # registration, status, plots: all its id
        _, aw = await asyncio.open_connection(host, port)
        n_rejected = node.stats()["feeds"]["sapient"]["rejected"]
        aw.write(ghost)
        await aw.drain()
        n_frames = sum(1 for _ in iter_frames(ghost))
        await until(lambda: node.stats()["feeds"]["sapient"]["rejected"] >= n_rejected + n_frames)
        await advance(node, clock, 1.0)
        after = node.core.sapient_registry[RADAR_ID]
        assert (after.lat_deg, after.lon_deg) == where
        assert node.core.bind_refused >= n_frames
        assert not node.core.alerts.alerts  # no ghost drone in the runway zone
        node.stop_event.set()
        await runner
        writer.close()
        aw.close()

    asyncio.run(scenario())


def other_radar(lat_offset_deg: float = 0.0, node_id: str | None = None) -> RadarConfig:
    """The scenario's radar moved north by ``lat_offset_deg``, under ``node_id`` if given."""
    r = default_scenario().radars[0]
    return dataclasses.replace(r, lat_deg=r.lat_deg + lat_offset_deg, node_id=node_id or r.node_id)


def test_degenerate_plots_neither_abort_a_tick_nor_blind_a_good_radar(tmp_path):
    """Blinding: plots at range 0 and 5 m from a second radar, ten a second, next to a good
    radar. The zero-range plots are refused at ingest, nothing raises, the good radar's every
    detection is recorded and applied, and the recording replays."""
    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "record": tmp_path / "blind.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    sc = default_scenario()

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        epoch = clock.now()
        good = RadarSim(sc.radars[0], sc.origin, epoch, 1)
        evil_cfg = other_radar(0.001, str(uuid.uuid4()))
        evil = RadarSim(evil_cfg, sc.origin, epoch, 2)
        _, gw = await asyncio.open_connection(host, port)
        _, ew = await asyncio.open_connection(host, port)
        for k in range(12):
            gw.write(b"".join(good.scan(float(k), [drone()])))
            head = b"".join(evil.scan(float(k), []))  # its registration and status
            plots = b""
            for j in range(10):
                t = float(k) + j / 10
                for rng in (0.0, 5.0, 0.3):
                    plots += frame(evil._detection(t, 45.0, 1.0, rng, 0.9, None, 0.0))
            ew.write(head + plots)
            await gw.drain()
            await ew.drain()
            await advance(node, clock, epoch + k + 1 - clock.now())
        await advance(node, clock, 1.0)
        node.stop_event.set()
        await runner
        gw.close()
        ew.close()

    asyncio.run(scenario())
    stats = node.stats()
    assert stats["internal_errors"] == {}
    sap = stats["feeds"]["sapient"]
    assert (
        sap["rejected_by_reason"][
            "SapientMessage.detection_report.range_bearing.range: inside the minimum range (1 m)"
        ]
        == 12 * 10 * 2
    )
    assert sap["failed"] == 0 and sap["late"] == 0
    assert stats["confirmed_tracks"] >= 1
    import sqlite3

    db = sqlite3.connect(tmp_path / "blind.sqlite")
    good_rows = db.execute(
        "SELECT count(*), sum(applied) FROM detection WHERE sensor_id = 'sapient-1'"
    ).fetchone()
    assert good_rows[0] > 0 and good_rows[0] == good_rows[1]  # every good detection applied
    core = replay(tmp_path / "blind.sqlite")  # the recording replays
    assert core.failed_batches == 0 and int(core.tracker.tracks.confirmed.sum()) >= 1


def test_remote_id_and_asterix_from_unlisted_sources_are_dropped_and_counted(tmp_path):
    """A Remote ID datagram from anyone would make a hostile drone cooperative: the feed takes
    only its receivers' addresses. Loopback is not on these lists, so every datagram is foreign."""
    radar = AsterixRadarSection(sac=25, sic=10, lat=51.65, lon=5.70, alt_m=70.0)
    site = default_site().model_copy(
        update={
            "remoteid": RemoteIdSection(listen="127.0.0.1:0", allow=["10.99.0.0/16"]),
            "asterix": AsterixSection(listen="127.0.0.1:0", radars=[radar], allow=["10.98.0.7"]),
            "record": tmp_path / "udp.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)

    async def scenario() -> None:
        runner, r_host, r_port = await started(node, "remoteid")
        await until(lambda: "asterix" in node.listeners and bool(node.listeners["asterix"].address))
        a_host, a_port = node.listeners["asterix"].address.split(":")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        line = {"time": "2026-11-27T12:00:00.000Z", "receiver": "rx", "transport": "bt4-legacy",
                "mac": "60:60:1f:a3:5c:21", "rssi_dbm": -70, "payload": "00" * 30}  # fmt: skip
        for _ in range(5):
            udp.sendto(json.dumps(line).encode(), (r_host, r_port))
            udp.sendto(b"\x30\x00\x03", (a_host, int(a_port)))
        udp.close()
        await until(lambda: node.listeners["remoteid"].refused_sources == 5)
        await until(lambda: node.listeners["asterix"].refused_sources == 5)
        await advance(node, clock, 1.0)
        node.stop_event.set()
        await runner

    asyncio.run(scenario())
    stats = node.stats()
    for kind in ("remoteid", "asterix"):
        feed = stats["feeds"][kind]
        assert feed["accepted"] == 0 and feed["rejected"] == 0  # never decoded
        assert feed["connections"]["refused_sources"] == 5
    import sqlite3

    db = sqlite3.connect(tmp_path / "udp.sqlite")
    assert db.execute("SELECT count(*) FROM raw").fetchone()[0] == 0


def test_a_registration_flood_is_bounded_and_a_real_radar_still_registers(tmp_path):
    """Thousands of made-up node ids over several connections: the table stays within its limit,
    each connection within its own, the refusals are counted under a handful of reasons, and a
    real radar registers once the flood's connections have closed."""
    site = default_site().model_copy(
        update={"sapient": SapientSection(listen="127.0.0.1:0", transport="tcp", max_nodes=64,
                                          max_rejects_in_a_row=100_000, max_bytes_per_s=1e9)}
    )  # fmt: skip
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    sc = default_scenario()

    registration = parse_message(
        next(iter(RadarSim(sc.radars[0], sc.origin, clock.now(), 1).scan(0.0, [])))[4:]
    )

    def counted() -> int:
        feed = node.stats()["feeds"]["sapient"]
        return int(feed["rejected"]) + int(feed["accepted"])

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        writers = []
        sent = 0
        readers = []
        for c in range(4):
            r, w = await asyncio.open_connection(host, port)
            readers.append(r)
            blob = b""
            for i in range(1000):
                registration.node_id = str(uuid.UUID(int=c * 10_000 + i + 1))
                blob += frame(registration)
                sent += 1
            w.write(blob)
            await w.drain()
            writers.append(w)
        await until(lambda: counted() >= sent, 30)
        assert len(node.core.sapient_registry) <= 64
        for w in writers:
            w.close()
        await until(lambda: node.stats()["feeds"]["sapient"]["connections"]["open"] == 0)
        _, scans = radar_stream(clock.now() - 1.0, range(1))
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(scans[0])
        await writer.drain()
        (ack,) = await read_frames(reader, 1)
        assert ack.registration_ack.acceptance
        assert len(node.core.sapient_registry) <= 64
        assert node.core.nodes_forgotten >= 1
        node.stop_event.set()
        await runner
        writer.close()

    asyncio.run(scenario())
    reasons = node.stats()["feeds"]["sapient"]["rejected_by_reason"]
    # Each connection speaks for 32 node ids at most; everything beyond is refused, counted.
    assert sum(reasons.values()) >= 4 * (1000 - 32)
    assert reasons["SapientMessage.node_id: too many nodes on one connection"] > 0
    assert len(reasons) <= 3


def test_remote_id_over_tcp_takes_tls_with_a_site_certificate_only(tmp_path):
    """With the site's tls section a Remote ID receiver on TCP must show a certificate of the site
    CA; one without is refused at the handshake, and nothing it sent is decoded."""
    pki = make_pki(tmp_path)
    cert, key, ca = pki["fusion"]
    site = default_site().model_copy(
        update={
            "tls": TlsSection(cert=Path(cert), key=Path(key), ca=Path(ca), handshake_timeout_s=2),
            "remoteid": RemoteIdSection(listen="127.0.0.1:0", protocol="tcp"),
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    line = {"time": "2026-11-27T12:00:00.000Z", "receiver": "rx", "transport": "bt4-legacy",
            "mac": "60:60:1f:a3:5c:21", "rssi_dbm": -70, "payload": "00" * 30}  # fmt: skip
    data = (json.dumps(line) + "\n").encode()

    async def scenario() -> None:
        runner, host, port = await started(node, "remoteid")
        _, w = await tls_connect(host, port, pki["radar-north"], ca)  # any site certificate
        w.write(data * 3)
        await w.drain()
        await until(lambda: node.stats()["feeds"]["remoteid"]["rejected"] >= 3)
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            r2, w2 = await tls_connect(host, port, None, ca)
            w2.write(data)
            await w2.drain()
            assert await asyncio.wait_for(r2.read(), 3) == b""
        await until(lambda: node.tls_failures >= 1)
        node.stop_event.set()
        await runner
        w.close()

    asyncio.run(scenario())
    feed = node.stats()["feeds"]["remoteid"]
    assert feed["accepted"] + feed["rejected"] == 3  # the certified receiver's lines only
    assert feed["connections"]["closed_by_reason"]["tls handshake failed"] == 1


def test_a_backlog_flush_is_applied_within_the_window_and_the_rest_counted_late(tmp_path):
    """Overload of another kind: a radar that lost its link holds 10 s of scans and then sends
    them all at once. Scans inside the out-of-sequence window (5 s) are applied, older ones are
    counted as late per feed; every detection sent is in the recording, none silently lost, and
    the drone's track lives through it."""
    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "record": tmp_path / "backlog.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    sc = default_scenario()
    epoch = clock.now()
    radar = RadarSim(sc.radars[0], sc.origin, epoch, 3)
    scans = [b"".join(radar.scan(float(k), [drone()])) for k in range(25)]
    sent_detections = sum(
        1 for s in scans for f in iter_frames(s) if parse_message(f).HasField("detection_report")
    )

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        _, w = await asyncio.open_connection(host, port)
        for k in range(25):
            if k < 10 or k >= 20:
                if k == 20:  # the link is back: the held scans go first, all at once
                    w.write(b"".join(scans[10:20]))
                w.write(scans[k])
                await w.drain()
            await advance(node, clock, epoch + k + 1 - clock.now())
        await advance(node, clock, 1.0)
        node.stop_event.set()
        await runner
        w.close()

    asyncio.run(scenario())
    stats = node.stats()
    sap = stats["feeds"]["sapient"]
    import sqlite3

    db = sqlite3.connect(tmp_path / "backlog.sqlite")
    rows = db.execute("SELECT t_s, applied FROM detection").fetchall()
    assert len(rows) == sent_detections  # every detection sent is recorded: none lost silently
    held = [(t - epoch, a) for t, a in rows if epoch + 10.0 - 0.5 < t < epoch + 20.0 - 0.5]
    assert held, "the held scans made detections"
    for age, applied in held:
        if age > 20.0 - 5.0 + 0.3:  # inside the window at the flush: applied
            assert applied == 1, (age, applied)
        elif age < 20.0 - 5.0 - 0.3:  # older than the window: not applied, counted late
            assert applied == 0, (age, applied)
    late_rows = sum(1 for _, a in held if a == 0)
    assert late_rows >= 1 and sap["failed"] == 0
    assert sap["late"] == len({age for age, a in held if a == 0})  # one late batch per scan
    assert stats["internal_errors"] == {}
    assert stats["confirmed_tracks"] >= 1  # the drone's track lived through the gap and flush
