"""Blocking SAPIENT framing on a socket (what the example edge nodes read with)."""

from __future__ import annotations

import socket
import struct

import pytest

from luchtwacht.ingest.sapient import SapientError
from luchtwacht.transport.sapient_tcp import recv_frame


def test_frames_come_whole_however_the_bytes_arrive() -> None:
    a, b = socket.socketpair()
    with a, b:
        stream = struct.pack("<I", 5) + b"hello" + struct.pack("<I", 0) + struct.pack("<I", 3)
        for k in range(0, len(stream), 3):  # in small pieces, across frame boundaries
            a.sendall(stream[k : k + 3])
        a.sendall(b"abc")
        assert [recv_frame(b), recv_frame(b), recv_frame(b)] == [b"hello", b"", b"abc"]


def test_a_closed_peer_and_an_absurd_length_are_clear_errors() -> None:
    a, b = socket.socketpair()
    with b:
        a.sendall(struct.pack("<I", 10) + b"abc")
        a.close()
        with pytest.raises(ConnectionError, match="mid-frame"):
            recv_frame(b)
        with pytest.raises(ConnectionError, match="before a frame"):
            recv_frame(b)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("<I", 1 << 30))
        with pytest.raises(SapientError, match="exceeds maximum"):
            recv_frame(b)
