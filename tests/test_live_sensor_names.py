"""The live node names a SAPIENT sensor by its registered name, and keeps it, as lost, after
its connection drops (a terminal view and the picture's feeds, over a real socket)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from rich.console import Console

from luchtwacht.console.terminal import TerminalView
from luchtwacht.node import ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.site import SapientSection, default_site
from tests.live import accepted, advance, radar_stream, started, until


def _screen(view: TerminalView, cols: int) -> str:
    console = Console(width=cols, height=40, record=True, color_system=None)
    console.print(view.render(40))
    return console.export_text()


def test_a_sensor_is_listed_by_its_registered_name_and_shown_lost_when_it_drops(
    tmp_path: Path,
) -> None:
    site = default_site().model_copy(
        update={"sapient": SapientSection(listen="127.0.0.1:0", transport="tcp")}
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    view = TerminalView(node.core.subscribe("terminal", 16), 1.0, node.core.start_s)
    radar, scans = radar_stream(clock.now(), range(4))
    seen: dict[str, str] = {}

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        _, writer = await asyncio.open_connection(host, port)
        for k in range(3):
            writer.write(scans[k])
            await writer.drain()
            await until(lambda k=k: accepted(node) > k)
            await advance(node, clock, 1.0)
        seen["connected"] = _screen(view, 160)
        writer.close()
        await until(lambda: node.stats()["feeds"]["sapient"]["connections"]["open"] == 0)
        await advance(node, clock, 1.0)
        seen["dropped"] = _screen(view, 160)
        seen["dropped80"] = _screen(view, 80)
        node.stop_event.set()
        await runner

    asyncio.run(scenario())
    name = radar.cfg.name
    assert name
    connected = seen["connected"]
    assert f"{name} (SAPIENT 127.0.0.1:" in connected  # its name first, the address after
    wide = seen["dropped"]
    row = next(line for line in wide.splitlines() if "connection closed" in line)
    assert name in row and "lost" in row  # the row stays, as lost
    assert f"lost: {name}" in seen["dropped80"]  # the compact line names it as lost
