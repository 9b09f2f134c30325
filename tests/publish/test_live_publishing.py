"""`luchtwacht run` with every publisher of its site file, against real peers, as processes.

A sensor node (examples/sapient_sensor.py) feeds the node a drone; the node publishes its
picture to a real TAK server (taky, read back by a second TAK client), to a higher Luchtwacht
node as its SAPIENT fusion node, and as ASTERIX CAT062 over UDP. Then the TAK server goes away
and the node goes on, counting what it could not send.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from luchtwacht.ingest.asterix import decode_datagram
from tests.publish.taky_server import TakClient, Taky, need_taky

REPO = Path(__file__).resolve().parents[2]
SENSOR = REPO / "examples" / "sapient_sensor.py"
LOWER_ID = "5a0c2d1e-9b8f-4e7a-8d6c-1f2e3d4c5b6a"  # the node's id as the higher node's sensor


def _stats(path: Path) -> dict[str, Any]:
    try:
        out: dict[str, Any] = json.loads(path.read_text())
        return out
    except (OSError, ValueError):
        return {}


def _wait(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _node(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "luchtwacht.cli", "run", "--headless", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err.decode(errors="replace")


def test_run_publishes_its_picture_to_tak_a_higher_node_and_asterix_and_outlives_the_tak_server(
    tmp_path: Path,
) -> None:
    need_taky()
    upper_stats, lower_stats = tmp_path / "upper.json", tmp_path / "lower.json"
    asterix_rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    asterix_rx.bind(("127.0.0.1", 0))
    asterix_rx.settimeout(0.2)
    procs: list[subprocess.Popen[bytes]] = []
    with Taky() as taky, asterix_rx:
        tak_client = TakClient(taky.port)
        try:
            # The higher node: a Luchtwacht fusion node that takes SAPIENT nodes on plain TCP.
            upper = _node(["--sapient-listen", "127.0.0.1:0", "--plain-tcp", "--no-web",
                           "--stats-json", str(upper_stats)])  # fmt: skip
            procs.append(upper)
            _wait(lambda: "sapient" in _stats(upper_stats).get("feeds", {}), 30, "the upper node")
            upper_addr = _stats(upper_stats)["feeds"]["sapient"]["listening"]

            site = {
                "site": {"name": "EHVK publishing test", "lat": 51.6564, "lon": 5.7087,
                         "alt_m": 65.0},
                "stats_json": str(lower_stats),
                "console": None,
                "sapient": {"listen": "127.0.0.1:0", "transport": "tcp"},
                "publish": {
                    "cot": [{"name": "tak", "transport": "tcp",
                             "connect": f"127.0.0.1:{taky.port}", "min_interval_s": 0.5,
                             "backoff_first_s": 0.2, "backoff_max_s": 0.5}],
                    "sapient": [{"name": "c2", "transport": "tcp", "connect": upper_addr,
                                 "min_interval_s": 0.5, "node_id": LOWER_ID}],
                    "asterix": [{"name": "atc", "sac": 25, "sic": 201, "period_s": 1.0,
                                 "send_to": f"127.0.0.1:{asterix_rx.getsockname()[1]}"}],
                },
            }  # fmt: skip
            (tmp_path / "site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
            lower = _node(["--config", str(tmp_path / "site.yaml")])
            procs.append(lower)
            _wait(lambda: "sapient" in _stats(lower_stats).get("feeds", {}), 30, "the node")
            lower_addr = _stats(lower_stats)["feeds"]["sapient"]["listening"]

            sensor = subprocess.Popen(
                [sys.executable, str(SENSOR), "--connect", str(lower_addr), "--scans", "40",
                 "--speed", "4"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            procs.append(sensor)

            # TAK: a second client of the server gets the node's track events with their fields.
            def track_event(e: ET.Element) -> bool:
                return ".track." in e.get("uid", "") and e.get("type", "").startswith("a-")

            events = tak_client.wait_for(lambda evs: any(map(track_event, evs)), timeout_s=40)
            event = next(e for e in events if track_event(e))
            point = event.find("point")
            assert point is not None
            assert abs(float(point.get("lat", "nan")) - 51.6564) < 0.1
            assert abs(float(point.get("lon", "nan")) - 5.7087) < 0.2
            assert float(point.get("ce", "nan")) > 0
            detail = event.find("detail")
            assert detail is not None and detail.find("track") is not None
            remarks = detail.find("remarks")
            assert remarks is not None and "drone" in (remarks.text or "")

            # SAPIENT: the higher node registered Luchtwacht and fuses its reports into tracks.
            def upper_fused() -> bool:
                s = _stats(upper_stats)
                node = s.get("sensor_nodes", {}).get(LOWER_ID, {})
                return bool(node.get("registered")) and int(s.get("confirmed_tracks", 0)) >= 1

            _wait(upper_fused, 40, "the higher node's tracks")
            upper_feed = _stats(upper_stats)["feeds"]["sapient"]
            assert upper_feed["accepted"] > 0 and upper_feed["rejected"] == 0, upper_feed

            # ASTERIX: CAT062 system tracks with the site's SAC/SIC, read by the node's decoder.
            cat062: list[Any] = []
            deadline = time.monotonic() + 20
            while not cat062 and time.monotonic() < deadline:
                try:
                    data = asterix_rx.recv(65535)
                except TimeoutError:
                    continue
                if data[0] == 62:
                    cat062 = [r for r in decode_datagram(data) if type(r).__name__ == "Cat062Track"]
            assert cat062, "no CAT062 track arrived"
            assert {(r.sac, r.sic) for r in cat062} == {(25, 201)}

            # The TAK server goes away: the node goes on and counts what it could not send.
            # (the stats file is rewritten each cycle and at least once a second when idle)
            def tak_counted() -> bool:
                tak = _stats(lower_stats)["publishers"]["tak"]
                return bool(tak["sent"] > 0 and tak["connected"])

            _wait(tak_counted, 5, "the TAK events sent counted in the stats file")
            before = _stats(lower_stats)["publishers"]["tak"]
            taky.stop()
            _wait(
                lambda: (
                    _stats(lower_stats)["publishers"]["tak"]["down_updates"]
                    > before["down_updates"]
                ),
                20,
                "drops counted while the TAK server is down",
            )
            assert lower.poll() is None, "the node ended when its TAK server did"
            taky.start()
            _wait(
                lambda: _stats(lower_stats)["publishers"]["tak"]["reconnects"] >= 1,
                20,
                "the reconnect to the TAK server",
            )
            final = _stats(lower_stats)["publishers"]
            assert set(final) == {"tak", "c2", "atc"}
            for name in ("tak", "c2", "atc"):
                assert final[name]["sent"] > 0 and final[name]["errors"] == 0, final[name]
        finally:
            tak_client.close()
            results = [_stop(p) for p in reversed(procs)]
    for code, err in results[1:]:  # the sensor may end on its own; the nodes must end cleanly
        assert code == 0, err
        assert "Traceback" not in err, err


def test_the_demo_publishes_todays_picture_to_the_outputs_a_file_names(tmp_path: Path) -> None:
    """`demo --publish FILE`: CAT062 over UDP stamped with today's time, counted in the summary."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    out = tmp_path / "publish.yaml"
    out.write_text(
        yaml.safe_dump(
            {"publish": {"asterix": [{"name": "atc", "sac": 25, "sic": 7, "simulated": True,
                                      "send_to": f"127.0.0.1:{rx.getsockname()[1]}"}]}}
        )
    )  # fmt: skip
    summary = tmp_path / "summary.json"
    started = time.time()
    demo = subprocess.Popen(
        [sys.executable, "-m", "luchtwacht.cli", "demo", "--headless", "--no-web", "--duration",
         "20", "--speed", "4", "--publish", str(out), "--summary-json", str(summary)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    tracks: list[Any] = []
    with rx:
        while demo.poll() is None or not tracks:
            try:
                data = rx.recv(65535)
            except TimeoutError:
                if demo.poll() is not None:
                    break
                continue
            if data[0] == 62:
                tracks += [r for r in decode_datagram(data) if type(r).__name__ == "Cat062Track"]
    stdout, err = demo.communicate(timeout=60)
    assert demo.returncode == 0, err.decode()
    assert tracks, "no CAT062 track from the demo"
    # Time of day (I062/070) is now, not the scenario's fixed date: within the run's 20 s.
    for r in tracks:
        assert r.time_of_day_s is not None
        late = (r.time_of_day_s - started % 86400 + 43200) % 86400 - 43200
        assert -5 < late < 60, late
    published = json.loads(summary.read_text())["publishers"]["atc"]
    assert published["sent"] > 0 and published["kind"] == "asterix"
    assert b"publishing the picture to atc (asterix)" in stdout


def test_a_publish_file_without_publishers_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("publish:\n  cot:\n    - name: x\n      transport: carrier-pigeon\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("site: {}\n")
    for path, words in ((bad, "transport"), (empty, "no publisher")):
        res = subprocess.run(
            [sys.executable, "-m", "luchtwacht.cli", "demo", "--headless", "--no-web",
             "--publish", str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.returncode == 2, res.stderr
        assert words in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) <= 2, res.stderr


def test_the_example_sites_publish_section_is_a_valid_site_file_once_uncommented(
    tmp_path: Path,
) -> None:
    from luchtwacht.site import load_site

    text = (REPO / "examples" / "site-ehvk.yaml").read_text()
    head, sep, tail = text.partition("# publish:\n")
    assert sep, "examples/site-ehvk.yaml documents no publish: section"
    block = "publish:\n" + "".join(
        line[2:] if line.startswith("# ") else line.lstrip("#")
        for line in tail.splitlines(keepends=True)
    )
    (tmp_path / "site.yaml").write_text(head + block)
    site = load_site(tmp_path / "site.yaml")
    assert [c.transport for c in site.publish.cot] == ["tls", "udp"]
    assert site.publish.sapient[0].connect == "c2.example.mil:5020"
    assert (site.publish.asterix[0].sac, site.publish.asterix[0].sic) == (25, 200)


def test_run_with_a_publishers_certificate_missing_says_so_in_one_line(tmp_path: Path) -> None:
    site = {
        "site": {"name": "x", "lat": 51.6564, "lon": 5.7087},
        "console": None,
        "sapient": {"listen": "127.0.0.1:0", "transport": "tcp"},
        "publish": {"cot": [{"name": "tak", "transport": "tls", "connect": "127.0.0.1:8089",
                             "cert": str(tmp_path / "gone.crt"), "key": str(tmp_path / "gone.key"),
                             "ca": str(tmp_path / "ca.crt")}]},
    }  # fmt: skip
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    res = subprocess.run(
        [sys.executable, "-m", "luchtwacht.cli", "run", "--headless", "--config",
         str(tmp_path / "site.yaml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "publish: cot 'tak'" in res.stderr and "gone" in res.stderr
    assert "Traceback" not in res.stderr
