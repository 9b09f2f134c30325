"""Remote ID from a capture stream: pcap or pcapng from a pipe or a file, as a live feed.

A monitor-mode Wi-Fi card or a Bluetooth LE sniffer needs no Luchtwacht-specific receiver: the
standard tools write pcap to standard output (``tcpdump -i wlan0mon -w - | luchtwacht run
--remoteid-capture -``) or to a FIFO or a growing file, and the node reads it as it comes
(:class:`~luchtwacht.transport.pcap.PcapStream`). Each frame that carries Open Drone ID becomes
one line of the Remote ID receiver format (``docs/remoteid-feed.md``: its time is the capture
time, its payload the frame's bytes exactly), and goes through the same
:class:`~luchtwacht.ingest.remoteid_feed.RemoteIdPipe` as a receiver's lines, so the recording
and replay need nothing new. Frames without Open Drone ID are counted by why; a malformed
frame is counted by the field at fault; a stream that is not a capture at all is logged in one
line and its feed stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from luchtwacht.ingest.remoteid import RemoteIdError
from luchtwacht.ingest.remoteid_capture import (
    NoRemoteIdError,
    decode_record,
    parse_ble_record,
    utc_iso,
)
from luchtwacht.transport.pcap import (
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    PcapError,
    PcapRecord,
    PcapStream,
    ieee80211_frame,
)

log = logging.getLogger(__name__)

READ_CHUNK = 65_536
FOLLOW_POLL_S = 0.2  # a growing file at its end: look again this often


class CaptureLines:
    """Capture bytes in (any chunking), Remote ID receiver JSON lines out."""

    def __init__(self, receiver: str, on_malformed: Callable[[str], None] | None = None) -> None:
        self.receiver = receiver
        self.on_malformed = on_malformed  # told the field of each malformed frame
        self.stream = PcapStream()
        self.records = 0
        self.frames = 0
        self.skipped: Counter[str] = Counter()  # frames without Open Drone ID, by why
        self.malformed: Counter[str] = Counter()  # frames with a broken Open Drone ID, by field

    def feed(self, data: bytes, t_rx_s: float) -> list[bytes]:
        """The lines for the frames ``data`` completes; :class:`PcapError` if not a capture."""
        out = []
        for record in self.stream.feed(data):
            self.records += 1
            line = self._line(record, t_rx_s)
            if line is not None:
                out.append(line)
        return out

    def _line(self, record: PcapRecord, t_rx_s: float) -> bytes | None:
        try:
            frame = decode_record(record, self.records - 1)
            if record.linktype in (LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP):
                payload = ieee80211_frame(record)
            else:
                payload = parse_ble_record(record).adv_data
        except NoRemoteIdError as exc:
            self.skipped[exc.field] += 1
            return None
        except (RemoteIdError, PcapError) as exc:
            field_name = exc.field if isinstance(exc, RemoteIdError) else "radiotap"
            self.malformed[field_name] += 1
            if self.on_malformed is not None:
                self.on_malformed(field_name)
            return None
        self.frames += 1
        t_s = record.timestamp_s if math.isfinite(record.timestamp_s) else t_rx_s
        line: dict[str, object] = {
            "time": utc_iso(t_s) or utc_iso(t_rx_s),
            "receiver": self.receiver,
            "transport": frame.transport,
            "mac": frame.mac or "00:00:00:00:00:00",
            "payload": payload.hex(),
        }
        if frame.rssi_dbm is not None:
            line["rssi_dbm"] = frame.rssi_dbm
        return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def open_source(source: str) -> BinaryIO:
    """The capture to read: ``-`` is standard input, anything else a file or FIFO path."""
    if source == "-":
        return sys.stdin.buffer
    return Path(source).open("rb")  # closed by the reader thread at its end


def follow(
    source: str,
    loop: asyncio.AbstractEventLoop,
    deliver: Callable[[bytes | None], None],
    stop: threading.Event,
) -> threading.Thread:
    """Read ``source`` in a daemon thread and hand each chunk to ``deliver`` on ``loop``.

    A pipe or FIFO is read until its writer closes it; a regular file is followed like
    ``tail -f`` (a capture tool may still be writing it) until ``stop``. ``deliver(None)``
    says the stream ended. The thread is a daemon: a read blocked on a silent pipe never holds
    up the node's exit.
    """

    def run() -> None:
        try:
            f = open_source(source)
        except OSError as exc:
            log.error("Remote ID capture %s: cannot open (%s)", source, exc.strerror or exc)
            loop.call_soon_threadsafe(deliver, None)
            return
        regular = source != "-" and Path(source).is_file()
        try:
            while not stop.is_set():
                chunk = f.read1(READ_CHUNK) if hasattr(f, "read1") else f.read(READ_CHUNK)
                if chunk:
                    loop.call_soon_threadsafe(deliver, chunk)
                elif regular:
                    stop.wait(FOLLOW_POLL_S)  # at the end of a growing file: wait for more
                else:
                    break  # the pipe's writer closed it
        except (OSError, ValueError) as exc:
            log.error("Remote ID capture %s: read failed (%s)", source, exc)
        finally:
            if f is not sys.stdin.buffer:
                f.close()
            loop.call_soon_threadsafe(deliver, None)

    thread = threading.Thread(target=run, name=f"capture:{source}", daemon=True)
    thread.start()
    return thread


class CaptureFeed:
    """A capture source served as the node's Remote ID feed until the node stops.

    ``receive(line)`` hands each line to the node core (which records and decodes it);
    ``pipe_counters`` are the feed's counters, where malformed Open Drone ID frames are counted
    as rejections. ``stats`` (the node's listener counters) say why the stream ended.
    """

    def __init__(
        self,
        source: str,
        receiver: str,
        receive: Callable[[bytes], None],
        reject: Callable[[str], None],
        ended: Callable[[str], None],
        now: Callable[[], float],
    ) -> None:
        self.source = source
        self.lines = CaptureLines(
            receiver, lambda f: reject(f"{f}: malformed Open Drone ID frame in the capture")
        )
        self._receive, self._ended, self._now = receive, ended, now
        self._stop = threading.Event()
        self._dead = False

    def start(self, stop_event: asyncio.Event) -> asyncio.Task[None]:
        """Start reading; the returned task ends the reader when ``stop_event`` is set."""
        loop = asyncio.get_running_loop()
        follow(self.source, loop, self._deliver, self._stop)

        async def watch() -> None:
            await stop_event.wait()
            self._stop.set()

        return asyncio.create_task(watch())

    def _deliver(self, chunk: bytes | None) -> None:
        if self._dead:
            return
        if chunk is None:
            self._dead = True
            try:
                self.lines.stream.end()
                self._ended("end of stream")
            except PcapError as exc:
                self._ended(f"ended inside a record: {exc}")
            log.warning("Remote ID capture %s: stream ended", self.source)
            return
        try:
            lines = self.lines.feed(chunk, self._now())
        except PcapError as exc:
            self._dead = True
            self._stop.set()
            self._ended(f"not a pcap/pcapng capture: {exc}")
            log.error("Remote ID capture %s: not a pcap/pcapng capture (%s)", self.source, exc)
            return
        for line in lines:
            self._receive(line)
