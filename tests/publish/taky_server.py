"""The real TAK server the CoT tests run against: taky 0.10 (``make peers``) on loopback.

:class:`Taky` writes taky's config (plain TCP, or TLS requiring a client certificate from the
site CA that ``luchtwacht.transport.pki`` makes), starts it on a free port, stops and restarts
it. :class:`TakClient` is a second TAK client of that server: it reads taky's XML stream on a
thread and keeps every event it relays.
"""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from luchtwacht.publish.cot import parse_events
from luchtwacht.transport.pki import CertFiles, client_context, init_ca, issue

REPO = Path(__file__).resolve().parents[2]
TAKY = REPO / ".venv" / "peers" / "taky" / "bin" / "taky"


def need_taky() -> Path:
    """taky's executable, or skip the test naming what is missing."""
    if not TAKY.exists():
        pytest.skip(f"taky is not built at {TAKY} (run `make peers`)")
    return TAKY


def free_port() -> int:
    """A TCP port nothing listens on now (the OS's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Pki:
    """A site CA with a server certificate for taky and client certificates for TAK clients."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca, _ = init_ca(directory, "TAK test CA", 30)
        self.server = issue(directory, "taky", server=True, days=30)
        self.clients: dict[str, CertFiles] = {}

    def client(self, name: str) -> CertFiles:
        """A client certificate (made once per name)."""
        if name not in self.clients:
            self.clients[name] = issue(self.dir, name, days=30)
        return self.clients[name]

    def context(self, name: str) -> ssl.SSLContext:
        """A TLS client context presenting ``name``'s certificate, trusting the site CA."""
        files = self.client(name)
        return client_context(files.cert, files.key, self.ca)


class Taky:
    """One taky COT server on 127.0.0.1:``port``; ``pki`` given: TLS with client certificates."""

    def __init__(self, pki: Pki | None = None, port: int | None = None) -> None:
        self.exe = need_taky()
        self.pki = pki
        self.port = port or free_port()
        # Short: taky binds a Unix management socket in its root dir (108-byte path limit).
        self.root = Path(tempfile.mkdtemp(prefix="taky"))
        self.config = self.root / "taky.conf"
        self.log = self.root / "taky.log"
        self.proc: subprocess.Popen[bytes] | None = None
        lines = [
            "[taky]",
            "hostname = localhost",
            "node_id = LWTEST",
            "bind_ip = 127.0.0.1",
            f"root_dir = {self.root}",
            "[cot_server]",
            f"port = {self.port}",
            "[dp_server]",
            f"upload_path = {self.root / 'dp'}",
            "[ssl]",
        ]
        if pki is None:
            lines.append("enabled = false")
        else:
            lines += [
                "enabled = true",
                "client_cert_required = true",
                f"ca = {pki.ca}",
                f"cert = {pki.server.cert}",
                f"key = {pki.server.key}",
                f"cert_db = {self.root / 'cert-db.txt'}",
            ]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self, timeout_s: float = 10.0) -> None:
        """Start taky and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.exe), "-c", str(self.config), "-l", "info"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"taky exited at start: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"taky did not listen on {self.port}: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; taky closes its clients and exits (within ~1 s)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)

    def __enter__(self) -> Taky:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TakClient:
    """A TAK client of the server: connects (TCP or TLS), pings, and keeps what it receives."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), 5.0)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
        sock.settimeout(0.2)
        self.sock = sock
        self.events: list[ET.Element] = []
        self.arrived: list[float] = []  # time.monotonic() at which each event's end arrived
        self.closed = False
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self._ping()

    def _ping(self) -> None:
        """Send taky a ping and wait for its pong: then the server has registered us."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        later = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 20))
        ping = (
            f'<event version="2.0" uid="test-client-ping" type="t-x-c-t" how="h-g-i-g-o" '
            f'time="{now}" start="{now}" stale="{later}">'
            '<point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail/></event>'
        )
        self.sock.sendall(ping.encode())
        self.wait_for(lambda evs: any(e.get("type") == "t-x-c-t-r" for e in evs), 5.0)

    def _read(self) -> None:
        buf = b""
        while not self._stop:
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except OSError:
                break
            if not chunk:
                break
            now = time.monotonic()  # when the bytes arrived, before we spend time parsing
            buf += chunk
            cut = buf.rfind(b"</event>")
            if cut < 0:
                continue
            done, buf = buf[: cut + len(b"</event>")], buf[cut + len(b"</event>") :]
            events = list(parse_events(done))
            with self._cond:
                self.events.extend(events)
                self.arrived.extend([now] * len(events))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_for(
        self, done: Callable[[list[ET.Element]], bool], timeout_s: float = 5.0
    ) -> list[ET.Element]:
        """Wait until ``done(events)`` holds; the events so far either way."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not done(self.events):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    break
                self._cond.wait(left)
            return list(self.events)

    def by_uid(self, uid: str) -> list[ET.Element]:
        """Every event received with this uid, oldest first."""
        with self._cond:
            return [e for e in self.events if e.get("uid") == uid]

    def close(self) -> None:
        """Disconnect."""
        self._stop = True
        try:
            self.sock.close()
        finally:
            self._thread.join(2.0)
