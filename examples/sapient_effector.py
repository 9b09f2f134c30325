#!/usr/bin/env python3
"""A SAPIENT effector node (an RF jammer) that a Luchtwacht fusion node may task.

For integrators: it shows, on real sockets, what an effector must do to be tasked (the contract
is in ``docs/effector-node.md``). It connects (mutual TLS, or TCP in a lab), sends its
Registration (node type JAMMER; modes Standby and Engage; commands LOOK_AT and MODE_CHANGE),
waits for the RegistrationAck, reports its location and mode in a StatusReport every few
seconds, and answers every Task addressed to it with a TaskAck: ``look_at`` aims it,
``mode_change`` Engage/Standby starts and stops it. It prints one line per task. It radiates
nothing: the effect is the simulator's business (``luchtwacht.sim.effectors``).

The node tasks it only after an operator with the commander role approves. Run a node whose
site file lists this effector (same node id, see ``examples/site-ehvk.yaml``), then this:

    .venv/bin/luchtwacht run --config site.yaml
    .venv/bin/python examples/sapient_effector.py --connect localhost:5020 \
        --ca pki/ca.crt --cert pki/jammer-ne.crt --key pki/jammer-ne.key

The site file's ``sapient.clients`` must allow that certificate (CN ``jammer-ne``) this node
id; without ``--ca/--cert/--key`` it connects over plain TCP (a lab node run with --plain-tcp).
"""

from __future__ import annotations

import argparse
import select
import struct
import sys
import time

import numpy as np

from luchtwacht.counter.catalogue import DEFAULTS, EffectorSpec
from luchtwacht.ingest.sapient import SapientMessage, parse_message, validate
from luchtwacht.sim.effectors import EffectorSim
from luchtwacht.sim.scenario import default_scenario, polar
from luchtwacht.transport.sapient_tcp import connect, recv_frame

NODE_ID = "2f6b1c8e-0d3a-4e5f-9a7b-6c5d4e3f2a1b"


def describe(msg: SapientMessage) -> str:
    """What a task asked, in a few words."""
    cmd = msg.task.command
    which = cmd.WhichOneof("command")
    if which == "look_at" and len(cmd.look_at.location_list.locations):
        loc = cmd.look_at.location_list.locations[0]
        return f"aim at {loc.y:.5f}, {loc.x:.5f}, {loc.z:.0f} m"
    if which == "mode_change":
        return cmd.mode_change.upper()
    return str(which)


def main() -> int:
    """Connect, register, then report status and answer tasks for ``--seconds``."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--connect", default="127.0.0.1:5020", help="fusion node HOST:PORT")
    ap.add_argument("--ca", help="site CA certificate (mutual TLS; docs/pki.md)")
    ap.add_argument("--cert", help="this node's certificate (luchtwacht pki issue)")
    ap.add_argument("--key", help="this node's private key")
    ap.add_argument("--node-id", default=NODE_ID, help="this effector's SAPIENT node id")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to serve")
    args = ap.parse_args()
    scenario = default_scenario()
    start = time.time()
    spec = EffectorSpec(
        "RF jammer (example)", args.node_id, "rf_jammer", polar(50.0, 2000.0, 5.0),
        **DEFAULTS["rf_jammer"],  # type: ignore[arg-type]
    )  # fmt: skip
    jammer = EffectorSim(spec, scenario.origin, start, seed=1)
    with connect(args.connect, ca=args.ca, cert=args.cert, key=args.key) as sock:
        sock.sendall(b"".join(jammer.scan(0.0, [])))  # Registration and StatusReport
        ack = parse_message(recv_frame(sock))
        if validate(ack) != "registration_ack" or not ack.registration_ack.acceptance:
            print(f"registration refused: {ack}")
            return 1
        print(f"registered as {args.node_id}", flush=True)
        while time.time() - start < args.seconds:
            # Under TLS a whole record may already sit decrypted in the socket: no select then.
            pending = getattr(sock, "pending", lambda: 0)()
            ready = pending or select.select([sock], [], [], 0.1)[0]
            now = time.time() - start
            if ready:
                body = recv_frame(sock)
                msg = parse_message(body)
                if msg.WhichOneof("content") == "task":
                    replies = jammer.handle(now, struct.pack("<I", len(body)) + body)
                    sock.sendall(b"".join(replies))
                    status = jammer.tasks[msg.task.task_id]
                    print(f"task {describe(msg)}: {status}", flush=True)
            sock.sendall(b"".join(jammer.scan(now, [])))  # status when due; no targets here
            if jammer.aim_enu is not None and jammer.mode == "Engage":
                aim = np.round(jammer.aim_enu).tolist()
                print(f"engaged, aimed at ENU {aim}", flush=True)
                jammer.aim_enu = None  # say it once per aim
    print("done")
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
