#!/usr/bin/env python3
"""A SAPIENT sensor node (ASM) that streams a simulated radar to a Luchtwacht fusion node.

For integrators: it shows, on real sockets, what a sensor must do to be fused. It connects over
mutual TLS (or TCP in a lab), sends its Registration, waits for the RegistrationAck, reports
its location in a StatusReport and then sends one DetectionReport per plot every scan (4-byte
little-endian length + serialized ``SapientMessage``, BSI Flex 335 v2.0). Run a node first,
then this:

    .venv/bin/luchtwacht run --sapient-listen 127.0.0.1:5020 --plain-tcp     # a lab: no TLS
    .venv/bin/python examples/sapient_sensor.py --connect 127.0.0.1:5020 --scans 60

With the site's mutual TLS (docs/pki.md), give the node's certificate:

    .venv/bin/python examples/sapient_sensor.py --connect localhost:5020 \
        --ca pki/ca.crt --cert pki/radar-north.crt --key pki/radar-north.key
"""

from __future__ import annotations

import argparse
import sys
import time

from luchtwacht.ingest.sapient import parse_message, validate
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.transport.sapient_tcp import connect, recv_frame


def main() -> int:
    """Connect, register, then stream scans in real time (or as fast as asked)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--connect", default="127.0.0.1:5020", help="fusion node HOST:PORT")
    ap.add_argument("--ca", help="site CA certificate (mutual TLS; docs/pki.md)")
    ap.add_argument("--cert", help="this node's certificate (luchtwacht pki issue)")
    ap.add_argument("--key", help="this node's private key")
    ap.add_argument("--scans", type=int, default=60, help="radar scans to send (1 per second)")
    ap.add_argument("--speed", type=float, default=1.0, help="scans per wall second")
    args = ap.parse_args()
    scenario = default_scenario()
    start = time.time()
    radar = RadarSim(scenario.radars[0], scenario.origin, start, seed=1)
    with connect(args.connect, ca=args.ca, cert=args.cert, key=args.key) as sock:
        first = b"".join(radar.scan(0.0, scenario.targets))  # Registration, StatusReport, plots
        sock.sendall(first)
        ack = parse_message(recv_frame(sock))
        if validate(ack) != "registration_ack" or not ack.registration_ack.acceptance:
            print(f"registration refused: {list(ack.registration_ack.ack_response_reason)}")
            return 1
        print("registered; streaming scans")
        for k in range(1, args.scans):
            due = start + k / args.speed
            time.sleep(max(0.0, due - time.time()))
            sock.sendall(b"".join(radar.scan(float(k), scenario.targets)))
    print(f"sent {args.scans} scans")
    return 0


def run() -> int:
    """:func:`main`, with a refused or lost connection as one line instead of a traceback."""
    try:
        return main()
    except (OSError, ValueError) as exc:  # ssl.SSLError and ConnectionError are OSErrors
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(run())
