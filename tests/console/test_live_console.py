"""A commander approves a countermeasure through the live node's console, over real HTTP.

The live node runs on a :class:`ManualClock` with a radar and an RF jammer on its SAPIENT server
(as in ``tests/test_runtime.py``); its console serves on loopback from its own thread. The
commander logs in with the accounts file's password, reads the recommendation from the REST API
and approves it with the CSRF token; only then is the jammer tasked, and the audit names him.
"""

import asyncio
import json
import sqlite3
import time

import httpx

from luchtwacht.console.server import CSRF_HEADER
from luchtwacht.ingest.sapient import SapientMessage
from luchtwacht.node import ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.effectors import EffectorSim
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.site import ConsoleSection
from luchtwacht.store.recorder import verify_audit_chain
from tests.live import accepted, advance, drone, edge_node, iter_frames, started, until
from tests.test_runtime import jammer_site


def test_a_commander_approves_through_the_console_and_only_then_is_the_jammer_tasked(tmp_path):
    from luchtwacht.counter.catalogue import ENGAGE_MODE

    sc = default_scenario()
    clock = ManualClock(time.time())
    site = jammer_site(tmp_path, record=tmp_path / "c.sqlite")
    site = site.model_copy(update={"console": ConsoleSection(listen="127.0.0.1:0")})
    node = LiveNode(site, clock=clock)
    counter = node.core.counter
    assert counter is not None
    epoch = clock.now()
    radar = RadarSim(sc.radars[0], sc.origin, epoch, 1)
    jammer = EffectorSim(counter.effectors[0], sc.origin, epoch, 3)
    got: list[SapientMessage] = []

    async def scenario() -> dict[str, object]:
        runner, host, port = await started(node, "sapient")
        await until(lambda: node.console is not None)
        assert node.console is not None
        web = httpx.AsyncClient(base_url=node.console.url.rstrip("/"), timeout=10)
        _, rw = await asyncio.open_connection(host, port)
        jr, jw = await asyncio.open_connection(host, port)
        listener = asyncio.create_task(edge_node(jr, jw, jammer.handle, clock, epoch, got))
        res = await web.post("/api/login", json={"username": "cdr", "password": "pw"})
        assert res.status_code == 200, res.text
        csrf = res.json()["csrf"]
        approved: dict[str, object] = {}
        for k in range(16):
            await advance(node, clock, epoch + k - clock.now())
            n = accepted(node)
            parts = (b"".join(radar.scan(float(k), [drone()])), b"".join(jammer.scan(float(k), [])))
            for w, data in zip((rw, jw), parts, strict=True):
                w.write(data)
                await w.drain()
            sent = sum(1 for b in parts for _ in iter_frames(b))
            await until(lambda: accepted(node) >= n + sent)  # noqa: B023
            await advance(node, clock, 0.2)
            recs = (await web.get("/api/recommendations")).json()["recommendations"]
            pending = [r for r in recs if r["state"] == "pending"]
            if pending and not approved:
                assert not [m for m in got if m.HasField("task")]  # nothing before approval
                post = asyncio.create_task(
                    web.post(
                        "/api/commands",
                        json={
                            "kind": "approve",
                            "target": pending[0]["rec_id"],
                            "effector": "jammer",
                        },
                        headers={CSRF_HEADER: csrf},
                    )
                )
                while not post.done():  # the node applies it at its next cycle boundary
                    await advance(node, clock, 0.1)
                res = post.result()
                assert res.status_code == 200, res.text
                approved = res.json()
            if approved and jammer.mode == ENGAGE_MODE:
                break
        engagements = (await web.get("/api/engagements")).json()
        await web.aclose()
        node.stop_event.set()
        await runner
        listener.cancel()
        rw.close()
        jw.close()
        return {"approved": approved, "engagements": engagements}

    out = asyncio.run(scenario())
    approved = out["approved"]
    assert isinstance(approved, dict) and approved["ok"] and approved["operator"] == "cdr"
    assert jammer.mode == ENGAGE_MODE
    tasks = {m.task.command.WhichOneof("command") for m in got if m.HasField("task")}
    assert tasks >= {"look_at", "mode_change"}
    engagements = out["engagements"]
    assert isinstance(engagements, list) and len(engagements) == 1
    eng = engagements[0]
    assert eng["approved_by"] == "cdr" and eng["effector"] == "jammer"
    db = sqlite3.connect(tmp_path / "c.sqlite")
    rows = db.execute("SELECT kind, payload FROM audit ORDER BY seq").fetchall()
    kinds = [k for k, _ in rows]
    assert kinds.index("auth.login") < kinds.index("command.approve")
    login = json.loads(next(p for k, p in rows if k == "auth.login"))
    assert login["username"] == "cdr" and login["source"] == "127.0.0.1"  # the client's address
    assert verify_audit_chain(tmp_path / "c.sqlite")[0]
