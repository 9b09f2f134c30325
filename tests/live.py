"""Helpers for tests of the live node over real sockets (a :class:`ManualClock` drives it)."""

import asyncio
import dataclasses
import struct
import time
from collections.abc import Callable

from luchtwacht.ingest.sapient import SapientMessage, parse_message
from luchtwacht.model.detection import ObjectClass
from luchtwacht.node import TICK_S, ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario, polar
from luchtwacht.sim.targets import Target, WaypointPath


def drone() -> Target:
    return Target(
        "d",
        ObjectClass.DRONE,
        0.5,
        WaypointPath((polar(58, 3000, 100), polar(58, 2000, 100)), (15.0,)),
    )


def radar_stream(
    epoch: float, scans: range, seed: int = 1, node_id: str | None = None
) -> tuple[RadarSim, list[bytes]]:
    sc = default_scenario()
    cfg = sc.radars[0]
    if node_id is not None:  # another radar of the same make, on its own node id
        cfg = dataclasses.replace(cfg, node_id=node_id)
    radar = RadarSim(cfg, sc.origin, epoch, seed)
    out = []
    for k in scans:
        out.append(b"".join(radar.scan(float(k), [drone()])))
    return radar, out


async def read_frames(reader: asyncio.StreamReader, n: int) -> list[SapientMessage]:
    msgs = []
    for _ in range(n):
        head = await asyncio.wait_for(reader.readexactly(4), 5)
        body = await asyncio.wait_for(reader.readexactly(struct.unpack("<I", head)[0]), 5)
        msgs.append(parse_message(body))
    return msgs


async def until(cond, timeout_s: float = 10.0) -> None:
    """Wait (on the wall, briefly) until ``cond()`` holds: bytes crossing a socket."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


async def advance(node: LiveNode, clock: ManualClock, seconds: float) -> None:
    """Move the node's clock on tick by tick, each tick run before the next."""
    for _ in range(round(seconds / TICK_S)):
        target = node.core.tick_count + 1
        clock.advance(TICK_S)
        await until(lambda: node.core.tick_count >= target)  # noqa: B023


async def started(node: LiveNode, listener: str) -> tuple[asyncio.Task[None], str, int]:
    """Run the node; once ``listener`` is up, its host and port."""
    runner = asyncio.create_task(node.run())
    await until(lambda: listener in node.listeners and bool(node.listeners[listener].address))
    host, port = node.listeners[listener].address.split(":")
    return runner, host, int(port)


def accepted(node: LiveNode, kind: str = "sapient") -> int:
    return int(node.stats()["feeds"].get(kind, {}).get("accepted", 0))


async def edge_node(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handle: Callable[[float, bytes], list[bytes]],
    clock: ManualClock,
    epoch: float,
    got: list[SapientMessage],
) -> None:
    """A simulated edge node on its socket: keeps every message, answers through ``handle``."""
    while True:
        head = await reader.readexactly(4)
        body = await reader.readexactly(struct.unpack("<I", head)[0])
        got.append(parse_message(body))
        for reply in handle(clock.now() - epoch, head + body):
            writer.write(reply)
        await writer.drain()


def iter_frames(stream: bytes):
    pos = 0
    while pos < len(stream):
        (n,) = struct.unpack_from("<I", stream, pos)
        yield stream[pos + 4 : pos + 4 + n]
        pos += 4 + n
