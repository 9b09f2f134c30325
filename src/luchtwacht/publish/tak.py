"""Byte transports to TAK: a stream (TCP, or TLS with a client certificate) and UDP multicast SA.

Used by the Cursor-on-Target publisher (``publish.cot``), which runs them on its own thread.
Every call is bounded in time: connecting by ``connect_timeout_s``, each write by
``write_timeout_s``. A transport never retries on its own: a failure raises :class:`TakPeerError`
and the publisher decides (drop, count, reconnect with backoff).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from typing import Protocol

READ_CHUNK = 65536  # what a TAK server sends us (others' events, pongs) is read and discarded
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4


class TakPeerError(Exception):
    """The peer cannot take bytes now: not connected, closed, refused or too slow."""


class TakTransport(Protocol):
    """A way to hand framed CoT to a TAK peer."""

    @property
    def connected(self) -> bool:
        """Whether :meth:`send` can be tried now."""
        ...

    def connect(self) -> None:
        """Open the connection within the connect timeout, or raise :class:`TakPeerError`."""
        ...

    def send(self, data: bytes) -> None:
        """Write one or more whole frames (bounded by the write timeout) or raise TakPeerError."""
        ...

    def poll(self) -> None:
        """Read and discard what the peer sent; TakPeerError if it closed the connection."""
        ...

    def close(self) -> None:
        """Release the socket; :meth:`connect` may be called again."""
        ...


class StreamTransport:
    """TCP to a TAK server, optionally wrapped in TLS (the client presents its certificate).

    A stream whose write timed out or failed half-way is closed: a TAK server cannot find the
    next event in a stream cut inside one, so the only safe way on is a new connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout_s: float = 5.0,
        write_timeout_s: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.server_hostname = server_hostname or host
        self.connect_timeout_s = connect_timeout_s
        self.write_timeout_s = write_timeout_s
        self._sock: socket.socket | None = None

    @property
    def connected(self) -> bool:
        """Whether a connection is open (as far as we know: :meth:`poll` finds out more)."""
        return self._sock is not None

    def connect(self) -> None:
        """Connect (and for TLS, complete the handshake) within ``connect_timeout_s``."""
        self.close()
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout_s)
        except OSError as exc:
            raise TakPeerError(f"connect {self.host}:{self.port}: {exc}") from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock.settimeout(self.connect_timeout_s)
                sock = self.tls.wrap_socket(sock, server_hostname=self.server_hostname)
            sock.settimeout(self.write_timeout_s)
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise TakPeerError(f"TLS handshake with {self.host}:{self.port}: {exc}") from None
        self._sock = sock

    def send(self, data: bytes) -> None:
        """Write ``data`` whole within ``write_timeout_s``; on any failure close and raise."""
        sock = self._sock
        if sock is None:
            raise TakPeerError("not connected")
        try:
            sock.sendall(data)
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise TakPeerError(f"write to {self.host}:{self.port}: {exc}") from None

    def poll(self) -> None:
        """Drain what the server sent without waiting; a closed peer raises TakPeerError.

        A TAK server relays every client's events to every other client, so a publisher must
        read them or the server's buffer for it grows. Reading is also how a server that went
        away is noticed before the next write vanishes into a half-closed socket.
        """
        sock = self._sock
        if sock is None:
            return
        try:
            while True:
                pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
                if not pending:
                    readable, _, _ = select.select([sock], [], [], 0)
                    if not readable:
                        return
                sock.setblocking(False)
                try:
                    chunk = sock.recv(READ_CHUNK)
                except (ssl.SSLWantReadError, BlockingIOError):
                    return
                finally:
                    sock.settimeout(self.write_timeout_s)
                if not chunk:
                    self.close()
                    raise TakPeerError(f"{self.host}:{self.port} closed the connection")
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise TakPeerError(f"read from {self.host}:{self.port}: {exc}") from None

    def close(self) -> None:
        """Close the socket, if open."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


class MulticastTransport:
    """UDP datagrams to a multicast group (TAK's SA mesh, e.g. 239.2.3.1:6969), one event each.

    A unicast address works too (one ATAK device's UDP input, port 4242): the multicast
    options then do nothing.

    ``interface`` is the local IPv4 address of the interface to send on (None: the route's);
    ``ttl`` how many routers the datagrams may cross (1: this link only). Datagrams are also
    looped back to this host, so a TAK client on the same machine sees them.
    """

    def __init__(
        self,
        group: str,
        port: int,
        *,
        ttl: int = 1,
        interface: str | None = None,
        write_timeout_s: float = 2.0,
    ) -> None:
        self.group = group
        self.port = port
        self.ttl = ttl
        self.interface = interface
        self.write_timeout_s = write_timeout_s
        self._sock: socket.socket | None = None

    @property
    def connected(self) -> bool:
        """Whether the socket is open."""
        return self._sock is not None

    def connect(self) -> None:
        """Open the sending socket with the group's TTL, interface and loopback set."""
        self.close()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            if self.interface:
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.interface)
                )
            sock.settimeout(self.write_timeout_s)
        except OSError as exc:
            raise TakPeerError(f"multicast socket for {self.group}:{self.port}: {exc}") from None
        self._sock = sock

    def send(self, data: bytes) -> None:
        """Send one datagram (one event); TakPeerError if it is too large or the send fails."""
        sock = self._sock
        if sock is None:
            raise TakPeerError("not open")
        if len(data) > MAX_DATAGRAM:
            raise TakPeerError(f"event of {len(data)} bytes does not fit a UDP datagram")
        try:
            sock.sendto(data, (self.group, self.port))
        except OSError as exc:
            raise TakPeerError(f"send to {self.group}:{self.port}: {exc}") from None

    def poll(self) -> None:
        """Nothing to read on a send-only socket."""

    def close(self) -> None:
        """Close the socket, if open."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
