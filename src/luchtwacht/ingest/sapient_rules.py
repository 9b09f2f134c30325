"""SAPIENT (BSI Flex 335 v2.0) message validation: the ICD's rules, a reference and a fast path.

Where it sits: :mod:`luchtwacht.ingest.sapient` parses each frame into a ``SapientMessage`` and
calls :func:`validate` here before it trusts a single field. Every rejection is a
:class:`SapientError` naming the dotted field path and a short rule name, so a counter, a log line
or the Error message sent back to the sensor node says exactly what was wrong.

Two implementations of the same rules:

* the **reference path** (:func:`validate_reference`) walks any message by its descriptor, in
  field-number order, depth first. For each field: presence, then the field's own checks (enum
  value known, ID format, finite number, the value rules of :data:`_FIELD_RULES`), recursing into
  sub-messages; after a message's fields, that message's cross-field rules
  (:data:`_MESSAGE_RULES`). The first broken rule in that order is the one reported.
* the **fast path** for DetectionReports (:func:`detection_row`), the message that arrives
  thousands of times a second. It reads each field once, checks the common shapes (range/bearing or
  geodetic location, confidence, classifications) with straight-line code and returns the values
  the fusion node needs. Anything it cannot vouch for cheaply (a doubtful value, a rarely used field
  it does not specialise) it hands to the reference code, so an error is always produced by the
  reference rules and the two paths accept and reject exactly the same messages with the same
  field and rule (``tests/ingest/test_sapient_rules.py`` checks that on the conformance vectors
  and on fuzzed reports). :func:`validate` tries it first for every message: for anything but a
  well-formed DetectionReport it finds nothing to read and the reference path decides.

Rules (BSI Flex 335 v2.0 §5 and the field annotations of its ``.proto`` files; the value rules
follow the validators of the Dstl BSI-Flex-335-v2 test harness, v5.2.3):

================================================  ==================================================
Rule (``SapientError.rule``)                      What is checked
================================================  ==================================================
no message content                                ``SapientMessage`` carries one of the nine
                                                  contents
mandatory field missing                           every field annotated ``is_mandatory`` (empty list
                                                  for repeated ones), plus the harness's extra
                                                  mandatory fields: VelocityType.enu_velocity_units,
                                                  TaskDefinition.concurrent_tasks,
                                                  DerivedDetection.timestamp
mandatory field empty                             mandatory strings/bytes are not blank; the
                                                  selected ``Task.Command`` request / mode_change is
                                                  not blank
mandatory enum unspecified                        a mandatory enum (each element of a mandatory
                                                  repeated one, a selected threshold command, a
                                                  LocationType's units and datum) is not
                                                  ``*_UNSPECIFIED``
unknown enum value                                every enum, everywhere, holds a value the schema
                                                  defines (protobuf keeps unknown numbers on the
                                                  wire)
not a ULID / not a UUID                           fields annotated ``is_ulid`` / ``is_uuid``
                                                  (26-char Crockford ULID; 8-4-4-4-12 hex UUID),
                                                  plus ``FollowObject.follow_object_id`` (ULID) and
                                                  every ``Registration.dependent_nodes`` entry
                                                  (UUID)
not a finite number                               every float/double field is finite (no NaN, ±inf)
not a valid time                                  every Timestamp is a real time (nanos in [0, 1e9),
                                                  year 1..9999); the message timestamp is after 1970
unsupported ICD version                           ``Registration.icd_version`` == "BSI Flex 335
                                                  v2.0"
outside [0, 1]                                    confidences (detection, classification, sub-class,
                                                  behaviour) and Alert ranking/confidence
negative error                                    σ-errors of Location, RangeBearing(Cone),
                                                  ENUVelocity and track info are ≥ 0
negative range / extent                           RangeBearing(Cone) range and cone extents are ≥ 0
negative frequency / duration                     Signal frequencies and pulse duration are ≥ 0
negative level                                    sub-class (and sub-class filter) levels are ≥ 0
outside [0, 100] %                                ``StatusReport.Power.level``
not a positive duration                           every ``Registration.Duration`` value is > 0
longitude / latitude out of range                 Location x/y within ±180/±90 deg (LAT_LNG_DEG_M)
                                                  or ±π/±π/2 rad (LAT_LNG_RAD_M)
not a UTM zone                                    a given UTM zone reads like "31U" (1..60, band
                                                  C-X)
required with UTM coordinates                     UTM needs a zone: in every Registration
                                                  LocationType (except the node's
                                                  location_definition, as the harness) and in the
                                                  positions the fusion node places (DetectionReport
                                                  location, predicted location, StatusReport
                                                  node_location)
no azimuth, elevation or range                    a RangeBearing says at least one of the three
out of range                                      azimuth within ±360 deg (±2π rad), elevation
                                                  within ±90 deg (±π/2 rad); cone extents within a
                                                  circle
mandatory: location or range_bearing              DetectionReport and PredictedLocation locate the
                                                  object (exactly one of the two: a protobuf oneof)
mandatory: location_list or range_bearing         every LocationOrRangeBearing (regions, fields of
                                                  view, coverage, look-at) holds one of the two
mandatory with … / mandatory: … or …              Registration LocationType declares location units
                                                  with a location datum or range-bearing units with
                                                  a range-bearing datum, never a mix
                                                  (coverage/obscuration/FoV/detection/region types);
                                                  the node's location_definition uses location units
                                                  (``must use location units``)
mandatory: location_datum or range_bearing_datum  VelocityType declares its datum (location or
                                                  range-bearing)
mandatory: one command                            a ``Task.Command`` selects a command
unknown behaviour type                            DetectionReport behaviour type is one of the ICD's
                                                  (walking, running, crawling, climbing, digging,
                                                  throwing, loitering, active, passive, other)
start_frequency above stop_frequency              a Signal's start frequency is not above its stop
centre outside start..stop                        a Signal's centre frequency lies between them
not deeper than its parent                        a nested sub-class (and sub-class filter) has a
                                                  higher level than the one it refines
ends before it starts                             ``Task.task_end_time`` ≥ ``task_start_time``
================================================  ==================================================

Deliberately not copied from the harness: it treats a zero amplitude, velocity, filter value or
centre frequency as "missing" (a C# default-value test); here presence is protobuf's own, so a
hovering drone's zero velocity is a velocity. Its class-taxonomy table (``BeAValidClassification``)
is not used by any of its validators and is not enforced here either: classification types stay
free text, as the ICD's extensible taxonomy allows. Rules of the fusion node rather than of the
ICD (unregistered node, node position unknown, framing) live in :mod:`luchtwacht.ingest.sapient`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, NamedTuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from sapient_msg import proto_options_pb2
from sapient_msg.bsi_flex_335_v2_0 import (
    detection_report_pb2,
    location_pb2,
    range_bearing_pb2,
)

ICD_VERSION: Final = "BSI Flex 335 v2.0"

_PACKAGE = "sapient_msg.bsi_flex_335_v2_0."
_TIMESTAMP = "google.protobuf.Timestamp"
# google.protobuf.Timestamp's own range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
_MIN_TS_S: Final = -62_135_596_800
_MAX_TS_S: Final = 253_402_300_799

_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_UTM_ZONE = re.compile(r"\s*(\d{1,2})\s*[C-HJ-NP-X]?\s*", re.IGNORECASE)

MISSING: Final = "mandatory field missing"
EMPTY: Final = "mandatory field empty"
UNSPECIFIED: Final = "mandatory enum unspecified"


class SapientError(ValueError):
    """A SAPIENT message broke a rule; ``field`` is the dotted path, ``rule`` a short rule name."""

    def __init__(self, field: str, rule: str, detail: str = "") -> None:
        self.field = field
        self.rule = rule
        self.detail = detail
        super().__init__(f"{field}: {rule}" + (f" ({detail})" if detail else ""))


def is_ulid(text: str) -> bool:
    """True for a canonical 26-character Crockford base-32 ULID (upper case, ≤ 2^128)."""
    return _ULID.fullmatch(text) is not None


def is_uuid(text: str) -> bool:
    """True for an RFC 4122 textual UUID (8-4-4-4-12 hex digits)."""
    return _UUID.fullmatch(text) is not None


def is_utm_zone(text: str) -> bool:
    """True for a UTM zone name: number 1..60 with an optional latitude band (e.g. "31U")."""
    m = _UTM_ZONE.fullmatch(text)
    return m is not None and 1 <= int(m.group(1)) <= 60


# ---------------------------------------------------------------------------------------------
# Value rules (run after a field's own checks) and message rules (after all of a message's fields)

FieldRule = Callable[[Any, str], None]
MessageRule = Callable[[Any, str], None]


def _unit_interval(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise SapientError(name, "outside [0, 1]", repr(value))


def _non_negative(rule: str) -> FieldRule:
    def check(value: float, name: str) -> None:
        if value < 0:
            raise SapientError(name, rule, repr(value))

    return check


_negative_error = _non_negative("negative error")
_negative_range = _non_negative("negative range")
_negative_extent = _non_negative("negative extent")
_negative_frequency = _non_negative("negative frequency")
_negative_duration = _non_negative("negative duration")
_negative_level = _non_negative("negative level")


def _epoch_time(ts: Any, name: str) -> None:
    if ts.seconds <= 0:
        raise SapientError(name, "not a valid time", f"{ts.seconds} s is not after 1970")


def _icd_version(value: str, name: str) -> None:
    if value != ICD_VERSION:
        raise SapientError(name, "unsupported ICD version", f"{value!r}, expected {ICD_VERSION!r}")


def _positive_duration(value: float, name: str) -> None:
    if not value > 0:
        raise SapientError(name, "not a positive duration", repr(value))


def _percent(value: int, name: str) -> None:
    if not 0 <= value <= 100:
        raise SapientError(name, "outside [0, 100] %", repr(value))


def _not_blank(value: str, name: str) -> None:
    if not value.strip():
        raise SapientError(name, EMPTY)


def _not_unspecified(value: int, name: str) -> None:
    if value == 0:
        raise SapientError(name, UNSPECIFIED)


# The ICD's behaviour taxonomy, as the Dstl harness accepts it (case-insensitive).
BEHAVIOUR_TYPES: Final = frozenset(
    {
        "walking",
        "running",
        "crawling",
        "climbing",
        "digging",
        "throwing",
        "loitering",
        "active",
        "passive",
        "other",
    }
)


def _behaviour_type(value: str, name: str) -> None:
    if value.lower() not in BEHAVIOUR_TYPES:
        raise SapientError(name, "unknown behaviour type", repr(value[:40]))


_LOC_UTM = location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M
_LOC_DEG = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
_LOC_RAD = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M
_RB_DEGREES = frozenset(
    {
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M,
        range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM,
    }
)


def _utm_zone_required(loc: Any, name: str) -> None:
    """A position the fusion node must place: UTM easting/northing mean nothing without a zone."""
    if loc.coordinate_system == _LOC_UTM and not loc.utm_zone.strip():
        raise SapientError(f"{name}.utm_zone", "required with UTM coordinates")


def _location_rule(loc: Any, path: str) -> None:
    cs = loc.coordinate_system
    if cs == _LOC_DEG:
        lon_max, lat_max, unit = 180.0, 90.0, "deg"
    elif cs == _LOC_RAD:
        lon_max, lat_max, unit = math.pi, math.pi / 2, "rad"
    else:  # UTM: easting/northing ranges depend on the zone; only its name can be checked
        zone = loc.utm_zone
        if zone.strip() and not is_utm_zone(zone):
            raise SapientError(f"{path}.utm_zone", "not a UTM zone", repr(zone[:40]))
        return
    if not -lon_max <= loc.x <= lon_max:
        raise SapientError(f"{path}.x", "longitude out of range", f"{loc.x} {unit}")
    if not -lat_max <= loc.y <= lat_max:
        raise SapientError(f"{path}.y", "latitude out of range", f"{loc.y} {unit}")


def _angle_limits(coordinate_system: int) -> tuple[float, float]:
    """(full circle, quarter circle) in the units of a range-bearing coordinate system."""
    return (360.0, 90.0) if coordinate_system in _RB_DEGREES else (2 * math.pi, math.pi / 2)


def _range_bearing_rule(rb: Any, path: str) -> None:
    if not (rb.HasField("azimuth") or rb.HasField("elevation") or rb.HasField("range")):
        raise SapientError(path, "no azimuth, elevation or range")
    full, quarter = _angle_limits(rb.coordinate_system)
    if not -full <= rb.azimuth <= full:
        raise SapientError(f"{path}.azimuth", "out of range", repr(rb.azimuth))
    if not -quarter <= rb.elevation <= quarter:
        raise SapientError(f"{path}.elevation", "out of range", repr(rb.elevation))


def _range_bearing_cone_rule(cone: Any, path: str) -> None:
    full, quarter = _angle_limits(cone.coordinate_system)
    if not -full <= cone.azimuth <= full:
        raise SapientError(f"{path}.azimuth", "out of range", repr(cone.azimuth))
    if not -quarter <= cone.elevation <= quarter:
        raise SapientError(f"{path}.elevation", "out of range", repr(cone.elevation))
    if cone.horizontal_extent > full:
        raise SapientError(
            f"{path}.horizontal_extent", "out of range", repr(cone.horizontal_extent)
        )
    if cone.vertical_extent > 2 * quarter:
        raise SapientError(f"{path}.vertical_extent", "out of range", repr(cone.vertical_extent))


def _one_location(oneof: str) -> MessageRule:
    def check(msg: Any, path: str) -> None:
        if msg.WhichOneof(oneof) is None:
            raise SapientError(f"{path}.location", "mandatory: location or range_bearing")

    return check


def _location_or_range_bearing_rule(msg: Any, path: str) -> None:
    if msg.WhichOneof("fov_oneof") is None:
        raise SapientError(f"{path}.location_list", "mandatory: location_list or range_bearing")


def _location_type(lt: Any, name: str) -> None:
    """Registration LocationType: location units + datum, or range-bearing units + datum."""
    units = lt.WhichOneof("coordinates_oneof")
    datum = lt.WhichOneof("datum_oneof")
    if units is None:
        if datum is None:
            raise SapientError(
                f"{name}.location_units", "mandatory: location_units or range_bearing_units"
            )
        wanted = "location_units" if datum == "location_datum" else "range_bearing_units"
        raise SapientError(f"{name}.{wanted}", f"mandatory with {datum}")
    wanted = "location_datum" if units == "location_units" else "range_bearing_datum"
    if datum != wanted:
        raise SapientError(f"{name}.{wanted}", f"mandatory with {units}")
    if getattr(lt, units) == 0:
        raise SapientError(f"{name}.{units}", UNSPECIFIED)
    if getattr(lt, datum) == 0:
        raise SapientError(f"{name}.{datum}", UNSPECIFIED)
    if units == "location_units" and lt.location_units == _LOC_UTM:
        if not lt.zone.strip():
            raise SapientError(f"{name}.zone", "required with UTM coordinates")
        if not is_utm_zone(lt.zone):
            raise SapientError(f"{name}.zone", "not a UTM zone", repr(lt.zone[:40]))


def _location_type_location_only(lt: Any, name: str) -> None:
    """The node's own location_definition: a Location, so location units and datum."""
    if lt.WhichOneof("coordinates_oneof") != "location_units":
        rule = "must use location units" if lt.HasField("range_bearing_units") else MISSING
        raise SapientError(f"{name}.location_units", rule)
    if lt.WhichOneof("datum_oneof") != "location_datum":
        rule = "must use location units" if lt.HasField("range_bearing_datum") else MISSING
        raise SapientError(f"{name}.location_datum", rule)
    if lt.location_units == 0:
        raise SapientError(f"{name}.location_units", UNSPECIFIED)
    if lt.location_datum == 0:
        raise SapientError(f"{name}.location_datum", UNSPECIFIED)


def _velocity_type_rule(vt: Any, path: str) -> None:
    datum = vt.WhichOneof("datum_oneof")
    if datum is None:
        raise SapientError(
            f"{path}.location_datum", "mandatory: location_datum or range_bearing_datum"
        )
    if getattr(vt, datum) == 0:
        raise SapientError(f"{path}.{datum}", UNSPECIFIED)


def _signal_rule(sig: Any, path: str) -> None:
    has = sig.HasField
    if (
        has("start_frequency")
        and has("stop_frequency")
        and sig.start_frequency > sig.stop_frequency
    ):
        raise SapientError(f"{path}.start_frequency", "start_frequency above stop_frequency")
    if has("start_frequency") and sig.centre_frequency < sig.start_frequency:
        raise SapientError(f"{path}.centre_frequency", "centre outside start..stop")
    if has("stop_frequency") and sig.centre_frequency > sig.stop_frequency:
        raise SapientError(f"{path}.centre_frequency", "centre outside start..stop")


def _deeper_children(children: str) -> MessageRule:
    def check(msg: Any, path: str) -> None:
        for i, child in enumerate(getattr(msg, children)):
            if child.level <= msg.level:
                raise SapientError(
                    f"{path}.{children}[{i}].level",
                    "not deeper than its parent",
                    f"{child.level} <= {msg.level}",
                )

    return check


def _task_rule(task: Any, path: str) -> None:
    if task.HasField("task_start_time") and task.HasField("task_end_time"):
        start, end = task.task_start_time, task.task_end_time
        if (end.seconds, end.nanos) < (start.seconds, start.nanos):
            raise SapientError(f"{path}.task_end_time", "ends before it starts")


def _command_rule(cmd: Any, path: str) -> None:
    if cmd.WhichOneof("command") is None:
        raise SapientError(f"{path}.command", "mandatory: one command")


_LOCATION_TYPE_FIELDS = (
    "Registration.StatusDefinition.coverage_definition",
    "Registration.StatusDefinition.obscuration_definition",
    "Registration.StatusDefinition.field_of_view_definition",
    "Registration.DetectionDefinition.location_type",
    "Registration.RegionDefinition.region_area",
)
_UNIT_INTERVAL_FIELDS = (
    "DetectionReport.detection_confidence",
    "DetectionReport.DetectionReportClassification.confidence",
    "DetectionReport.SubClass.confidence",
    "DetectionReport.Behaviour.confidence",
    "Alert.ranking",
    "Alert.confidence",
)
_ERROR_FIELDS = (
    "Location.x_error",
    "Location.y_error",
    "Location.z_error",
    "RangeBearing.azimuth_error",
    "RangeBearing.elevation_error",
    "RangeBearing.range_error",
    "RangeBearingCone.azimuth_error",
    "RangeBearingCone.elevation_error",
    "RangeBearingCone.range_error",
    "RangeBearingCone.horizontal_extent_error",
    "RangeBearingCone.vertical_extent_error",
    "ENUVelocity.east_rate_error",
    "ENUVelocity.north_rate_error",
    "ENUVelocity.up_rate_error",
    "DetectionReport.TrackObjectInfo.error",
)

# Rules on one field's value, keyed "Message.field" (package prefix dropped); applied to each
# element of a repeated field.
_FIELD_RULES: dict[str, FieldRule] = {
    "SapientMessage.timestamp": _epoch_time,
    "Registration.icd_version": _icd_version,
    "Registration.StatusDefinition.location_definition": _location_type_location_only,
    **dict.fromkeys(_LOCATION_TYPE_FIELDS, _location_type),
    "Registration.Duration.value": _positive_duration,
    "Registration.SubClass.level": _negative_level,
    "Registration.SubClassFilterDefinition.level": _negative_level,
    "DetectionReport.SubClass.level": _negative_level,
    **dict.fromkeys(_UNIT_INTERVAL_FIELDS, _unit_interval),
    **dict.fromkeys(_ERROR_FIELDS, _negative_error),
    "RangeBearing.range": _negative_range,
    "RangeBearingCone.range": _negative_range,
    "RangeBearingCone.horizontal_extent": _negative_extent,
    "RangeBearingCone.vertical_extent": _negative_extent,
    "DetectionReport.Behaviour.type": _behaviour_type,
    "DetectionReport.Signal.start_frequency": _negative_frequency,
    "DetectionReport.Signal.centre_frequency": _negative_frequency,
    "DetectionReport.Signal.stop_frequency": _negative_frequency,
    "DetectionReport.Signal.pulse_duration": _negative_duration,
    "StatusReport.Power.level": _percent,
    "DetectionReport.location": _utm_zone_required,
    "DetectionReport.PredictedLocation.location": _utm_zone_required,
    "StatusReport.node_location": _utm_zone_required,
    "Task.Command.request": _not_blank,
    "Task.Command.mode_change": _not_blank,
    "Task.Command.detection_threshold": _not_unspecified,
    "Task.Command.detection_report_rate": _not_unspecified,
    "Task.Command.classification_threshold": _not_unspecified,
}

# Cross-field rules of a message, keyed by its name; run after all of its fields passed.
_MESSAGE_RULES: dict[str, MessageRule] = {
    "Location": _location_rule,
    "RangeBearing": _range_bearing_rule,
    "RangeBearingCone": _range_bearing_cone_rule,
    "LocationOrRangeBearing": _location_or_range_bearing_rule,
    "DetectionReport": _one_location("location_oneof"),
    "DetectionReport.PredictedLocation": _one_location("predicted_location_oneof"),
    "DetectionReport.Signal": _signal_rule,
    "DetectionReport.SubClass": _deeper_children("sub_class"),
    "Registration.SubClass": _deeper_children("sub_class"),
    "Registration.SubClassFilterDefinition": _deeper_children("sub_class_definition"),
    "Registration.VelocityType": _velocity_type_rule,
    "Task": _task_rule,
    "Task.Command": _command_rule,
}

# What the Dstl harness requires beyond the annotations compiled into the bindings.
_EXTRA_MANDATORY = frozenset(
    {
        "Registration.VelocityType.enu_velocity_units",
        "Registration.TaskDefinition.concurrent_tasks",
        "DetectionReport.DerivedDetection.timestamp",
    }
)
_EXTRA_ULID = frozenset({"FollowObject.follow_object_id"})
_EXTRA_UUID = frozenset({"Registration.dependent_nodes"})


# ---------------------------------------------------------------------------------------------
# The reference path: descriptor-driven, any message


_MESSAGE, _TIME, _ENUM, _STRING, _BYTES, _FLOAT, _OTHER = range(7)
_FLOAT_TYPES = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
_IMPLICIT_EMPTY = (
    FieldDescriptor.TYPE_STRING,
    FieldDescriptor.TYPE_BYTES,
    FieldDescriptor.TYPE_ENUM,
)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Everything the reference path needs to know about one field, computed once."""

    name: str
    number: int
    kind: int
    repeated: bool
    presence: bool  # explicit presence (HasField); otherwise a non-default value shows it
    implicit_empty: bool  # without explicit presence, the default value means "not sent"
    mandatory: bool
    ulid: bool
    uuid: bool
    enum_known: frozenset[int]
    rule: FieldRule | None


def _short(full_name: str) -> str:
    return full_name.removeprefix(_PACKAGE)


@cache
def field_specs(desc: Descriptor) -> tuple[FieldSpec, ...]:
    """The fields of a message type in field-number order (the order rules are applied in)."""
    ext: Any = proto_options_pb2.field_options  # the extension's stub type is too narrow for mypy
    out = []
    for fd in sorted(desc.fields, key=lambda f: f.number):
        key = f"{_short(desc.full_name)}.{fd.name}"
        opt = fd.GetOptions().Extensions[ext]
        if fd.message_type is not None:
            kind = _TIME if fd.message_type.full_name == _TIMESTAMP else _MESSAGE
        elif fd.enum_type is not None:
            kind = _ENUM
        elif fd.type == FieldDescriptor.TYPE_STRING:
            kind = _STRING
        elif fd.type == FieldDescriptor.TYPE_BYTES:
            kind = _BYTES
        elif fd.type in _FLOAT_TYPES:
            kind = _FLOAT
        else:
            kind = _OTHER
        known = frozenset(v.number for v in fd.enum_type.values) if fd.enum_type else frozenset()
        out.append(
            FieldSpec(
                name=fd.name,
                number=fd.number,
                kind=kind,
                repeated=fd.is_repeated,
                presence=fd.has_presence and not fd.is_repeated,
                implicit_empty=fd.type in _IMPLICIT_EMPTY,
                mandatory=bool(opt.is_mandatory) or key in _EXTRA_MANDATORY,
                ulid=bool(opt.is_ulid) or key in _EXTRA_ULID,
                uuid=bool(opt.is_uuid) or key in _EXTRA_UUID,
                enum_known=known,
                rule=_FIELD_RULES.get(key),
            )
        )
    return tuple(out)


@cache
def _message_rule(desc: Descriptor) -> MessageRule | None:
    return _MESSAGE_RULES.get(_short(desc.full_name))


def check_message(msg: Message, path: str) -> None:
    """Reference check of ``msg`` (at dotted ``path``) and everything inside it; raise or return."""
    for spec in field_specs(msg.DESCRIPTOR):
        check_field(msg, spec, f"{path}.{spec.name}")
    rule = _message_rule(msg.DESCRIPTOR)
    if rule is not None:
        rule(msg, path)


def check_field(msg: Message, spec: FieldSpec, name: str) -> None:
    """Reference check of one field of ``msg``: presence, then its value(s)."""
    if spec.repeated:
        values = getattr(msg, spec.name)
        if not values:
            if spec.mandatory:
                raise SapientError(name, MISSING, "empty list")
            return
        for i, value in enumerate(values):
            check_value(spec, value, f"{name}[{i}]")
        return
    value = getattr(msg, spec.name)
    # proto3 implicit presence: only a non-default value shows it was sent
    present = msg.HasField(spec.name) if spec.presence else not spec.implicit_empty or bool(value)
    if not present:
        if spec.mandatory:
            raise SapientError(name, MISSING)
        return
    check_value(spec, value, name)


def check_value(spec: FieldSpec, value: Any, name: str) -> None:
    """Reference check of one present value (a singular field or one element of a list)."""
    kind = spec.kind
    if kind == _MESSAGE:
        check_message(value, name)
    elif kind == _TIME:
        if not (_MIN_TS_S <= value.seconds <= _MAX_TS_S and 0 <= value.nanos < 1_000_000_000):
            raise SapientError(name, "not a valid time", f"{value.seconds} s {value.nanos} ns")
    elif kind == _ENUM:
        if value not in spec.enum_known:
            raise SapientError(name, "unknown enum value", str(value))
        if spec.mandatory and value == 0:
            raise SapientError(name, UNSPECIFIED)
    elif kind == _STRING:
        if spec.ulid and not is_ulid(value):
            raise SapientError(name, "not a ULID", repr(value[:40]))
        if spec.uuid and not is_uuid(value):
            raise SapientError(name, "not a UUID", repr(value[:40]))
        if spec.mandatory and not value.strip():
            raise SapientError(name, EMPTY)
    elif kind == _BYTES:
        if spec.mandatory and not value:
            raise SapientError(name, EMPTY)
    elif kind == _FLOAT and not math.isfinite(value):
        raise SapientError(name, "not a finite number", repr(value))
    if spec.rule is not None:
        spec.rule(value, name)


def validate_reference(msg: Message) -> str:
    """The ICD rules by the reference path; return the content kind or raise :class:`SapientError`.

    :func:`validate` gives the same verdict faster for DetectionReports; this one is the
    definition both are tested against.
    """
    kind = msg.WhichOneof("content")
    if kind is None:
        raise SapientError("SapientMessage.content", "no message content")
    check_message(msg, "SapientMessage")
    return str(kind)


# ---------------------------------------------------------------------------------------------
# The fast path: DetectionReports


class DetectionRow(NamedTuple):
    """What the fusion node takes from one valid DetectionReport (SAPIENT units, not converted).

    ``kind`` is ``"range_bearing"`` (a, b, c = azimuth, elevation, range; NaN where absent, as
    from angle-only sensors) or ``"location"`` (a, b, c = x, y, z); ``err_*`` are the matching
    1-σ errors, NaN when the node gave none;
    ``coordinate_system`` is the enum value of the RangeBearing or Location. ``label`` and
    ``label_confidence`` are the most confident classification (``""`` and 0 when none);
    ``info`` the report's ``object_info`` as (type, value, error) triples, error NaN when absent
    (an RF detector's protocol and serial number, a radar's range rate); ``band_hz`` the band of
    the first ``Signal`` an RF detector reports (start/stop, or the centre alone), if any;
    ``sub_class`` the most confident classification's sub-classes, most confident at each level,
    joined by " / " (an RF detector's fingerprinted model, e.g. "DJI Mavic 3"; ``""`` if none).
    """

    t_s: float
    node_id: str
    object_id: str
    kind: str
    a: float
    b: float
    c: float
    err_a: float
    err_b: float
    err_c: float
    coordinate_system: int
    utm_zone: str
    datum: int  # RangeBearingDatum or LocationDatum enum value
    label: str
    label_confidence: float
    info: tuple[tuple[str, str, float], ...] = ()
    band_hz: tuple[float, float] | None = None  # the first Signal's start/stop frequency (Hz)
    sub_class: str = ""


def sub_class_path(cls: Any) -> str:
    """A classification's sub-classes, the most confident at each level, joined by " / "."""
    names: list[str] = []
    subs = cls.sub_class
    while subs and len(names) < 8:  # the rules bound the depth; a label need not be longer
        best = max(subs, key=lambda sub: sub.confidence)
        names.append(best.type.strip())
        subs = best.sub_class
    return " / ".join(n for n in names if n)


_NAN = math.nan
_INF = math.inf
_DR = detection_report_pb2.DetectionReport.DESCRIPTOR
_DR_PATH = "SapientMessage.detection_report"
_DR_SPECS = {spec.name: spec for spec in field_specs(_DR)}
# Free-text DetectionReport fields: no rule applies to them.
_DR_FREE = frozenset(_DR.fields_by_name[name] for name in ("state", "colour", "id"))
_DR_SPEC_BY_FD = {fd: _DR_SPECS[fd.name] for fd in _DR.fields}
_SUB_CLASS_SPEC = next(
    spec
    for spec in field_specs(
        detection_report_pb2.DetectionReport.DetectionReportClassification.DESCRIPTOR
    )
    if spec.name == "sub_class"
)


def _known(enum: Any) -> frozenset[int]:
    return frozenset(v.number for v in enum.DESCRIPTOR.values if v.number != 0)


_RB_LIMITS = {
    cs: _angle_limits(cs) for cs in _known(range_bearing_pb2.RangeBearingCoordinateSystem)
}
_RB_DATUMS = _known(range_bearing_pb2.RangeBearingDatum)
_LOC_LIMITS = {_LOC_DEG: (180.0, 90.0), _LOC_RAD: (math.pi, math.pi / 2)}
_LOC_DATUMS = _known(location_pb2.LocationDatum)
assert set(_LOC_LIMITS) | {_LOC_UTM} == _known(location_pb2.LocationCoordinateSystem)

# Identifiers seen valid lately: a node's id and a track's object id repeat in every report, and a
# set lookup is several times cheaper than the pattern. One set per format; bounded, cleared when
# full.
_SEEN_UUIDS: set[str] = set()
_SEEN_ULIDS: set[str] = set()
_SEEN_MAX = 1 << 16


def _seen_valid(text: str, seen: set[str], pattern: re.Pattern[str]) -> bool:
    """Whether ``text`` matches ``pattern``, remembering matches in ``seen`` (bounded)."""
    if text in seen:
        return True
    if pattern.fullmatch(text) is None:
        return False
    if len(seen) >= _SEEN_MAX:
        seen.clear()
    seen.add(text)
    return True


_Located = tuple[str, float, float, float, float, float, float, int, str, int]
# The fields of a DetectionRow in order (t_s, node_id, object_id, the located part, label, label
# confidence, object info, band, sub-class), before the tuple is given its name
_FastRow = tuple[Any, ...]
_new_row = tuple.__new__  # named without NamedTuple._make's length check: the fast path is exact
_ulid_match = _ULID.fullmatch
_FD_REPORT = _DR.fields_by_name["report_id"]
_FD_OBJECT = _DR.fields_by_name["object_id"]
_FD_TASK = _DR.fields_by_name["task_id"]
_FD_RB = _DR.fields_by_name["range_bearing"]
_FD_LOC = _DR.fields_by_name["location"]
_FD_CONF = _DR.fields_by_name["detection_confidence"]
_FD_CLASS = _DR.fields_by_name["classification"]
_FD_INFO = _DR.fields_by_name["object_info"]
_FD_SIGNAL = _DR.fields_by_name["signal"]


def _fast_detection(msg: Any) -> _FastRow | None:
    """A DetectionReport message checked with straight-line code, or None when in doubt.

    Returns what fusion needs only when every rule holds; returns None (the reference path
    decides) as soon as a value is doubtful. Fields it does not specialise are checked by the
    reference code in field-number order, after all earlier fields have passed, so an error raised
    from there is the one the reference path would raise first.
    """
    ts = msg.timestamp
    seconds = ts.seconds
    nanos = ts.nanos
    if not (0 < seconds <= _MAX_TS_S and 0 <= nanos < 1_000_000_000):
        return None
    node_id = msg.node_id
    if node_id not in _SEEN_UUIDS and not _seen_valid(node_id, _SEEN_UUIDS, _UUID):
        return None
    if msg.HasField("destination_id"):  # sensor reports seldom name a destination
        dest = msg.destination_id
        if dest not in _SEEN_UUIDS and not _seen_valid(dest, _SEEN_UUIDS, _UUID):
            return None
    dr = msg.detection_report
    items = dr.ListFields()
    if len(items) < 3 or items[0][0] is not _FD_REPORT or items[1][0] is not _FD_OBJECT:
        return None  # an id is missing: let the reference path name it
    if _ulid_match(items[0][1]) is None:
        return None
    object_id = items[1][1]
    if object_id not in _SEEN_ULIDS and not _seen_valid(object_id, _SEEN_ULIDS, _ULID):
        return None
    located = None
    label = ""
    label_conf = 0.0
    info: tuple[tuple[str, str, float], ...] = ()
    band: tuple[float, float] | None = None
    sub = ""
    for fd, value in items[2:]:
        if fd is _FD_RB:
            located = _fast_range_bearing(value)
            if located is None:
                return None
        elif fd is _FD_LOC:
            located = _fast_location(value)
            if located is None:
                return None
        elif fd is _FD_CONF:
            if not 0.0 <= value <= 1.0:
                return None
        elif fd is _FD_CLASS:
            for i, cls in enumerate(value):
                ctype = cls.type
                if not ctype or ctype.isspace():
                    return None
                conf = cls.confidence
                if not 0.0 <= conf <= 1.0:
                    return None
                if cls.sub_class:
                    check_field(cls, _SUB_CLASS_SPEC, f"{_DR_PATH}.classification[{i}].sub_class")
                if not label or conf > label_conf:
                    label = ctype
                    label_conf = conf
                    sub = sub_class_path(cls) if cls.sub_class else ""
        elif fd is _FD_TASK:
            if _ulid_match(value) is None:
                return None
        elif fd is _FD_INFO:  # a radar's range rate, an RF detector's protocol: common
            for o in value:
                # type and value mandatory and not blank; an error finite and >= 0
                if not o.type.strip() or not o.value.strip():
                    return None
                if o.HasField("error") and not 0.0 <= o.error < _INF:
                    return None
            info = _info(value)
        elif fd is _FD_SIGNAL:  # an RF detector's link: checked by the reference rule, read here
            check_field(dr, _DR_SPEC_BY_FD[fd], f"{_DR_PATH}.signal")
            band = _band(value)
        elif fd not in _DR_FREE:  # a field the fast path does not specialise
            spec = _DR_SPEC_BY_FD[fd]
            check_field(dr, spec, f"{_DR_PATH}.{spec.name}")
    if located is None:
        return None
    return (
        seconds + nanos * 1e-9, node_id, object_id, *located, label, label_conf, info, band, sub
    )  # fmt: skip


def _fast_range_bearing(rb: Any) -> _Located | None:
    cs = rb.coordinate_system
    limits = _RB_LIMITS.get(cs)
    datum = rb.datum
    if limits is None or datum not in _RB_DATUMS:
        return None
    full, quarter = limits
    az = rb.azimuth
    el = rb.elevation
    rng = rb.range
    e_az = rb.azimuth_error
    e_el = rb.elevation_error
    e_rng = rb.range_error
    if not (
        -full <= az <= full
        and -quarter <= el <= quarter
        and 0.0 <= rng < _INF
        and 0.0 <= e_az < _INF
        and 0.0 <= e_el < _INF
        and 0.0 <= e_rng < _INF
    ):
        return None
    # A zero may be a value or an absence; only then is presence worth asking for.
    if rng == 0.0 and az == 0.0 and el == 0.0:
        return None
    # An angle-only sensor (RF direction finder, acoustic array, camera) gives no range, and a
    # 2D one no elevation: absent is NaN, never a zero.
    if rng == 0.0 and not rb.HasField("range"):
        rng = _NAN
    if el == 0.0 and not rb.HasField("elevation"):
        el = _NAN
    if az == 0.0 and not rb.HasField("azimuth"):
        az = _NAN
    if e_az == 0.0 and not rb.HasField("azimuth_error"):
        e_az = _NAN
    if e_el == 0.0 and not rb.HasField("elevation_error"):
        e_el = _NAN
    if e_rng == 0.0 and not rb.HasField("range_error"):
        e_rng = _NAN
    return ("range_bearing", az, el, rng, e_az, e_el, e_rng, cs, "", datum)


def _fast_location(loc: Any) -> _Located | None:
    cs = loc.coordinate_system
    datum = loc.datum
    if datum not in _LOC_DATUMS:
        return None
    x = loc.x
    y = loc.y
    zone = ""
    limits = _LOC_LIMITS.get(cs)
    if limits is not None:
        if not (-limits[0] <= x <= limits[0] and -limits[1] <= y <= limits[1]):
            return None
    elif cs == _LOC_UTM:
        zone = loc.utm_zone
        if not (-_INF < x < _INF and -_INF < y < _INF and zone and is_utm_zone(zone)):
            return None
    else:
        return None
    z = loc.z
    ex = loc.x_error
    ey = loc.y_error
    ez = loc.z_error
    if not (-_INF < z < _INF and 0.0 <= ex < _INF and 0.0 <= ey < _INF and 0.0 <= ez < _INF):
        return None
    if (x == 0.0 and not loc.HasField("x")) or (y == 0.0 and not loc.HasField("y")):
        return None
    if ex == 0.0 and not loc.HasField("x_error"):
        ex = _NAN
    if ey == 0.0 and not loc.HasField("y_error"):
        ey = _NAN
    if ez == 0.0 and not loc.HasField("z_error"):
        ez = _NAN
    return ("location", x, y, z, ex, ey, ez, cs, zone, datum)


def _band(signals: Any) -> tuple[float, float] | None:
    """The first Signal's band in Hz: start/stop when given, else its centre; None if neither."""
    for sig in signals:
        lo = sig.start_frequency if sig.HasField("start_frequency") else math.nan
        hi = sig.stop_frequency if sig.HasField("stop_frequency") else math.nan
        if math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo <= hi:
            return (float(lo), float(hi))
        c = sig.centre_frequency if sig.HasField("centre_frequency") else math.nan
        if math.isfinite(c) and c > 0.0:
            return (float(c), float(c))
        return None
    return None


def _info(entries: Any) -> tuple[tuple[str, str, float], ...]:
    """``object_info`` entries as (type, value, error), the error NaN when not given."""
    return tuple((o.type, o.value, o.error if o.HasField("error") else _NAN) for o in entries)


def _reference_row(msg: Any) -> DetectionRow:
    """The row of a DetectionReport the reference path accepted, read field by field."""
    dr = msg.detection_report
    kind = dr.WhichOneof("location_oneof")
    if kind == "range_bearing":
        p = dr.range_bearing
        names = ("azimuth", "elevation", "range", "azimuth_error", "elevation_error", "range_error")
        zone = ""
    else:
        p = dr.location
        names = ("x", "y", "z", "x_error", "y_error", "z_error")
        zone = p.utm_zone if p.coordinate_system == _LOC_UTM else ""
    if kind == "range_bearing":  # absent angles or range are NaN (angle-only sensors)
        a, b, c = (getattr(p, n) if p.HasField(n) else _NAN for n in names[:3])
    else:
        a, b, c = (getattr(p, n) for n in names[:3])
    ea, eb, ec = (getattr(p, n) if p.HasField(n) else _NAN for n in names[3:])
    best = max(dr.classification, key=lambda cls: cls.confidence, default=None)
    return DetectionRow(
        timestamp_s(msg), msg.node_id, dr.object_id, str(kind), a, b, c, ea, eb, ec,
        p.coordinate_system, zone, p.datum, best.type if best is not None else "",
        best.confidence if best is not None else 0.0,
        _info(dr.object_info), _band(dr.signal),
        sub_class_path(best) if best is not None else "",
    )  # fmt: skip


def timestamp_s(msg: Any) -> float:
    """The message's timestamp as UTC seconds."""
    return float(msg.timestamp.seconds) + float(msg.timestamp.nanos) * 1e-9


def detection_row(msg: Any) -> DetectionRow:
    """Validate a SapientMessage holding a DetectionReport and return what fusion needs from it.

    Raises :class:`SapientError` exactly as :func:`validate_reference` would.
    """
    fast = _fast_detection(msg)
    if fast is None:
        return detection_row_reference(msg)
    row: DetectionRow = _new_row(DetectionRow, fast)
    return row


def detection_row_reference(msg: Any) -> DetectionRow:
    """:func:`detection_row` by the reference path: validate, then read field by field."""
    kind = validate_reference(msg)
    if kind != "detection_report":
        raise SapientError("SapientMessage.content", "not a DetectionReport", kind)
    return _reference_row(msg)


def validate(msg: Message) -> str:
    """Apply the ICD rules; return the content kind (e.g. ``"detection_report"``) or raise."""
    # The fast path vouches only for a well-formed DetectionReport (any other content leaves it
    # nothing to read), so trying it first costs other messages little and saves the common one a
    # look-up.
    if _fast_detection(msg) is not None:
        return "detection_report"
    return validate_reference(msg)
