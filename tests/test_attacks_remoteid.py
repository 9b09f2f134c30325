"""A Remote ID spoofing flood on a live node over real sockets (issue 14), shown to fail.

A radar covers the site over SAPIENT; an attacker on the Remote ID receiver's network sends
thousands of made-up drones (one MAC and UAS ID each, Bluetooth 5 packs with a position inside
the radar's coverage). None of them becomes a track of the picture (the radar sees nothing
there), the node's Remote ID and spoofing state stay bounded with the rest counted, and the
real drone the radar sees is still tracked.
"""

import asyncio
import datetime as dt
import json
import socket
import time

import numpy as np
import pytest

from luchtwacht.identify import spoofing
from luchtwacht.ingest import remoteid as rid
from luchtwacht.ingest import remoteid_feed
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.model.track import TrackView
from luchtwacht.node import ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.site import RemoteIdSection, SapientSection, default_site
from tests.live import advance, drone, started

PER_SECOND = 500  # made-up drones announced per second
PERSISTENT = 40  # …of which these are the same ones every second, the rest new each second
SECONDS = 8
# The caps, made small so that the part of the flood the node's load budget admits in a few
# seconds on a loopback socket is well past them (the real ones are 2048 MACs and 1024 IDs).
MAX_TRANSMITTERS = 300
MAX_CLAIMS = 100


def _claim_line(k: int, t_abs: float, lat: float, lon: float, alt: float) -> bytes:
    """One Bluetooth 5 advertisement: a pack of Basic ID and Location of made-up drone ``k``."""
    basic = rid.encode_basic_id(
        rid.IdType.SERIAL_NUMBER, rid.UaType.HELICOPTER_OR_MULTIROTOR, f"FAKE{k:012d}"
    )
    loc = rid.encode_location(
        status=rid.Status.AIRBORNE, height_type=rid.HeightType.ABOVE_TAKEOFF,
        track_direction_deg=0.0, speed_ms=5.0, vertical_speed_ms=0.0, lat=lat, lon=lon,
        alt_geo_m=alt, alt_baro_m=alt, height_m=100.0,
        horizontal_accuracy=rid.HorizontalAccuracy.M_3, vertical_accuracy=rid.VerticalAccuracy.M_10,
        baro_accuracy=rid.VerticalAccuracy.M_10, speed_accuracy=rid.SpeedAccuracy.MS_1,
        timestamp_s=round(t_abs % 3600.0, 1) % 3600.0, timestamp_accuracy_s=0.1,
    )  # fmt: skip
    adv = rid.encode_ble_advertising(rid.encode_message_pack([basic, loc]), k % 256)
    stamp = dt.datetime.fromtimestamp(t_abs, tz=dt.UTC).isoformat(timespec="milliseconds")
    line = {
        "time": stamp.replace("+00:00", "Z"),
        "receiver": "rx",
        "transport": "bt5-long-range",
        "mac": "02:" + ":".join(f"{(k >> s) & 0xFF:02x}" for s in (32, 24, 16, 8, 0)),
        "rssi_dbm": -60,
        "payload": adv.hex(),
    }
    return json.dumps(line).encode()


def test_a_flood_of_spoofed_remote_id_drones_makes_no_ghost_and_stays_bounded(
    tmp_path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(remoteid_feed, "MAX_TRANSMITTERS", MAX_TRANSMITTERS)
    monkeypatch.setattr(spoofing, "MAX_CLAIMS", MAX_CLAIMS)
    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "remoteid": RemoteIdSection(listen="127.0.0.1:0"),
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    sc = default_scenario()
    rng = np.random.default_rng(3)
    pictures: list[list[TrackView]] = []  # each second's picture while the radar is connected

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        r_host, r_port = node.listeners["remoteid"].address.split(":")
        epoch = clock.now()
        radar = RadarSim(sc.radars[0], sc.origin, epoch, 1)
        _, rw = await asyncio.open_connection(host, port)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        k = PERSISTENT
        steady = np.column_stack(
            [rng.uniform(-3e3, 3e3, PERSISTENT), rng.uniform(1e3, 3e3, PERSISTENT),
             np.full(PERSISTENT, 100.0)]
        )  # fmt: skip
        for second in range(SECONDS):
            rw.write(b"".join(radar.scan(float(second), [drone()])))
            await rw.drain()
            # Claims 1–3 km out at 100 m, well inside the radar's registered reach: the same
            # PERSISTENT drones every second (tracks, were they believed), then new ones.
            enu = np.column_stack(
                [rng.uniform(-3e3, 3e3, PER_SECOND), rng.uniform(1e3, 3e3, PER_SECOND),
                 np.full(PER_SECOND, 100.0)]
            )  # fmt: skip
            enu[:PERSISTENT] = steady
            lla = sc.origin.to_geodetic(enu)
            for j in range(PER_SECOND):
                who = j if j < PERSISTENT else k
                line = _claim_line(who, clock.now(), *map(float, lla[j]))
                udp.sendto(line, (r_host, int(r_port)))
                k += 1
                if j % 100 == 99:
                    await asyncio.sleep(0.005)  # let the listener drain its socket
            await advance(node, clock, 1.0)
            pictures.append(list(node.core.views))
        udp.close()
        node.stop_event.set()
        await runner
        rw.close()

    asyncio.run(scenario())
    core = node.core
    stats = node.stats()
    assert stats["internal_errors"] == {}
    feed = stats["feeds"]["remoteid"]
    assert feed["accepted"] + feed["rejected"] > MAX_TRANSMITTERS  # the flood was heard
    # No made-up drone is ever a track of the picture; the radar's real drone is.
    assert pictures[-1]
    assert all(v.uas_id is None for views in pictures for v in views)
    assert all(any(s.startswith("sapient") for s in v.sensors) for views in pictures for v in views)
    # Bounded: transmitters and claims under their caps, the rest counted.
    pipes = [f.pipe for f in core.feeds.values() if isinstance(f.pipe, RemoteIdPipe)]
    assert pipes and all(len(p.transmitters) <= MAX_TRANSMITTERS for p in pipes)
    assert len(core.spoofing.states) <= MAX_CLAIMS
    refused = sum(
        n
        for p in pipes
        for why, n in p.counters.rejected_by_reason.items()
        if "transmitters" in why
    )
    assert refused + core.spoofing.claims_refused > 0
    spoof_alerts = {a.uas_id for a in core.alerts.alerts.values() if a.kind == "spoof"}
    persistent = {f"FAKE{j:012d}" for j in range(PERSISTENT)}
    assert len(spoof_alerts & persistent) >= PERSISTENT // 2  # the ones that kept claiming
    assert len(spoof_alerts) <= MAX_CLAIMS
