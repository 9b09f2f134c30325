"""Blocking SAPIENT framing on a socket, for simple edge nodes (the examples, a test harness).

The node's own servers read with :class:`luchtwacht.ingest.sapient.FrameReader` on asyncio
streams; an edge node written as a plain loop over a blocking socket needs one whole frame at a
time instead.
"""

from __future__ import annotations

import socket
import struct

from luchtwacht.ingest.sapient import MAX_FRAME_BYTES, SapientError

_LEN = struct.Struct("<I")


def _recv_exactly(sock: socket.socket, n: int, what: str) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"the peer closed the connection {what}")
        data += chunk
    return data


def recv_frame(sock: socket.socket, max_frame_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """The body of the next length-prefixed frame (4-byte little-endian length, then bytes).

    Raises ConnectionError if the peer closes, and :class:`SapientError` on a length prefix
    above ``max_frame_bytes`` (the stream is out of step).
    """
    (n,) = _LEN.unpack(_recv_exactly(sock, 4, "before a frame"))
    if n > max_frame_bytes:
        raise SapientError("frame.length", "exceeds maximum", f"{n} > {max_frame_bytes} bytes")
    return _recv_exactly(sock, n, "mid-frame")
