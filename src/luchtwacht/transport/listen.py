"""Listening sockets opened before the node has loaded: a sensor can connect at once.

Loading the tracker (numpy, scipy, numba's compiled kernels) takes a second or more. The live
node's listeners are therefore bound first, straight from the site file, with nothing but the
standard library: from then on the operating system completes a sensor's TCP handshake and
buffers what it sends (UDP datagrams too, up to the socket buffer) until the node serves the
socket. Nothing a sensor sends in that second is lost.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luchtwacht.site import SiteConfig

BACKLOG = 128  # connections the kernel holds before the node accepts them


class ListenError(OSError):
    """A listener could not be bound; names the listener, its address and the system's reason."""

    def __init__(self, name: str, address: str, reason: str) -> None:
        super().__init__(f"cannot listen for {name} on {address}: {reason}")
        self.name, self.address, self.reason = name, address, reason

    def __str__(self) -> str:
        return str(self.args[0])


def _reason(exc: OSError) -> str:
    """The system's words for a failed bind, without the errno number (``address in use``)."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket (address reuse on, so a restarted node can bind again)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bind_udp(host: str, port: int) -> socket.socket:
    """A bound UDP socket."""
    sock = socket.socket(_family(host), socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(slots=True)
class Prebound:
    """Sockets bound ahead of the node, by listener name (``sapient``, ``remoteid``, …)."""

    sockets: dict[str, socket.socket] = field(default_factory=dict)

    def take(self, name: str) -> socket.socket | None:
        """The socket bound for ``name`` (handed over once), or None."""
        return self.sockets.pop(name, None)

    def close(self) -> None:
        """Close whatever was not handed over."""
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()


def prebind(site: SiteConfig) -> Prebound:
    """Bind every listener the site file names (SAPIENT, Remote ID, ASTERIX) now."""
    from luchtwacht.hostport import parse_hostport

    wanted: list[tuple[str, str, bool]] = []  # (name, HOST:PORT, UDP?)
    if site.sapient is not None:
        wanted.append(("sapient", site.sapient.listen, False))
    if site.remoteid is not None:
        wanted.append(("remoteid", site.remoteid.listen, site.remoteid.protocol == "udp"))
    if site.asterix is not None:
        wanted.append(("asterix", site.asterix.listen, True))
    if site.console is not None:
        wanted.append(("console", site.console.listen, False))
    out = Prebound()
    for name, address, udp in wanted:
        try:
            host, port = parse_hostport(address)
            out.sockets[name] = (bind_udp if udp else bind_tcp)(host, port)
        except OSError as exc:  # in use, not this host's address, unknown name, no permission
            out.close()
            raise ListenError(name, address, _reason(exc)) from exc
    return out
