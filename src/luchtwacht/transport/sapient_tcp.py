"""SAPIENT framing: the 4-byte little-endian length prefix on TCP, in one place.

:func:`frame` writes a message with its prefix; :class:`FrameReader` reassembles frames from a
byte stream in arbitrary chunks (the node's servers, every SAPIENT feed's pipe);
:func:`split_frames` splits a capture file; :func:`recv_frame` reads one whole frame from a
blocking socket, for simple edge nodes written as a plain loop (the examples, a test harness).
The codec (parse, validate, build) is ``luchtwacht.ingest.sapient``.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

from google.protobuf.message import Message

from luchtwacht.ingest.sapient_rules import SapientError

MAX_FRAME_BYTES = 1 << 20  # a DetectionReport is ~200 B; a megabyte is already absurd
_LEN = struct.Struct("<I")


def frame(message: Message) -> bytes:
    """Serialize a message with the SAPIENT TCP framing (uint32 little-endian length prefix)."""
    body = message.SerializeToString()
    return _LEN.pack(len(body)) + body


class FrameReader:
    """Reassembles length-prefixed SAPIENT frames from a byte stream of arbitrary chunks."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame_bytes

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Add bytes; yield every complete frame body. Raises on an absurd length prefix."""
        self._buf += data
        while len(self._buf) >= 4:
            (n,) = _LEN.unpack_from(self._buf, 0)
            if n > self._max:
                self._buf.clear()  # the stream is out of step; nothing after this can be trusted
                raise SapientError("frame.length", "exceeds maximum", f"{n} > {self._max} bytes")
            if len(self._buf) < 4 + n:
                return
            body = bytes(self._buf[4 : 4 + n])
            del self._buf[: 4 + n]  # cheap: CPython drops a bytearray's head without copying
            yield body

    @property
    def pending_bytes(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)


def split_frames(data: bytes, max_frame_bytes: int = MAX_FRAME_BYTES) -> list[bytes] | None:
    """The frame bodies of ``data`` if it is exactly a sequence of SAPIENT frames, else None.

    For files: a capture of framed messages splits into its frames; anything else (a bare
    serialized message, a truncated capture) is not a frame sequence.
    """
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            return None
        (n,) = _LEN.unpack_from(data, pos)
        if n > max_frame_bytes or pos + 4 + n > len(data):
            return None
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out if out else None


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


def connect(
    address: str,
    *,
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    timeout_s: float = 10.0,
) -> socket.socket:
    """A blocking connection to a fusion node's SAPIENT server, for edge nodes and test harnesses.

    With ``ca``, ``cert`` and ``key`` (``luchtwacht pki``) it is mutual TLS: the node's
    certificate must chain to ``ca`` and name the host; ours shows who we are. Without them it
    is plain TCP, which a node accepts only when its site file says ``transport: tcp``.
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    sock = socket.create_connection((host, int(port)), timeout=timeout_s)
    if ca is None and cert is None and key is None:
        return sock
    if ca is None or cert is None or key is None:
        sock.close()
        raise ValueError("TLS needs all of ca, cert and key")
    from luchtwacht.transport.pki import client_context

    try:
        return client_context(cert, key, ca).wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
