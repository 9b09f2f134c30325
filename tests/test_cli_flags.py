"""The CLI's global and amending flags: ``--version``, ``-v`` after a command, ``--seed`` over a
scenario file's, and the Remote ID flags amending (never replacing) the site file's feed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from luchtwacht import __version__
from luchtwacht.cli import _hoist_global_flags, app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def test_version_flag_before_or_after_a_command() -> None:
    for args in (["--version"], ["demo", "--version"], ["version"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert __version__ in result.output


def test_verbose_works_after_the_command_too() -> None:
    assert _hoist_global_flags(["demo", "--headless", "-v"]) == ["-v", "demo", "--headless"]
    assert _hoist_global_flags(["verify", "x", "--", "-v"]) == ["verify", "x", "--", "-v"]
    result = runner.invoke(app, ["version", "-v"])
    assert result.exit_code == 0 and __version__ in result.output, result.output
    wrong = runner.invoke(app, ["version", "-x"])
    assert wrong.exit_code == 2  # other unknown flags are still refused


def test_seed_overrides_a_scenario_files_seed(tmp_path: Path) -> None:
    scenario = ROOT / "scenarios" / "single-intruder.yaml"
    base = ["demo", "--headless", "--no-web", "--speed", "0", "--duration", "5"]
    seeds = {}
    for name, extra in (("file", []), ("given", ["--seed", "3"])):
        out = tmp_path / f"{name}.json"
        result = runner.invoke(
            app, [*base, "--scenario", str(scenario), *extra, "--summary-json", str(out)]
        )
        assert result.exit_code == 0, result.output
        seeds[name] = json.loads(out.read_text())["seed"]
    assert seeds["given"] == 3
    assert seeds["file"] != 3  # the file's own seed when --seed is not given


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tcp_listening(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def test_remoteid_listen_keeps_the_site_files_tcp_and_protocol_alone_is_applied(
    tmp_path: Path,
) -> None:
    """``--remoteid-listen`` moves the site's TCP feed to another address and keeps it TCP;
    ``--remoteid-protocol`` alone changes the site's feed; alone without a feed it is refused."""
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: {name: test, lat: 51.6564, lon: 5.7087, alt_m: 65.0}\n"
        f"remoteid: {{listen: 127.0.0.1:{_free_port()}, protocol: tcp, allow: [127.0.0.1]}}\n"
    )
    udp_site = tmp_path / "udp.yaml"
    port_b = _free_port()
    udp_site.write_text(
        "site: {name: test, lat: 51.6564, lon: 5.7087, alt_m: 65.0}\n"
        f"remoteid: {{listen: 127.0.0.1:{port_b}, protocol: udp}}\n"
    )
    port_a = _free_port()
    cases = [
        (["--config", str(site), "--remoteid-listen", f"127.0.0.1:{port_a}"], port_a),
        (["--config", str(udp_site), "--remoteid-protocol", "tcp"], port_b),
    ]
    for flags, port in cases:
        cmd = [sys.executable, "-m", "luchtwacht.cli", "run", *flags, "--no-web", "--headless"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert _tcp_listening(port, 30.0), f"no TCP listener on {port} for {flags}"
        finally:
            proc.terminate()
            proc.wait(30)
    alone = runner.invoke(app, ["run", "--remoteid-protocol", "tcp", "--no-web"])
    assert alone.exit_code == 2 and "needs --remoteid-listen" in alone.output
    bad = runner.invoke(app, ["run", "--config", str(site), "--remoteid-protocol", "sctp"])
    assert bad.exit_code == 2 and "must be udp or tcp" in bad.output


def test_a_site_files_console_null_leaves_the_console_off_unless_web_is_given(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: {name: test, lat: 51.6564, lon: 5.7087, alt_m: 65.0}\n"
        "remoteid: {listen: 127.0.0.1:0}\nconsole: null\n"
    )
    base = ["run", "--config", str(site), "--headless", "--duration", "0.5"]
    off = runner.invoke(app, base)
    assert off.exit_code == 0 and "operator console" not in off.output, off.output
    on = runner.invoke(app, [*base, "--web", "--web-listen", f"127.0.0.1:{_free_port()}"])
    assert on.exit_code == 0 and "operator console: http://127.0.0.1:" in on.output, on.output


def test_demo_signs_its_recording_with_a_given_key(tmp_path: Path) -> None:
    key = tmp_path / "node.key"
    made = runner.invoke(app, ["pki", "signing-key", str(key)])
    assert made.exit_code == 0, made.output
    rec = tmp_path / "run.sqlite"
    base = ["demo", "--headless", "--no-web", "--speed", "0", "--duration", "5"]
    result = runner.invoke(app, [*base, "--record", str(rec), "--signing-key", str(key)])
    assert result.exit_code == 0, result.output
    checked = runner.invoke(app, ["verify", str(rec), "--public-key", f"{key}.pub"])
    assert checked.exit_code == 0 and "checked against the trusted key" in checked.output
    missing = runner.invoke(app, [*base, "--signing-key", str(tmp_path / "none.key")])
    assert missing.exit_code == 2 and "--signing-key" in missing.output
