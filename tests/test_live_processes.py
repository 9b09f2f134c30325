"""The live node as its own process, and the example edge nodes as integrators run them.

These run on the wall clock (a separate process has no manual clock to share), so they take
seconds where ``test_runtime.py`` takes milliseconds.
"""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from luchtwacht.node import Command, CommandKind, ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.store.recorder import verify_audit_chain
from tests.live import (
    accepted,
    advance,
    drone,
    iter_frames,
    radar_stream,
    started,
    until,
)
from tests.test_runtime import JAM_ID, jammer_site


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_takes_a_sensor_from_its_first_moment_and_ends_cleanly_on_sigterm(tmp_path):
    """The listener is bound before the node has loaded: a sensor that connects at once loses
    nothing. SIGTERM then ends the run with everything recorded and exit code 0."""
    stats = tmp_path / "stats.json"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "luchtwacht.cli",
            "run",
            "--headless",
            "--sapient-listen",
            f"127.0.0.1:{port}",
            "--plain-tcp",
            "--web-listen",
            "127.0.0.1:0",
            "--stats-json",
            str(stats),
            "--record",
            str(tmp_path / "r.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=20)
                break
            except ConnectionRefusedError:
                assert time.time() < deadline, "the node never listened"
                time.sleep(0.01)
        epoch = time.time() - 3.0
        _, scans = radar_stream(epoch, range(3))
        n_sent = sum(1 for _ in iter_frames(b"".join(scans)))
        with s:
            s.sendall(b"".join(scans))  # before the node has even loaded, most likely
            deadline = time.time() + 20
            while time.time() < deadline:
                if (
                    stats.exists()
                    and json.loads(stats.read_text())["feeds"].get("sapient", {}).get("accepted")
                    == n_sent
                ):
                    break
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    final = json.loads(stats.read_text())
    assert final["feeds"]["sapient"]["accepted"] == n_sent
    assert verify_audit_chain(tmp_path / "r.sqlite")[0]
    assert b"stopped:" in out
    assert b"Traceback" not in err
    assert not list(Path(tmp_path).glob("*.tmp"))
    assert os.path.getsize(tmp_path / "r.sqlite") > 0
    assert np.isfinite(final["uptime_s"])


def test_the_example_sensor_node_registers_and_is_fused(tmp_path):
    """examples/sapient_sensor.py, as an integrator would run it, against a live node."""
    stats = tmp_path / "stats.json"
    node = subprocess.Popen(
        [sys.executable, "-m", "luchtwacht.cli", "run", "--headless", "--sapient-listen", "127.0.0.1:0",
         "--plain-tcp", "--web-listen", "127.0.0.1:0", "--stats-json", str(stats)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.time() + 20
        while not stats.exists() and time.time() < deadline:
            time.sleep(0.05)
        address = json.loads(stats.read_text())["feeds"]["sapient"]["listening"]
        example = Path(__file__).resolve().parents[1] / "examples" / "sapient_sensor.py"
        sensor = subprocess.run(
            [sys.executable, str(example), "--connect", address, "--scans", "8", "--speed", "4"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sensor.returncode == 0, sensor.stderr
        assert "registered" in sensor.stdout and "sent 8 scans" in sensor.stdout
        time.sleep(1.5)
        final = json.loads(stats.read_text())
        assert (
            final["feeds"]["sapient"]["accepted"] > 8 and final["feeds"]["sapient"]["rejected"] == 0
        )
        (only_node,) = final["sensor_nodes"].values()
        assert only_node["registered"]
    finally:
        node.send_signal(signal.SIGTERM)
        node.communicate(timeout=15)
    assert node.returncode == 0


def test_the_example_site_over_mutual_tls_as_a_newcomer_sets_it_up(tmp_path):
    """The set-up examples/site-ehvk.yaml describes: `luchtwacht pki` makes the site CA and the
    certificates, the node runs the example site (ports moved to free ones), the example sensor
    connects with its certificate and is fused; with the jammer's certificate it is refused,
    and over plain TCP it gets one line of error, no traceback."""
    root = Path(__file__).resolve().parents[1]
    cli = [sys.executable, "-m", "luchtwacht.cli"]
    for args in (["pki", "init", "pki"], ["pki", "issue", "pki", "fusion", "--server"],
                 ["pki", "issue", "pki", "radar-north"], ["pki", "issue", "pki", "jammer-ne"]):  # fmt: skip
        made = subprocess.run(
            [*cli, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert made.returncode == 0, made.stderr
    port = free_port()
    site = (root / "examples" / "site-ehvk.yaml").read_text()
    for old, new in (("0.0.0.0:5020", f"127.0.0.1:{port}"), ("127.0.0.1:5030", "127.0.0.1:0"),
                     ("0.0.0.0:8600", "127.0.0.1:0"), ("127.0.0.1:30005", f"127.0.0.1:{free_port()}")):  # fmt: skip
        assert old in site
        site = site.replace(old, new)
    (tmp_path / "site.yaml").write_text(site)
    node = subprocess.Popen(
        [*cli, "run", "--headless", "--config", "site.yaml", "--web-listen", "127.0.0.1:0"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stats = tmp_path / "ehvk-stats.json"
    try:
        deadline = time.time() + 20
        while not stats.exists() and time.time() < deadline:
            time.sleep(0.05)
        example = [sys.executable, str(root / "examples" / "sapient_sensor.py"),
                   "--connect", f"localhost:{port}", "--scans", "6", "--speed", "4"]  # fmt: skip

        def certs(name: str) -> list[str]:
            return ["--ca", "pki/ca.crt", "--cert", f"pki/{name}.crt", "--key", f"pki/{name}.key"]

        good = subprocess.run(example + certs("radar-north"), cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert good.returncode == 0 and "sent 6 scans" in good.stdout, good.stderr
        wrong = subprocess.run(example + certs("jammer-ne"), cwd=tmp_path, capture_output=True,
                               text=True, timeout=60)  # fmt: skip
        assert (
            wrong.returncode == 1
            and "not allowed for this connection's certificate" in wrong.stdout
        )
        plain = subprocess.run(example, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert plain.returncode == 1 and "Traceback" not in plain.stderr
        assert plain.stderr.startswith("error:") and len(plain.stderr.splitlines()) == 1
        time.sleep(1.5)
        final = json.loads(stats.read_text())
        sap = final["feeds"]["sapient"]
        assert sap["accepted"] > 6 and final["tls_failures"] >= 1 and final["bind_refused"] >= 1
        # The operator console is up, on loopback, and says which site it serves.
        url = final["console"]["url"]
        assert url.startswith("http://127.0.0.1:")
        health = httpx.get(f"{url}api/health", timeout=5).json()
        assert health["site"] == "EHVK Volkel Air Base" and health["seq"] > 0
        assert httpx.get(f"{url}api/tracks", timeout=5).status_code == 401
    finally:
        node.send_signal(signal.SIGTERM)
        _, err = node.communicate(timeout=15)
    assert node.returncode == 0 and "Traceback" not in err


def test_the_example_effector_node_is_tasked_after_an_approval(tmp_path):
    """examples/sapient_effector.py, as an integrator would run it, against a live node."""
    sc = default_scenario()
    # The example runs on the wall; the node's clock starts 6 s behind it and is moved on a
    # second per radar scan, faster than the wall, so the jammer's reports stay fresh to it.
    clock = ManualClock(time.time() - 6.0)
    node = LiveNode(jammer_site(tmp_path), clock=clock)
    counter = node.core.counter
    assert counter is not None
    epoch = clock.now()
    radar = RadarSim(sc.radars[0], sc.origin, epoch, 1)
    example = Path(__file__).resolve().parents[1] / "examples" / "sapient_effector.py"

    async def scenario() -> str:
        runner, host, port = await started(node, "sapient")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(example), "--connect", f"{host}:{port}", "--seconds", "4",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await until(lambda: node.core.connected(JAM_ID), timeout_s=20)
        _, rw = await asyncio.open_connection(host, port)
        approval = None
        for k in range(13):
            await advance(node, clock, epoch + k - clock.now())
            n = accepted(node, "sapient")
            data = b"".join(radar.scan(float(k), [drone()]))
            rw.write(data)
            await rw.drain()
            await until(lambda: accepted(node) >= n + sum(1 for _ in iter_frames(data)))  # noqa: B023
            pending = counter.pending()
            if pending and approval is None and counter.states["jammer"].online:
                token = node.authority.authenticate("cdr", "pw", clock.now()).token
                approval = node.core.submit(
                    Command(CommandKind.APPROVE, token, pending[0].rec_id, effector="jammer")
                )
        await until(lambda: node.sapient_nodes[JAM_ID].mode == "Engage")
        await advance(node, clock, 1.0)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        node.stop_event.set()
        await runner
        rw.close()
        assert proc.returncode == 0, err.decode()
        return out.decode()

    out = asyncio.run(scenario())
    assert f"registered as {JAM_ID}" in out
    assert "task ENGAGE: TASK_STATUS_ACCEPTED" in out and "engaged, aimed at ENU" in out
    (eng,) = counter.engagements.values()
    assert eng.approved_by == "cdr" and eng.state == "engaging"
    assert node.sapient_nodes[JAM_ID].mode == "Engage"


def test_a_replay_station_serves_only_the_recordings_in_its_folder(tmp_path):
    """An analyst's console: a site file with no feeds and a recordings folder; the demo's
    recording in that folder is listed and replayed, over HTTP to a real `luchtwacht run`."""
    cli = [sys.executable, "-m", "luchtwacht.cli"]
    (tmp_path / "recs").mkdir()
    made = subprocess.run(
        [*cli, "demo", "--headless", "--no-web", "--speed", "0", "--duration", "40",
         "--record", "recs/incident.sqlite"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    from luchtwacht.counter.authority import (
        Argon2Params,
        OperatorAccount,
        hash_password,
        save_accounts,
    )

    cheap = Argon2Params(time_cost=1, memory_kib=1024)
    save_accounts(
        tmp_path / "accounts.yaml",
        [OperatorAccount("ana", "viewer", hash_password("ana-pw", params=cheap))],
    )
    port = free_port()
    (tmp_path / "site.yaml").write_text(
        "site: {name: replay station, lat: 51.6564, lon: 5.7087}\n"
        "operators: accounts.yaml\n"
        f"console: {{listen: '127.0.0.1:{port}', recordings: recs}}\n"
    )
    node = subprocess.Popen(
        [*cli, "run", "--headless", "--config", "site.yaml"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        web = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        deadline = time.time() + 30
        while True:
            try:
                if web.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, "the replay station never answered"
            time.sleep(0.1)
        assert web.post("/api/login", json={"username": "ana", "password": "ana-pw"}).is_success
        (listed,) = web.get("/api/replay").json()
        assert "incident.sqlite" in listed["name"] and not listed["live"]
        assert listed["end_s"] - listed["start_s"] > 30
        t = listed["start_s"] + 30
        picture = web.get(f"/api/replay/{listed['id']}/picture", params={"t": t}).json()
        assert picture["tracks"] and picture["t_s"] <= t
    finally:
        node.send_signal(signal.SIGTERM)
        out, err = node.communicate(timeout=15)
    assert node.returncode == 0 and "Traceback" not in err
    assert "replays the recordings in recs" in out
