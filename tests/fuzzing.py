"""A seeded mutator of SAPIENT frames, for the live fuzz test (``tests/test_live_fuzz.py``).

It starts from valid messages — what simulated sensors send (Registration, StatusReport,
DetectionReport of a radar, a pan-tilt camera and an RF detector), a TaskAck and an Alert — and
breaks them the ways a hostile or broken peer would, on three levels:

- **fields**: NaN, ±inf, huge and tiny floats in range/bearing and locations, a range of 0,
  unknown enum numbers, empty and non-UUID node ids, ULIDs that are not, timestamps before 1970,
  after 9999 or with nanos out of range, long strings, many repeated entries;
- **wire**: bit flips, bytes inserted or deleted, truncation, garbage, a field duplicated by
  appending a second serialized message (protobuf's last value wins; oneofs switch), unknown
  fields;
- **framing**: mostly a consistent 4-byte little-endian length prefix (so the bytes reach the
  decoder), sometimes one a few bytes off (the stream goes out of step), an empty frame, and
  rarely an absurd length, after which the node cuts the connection (``Mutant.cuts``).

A share of the messages names the *victim* node (a real sensor on another connection, in exact
or altered spelling): those are impersonation attempts the node must refuse.

Everything comes from the ``random.Random`` handed in, so a seed reproduces a run's frames.
"""

from __future__ import annotations

import math
import random
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from sapient_msg.bsi_flex_335_v2_0 import location_pb2

from luchtwacht.ingest.sapient import MAX_FRAME_BYTES, SapientMessage, task_ack

_LEN = struct.Struct("<I")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

WEIRD_FLOATS: tuple[float, ...] = (
    math.nan, math.inf, -math.inf, 1e308, -1e308, 1e30, -1e30, 1e12, 0.0, -0.0, 5e-324,
    1e-300, -1.0, 0.5, 89.999999, 90.0, 90.000001, 180.0, 360.0, 361.0, -360.0, 6.3, 1e6,
)  # fmt: skip
# (seconds, nanos): before 1970, the epoch, the last representable second, beyond year 9999
WEIRD_TIMES: tuple[tuple[int, int], ...] = (
    (0, 0), (-1, 0), (1, 0), (-62_135_596_800, 0), (-62_135_596_801, 0),
    (253_402_300_799, 999_999_999), (253_402_300_800, 0), (2**62, 0), (-(2**62), 0),
)  # fmt: skip


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (reproducible, unlike ``uuid.uuid4``)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def random_ulid(rng: random.Random) -> str:
    """A 26-character ULID drawn from ``rng``."""
    return rng.choice("01234567") + "".join(rng.choice(_CROCKFORD) for _ in range(25))


def weird_ids(rng: random.Random, victim: str) -> list[str]:
    """Node ids that are not UUIDs, or are near misses of one."""
    return [
        "",
        " ",
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        victim.replace("-", ""),
        "{" + victim + "}",
        "urn:uuid:" + victim,
        victim + "\n",
        victim[:-1] + "g",
        "é" * 36,
        "x" * rng.choice((37, 300, 5_000)),
        random_uuid(rng)[:-1],
    ]


@dataclass(frozen=True, slots=True)
class Mutant:
    """One mutated frame as written to the socket."""

    data: bytes
    kind: str  # what was done to it (for the tallies)
    cuts: bool = False  # an absurd length prefix: the node cuts the connection after it
    impersonates: bool = False  # it names the victim node


@dataclass(frozen=True, slots=True)
class Corpus:
    """Valid messages to start from, by content kind (copied before each mutation)."""

    by_kind: dict[str, list[Any]]

    def kinds(self) -> list[str]:
        """The content kinds the corpus holds."""
        return sorted(self.by_kind)


def alert_message(node_id: str, t_s: float, alert_id: str) -> Any:
    """A valid Alert (an information alert at a lat/lon location)."""
    msg = json_format.ParseDict(
        {
            "nodeId": node_id,
            "alert": {
                "alertId": alert_id,
                "alertType": "ALERT_TYPE_INFORMATION",
                "status": "ALERT_STATUS_ACTIVE",
                "description": "fuzz",
                "location": {
                    "x": 5.70,
                    "y": 51.65,
                    "z": 70.0,
                    "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
                    "datum": "LOCATION_DATUM_WGS84_E",
                },
                "priority": "DISCRETE_PRIORITY_LOW",
                "ranking": 0.1,
                "confidence": 0.5,
            },
        },
        SapientMessage(),
    )
    msg.timestamp.FromNanoseconds(round(t_s * 1e9))
    return msg


def task_ack_message(node_id: str, t_s: float, task_id: str) -> Any:
    """A valid TaskAck (accepted) for ``task_id``."""
    msg = task_ack({"nodeId": node_id}, task_id, "TASK_STATUS_ACCEPTED", "")
    msg.timestamp.FromNanoseconds(round(t_s * 1e9))
    return msg


def _set_time(msg: Any, t_s: float) -> None:
    msg.timestamp.seconds = math.floor(t_s)
    msg.timestamp.nanos = round((t_s - math.floor(t_s)) * 1e9) % 1_000_000_000


class SapientMutator:
    """Draws mutated SAPIENT frames from a corpus with one seeded ``random.Random``.

    ``own_ids`` are the attacker's node ids (it registers them, so its later messages get past
    the registration check and deep into the pipe); ``victim`` is a real sensor's node id.
    """

    def __init__(
        self, rng: random.Random, corpus: Corpus, own_ids: Sequence[str], victim: str
    ) -> None:
        self.rng = rng
        self.corpus = corpus
        self.own_ids = list(own_ids)
        self.victim = victim
        self._weird_ids = weird_ids(rng, victim)
        self._field_mutations: dict[str, list[Callable[[Any], str]]] = {
            "detection_report": [
                self._range_bearing_value,
                self._range_bearing_value,
                self._range_zero,
                self._range_bearing_enums,
                self._detection_location,
                self._detection_location,
                self._detection_ids,
                self._classifications,
                self._object_info,
            ],
            "status_report": [self._node_location, self._node_location, self._status_enums],
            "registration": [self._registration_fields, self._max_range],
            "task_ack": [self._task_ack_fields],
            "alert": [self._alert_fields],
        }

    # --- one frame ------------------------------------------------------------------------------

    def valid(self, kind: str, node_id: str, t_s: float) -> bytes:
        """A valid framed message of ``kind`` for ``node_id`` stamped ``t_s`` (no mutation)."""
        msg = self._copy(kind, node_id, t_s)
        body: bytes = msg.SerializeToString()
        return _LEN.pack(len(body)) + body

    def next(self, t_s: float) -> Mutant:
        """The next mutated frame; message times near ``t_s`` unless a time is the mutation."""
        rng = self.rng
        kind = rng.choices(
            ("detection_report", "status_report", "registration", "task_ack", "alert"),
            weights=(50, 16, 16, 10, 8),
        )[0]
        node_id, who = self._node_id()
        msg = self._copy(kind, node_id, t_s + rng.uniform(-0.5, 0.3))
        tags = [kind, who]
        if who == "victim" and kind == "status_report":  # it would move the victim, if taken
            msg.status_report.node_location.x += 0.01
            msg.status_report.node_location.y -= 0.01
        if rng.random() < 0.55:
            tags.append(rng.choice(self._field_mutations[kind])(msg))
        if rng.random() < 0.08:
            tags.append(self._time(msg))
        if rng.random() < 0.04:
            msg.destination_id = rng.choice([*self._weird_ids, random_uuid(rng)])
            tags.append("destination")
        body: bytes = msg.SerializeToString()
        if rng.random() < 0.35:
            body, tag = self._wire(body)
            tags.append(tag)
        data, cuts, tag = self._framing(body)
        if tag:
            tags.append(tag)
        return Mutant(data, "/".join(tags), cuts, who == "victim")

    def _copy(self, kind: str, node_id: str, t_s: float) -> Any:
        msg = SapientMessage()
        msg.CopyFrom(self.rng.choice(self.corpus.by_kind[kind]))
        msg.node_id = node_id
        _set_time(msg, t_s)
        if kind == "detection_report":  # fresh ids, as a sensor sends them
            msg.detection_report.report_id = random_ulid(self.rng)
        elif kind == "status_report":
            msg.status_report.report_id = random_ulid(self.rng)
        elif kind == "task_ack":
            msg.task_ack.task_id = random_ulid(self.rng)
        elif kind == "alert":
            msg.alert.alert_id = random_ulid(self.rng)
        return msg

    def _node_id(self) -> tuple[str, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return rng.choice(self.own_ids), "own"
        if r < 0.70:
            spelled = rng.choice(
                (self.victim, self.victim, self.victim, self.victim.upper(), self.victim.title())
            )
            return spelled, "victim"
        if r < 0.85:
            return random_uuid(rng), "fresh"
        return rng.choice(self._weird_ids), "weird-id"

    # --- fields ---------------------------------------------------------------------------------

    def _float(self) -> float:
        rng = self.rng
        if rng.random() < 0.8:
            return rng.choice(WEIRD_FLOATS)
        return rng.uniform(-1e4, 1e4) * 10.0 ** rng.randint(-8, 8)

    def _range_bearing_value(self, msg: Any) -> str:
        rb = msg.detection_report.range_bearing
        name = self.rng.choice(
            ("azimuth", "elevation", "range", "azimuth_error", "elevation_error", "range_error")
        )
        setattr(rb, name, self._float())
        if self.rng.random() < 0.3:
            rb.ClearField(self.rng.choice(("azimuth", "elevation", "range")))
        return f"rb.{name}"

    def _range_zero(self, msg: Any) -> str:
        rb = msg.detection_report.range_bearing
        rb.range = self.rng.choice((0.0, 0.5, 0.999, 1e-9))
        return "rb.range0"

    def _range_bearing_enums(self, msg: Any) -> str:
        rb = msg.detection_report.range_bearing
        if self.rng.random() < 0.5:
            rb.coordinate_system = self.rng.randint(0, 7)
        else:
            rb.datum = self.rng.randint(0, 7)
        return "rb.enum"

    def _detection_location(self, msg: Any) -> str:
        loc = msg.detection_report.location  # switches the oneof from range_bearing
        rng = self.rng
        loc.x, loc.y = rng.uniform(5.5, 5.9), rng.uniform(51.55, 51.75)
        loc.z = rng.uniform(0.0, 300.0)
        loc.x_error = loc.y_error = 1e-4
        loc.z_error = 5.0
        loc.coordinate_system = rng.choice(
            (
                location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M,
                location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M,
                location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M,
                rng.randint(0, 9),
            )
        )
        loc.datum = rng.choice((location_pb2.LOCATION_DATUM_WGS84_E, rng.randint(0, 5)))
        if loc.coordinate_system == location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M:
            loc.utm_zone = rng.choice(("31U", "31", "61U", "0", "31I", "", " ", "x" * 50, "-1"))
            loc.x, loc.y = rng.uniform(6e5, 7e5), rng.uniform(5.7e6, 5.8e6)
        name = rng.choice(("x", "y", "z", "x_error", "y_error", "z_error"))
        setattr(loc, name, self._float())
        return f"loc.{name}"

    def _detection_ids(self, msg: Any) -> str:
        dr = msg.detection_report
        name = self.rng.choice(("report_id", "object_id", "task_id"))
        setattr(dr, name, self.rng.choice(("", "0" * 26, "8" + "0" * 25, "not-a-ulid", "é" * 26)))
        return f"dr.{name}"

    def _classifications(self, msg: Any) -> str:
        dr = msg.detection_report
        rng = self.rng
        for _ in range(rng.choice((1, 3, 300))):
            c = dr.classification.add()
            c.type = rng.choice(("UAV Rotary Wing", "", " ", "Bird", "x" * 1000, "Clutter"))
            c.confidence = rng.choice((0.5, 1.0, 0.0, *WEIRD_FLOATS))
        return "dr.classification"

    def _object_info(self, msg: Any) -> str:
        dr = msg.detection_report
        rng = self.rng
        info = dr.object_info.add()
        info.type = rng.choice(("RangeRate", "Protocol", "Serial", "radial_velocity", ""))
        info.value = rng.choice(("nan", "inf", "1e999", "-1e308", "abc", "", "12.5", "DJI"))
        if rng.random() < 0.5:
            info.error = self._float()
        return "dr.object_info"

    def _node_location(self, msg: Any) -> str:
        loc = msg.status_report.node_location
        rng = self.rng
        r = rng.random()
        if r < 0.3:  # UTM that PROJ cannot place
            loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M
            loc.utm_zone = rng.choice(("31U", "31", "60X", "1C", "0", "99Z", ""))
            loc.x, loc.y = rng.choice(((1e12, 5e6), (-1e9, 0.0), (6.8e5, 5.72e6), (1e300, 1e300)))
            return "status.utm"
        if r < 0.45:
            loc.coordinate_system = rng.randint(0, 9)
            loc.datum = rng.randint(0, 5)
            return "status.location_enum"
        if r < 0.55:
            msg.status_report.ClearField("node_location")
            return "status.no_location"
        name = rng.choice(("x", "y", "z", "x_error", "y_error", "z_error"))
        setattr(loc, name, self._float())
        return f"status.{name}"

    def _status_enums(self, msg: Any) -> str:
        sr = msg.status_report
        rng = self.rng
        sr.system = rng.randint(0, 9)
        sr.info = rng.randint(0, 9)
        sr.mode = rng.choice(("", "Default", "x" * 2000))
        return "status.enum"

    def _registration_fields(self, msg: Any) -> str:
        reg = msg.registration
        rng = self.rng
        choice = rng.randint(0, 5)
        if choice == 0:
            reg.icd_version = rng.choice(("", "BSI Flex 335 v1.0", "bsi flex 335 v2.0"))
        elif choice == 1:
            reg.name = rng.choice(("", "x" * 10_000, "\x00" * 10))
        elif choice == 2:
            del reg.node_definition[:]
        elif choice == 3:
            for _ in range(rng.choice((1, 50))):
                nd = reg.node_definition.add()
                nd.node_type = rng.randint(0, 40)
        elif choice == 4:
            reg.mode_definition[0].task.command.add().type = rng.randint(0, 12)
        else:
            reg.ClearField("status_definition")
        return "registration"

    def _max_range(self, msg: Any) -> str:
        cap = msg.registration.capabilities.add()
        cap.category, cap.type = "Detection", "MaxRange"
        cap.value = self.rng.choice(("nan", "inf", "-1", "0", "1e999", "1e-300", "abc", "5"))
        cap.units = self.rng.choice(("m", "km", "furlong", "", "KM"))
        return "registration.max_range"

    def _task_ack_fields(self, msg: Any) -> str:
        ack = msg.task_ack
        rng = self.rng
        if rng.random() < 0.5:
            ack.task_status = rng.randint(0, 9)
        else:
            ack.task_id = rng.choice(("", "not-a-ulid", "x" * 500))
        return "task_ack"

    def _alert_fields(self, msg: Any) -> str:
        alert = msg.alert
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            name = rng.choice(("x", "y", "z"))
            setattr(alert.location, name, self._float())
        elif r < 0.7:
            alert.ranking, alert.confidence = self._float(), self._float()
        else:
            alert.alert_type = rng.randint(0, 9)
        return "alert"

    def _time(self, msg: Any) -> str:
        rng = self.rng
        if rng.random() < 0.6:
            msg.timestamp.seconds, msg.timestamp.nanos = rng.choice(WEIRD_TIMES)
        else:  # a real time, far from now, or nanos out of range
            msg.timestamp.seconds += rng.choice((-86_400 * 365, -3600, -6, 3, 3600, 86_400 * 365))
            if rng.random() < 0.3:
                msg.timestamp.nanos = rng.choice((-1, 1_000_000_000, 2**31 - 1))
        return "time"

    # --- wire and framing -----------------------------------------------------------------------

    def _wire(self, body: bytes) -> tuple[bytes, str]:
        rng = self.rng
        b = bytearray(body)
        r = rng.random()
        if r < 0.25 and b:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            return bytes(b), "bitflip"
        if r < 0.35:
            at = rng.randint(0, len(b))
            b[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16)))
            return bytes(b), "insert"
        if r < 0.45 and b:
            at = rng.randrange(len(b))
            del b[at : at + rng.randint(1, 16)]
            return bytes(b), "delete"
        if r < 0.55:
            return bytes(b[: rng.randint(0, len(b))]), "truncate"
        if r < 0.8:
            # A second message appended: protobuf merges it, its node id (or content) wins.
            extra = SapientMessage()
            if rng.random() < 0.5:
                extra.node_id = rng.choice((self.victim, *self.own_ids, *self._weird_ids))
            else:
                extra.CopyFrom(
                    self.rng.choice(self.corpus.by_kind[rng.choice(self.corpus.kinds())])
                )
                extra.node_id = rng.choice(self.own_ids)
            return bytes(b) + extra.SerializeToString(), "duplicate"
        if r < 0.9:
            tag = rng.randint(16, 2**29 - 1) << 3  # an unknown field, varint
            return bytes(b) + _varint(tag) + _varint(rng.getrandbits(64)), "unknown-field"
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 400))), "garbage"

    def _framing(self, body: bytes) -> tuple[bytes, bool, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.004:
            n = rng.choice((MAX_FRAME_BYTES + 1, 2**31, 2**32 - 1))
            return _LEN.pack(n) + body, True, "absurd-length"
        if r < 0.012:
            n = max(0, len(body) + rng.choice((-3, -1, 1, 2, 7)))
            return _LEN.pack(n) + body, False, "length-off"
        if r < 0.02:
            return _LEN.pack(0), False, "empty-frame"
        return _LEN.pack(len(body)) + body, False, ""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
