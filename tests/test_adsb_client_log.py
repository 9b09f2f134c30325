"""The live node's ADS-B client says in its log when the receiver cannot be reached (once, not
every retry), when it connects and when the connection drops."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from typer.testing import CliRunner

from luchtwacht.cli import app

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def _messages(log: Path) -> list[str]:
    return [json.loads(line)["message"] for line in log.read_text().splitlines()]


def test_an_unreachable_receiver_is_logged_once_and_a_dropped_one_too(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    port = _closed_port()
    site.write_text(
        "site: {name: t, lat: 51.6564, lon: 5.7087, alt_m: 65.0}\n"
        f"adsb: {{connect: '127.0.0.1:{port}', reconnect_s: 0.2}}\nconsole: null\n"
    )
    log = tmp_path / "down.jsonl"
    args = ["--log-file", str(log), "run", "--config", str(site), "--headless"]
    result = runner.invoke(app, [*args, "--duration", "1.5"])
    assert result.exit_code == 0, result.output
    failures = [m for m in _messages(log) if f"127.0.0.1:{port}: connect failed" in m]
    assert len(failures) == 1, _messages(log)  # ~7 retries, one line

    server = socket.create_server(("127.0.0.1", 0))
    live_port = server.getsockname()[1]

    def accept_then_close() -> None:
        conn, _ = server.accept()
        conn.close()  # the receiver drops us at once

    threading.Thread(target=accept_then_close, daemon=True).start()
    site.write_text(site.read_text().replace(str(port), str(live_port)))
    log2 = tmp_path / "drop.jsonl"
    args2 = ["--log-file", str(log2), "run", "--config", str(site), "--headless"]
    result = runner.invoke(app, [*args2, "--duration", "1.0"])
    server.close()
    assert result.exit_code == 0, result.output
    messages = _messages(log2)
    assert any(m.endswith(f"{live_port}: connected") for m in messages), messages
    assert any("connection closed; reconnecting" in m for m in messages), messages
