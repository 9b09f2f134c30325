"""Mode S / ADS-B ingest (manned aircraft): dump1090/readsb feeds → cooperative detections.

Where it sits: a 1090 MHz receiver (dump1090, readsb, a Beast box) hands us frames in one of three
formats; this module frames them, has pyModeS decode the Mode S bits (CRC/parity, DF/TC, CPR,
altitude, velocity, identity, Comm-B) and keeps, per aircraft, what a tracker needs: callsign,
squawk, the last even/odd CPR frames, the geometric-minus-barometric height difference, NACp.
Every new airborne position becomes a one-detection :class:`~luchtwacht.model.DetectionBatch`
in site ENU, keyed ``icao:XXXXXX``.

Layers, in pyModeS's style:

- pure framing functions that raise :class:`ModeSError` naming the field —
  :func:`parse_avr_line` (``*HEX;`` and ``@TTTTTTTTTTTTHEX;``), :func:`parse_beast_frame`
  (0x1A-escaped binary, types ``1``/``2``/``3``), :func:`parse_sbs_line` (BaseStation CSV) and
  :func:`detect_format`;
- stream readers that split bytes of any chunking into frames and never raise
  (:class:`AvrReader`, :class:`BeastReader`, :class:`SbsReader`);
- :class:`ModeSDecoder`, the per-aircraft state and CPR position logic;
- :class:`ModeSStream` (reader + receiver clock + decoder + counters; what ``luchtwacht adsb
  decode`` prints) and :class:`ModeSPipe`, the feed pipe of the pipeline.

Units: positions in degrees, heights in metres, speeds in m/s, times in UTC seconds. Mode S
carries feet, knots and ft/min; they are converted once, here (``FT_M``, ``KT_MS``, ``FPM_MS``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pyModeS import Message as ModeSMessage
from pyModeS._uncertainty import NACp, NUCp
from pyModeS.position import (
    airborne_position_pair,
    airborne_position_with_ref,
    surface_position_pair,
    surface_position_with_ref,
)

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.model.detection import N_CLASSES, DetectionBatch

log = logging.getLogger(__name__)

Format = Literal["avr", "beast", "sbs"]
FORMATS: tuple[Format, ...] = ("avr", "beast", "sbs")
TimeSource = Literal["message", "ticks", "receive"]

FT_M = 0.3048  # metres per foot (exact)
KT_MS = 1852.0 / 3600.0  # m/s per knot (exact)
FPM_MS = FT_M / 60.0  # m/s per ft/min
NM_M = 1852.0  # metres per nautical mile

MLAT_CLOCK_HZ = 12e6  # dump1090/readsb receiver timestamp clock (AVR '@' and Beast)
MAX_AVR_LINE_BYTES = 256
MAX_SBS_LINE_BYTES = 1024

#: Global CPR positions farther than this from the receiver are rejected (dump1090's default
#: ``--max-range`` of 300 NM, beyond the radio horizon of an aircraft at FL450).
DEFAULT_MAX_RANGE_M = 300 * NM_M
#: Local decoding against a reference is exact only within half a latitude zone, 180 NM
#: (DO-260B §A.1.7.5); the receiver may serve as reference only if it hears nothing farther.
LOCAL_REFERENCE_RANGE_M = 180 * NM_M
#: 1500 kt, roughly twice airliner cruise: a position implying more is a decoding error.
MAX_SPEED_MS = 1500 * KT_MS
MOTION_MARGIN_M = 2000.0
#: A global position from an even/odd pair of unknown age must match the newest frame decoded
#: locally against the last position this closely (both are that frame's CPR cell, ≈ 5 m).
PAIR_AGREEMENT_M = 100.0
#: Arrival times (plain AVR, SBS without a time) are when the bytes reached us, not when the
#: receiver heard the frames: feeders batch their output, so the speed check allows this much
#: more time between two positions, as readsb's does for its receive clock (elapsed + 1 s).
ARRIVAL_SLACK_S = 1.0

#: 95 % radius of a circular 2-D normal in σ (√(−2 ln 0.05)); 1-D 95 % is 1.96 σ.
R95_2D_SIGMA = math.sqrt(-2.0 * math.log(0.05))
R95_1D_SIGMA = 1.96
#: σ when neither NACp nor NUCp is known: NACp 8 (EPU < 93 m), the minimum the FAA ADS-B Out
#: rule (14 CFR 91.227) requires.
DEFAULT_H_STD_M = 93.0 / R95_2D_SIGMA
#: Airborne CPR cell: 360°/60/2¹⁷ ≈ 5.1 m of latitude; uniform quantisation σ = cell/√12.
CPR_QUANT_STD_M = 5.1 / math.sqrt(12.0)
#: Vertical σ of GNSS height (TC 20–22, or baro + TC 19 difference) without VEPU.
DEFAULT_GNSS_V_STD_M = 15.0
#: Pressure altitude vs geometric height: QNH spread (σ ≈ 10 hPa × 8.3 m/hPa at low level) and
#: temperature deviation from ISA (≈ 3 % of height for ±10 K), combined in quadrature.
BARO_QNH_STD_M = 85.0
BARO_ISA_FRACTION = 0.03
#: How long a TC 19 geometric-minus-barometric difference stays usable, s.
GEO_DELTA_MAX_AGE_S = 60.0

_HEX_RE = re.compile(rb"[0-9A-Fa-f]*")
_BEAST_ESC = 0x1A
_BEAST_ESC_BYTE = b"\x1a"
_BEAST_MSG_LEN = {0x31: 2, 0x32: 7, 0x33: 14}  # '1' Mode A/C, '2' Mode S short, '3' long
_BEAST_TYPE_RE = re.compile(rb"\x1a[123]")
_SBS_TYPES = ("MSG", "SEL", "ID", "AIR", "STA", "CLK")
_SBS_TYPES_B = frozenset(t.encode() for t in _SBS_TYPES)
_SHORT_DFS = frozenset((0, 4, 5, 11))
_LONG_DFS = frozenset((16, 17, 18, 19, 20, 21))
_PARITY_DFS = frozenset((0, 4, 5, 16, 20, 21))  # address/parity: ICAO = CRC remainder
#: DF18 control field → identity prefix (DO-260B §2.2.3.2.1.1): CF0 ADS-B with ICAO address,
#: CF1 non-ICAO address, CF2/5 fine TIS-B, CF6 ADS-R rebroadcast. CF3 (coarse TIS-B) has
#: another ME layout and CF4/7 carry no position: these are counted but not decoded.
_DF18_PREFIX = {0: "icao", 1: "non-icao", 2: "tisb", 5: "tisb", 6: "adsr"}


# --------------------------------------------------------------------------------------------
# Errors and framed values
# --------------------------------------------------------------------------------------------


class ModeSError(ValueError):
    """Malformed, truncated or implausible Mode S feed data; ``field`` names the field.

    ``detail`` is a fixed text per kind of fault and ``value`` the offending data, so that
    counters keyed by :attr:`reason` stay few while the log still shows what arrived.
    """

    def __init__(self, field: str, detail: str, value: str = "") -> None:
        super().__init__(f"{field}: {detail}" + (f" ({value})" if value else ""))
        self.field = field
        self.detail = detail
        self.value = value

    @property
    def reason(self) -> str:
        """Counter key: the field and the kind of fault, without the offending value."""
        return f"{self.field}: {self.detail}"

    def __reduce__(self) -> tuple[type[ModeSError], tuple[str, str, str]]:
        return (type(self), (self.field, self.detail, self.value))


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One reply as the receiver framed it: Mode S (7 or 14 bytes) or Mode A/C (2 bytes).

    ``mlat_ticks`` is the receiver's 12 MHz clock (``None`` when the format has none or sends
    zero); ``rssi_dbfs`` the Beast signal byte as dBFS (20·log10(byte/255)).
    """

    msg: bytes
    mlat_ticks: int | None = None
    rssi_dbfs: float | None = None


@dataclass(frozen=True, slots=True)
class SbsMessage:
    """One SBS-1 BaseStation line in SI units: the feeder's own decoding, not ours.

    ``t_s`` is the "date/time generated" read as UTC (readsb writes UTC, dump1090-fa local
    time: :class:`ModeSStream` applies an offset). ``alt_geometric`` marks readsb's ``H``
    suffix: the altitude is GNSS height, not pressure altitude.
    """

    message_type: str
    transmission_type: int | None = None
    icao: str = ""
    t_s: float | None = None
    callsign: str | None = None
    alt_m: float | None = None
    alt_geometric: bool = False
    gs_ms: float | None = None
    track_deg: float | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    vrate_ms: float | None = None
    squawk: str | None = None
    alert: bool | None = None
    emergency: bool | None = None
    spi: bool | None = None
    on_ground: bool | None = None


# --------------------------------------------------------------------------------------------
# Pure framing functions
# --------------------------------------------------------------------------------------------


def _hex(text: bytes, field: str) -> bytes:
    if len(text) % 2 or not _HEX_RE.fullmatch(text):
        raise ModeSError(field, "not an even number of hex digits", repr(text[:40]))
    return bytes.fromhex(text.decode("ascii"))


def _check_msg_length(msg: bytes) -> bytes:
    if len(msg) not in (2, 7, 14):
        raise ModeSError("length", "not 2 (Mode A/C), 7 or 14 (Mode S) bytes", str(len(msg)))
    return msg


def parse_avr_line(line: bytes) -> RawFrame:
    """One AVR text line: ``*HEX;`` or ``@`` + 12 hex digits of 12 MHz ticks + ``HEX;``.

    Raises :class:`ModeSError` naming the field (``avr``, ``mlat_ticks``, ``msg``, ``length``).
    """
    s = line.strip()
    if not s:
        raise ModeSError("avr", "empty line")
    if len(s) > MAX_AVR_LINE_BYTES:
        raise ModeSError("avr", f"line longer than {MAX_AVR_LINE_BYTES} bytes")
    if not s.endswith(b";"):
        raise ModeSError("avr", "no ';' at the end of the line")
    lead, body = s[:1], s[1:-1]
    ticks: int | None = None
    if lead == b"@":
        if len(body) < 12:
            raise ModeSError("mlat_ticks", "fewer than 12 hex digits after '@'")
        ticks = int.from_bytes(_hex(body[:12], "mlat_ticks"), "big") or None
        body = body[12:]
    elif lead != b"*":
        raise ModeSError("avr", "line starts with neither '*' nor '@'", repr(lead))
    return RawFrame(_check_msg_length(_hex(body, "msg")), ticks)


def beast_escape(body: bytes) -> bytes:
    """Escape a Beast frame body for the wire: every 0x1A byte is sent twice."""
    return body.replace(_BEAST_ESC_BYTE, _BEAST_ESC_BYTE * 2)


def parse_beast_frame(frame: bytes) -> RawFrame:
    """One escaped Beast frame: 0x1A, type '1'/'2'/'3', 6-byte ticks, signal byte, message.

    The frame is as on the wire (0x1A bytes inside doubled). Raises :class:`ModeSError`
    (``beast_frame``, ``beast_type``, ``beast_escape``).
    """
    if len(frame) < 2 or frame[0] != _BEAST_ESC:
        raise ModeSError("beast_frame", "does not start with 0x1A and a type byte")
    size = _BEAST_MSG_LEN.get(frame[1])
    if size is None:
        raise ModeSError("beast_type", "unknown frame type", f"0x{frame[1]:02x}")
    escaped = frame[2:]
    body = escaped.replace(_BEAST_ESC_BYTE * 2, _BEAST_ESC_BYTE)
    if _BEAST_ESC in body and beast_escape(body) != escaped:
        raise ModeSError("beast_escape", "a 0x1A byte inside the frame is not doubled")
    if len(body) != 7 + size:
        raise ModeSError("beast_frame", "body has the wrong length", f"{len(body)} bytes")
    ticks = int.from_bytes(body[:6], "big") or None
    signal = body[6]
    rssi = 20.0 * math.log10(signal / 255.0) if signal else None
    return RawFrame(bytes(body[7:]), ticks, rssi)


def _sbs_float(value: str, field: str, lo: float, hi: float) -> float | None:
    if not value:
        return None
    try:
        x = float(value)
    except ValueError:
        raise ModeSError(field, "not a number", repr(value[:20])) from None
    if not lo <= x <= hi:  # also rejects nan
        raise ModeSError(field, f"outside [{lo:g}, {hi:g}]", value[:20])
    return x


def _sbs_flag(value: str, field: str) -> bool | None:
    if not value:
        return None
    if value in ("-1", "1"):
        return True
    if value == "0":
        return False
    raise ModeSError(field, "not a flag (0/-1)", repr(value[:20]))


def _sbs_time(date_s: str, time_s: str) -> float | None:
    if not date_s and not time_s:
        return None
    try:
        day = dt.datetime.strptime(date_s, "%Y/%m/%d").date()
    except ValueError:
        raise ModeSError("date_generated", "not YYYY/MM/DD", repr(date_s[:20])) from None
    try:
        clock = dt.time.fromisoformat(time_s)
    except ValueError:
        raise ModeSError("time_generated", "not HH:MM:SS.fff", repr(time_s[:20])) from None
    return dt.datetime.combine(day, clock, tzinfo=dt.UTC).timestamp()


def parse_sbs_line(line: bytes) -> SbsMessage:
    """One BaseStation CSV line (``MSG,1..8`` fully; ``SEL/ID/AIR/STA/CLK`` by type only).

    Fields are converted to SI (ft → m, kt → m/s, ft/min → m/s) and range-checked; raises
    :class:`ModeSError` naming the BaseStation field (``hex_ident``, ``lat``, ``squawk``, …).
    """
    if len(line) > MAX_SBS_LINE_BYTES:
        raise ModeSError("sbs", f"line longer than {MAX_SBS_LINE_BYTES} bytes")
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ModeSError("sbs", "line is not ASCII") from None
    parts = [p.strip() for p in text.split(",")]
    kind = parts[0]
    if kind not in _SBS_TYPES:
        raise ModeSError("message_type", "not a BaseStation message type", repr(kind[:10]))
    if kind != "MSG":
        return SbsMessage(kind)
    if len(parts) < 10:
        raise ModeSError("sbs", "MSG line has fewer than 10 fields", str(len(parts)))
    parts += [""] * (22 - len(parts))
    try:
        tt = int(parts[1])
    except ValueError:
        tt = 0
    if not 1 <= tt <= 8:
        raise ModeSError("transmission_type", "not 1..8", repr(parts[1][:10]))
    ident = parts[4].upper()
    hexpart = ident.removeprefix("~")
    if len(hexpart) != 6 or not _HEX_RE.fullmatch(hexpart.encode()):
        raise ModeSError("hex_ident", "not a 24-bit hex address", repr(parts[4][:10]))
    alt_text = parts[11]
    geometric = alt_text.endswith("H")
    alt_ft = _sbs_float(alt_text.removesuffix("H"), "altitude", -2000.0, 150_000.0)
    gs_kt = _sbs_float(parts[12], "ground_speed", 0.0, 4000.0)
    track = _sbs_float(parts[13], "track", 0.0, 360.0)
    lat = _sbs_float(parts[14], "lat", -90.0, 90.0)
    lon = _sbs_float(parts[15], "lon", -180.0, 180.0)
    if (lat is None) != (lon is None):
        raise ModeSError("lat" if lat is None else "lon", "latitude without longitude")
    vrate = _sbs_float(parts[16].removesuffix("H"), "vertical_rate", -100_000.0, 100_000.0)
    squawk = parts[17] or None
    if squawk is not None and not re.fullmatch(r"[0-7]{4}", squawk):
        raise ModeSError("squawk", "not four octal digits", repr(squawk[:10]))
    callsign = parts[10] or None
    if callsign is not None and not re.fullmatch(r"[A-Z0-9 ]{1,8}", callsign):
        raise ModeSError("callsign", "not 1-8 characters A-Z 0-9", repr(callsign[:10]))
    return SbsMessage(
        message_type=kind,
        transmission_type=tt,
        icao=ident,
        t_s=_sbs_time(parts[6], parts[7]),
        callsign=callsign,
        alt_m=None if alt_ft is None else alt_ft * FT_M,
        alt_geometric=geometric,
        gs_ms=None if gs_kt is None else gs_kt * KT_MS,
        track_deg=None if track is None else track % 360.0,
        lat_deg=lat,
        lon_deg=lon,
        vrate_ms=None if vrate is None else vrate * FPM_MS,
        squawk=squawk,
        alert=_sbs_flag(parts[18], "alert"),
        emergency=_sbs_flag(parts[19], "emergency"),
        spi=_sbs_flag(parts[20], "spi"),
        on_ground=_sbs_flag(parts[21], "is_on_ground"),
    )


def detect_format(sample: bytes) -> Format:
    """Which of the three formats a sample of the feed is, from its content.

    Beast is binary with 0x1A + '1'/'2'/'3' frame starts (text never holds 0x1A); AVR lines
    start with ``*`` or ``@`` and end with ``;``; SBS lines with a BaseStation message type.
    Raises :class:`ModeSError` (``format``) when the sample shows none of them.
    """
    if _BEAST_TYPE_RE.search(sample):
        return "beast"
    for raw in sample.split(b"\n"):
        line = raw.strip()
        if line[:1] in (b"*", b"@") and line.endswith(b";"):
            return "avr"
        if b"," in line and line.split(b",", 1)[0] in _SBS_TYPES_B:
            return "sbs"
    raise ModeSError("format", "neither Beast frames, AVR lines nor SBS lines")


# --------------------------------------------------------------------------------------------
# Stream readers: bytes of any chunking → frames (never raise)
# --------------------------------------------------------------------------------------------

Item = RawFrame | SbsMessage | ModeSError


class FrameReader(Protocol):
    """Splits a byte stream into frames; errors come back as values, never raised."""

    def feed(self, data: bytes) -> list[Item]:
        """Consume bytes; return the frames (and framing errors) they complete."""
        ...

    def flush(self) -> list[Item]:
        """End of stream: parse or report whatever is still buffered."""
        ...


class _LineReader:
    """Newline-framed text (AVR, SBS): buffers a partial line up to ``max_line`` bytes."""

    def __init__(self, parse: Callable[[bytes], RawFrame | SbsMessage], max_line: int) -> None:
        self._parse = parse
        self._max_line = max_line
        self._partial = b""

    def _one(self, line: bytes) -> Item | None:
        if not line.strip():
            return None
        try:
            return self._parse(line)
        except ModeSError as exc:
            return exc

    def feed(self, data: bytes) -> list[Item]:
        """Consume bytes; return one item per complete non-blank line."""
        *lines, self._partial = (self._partial + data).split(b"\n")
        out = [item for line in lines if (item := self._one(line)) is not None]
        if len(self._partial) > self._max_line:
            self._partial = b""
            out.append(ModeSError("line", f"longer than {self._max_line} bytes without newline"))
        return out

    def flush(self) -> list[Item]:
        """Parse a last line that had no newline."""
        item, self._partial = self._one(self._partial), b""
        return [] if item is None else [item]


class AvrReader(_LineReader):
    """AVR text stream (``*HEX;`` / ``@TICKSHEX;`` lines) → :class:`RawFrame`."""

    def __init__(self) -> None:
        super().__init__(parse_avr_line, MAX_AVR_LINE_BYTES)


class SbsReader(_LineReader):
    """BaseStation CSV stream → :class:`SbsMessage`."""

    def __init__(self) -> None:
        super().__init__(parse_sbs_line, MAX_SBS_LINE_BYTES)


class BeastReader:
    """Beast binary stream → :class:`RawFrame`, resynchronising on the next 0x1A after errors.

    A lone 0x1A inside a frame (not doubled) starts the next frame: the current one is reported
    truncated. At most one incomplete frame (≤ 44 bytes escaped) is held between chunks.
    """

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[Item]:
        """Consume bytes; return the frames and framing errors they complete."""
        buf = self._buf + data
        n = len(buf)
        out: list[Item] = []
        i = 0
        while i < n:
            if buf[i] != _BEAST_ESC:
                j = buf.find(_BEAST_ESC_BYTE, i)
                end = n if j < 0 else j
                out.append(ModeSError("beast_sync", "bytes outside a frame", str(end - i)))
                i = end
                continue
            if i + 1 >= n:
                break
            kind = buf[i + 1]
            if kind == _BEAST_ESC:
                out.append(ModeSError("beast_sync", "escaped 0x1A outside a frame"))
                i += 2
                continue
            size = _BEAST_MSG_LEN.get(kind)
            if size is None:
                out.append(ModeSError("beast_type", "unknown frame type", f"0x{kind:02x}"))
                j = buf.find(_BEAST_ESC_BYTE, i + 2)
                i = n if j < 0 else j
                continue
            end, state = self._frame_end(buf, i + 2, 7 + size)
            if state == "incomplete":
                break
            if state == "truncated":
                out.append(ModeSError("beast_frame", "frame truncated", f"type {chr(kind)}"))
            else:
                try:
                    out.append(parse_beast_frame(buf[i:end]))
                except ModeSError as exc:
                    out.append(exc)
            i = end
        self._buf = buf[i:]
        return out

    @staticmethod
    def _frame_end(buf: bytes, j: int, need: int) -> tuple[int, str]:
        """Index after a frame body of ``need`` unescaped bytes starting at ``j``."""
        n = len(buf)
        got = 0
        while got < need:
            if j >= n:
                return j, "incomplete"
            if buf[j] == _BEAST_ESC:
                if j + 1 >= n:
                    return j, "incomplete"
                if buf[j + 1] != _BEAST_ESC:
                    return j, "truncated"
                j += 2
            else:
                j += 1
            got += 1
        return j, "complete"

    def flush(self) -> list[Item]:
        """End of stream: a buffered partial frame is reported truncated."""
        held, self._buf = self._buf, b""
        return [ModeSError("beast_frame", "truncated at end of stream")] if held else []


def make_reader(fmt: Format) -> FrameReader:
    """The stream reader of a format."""
    if fmt == "beast":
        return BeastReader()
    return AvrReader() if fmt == "avr" else SbsReader()


# --------------------------------------------------------------------------------------------
# Decoder: per-aircraft state and positions
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class CprFrame:
    """One airborne or surface CPR frame kept for global (even/odd) decoding."""

    t_s: float
    lat_raw: int
    lon_raw: int
    disputed: bool = False
    """Its pair with an older frame disagreed with the last position (see ``_check_pair``)."""


@dataclass(slots=True)
class Aircraft:
    """What one transmitter (by address) has told us so far; SI units, UTC seconds."""

    ident: str
    icao: str
    last_t_s: float
    messages: int = 0
    callsign: str | None = None
    category: str | None = None
    squawk: str | None = None
    emergency_state: int | None = None
    on_ground: bool = False
    lat_deg: float | None = None
    lon_deg: float | None = None
    pos_t_s: float | None = None
    pos_t_source: TimeSource = "receive"
    pos_rx_s: float | None = None
    pos_clock_epoch: int = 0
    alt_baro_m: float | None = None
    alt_gnss_m: float | None = None
    gs_ms: float | None = None
    track_deg: float | None = None
    vrate_ms: float | None = None
    geo_minus_baro_m: float | None = None
    geo_minus_baro_t_s: float | None = None
    nac_p: int | None = None
    adsb_version: int | None = None
    cpr_air: list[CprFrame | None] = field(default_factory=lambda: [None, None])
    cpr_surface: list[CprFrame | None] = field(default_factory=lambda: [None, None])


@dataclass(frozen=True, slots=True)
class Fix:
    """A resolved airborne position with its 1-σ accuracy (m).

    ``alt_ref`` is ``"hae"`` for height above the WGS84 ellipsoid (GNSS, or barometric
    altitude corrected by the TC 19 geometric difference) and ``"baro"`` for pressure altitude,
    which is ≈ height above mean sea level only in the ISA with standard QNH.
    """

    lat_deg: float
    lon_deg: float
    alt_m: float
    alt_ref: Literal["hae", "baro"]
    alt_source: str
    h_std_m: float
    v_std_m: float
    cpr: str


@dataclass(slots=True)
class ModeSReport:
    """One decoded message: envelope, the fields in SI units/degrees, and a fix if any."""

    fmt: Format
    kind: str
    t_s: float
    t_source: TimeSource
    raw: str
    ident: str | None = None
    icao: str | None = None
    rx_s: float | None = None
    """When the bytes arrived (UTC s); ``t_s`` itself when the time source is "receive"."""
    clock_epoch: int = 0
    """Tick times compare only within one anchoring of the receiver clock (:class:`_TickClock`)."""
    df: int | None = None
    tc: int | None = None
    fields: dict[str, object] = field(default_factory=dict)
    fix: Fix | None = None

    def as_json(self) -> dict[str, object]:
        """JSON-ready view: icao, df, tc, kind, format, raw, the SI fields; time if carried."""
        out: dict[str, object] = {"icao": self.icao, "df": self.df, "tc": self.tc}
        out.update(kind=self.kind, format=self.fmt, raw=self.raw)
        if self.t_source == "message":
            out["t_s"] = self.t_s
        out.update(self.fields)
        return out


#: pyModeS keys in feet, knots, ft/min, NM, hPa or °C → (our key, factor, offset).
_SI_FIELDS: dict[str, tuple[str, float, float]] = {
    "altitude": ("alt_baro_m", FT_M, 0.0),
    "groundspeed": ("gs_ms", KT_MS, 0.0),
    "track": ("track_deg", 1.0, 0.0),
    "heading": ("heading_deg", 1.0, 0.0),
    "airspeed": ("airspeed_ms", KT_MS, 0.0),
    "vertical_rate": ("vrate_ms", FPM_MS, 0.0),
    "geo_minus_baro": ("geo_minus_baro_m", FT_M, 0.0),
    "threat_altitude": ("threat_alt_baro_m", FT_M, 0.0),
    "threat_range": ("threat_range_m", NM_M, 0.0),
    "threat_bearing": ("threat_bearing_deg", 1.0, 0.0),
    "selected_altitude_mcp": ("selected_altitude_mcp_m", FT_M, 0.0),
    "selected_altitude_fms": ("selected_altitude_fms_m", FT_M, 0.0),
    "selected_altitude": ("selected_altitude_m", FT_M, 0.0),
    "selected_heading": ("selected_heading_deg", 1.0, 0.0),
    "baro_pressure_setting": ("baro_pressure_setting_pa", 100.0, 0.0),
    "wind_speed": ("wind_speed_ms", KT_MS, 0.0),
    "wind_direction": ("wind_direction_deg", 1.0, 0.0),
    "static_air_temperature": ("static_air_temperature_k", 1.0, 273.15),
    "static_pressure": ("static_pressure_pa", 100.0, 0.0),
    "humidity": ("humidity_pct", 1.0, 0.0),
    "radio_height": ("radio_height_m", FT_M, 0.0),
    "roll": ("roll_deg", 1.0, 0.0),
    "true_track": ("true_track_deg", 1.0, 0.0),
    "true_airspeed": ("tas_ms", KT_MS, 0.0),
    "track_rate": ("track_rate_deg_s", 1.0, 0.0),
    "magnetic_heading": ("magnetic_heading_deg", 1.0, 0.0),
    "indicated_airspeed": ("ias_ms", KT_MS, 0.0),
    "baro_vertical_rate": ("baro_vrate_ms", FPM_MS, 0.0),
    "inertial_vertical_rate": ("inertial_vrate_ms", FPM_MS, 0.0),
}
_ENVELOPE_KEYS = frozenset(("df", "icao", "crc_valid", "typecode", "latitude", "longitude"))


def si_fields(decoded: dict[str, object], tc: int | None = None) -> dict[str, object]:
    """A pyModeS decoded dict with every dimensional value in SI units/degrees.

    Keys carry their unit (``alt_baro_m``, ``gs_ms``, ``vrate_ms``); the altitude of
    TC 20–22 is GNSS height and becomes ``alt_gnss_m``. Unset (``None``) fields are left out.
    """
    out: dict[str, object] = {}
    for key, value in decoded.items():
        if value is None or key in _ENVELOPE_KEYS:
            continue
        conv = _SI_FIELDS.get(key)
        if conv is None or not isinstance(value, int | float) or isinstance(value, bool):
            out[key] = value
            continue
        name, factor, offset = conv
        if key == "altitude" and tc is not None and 20 <= tc <= 22:
            name = "alt_gnss_m"
        out[name] = float(value) * factor + offset
    return out


def baro_height_std_m(alt_baro_m: float) -> float:
    """1-σ error (m) of pressure altitude taken as geometric height: QNH and ISA deviation."""
    return math.hypot(BARO_QNH_STD_M, BARO_ISA_FRACTION * alt_baro_m)


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean Earth sphere (R = 6371.0088 km), m."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


class ModeSDecoder:
    """Per-aircraft state over a feed: frames and SBS lines in, :class:`ModeSReport` out.

    Positions (DO-260B §A.1.7): an even/odd pair of airborne CPR frames at most
    ``pair_window_s`` apart is decoded globally; otherwise one frame is decoded locally against
    the aircraft's last position (if at most ``local_window_s`` old) or, when
    ``max_range_m`` ≤ 180 NM, against the receiver. Global positions beyond ``max_range_m``
    from the receiver and any position implying more than 1500 kt from the last one are
    rejected (:class:`ModeSError`, field ``cpr``); a rejected global (or SBS) position also
    drops the local reference, so a wrong reference lasts only until the next pair.

    The speed check measures the time between two positions as the receiver saw them: its
    timestamps (``t_source`` "ticks" / "message") or, without them, the arrival times plus
    :data:`ARRIVAL_SLACK_S`. Two positions with the same arrival time (one read, or a file
    decoded with no clock at all) have no known time between them: speed alone never refuses
    them, since a gap in reception would make a correct position look too fast. A global pair
    of such frames must instead agree with its newest frame decoded against the last position
    (``_check_pair``): without a clock a frame from before a gap can be its partner.

    Address/parity replies (DF0/4/5/16/20/21) carry no checkable CRC: their address is the
    parity remainder. They update an aircraft only if that address already belongs to one seen
    in CRC-valid extended squitter (``icao_verified``).
    """

    def __init__(
        self,
        receiver_lat_lon: tuple[float, float] | None = None,
        *,
        max_range_m: float = DEFAULT_MAX_RANGE_M,
        pair_window_s: float = 10.0,
        local_window_s: float = 30.0,
        state_ttl_s: float = 300.0,
    ) -> None:
        if receiver_lat_lon is not None:
            lat, lon = receiver_lat_lon
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                raise ValueError(f"receiver position {receiver_lat_lon} is not lat/lon degrees")
        self.receiver = receiver_lat_lon
        self.max_range_m = max_range_m
        self.pair_window_s = pair_window_s
        self.local_window_s = local_window_s
        self.state_ttl_s = state_ttl_s
        self.aircraft: dict[str, Aircraft] = {}
        self._next_sweep_s = -math.inf

    # -- state -------------------------------------------------------------------------------

    def _sweep(self, t_s: float) -> None:
        """Forget aircraft silent for ``state_ttl_s``; at most every 10 s of feed time."""
        if self._next_sweep_s - 10.0 <= t_s < self._next_sweep_s:  # (a jump back re-sweeps)
            return
        self._next_sweep_s = t_s + 10.0
        stale = [k for k, a in self.aircraft.items() if t_s - a.last_t_s > self.state_ttl_s]
        for key in stale:
            del self.aircraft[key]

    def _known(self, ident: str, t_s: float) -> Aircraft | None:
        ac = self.aircraft.get(ident)
        return ac if ac is not None and t_s - ac.last_t_s <= self.state_ttl_s else None

    def _touch(self, ident: str, icao: str, t_s: float) -> Aircraft:
        ac = self.aircraft.get(ident)
        if ac is None or t_s - ac.last_t_s > self.state_ttl_s:
            ac = self.aircraft[ident] = Aircraft(ident, icao, t_s)
        ac.last_t_s = max(ac.last_t_s, t_s)
        ac.messages += 1
        return ac

    # -- raw Mode S --------------------------------------------------------------------------

    def decode_frame(
        self,
        frame: RawFrame,
        t_s: float,
        *,
        fmt: Format = "beast",
        t_source: TimeSource = "receive",
        t_rx_s: float | None = None,
        clock_epoch: int = 0,
    ) -> ModeSReport:
        """Decode one framed reply at UTC time ``t_s``; raises :class:`ModeSError` to reject.

        ``t_rx_s`` is when its bytes arrived (default ``t_s``); ``clock_epoch`` counts
        re-anchorings of the tick clock, as tick times of different epochs do not compare.
        """
        self._sweep(t_s)
        rep = ModeSReport(fmt, "mode-s", t_s, t_source, frame.msg.hex().upper())
        rep.rx_s = t_s if t_rx_s is None else t_rx_s
        rep.clock_epoch = clock_epoch
        if frame.mlat_ticks is not None:
            rep.fields["mlat_ticks"] = frame.mlat_ticks
        if frame.rssi_dbfs is not None:
            rep.fields["rssi_dbfs"] = round(frame.rssi_dbfs, 2)
        n = len(_check_msg_length(frame.msg))
        if n == 2:
            rep.kind = "heartbeat" if frame.msg == b"\0\0" else "mode-ac"
            return rep
        message = ModeSMessage(frame.msg)
        df = rep.df = message.df
        if (df < 16) != (n == 7):
            raise ModeSError("df", "does not match the frame length", f"DF{df}, {8 * n} bits")
        if df not in _SHORT_DFS and df not in _LONG_DFS and df < 24:
            raise ModeSError("df", "unknown downlink format", f"DF{df}")
        if df in (17, 18) and not message.crc_valid:
            raise ModeSError("crc", f"DF{df} parity check failed", f"remainder {message.crc:06X}")
        if df == 11 and message.crc & 0xFFFF80:  # parity = CRC ⊕ interrogator code (7 bits)
            raise ModeSError("crc", "DF11 parity check failed", f"remainder {message.crc:06X}")
        rep.icao = message.icao
        rep.kind = f"df{min(df, 24)}"
        if df == 19 or df >= 24:  # military ES / Comm-D ELM: nothing pyModeS decodes
            return rep
        try:
            decoded = message.decode()
        except ValueError as exc:
            raise ModeSError("msg", f"pyModeS could not decode DF{df}", str(exc)[:80]) from None
        tc = decoded.get("typecode")
        rep.tc = tc if isinstance(tc, int) else None
        rep.fields.update(si_fields(decoded, rep.tc))
        if df in (17, 18):
            self._extended_squitter(rep, frame.msg[0] & 0x07, decoded, t_s)
        elif df in _PARITY_DFS:
            self._surveillance(rep, decoded, t_s)
        elif df == 11:
            rep.ident = f"icao:{rep.icao}"
        return rep

    def _surveillance(self, rep: ModeSReport, decoded: dict[str, object], t_s: float) -> None:
        rep.ident = f"icao:{rep.icao}"
        ac = self._known(rep.ident, t_s)
        rep.fields["icao_verified"] = ac is not None
        if ac is None:
            return
        ac.messages += 1
        alt, squawk = decoded.get("altitude"), decoded.get("squawk")
        if isinstance(alt, int):
            ac.alt_baro_m = alt * FT_M
        if isinstance(squawk, str):
            ac.squawk = squawk

    def _extended_squitter(
        self, rep: ModeSReport, cf: int, decoded: dict[str, object], t_s: float
    ) -> None:
        prefix = "icao" if rep.df == 17 else _DF18_PREFIX.get(cf)
        if prefix is None:
            rep.kind = f"df18-cf{cf}"
            return
        assert rep.icao is not None
        rep.ident = f"{prefix}:{rep.icao}"
        ac = self._touch(rep.ident, rep.icao, t_s)
        tc = rep.tc if rep.tc is not None else 0
        if 1 <= tc <= 4:
            rep.kind = "adsb-ident"
            callsign = decoded.get("callsign")
            if isinstance(callsign, str) and callsign and "#" not in callsign:
                ac.callsign = callsign
            wake = decoded.get("wake_vortex")
            ac.category = wake if isinstance(wake, str) else ac.category
        elif 5 <= tc <= 8:
            rep.kind = "adsb-surface"
            ac.on_ground = True
            self._surface_position(rep, ac, decoded, t_s)
        elif 9 <= tc <= 18 or 20 <= tc <= 22:
            rep.kind = "adsb-airborne"
            ac.on_ground = False
            self._airborne_position(rep, ac, decoded, tc, t_s)
        elif tc == 19:
            rep.kind = "adsb-velocity"
            self._velocity(ac, rep.fields, t_s)
        elif tc == 28:
            rep.kind = "adsb-status"
            squawk, emergency = decoded.get("squawk"), decoded.get("emergency_state")
            ac.squawk = squawk if isinstance(squawk, str) else ac.squawk
            ac.emergency_state = emergency if isinstance(emergency, int) else ac.emergency_state
        elif tc == 29:
            rep.kind = "adsb-target-state"
        elif tc == 31:
            rep.kind = "adsb-opstatus"
            version, nac_p = decoded.get("version"), decoded.get("nac_p")
            if isinstance(version, int):
                ac.adsb_version = version
                # NACp exists from version 1 on; in version 0 those bits mean something else
                ac.nac_p = nac_p if version >= 1 and isinstance(nac_p, int) else None
        else:
            rep.kind = f"adsb-tc{tc}"

    @staticmethod
    def _velocity(ac: Aircraft, fields: dict[str, object], t_s: float) -> None:
        def num(key: str) -> float | None:
            v = fields.get(key)
            return float(v) if isinstance(v, int | float) else None

        ac.gs_ms = num("gs_ms") if "gs_ms" in fields else ac.gs_ms
        ac.track_deg = num("track_deg") if "track_deg" in fields else ac.track_deg
        ac.vrate_ms = num("vrate_ms") if "vrate_ms" in fields else ac.vrate_ms
        delta = num("geo_minus_baro_m")
        if delta is not None:
            ac.geo_minus_baro_m, ac.geo_minus_baro_t_s = delta, t_s

    # -- positions ---------------------------------------------------------------------------

    def _check_motion(
        self, ac: Aircraft, lat: float, lon: float, rep: ModeSReport, how: str
    ) -> None:
        """Refuse a position implying > 1500 kt from the last one, over the time between them."""
        if ac.lat_deg is None or ac.lon_deg is None or ac.pos_t_s is None:
            return
        dt_s = abs(rep.t_s - ac.pos_t_s)
        if dt_s > self.state_ttl_s:
            return
        if "receive" in (rep.t_source, ac.pos_t_source) or rep.clock_epoch != ac.pos_clock_epoch:
            # No common receiver clock: only the arrival times say how far apart they are
            rx_s = rep.t_s if rep.rx_s is None else rep.rx_s
            dt_s = abs(rx_s - (ac.pos_t_s if ac.pos_rx_s is None else ac.pos_rx_s))
            if dt_s == 0.0:
                # Same arrival time: one read of a feed, or a capture decoded without a clock.
                # How long the receiver heard nothing in between is unknown, so speed cannot
                # tell a decoding error from a correct position after a gap; range still can.
                return
            dt_s += ARRIVAL_SLACK_S
        d = _distance_m(ac.lat_deg, ac.lon_deg, lat, lon)
        if d > MAX_SPEED_MS * dt_s + MOTION_MARGIN_M:
            if how in ("global", "SBS"):  # self-contained positions: the reference may be wrong
                ac.lat_deg = ac.lon_deg = ac.pos_t_s = None
            raise ModeSError(
                "cpr",
                f"{how} position inconsistent with the last one (> 1500 kt)",
                f"{d / 1000:.1f} km in {dt_s:.1f} s",
            )

    def _check_range(self, lat: float, lon: float, how: str) -> None:
        if self.receiver is None:
            return
        d = _distance_m(self.receiver[0], self.receiver[1], lat, lon)
        if d > self.max_range_m:
            raise ModeSError(
                "cpr",
                f"{how} position beyond {self.max_range_m / 1000:.0f} km from the receiver",
                f"{d / 1000:.0f} km",
            )

    def _airborne_position(
        self, rep: ModeSReport, ac: Aircraft, decoded: dict[str, object], tc: int, t_s: float
    ) -> None:
        fmt, lat_raw, lon_raw = (decoded.get(k) for k in ("cpr_format", "cpr_lat", "cpr_lon"))
        alt_ft = decoded.get("altitude")
        if isinstance(alt_ft, int):
            if tc >= 20:
                ac.alt_gnss_m = alt_ft * FT_M
            else:
                ac.alt_baro_m = alt_ft * FT_M
        if not (isinstance(fmt, int) and isinstance(lat_raw, int) and isinstance(lon_raw, int)):
            return
        ac.cpr_air[fmt] = CprFrame(t_s, lat_raw, lon_raw)
        other = ac.cpr_air[1 - fmt]
        pos: tuple[float, float] | None = None
        how = "global"
        if other is not None and abs(t_s - other.t_s) <= self.pair_window_s:
            even = (lat_raw, lon_raw) if fmt == 0 else (other.lat_raw, other.lon_raw)
            odd = (other.lat_raw, other.lon_raw) if fmt == 0 else (lat_raw, lon_raw)
            # "even is newer" selects whose zone the result is in: the current frame's
            pos = airborne_position_pair(*even, *odd, even_is_newer=fmt == 0)
            if pos is not None:
                self._check_range(*pos, how)
                if rep.t_source == "receive" and t_s == other.t_s:
                    self._check_pair(ac, fmt, pos)
        if pos is None:
            ref, how = self._local_reference(ac, t_s)
            if ref is None:
                return
            pos = airborne_position_with_ref(fmt, lat_raw, lon_raw, *ref)
            self._check_range(*pos, how)
        self._check_motion(ac, *pos, rep, how)
        if ac.pos_t_s is None or t_s >= ac.pos_t_s:
            ac.lat_deg, ac.lon_deg, ac.pos_t_s = pos[0], pos[1], t_s
            ac.pos_t_source, ac.pos_rx_s = rep.t_source, rep.rx_s
            ac.pos_clock_epoch = rep.clock_epoch
        rep.fields.update(lat=pos[0], lon=pos[1], cpr=how)
        rep.fix = self._fix(ac, pos, tc, decoded, t_s, how)

    def _check_pair(self, ac: Aircraft, fmt: int, pos: tuple[float, float]) -> None:
        """Refuse an even/odd pair whose frames may be far apart in time (same arrival time).

        Without a clock the pair window cannot be kept: after a reception gap the first frame
        pairs with one heard before it, and frames of two places give a position off by a
        CPR zone. The newest frame decoded locally against the last position is that frame's
        true position unless the aircraft flew half a zone (≥ 180 NM) since; if the two
        disagree the older frame is dropped, and the newest is marked ``disputed``: should its
        next pair disagree as well, the last position is the stale one and the pair wins.
        """
        frame, older = ac.cpr_air[fmt], ac.cpr_air[1 - fmt]
        if frame is None or older is None or ac.lat_deg is None or ac.lon_deg is None:
            return
        local = airborne_position_with_ref(
            fmt, frame.lat_raw, frame.lon_raw, ac.lat_deg, ac.lon_deg
        )
        d = _distance_m(*local, *pos)
        if d <= PAIR_AGREEMENT_M or older.disputed:
            return
        ac.cpr_air[1 - fmt] = None
        frame.disputed = True
        raise ModeSError(
            "cpr",
            "even/odd frames of unknown age disagree with the last position",
            f"{d / 1000:.1f} km",
        )

    def _local_reference(self, ac: Aircraft, t_s: float) -> tuple[tuple[float, float] | None, str]:
        if (
            ac.lat_deg is not None
            and ac.lon_deg is not None
            and ac.pos_t_s is not None
            and abs(t_s - ac.pos_t_s) <= self.local_window_s
        ):
            return (ac.lat_deg, ac.lon_deg), "local"
        if self.receiver is not None and self.max_range_m <= LOCAL_REFERENCE_RANGE_M:
            return self.receiver, "local-receiver"
        return None, ""

    def _surface_position(
        self, rep: ModeSReport, ac: Aircraft, decoded: dict[str, object], t_s: float
    ) -> None:
        """Surface CPR needs a reference within 45 NM: the receiver, else the last position."""
        fmt, lat_raw, lon_raw = (decoded.get(k) for k in ("cpr_format", "cpr_lat", "cpr_lon"))
        if not (isinstance(fmt, int) and isinstance(lat_raw, int) and isinstance(lon_raw, int)):
            return
        ac.cpr_surface[fmt] = CprFrame(t_s, lat_raw, lon_raw)
        ref = self.receiver
        if ref is None and ac.lat_deg is not None and ac.lon_deg is not None:
            ref = (ac.lat_deg, ac.lon_deg)
        if ref is None:
            return
        other = ac.cpr_surface[1 - fmt]
        pos: tuple[float, float] | None = None
        how = "global"
        if other is not None and abs(t_s - other.t_s) <= self.pair_window_s:
            even = (lat_raw, lon_raw) if fmt == 0 else (other.lat_raw, other.lon_raw)
            odd = (other.lat_raw, other.lon_raw) if fmt == 0 else (lat_raw, lon_raw)
            pos = surface_position_pair(
                *even, *odd, lat_ref=ref[0], lon_ref=ref[1], even_is_newer=fmt == 0
            )
        if pos is None:
            pos, how = surface_position_with_ref(fmt, lat_raw, lon_raw, *ref), "local"
        rep.fields.update(lat=pos[0], lon=pos[1], cpr=how)

    def _fix(
        self,
        ac: Aircraft,
        pos: tuple[float, float],
        tc: int,
        decoded: dict[str, object],
        t_s: float,
        how: str,
    ) -> Fix | None:
        epu = NACp[ac.nac_p]["EPU"] if ac.nac_p is not None and ac.nac_p in NACp else None
        vepu = NACp[ac.nac_p]["VEPU"] if ac.nac_p is not None and ac.nac_p in NACp else None
        nuc_p = decoded.get("nuc_p")
        rcu = NUCp[nuc_p]["RCu"] if isinstance(nuc_p, int) and nuc_p in NUCp else None
        bound = epu if epu is not None else rcu
        h_acc = bound / R95_2D_SIGMA if bound is not None else DEFAULT_H_STD_M
        h_std = math.hypot(h_acc, CPR_QUANT_STD_M)
        gnss_v = vepu / R95_1D_SIGMA if vepu is not None else DEFAULT_GNSS_V_STD_M
        if tc >= 20:
            if ac.alt_gnss_m is None:
                return None
            return Fix(*pos, ac.alt_gnss_m, "hae", "gnss", h_std, gnss_v, how)
        if ac.alt_baro_m is None:
            return None
        if (
            ac.geo_minus_baro_m is not None
            and ac.geo_minus_baro_t_s is not None
            and abs(t_s - ac.geo_minus_baro_t_s) <= GEO_DELTA_MAX_AGE_S
        ):
            alt = ac.alt_baro_m + ac.geo_minus_baro_m
            return Fix(*pos, alt, "hae", "baro+gnss_delta", h_std, gnss_v, how)
        v_std = baro_height_std_m(ac.alt_baro_m)
        return Fix(*pos, ac.alt_baro_m, "baro", "baro", h_std, v_std, how)

    # -- SBS ---------------------------------------------------------------------------------

    def decode_sbs(
        self,
        msg: SbsMessage,
        t_s: float,
        *,
        t_source: TimeSource = "message",
        raw: str = "",
        t_rx_s: float | None = None,
    ) -> ModeSReport:
        """Take one BaseStation line into the state at UTC ``t_s``; a fix for MSG,3 positions.

        ``t_rx_s`` is when the line arrived (default ``t_s``).
        """
        self._sweep(t_s)
        kind = f"sbs-msg{msg.transmission_type}" if msg.message_type == "MSG" else "sbs-other"
        rep = ModeSReport("sbs", kind, t_s, t_source, raw)
        rep.rx_s = t_s if t_rx_s is None else t_rx_s
        if msg.message_type != "MSG":
            rep.fields["message_type"] = msg.message_type
            return rep
        rep.icao = msg.icao.removeprefix("~")
        rep.ident = f"{'non-icao' if msg.icao.startswith('~') else 'icao'}:{rep.icao}"
        ac = self._touch(rep.ident, rep.icao, t_s)
        f = rep.fields
        f["sbs_type"] = msg.transmission_type
        for key, value in (
            ("callsign", msg.callsign),
            ("gs_ms", msg.gs_ms),
            ("track_deg", msg.track_deg),
            ("vrate_ms", msg.vrate_ms),
            ("squawk", msg.squawk),
            ("alert", msg.alert),
            ("emergency", msg.emergency),
            ("spi", msg.spi),
            ("on_ground", msg.on_ground),
        ):
            if value is not None:
                f[key] = value
        if msg.alt_m is not None:
            f["alt_gnss_m" if msg.alt_geometric else "alt_baro_m"] = msg.alt_m
        ac.callsign = msg.callsign or ac.callsign
        ac.squawk = msg.squawk or ac.squawk
        ac.gs_ms = msg.gs_ms if msg.gs_ms is not None else ac.gs_ms
        ac.track_deg = msg.track_deg if msg.track_deg is not None else ac.track_deg
        ac.vrate_ms = msg.vrate_ms if msg.vrate_ms is not None else ac.vrate_ms
        if msg.on_ground is not None:
            ac.on_ground = msg.on_ground
        if msg.lat_deg is None or msg.lon_deg is None:
            return rep
        self._check_range(msg.lat_deg, msg.lon_deg, "SBS")
        self._check_motion(ac, msg.lat_deg, msg.lon_deg, rep, "SBS")
        ac.lat_deg, ac.lon_deg, ac.pos_t_s = msg.lat_deg, msg.lon_deg, t_s
        ac.pos_t_source, ac.pos_rx_s = rep.t_source, rep.rx_s
        ac.pos_clock_epoch = rep.clock_epoch
        f.update(lat=msg.lat_deg, lon=msg.lon_deg)
        if msg.transmission_type != 3 or msg.on_ground or msg.alt_m is None:
            return rep
        h_std = math.hypot(DEFAULT_H_STD_M, CPR_QUANT_STD_M)  # SBS carries no NIC/NACp
        pos = (msg.lat_deg, msg.lon_deg)
        if msg.alt_geometric:
            rep.fix = Fix(*pos, msg.alt_m, "hae", "gnss", h_std, DEFAULT_GNSS_V_STD_M, "sbs")
        else:
            ac.alt_baro_m = msg.alt_m
            v_std = baro_height_std_m(msg.alt_m)
            rep.fix = Fix(*pos, msg.alt_m, "baro", "baro", h_std, v_std, "sbs")
        return rep


# --------------------------------------------------------------------------------------------
# Stream (reader + clock + decoder + counters) and the feed pipe
# --------------------------------------------------------------------------------------------


class _TickClock:
    """Maps the receiver's free-running 12 MHz counter to UTC seconds.

    Anchored at the first timestamped frame to its reception time, then advanced by ticks, so
    intervals between frames keep the receiver's resolution. Re-anchored when the counter runs
    backwards (receiver restart, 48-bit wrap after 271 days) or, with ``resync_s`` set, when
    the mapped time drifts more than that from the reception time (sample-clock drift, dropped
    USB buffers). GPS-disciplined Radarcape timestamps are not interpreted as such.
    ``anchored`` says the last frame was an anchor: its time is its arrival time, not a tick
    interval (a read holding many seconds of frames, after the node stalled, re-anchors too).
    """

    def __init__(self, resync_s: float | None) -> None:
        self.resync_s = resync_s
        self._anchor: tuple[int, float] | None = None
        self.anchored = False
        self.epoch = 0

    def utc(self, ticks: int, t_rx_s: float) -> float:
        """UTC seconds of a frame stamped ``ticks`` that arrived at ``t_rx_s``."""
        self.anchored = False
        if self._anchor is not None and ticks >= self._anchor[0]:
            t = self._anchor[1] + (ticks - self._anchor[0]) / MLAT_CLOCK_HZ
            if self.resync_s is None or abs(t - t_rx_s) <= self.resync_s:
                return t
        self._anchor = (ticks, t_rx_s)
        self.anchored = True
        self.epoch += 1
        return t_rx_s


class ModeSStream:
    """One feed's framing, clock, decoder and counters: bytes in, :class:`ModeSReport` out.

    ``fmt="auto"`` detects the format from the first data (buffering up to 4 KiB). Times: the
    SBS "generated" time minus ``sbs_utc_offset_s`` (readsb writes UTC; dump1090-fa writes local
    time), else receiver ticks via :class:`_TickClock`, else the reception time ``t_rx_s``.
    Rejections are counted under ``"field: detail"`` and logged once per field; nothing raises.
    """

    AUTO_DETECT_BYTES = 4096

    def __init__(
        self,
        fmt: Format | Literal["auto"] = "auto",
        receiver_lat_lon: tuple[float, float] | None = None,
        *,
        label: str = "adsb",
        max_range_m: float = DEFAULT_MAX_RANGE_M,
        sbs_utc_offset_s: float = 0.0,
        resync_s: float | None = 2.0,
    ) -> None:
        if fmt != "auto" and fmt not in FORMATS:
            raise ValueError(f"format {fmt!r} is not one of auto, {', '.join(FORMATS)}")
        self.label = label
        self.fmt: Format | None = None if fmt == "auto" else fmt
        self.reader: FrameReader | None = None if self.fmt is None else make_reader(self.fmt)
        self.decoder = ModeSDecoder(receiver_lat_lon, max_range_m=max_range_m)
        self.counters = FeedCounters()
        self.sbs_utc_offset_s = sbs_utc_offset_s
        self._clock = _TickClock(resync_s)
        self._undetected = b""
        self._logged: set[str] = set()

    def _reject(self, exc: ModeSError) -> None:
        self.counters.reject(exc.reason[:160])
        if exc.field not in self._logged:
            self._logged.add(exc.field)
            log.warning("feed %s: rejected Mode S input: %s", self.label, exc)

    def _detect(self, data: bytes) -> bytes | None:
        """Buffer until the format is known; then return everything buffered."""
        sample = self._undetected + data
        try:
            self.fmt = detect_format(sample)
        except ModeSError as exc:
            if len(sample) < self.AUTO_DETECT_BYTES:
                self._undetected = sample
            else:
                self._undetected = b""
                self._reject(exc)
            return None
        self._undetected = b""
        self.reader = make_reader(self.fmt)
        return sample

    def reports(self, data: bytes, t_rx_s: float | None = None) -> list[ModeSReport]:
        """Consume bytes received at ``t_rx_s`` (UTC s, default now); return decoded messages."""
        t_rx = time.time() if t_rx_s is None else t_rx_s
        if self.reader is None:
            buffered = self._detect(data)
            if buffered is None:
                return []
            data = buffered
        assert self.reader is not None
        return self._decode(self.reader.feed(data), t_rx)

    def finish(self, t_rx_s: float | None = None) -> list[ModeSReport]:
        """End of the stream: decode a last unterminated line, report a truncated frame."""
        t_rx = time.time() if t_rx_s is None else t_rx_s
        if self.reader is None and self._undetected:
            held, self._undetected = self._undetected, b""
            try:
                self.fmt = detect_format(held)
            except ModeSError as exc:
                self._reject(exc)
                return []
            self.reader = make_reader(self.fmt)
            return self._decode(self.reader.feed(held) + self.reader.flush(), t_rx)
        return [] if self.reader is None else self._decode(self.reader.flush(), t_rx)

    def _decode(self, items: list[Item], t_rx: float) -> list[ModeSReport]:
        out: list[ModeSReport] = []
        assert self.fmt is not None
        for item in items:
            if isinstance(item, ModeSError):
                self._reject(item)
                continue
            try:
                report = self._decode_one(item, t_rx)
            except ModeSError as exc:
                self._reject(exc)
                continue
            self.counters.decoded += 1
            self.counters.by_kind[report.kind] += 1
            out.append(report)
        return out

    def _decode_one(self, item: RawFrame | SbsMessage, t_rx: float) -> ModeSReport:
        assert self.fmt is not None
        if isinstance(item, SbsMessage):
            if item.t_s is None:
                return self.decoder.decode_sbs(item, t_rx, t_source="receive")
            t_s = item.t_s - self.sbs_utc_offset_s
            return self.decoder.decode_sbs(item, t_s, t_rx_s=t_rx)
        if item.mlat_ticks is None:
            return self.decoder.decode_frame(item, t_rx, fmt=self.fmt)
        t_s = self._clock.utc(item.mlat_ticks, t_rx)
        # an anchor frame's time is its arrival time: no receiver interval to the last position
        source: TimeSource = "receive" if self._clock.anchored else "ticks"
        return self.decoder.decode_frame(
            item, t_s, fmt=self.fmt, t_source=source, t_rx_s=t_rx, clock_epoch=self._clock.epoch
        )


def _ecef_to_enu_rotation(lat_deg: float, lon_deg: float) -> NDArray[np.float64]:
    """Rotation taking ECEF vectors into the local ENU frame at a geodetic point."""
    sp, cp = math.sin(math.radians(lat_deg)), math.cos(math.radians(lat_deg))
    sl, cl = math.sin(math.radians(lon_deg)), math.cos(math.radians(lon_deg))
    return np.array([[-sl, cl, 0.0], [-sp * cl, -sp * sl, cp], [cp * cl, cp * sl, sp]])


class ModeSPipe:
    """Feed pipe for one 1090 MHz receiver: bytes in, one-detection batches per airborne fix.

    Heights: GNSS height (TC 20–22) and barometric altitude plus the TC 19 geometric-minus-
    barometric difference are ellipsoidal and used as they are. Barometric altitude alone is
    pressure altitude, not geometric height: it is taken as height above mean sea level,
    ``geoid_undulation_m`` (the site's EGM geoid height N) is added to make it ellipsoidal, and
    its vertical σ grows with QNH and ISA-temperature uncertainty (:func:`baro_height_std_m`).

    Horizontal σ: the NACp EPU from operational status (TC 31, version ≥ 1) when known, else
    the NUCp containment radius of the position type code, else NACp 8 (both 95 % bounds, σ =
    bound / 2.45), with the CPR quantisation added. The covariance is built in the aircraft's
    local ENU frame and rotated into the site's.
    """

    def __init__(
        self,
        sensor_id: str,
        origin: SiteOrigin,
        fmt: Format | Literal["auto"] = "auto",
        receiver_lat_lon: tuple[float, float] | None = None,
        *,
        geoid_undulation_m: float = 0.0,
        max_range_m: float = DEFAULT_MAX_RANGE_M,
        sbs_utc_offset_s: float = 0.0,
    ) -> None:
        self.sensor_id = sensor_id
        self.origin = origin
        self.geoid_undulation_m = geoid_undulation_m
        self.stream = ModeSStream(
            fmt,
            receiver_lat_lon,
            label=sensor_id,
            max_range_m=max_range_m,
            sbs_utc_offset_s=sbs_utc_offset_s,
        )
        self.counters = self.stream.counters
        self._site_rot = _ecef_to_enu_rotation(origin.lat_deg, origin.lon_deg)

    @property
    def aircraft(self) -> dict[str, Aircraft]:
        """Per-transmitter state, keyed by identity (``icao:XXXXXX``)."""
        return self.stream.decoder.aircraft

    def feed(self, data: bytes, t_rx_s: float | None = None) -> list[DetectionBatch]:
        """Consume bytes received at ``t_rx_s`` (UTC s, default now); one batch per fix."""
        return [self._batch(r) for r in self.stream.reports(data, t_rx_s) if r.fix is not None]

    def flush(self) -> list[DetectionBatch]:
        """Nothing is held back: a partial line or frame waits for the rest of its bytes."""
        return []

    def _batch(self, rep: ModeSReport) -> DetectionBatch:
        fix = rep.fix
        assert fix is not None
        alt = fix.alt_m + (self.geoid_undulation_m if fix.alt_ref == "baro" else 0.0)
        z = self.origin.to_enu(fix.lat_deg, fix.lon_deg, alt).reshape(1, 3)
        local = np.diag([fix.h_std_m**2, fix.h_std_m**2, fix.v_std_m**2])
        rot = self._site_rot @ _ecef_to_enu_rotation(fix.lat_deg, fix.lon_deg).T
        cov = (rot @ local @ rot.T).reshape(1, 3, 3)
        extra: dict[str, object] = {"icao": rep.icao, "alt_source": fix.alt_source, "cpr": fix.cpr}
        ac = self.aircraft.get(rep.ident or "")
        if ac is not None:
            for key, value in (
                ("callsign", ac.callsign),
                ("squawk", ac.squawk),
                ("category", ac.category),
                ("gs_ms", ac.gs_ms),
                ("track_deg", ac.track_deg),
                ("vrate_ms", ac.vrate_ms),
            ):
                if value is not None:
                    extra[key] = value
        return DetectionBatch(
            sensor_id=self.sensor_id,
            t_s=np.array([rep.t_s]),
            z=z,
            R=cov,
            class_loglik=np.zeros((1, N_CLASSES)),
            ident=(rep.ident,),
            counts_misses=False,
            extra=(extra,),
        )
