"""Real flights as simulator targets: position logs read from autopilots and flown in site ENU.

A ``FlightLog`` is a validated time series of WGS84 positions read from one of three sources;
``FlightLogPath`` turns it into a ``Trajectory`` (see ``sim.targets``) that scenarios can fly.

Where each format's samples come from, and which height becomes ``alt_m``:

- CSV: rows of ``time_s,lat,lon,alt_m`` (or ``t,lat,lon,alt``) in seconds, degrees and metres.
  The height is taken as ellipsoidal, plus ``geoid_undulation_m`` for a file of AMSL heights.
- ArduPilot DataFlash ``.bin``: ``GPS`` messages with ``Status`` >= 3 (3D fix) of the lowest
  instance ``I`` that has a fix: ``TimeUS``, else the boot time ``T`` in ms of logs before it
  (ArduCopter 3.2/3.3: ``Status,TimeMS,Week,…,T``; a log with ``T`` at 0 goes by its GPS
  time), else GPS time (``GWk``/``GMS``, ``Week``/``TimeMS``); ``Lat``, ``Lng``. Height:
  ``GPA.AEl`` (ellipsoidal) when every used sample has one, else ``GPS.Alt`` (AMSL) minus the
  receiver's ``GPA.Und`` (ArduPilot's undulation is AMSL − ellipsoidal, e.g.
  ``AP_GPS_UBLOX``: ``altitude_msl − altitude_ellipsoid``) when every used sample has one,
  else ``GPS.Alt`` plus ``geoid_undulation_m``. Without such GPS messages, ``POS`` (the EKF
  position: ``TimeUS``, ``Lat``, ``Lng``, ``Alt`` AMSL plus ``geoid_undulation_m``).
- PX4 ULog ``.ulg``: ``vehicle_global_position`` (the EKF position: ``timestamp`` µs, ``lat``,
  ``lon`` degrees), else ``vehicle_gps_position`` samples with ``fix_type`` >= 3 (``lat``/``lon``
  in 1e-7 deg and ``alt`` in mm, or from PX4 1.14 on ``latitude_deg``/``longitude_deg`` and
  metres). Height: the ellipsoidal field (``alt_ellipsoid``, ``altitude_ellipsoid_m``) when
  logged and not all zero (a receiver that does not report it leaves zeros), else the AMSL one
  (``alt``, ``altitude_msl_m``) plus ``geoid_undulation_m``.

- DJI ``.srt``: the flight caption a DJI drone writes beside each video (one SubRip block per
  second or per frame; often all there is of a seized drone's flight). Time: each block's start
  time. Position: ``GPS(lon,lat,…)`` (Phantom 4, Mavic Pro) or ``[latitude: …]
  [longitude: …]`` (also DJI's spelling ``longtitude``; Mavic 2, Mini, Air, Mavic 3); blocks
  without a fix (0, 0) are skipped. Height: the absolute one (``[altitude: …]``,
  ``abs_alt: …``, taken as AMSL, plus ``geoid_undulation_m``) when every block has one, else the
  height above take-off (``BAROMETER:…``, ``rel_alt: …``, ``H …m``) plus ``takeoff_alt_m``.

Field names follow ArduPilot's ``libraries/AP_GPS/LogStructure.h`` and ``AP_AHRS`` ``POS``
(``TimeUS,Lat,Lng,Alt,...``), read with pymavlink's ``DFReader_binary``, and PX4's uORB messages
``VehicleGlobalPosition``/``SensorGps``, read with pyulog. Times become seconds since the first
usable sample. A log that cannot be used raises ``FlightLogError`` saying what is wrong and where
(CSV line, message number): empty logs, NaNs, latitudes/longitudes out of range, time that does
not increase. A sample repeating the previous one's time within ``REPEAT_MERGE_M`` is dropped
with one warning per file (counted in ``FlightLog.repeats_dropped``); farther away, an error.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from luchtwacht.geo import SiteOrigin

F64 = NDArray[np.float64]

logger = logging.getLogger(__name__)

REPEAT_MERGE_M = 10.0
"""Samples at one time closer than this are one fix logged twice; farther apart, an error."""

LogFormat = Literal["csv", "ardupilot", "px4", "dji-srt"]
"""The log formats ``load_flight_log`` reads."""

FORMAT_BY_SUFFIX: dict[str, LogFormat] = {
    ".csv": "csv",
    ".bin": "ardupilot",
    ".ulg": "px4",
    ".srt": "dji-srt",
}

_GPS_FIX_3D = 3  # ArduPilot GPS_OK_FIX_3D and PX4 fix_type 3: the first fix with a height
_AEL_UNKNOWN_M = -(2**31) / 100.0  # GPA.AEl is INT32_MIN centimetres when unknown
_EARTH_RADIUS_M = 6_371_000.0
_TIME_COLUMNS = ("time_s", "t")
_ALT_COLUMNS = ("alt_m", "alt")


class FlightLogError(ValueError):
    """A flight log that cannot be flown; the message names the file and where it went wrong."""


# --- the log ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class FlightLog:
    """Positions of one flight: seconds since the log start, WGS84 degrees, ellipsoidal metres.

    Arrays are read-only float64 of equal length (at least two samples), time strictly
    increasing, coordinates finite and in range; ``source`` says which file and field they are.
    """

    t_s: F64
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    source: str = ""
    repeats_dropped: int = 0
    """Samples left out for repeating the time of the one before (see ``_assemble``)."""

    def __post_init__(self) -> None:
        arrays = [_frozen_array(a) for a in (self.t_s, self.lat_deg, self.lon_deg, self.alt_m)]
        if any(a.ndim != 1 for a in arrays) or len({a.shape[0] for a in arrays}) != 1:
            raise FlightLogError(f"{self.source}: t_s, lat, lon and alt must be 1-D, equal length")
        t, lat, lon, alt = arrays
        _check_samples(self.source, t, lat, lon, alt, where=lambda k: f"sample {k}")
        if self.repeats_dropped < 0:
            raise FlightLogError(f"{self.source}: repeats_dropped {self.repeats_dropped} < 0")
        for name, a in zip(("t_s", "lat_deg", "lon_deg", "alt_m"), arrays, strict=True):
            object.__setattr__(self, name, a)

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlightLog):
            return NotImplemented
        return self.source == other.source and all(
            np.array_equal(a, b) for a, b in zip(self._arrays(), other._arrays(), strict=True)
        )

    def __hash__(self) -> int:
        return hash((self.source, len(self), float(self.t_s[0]), float(self.t_s[-1])))

    def _arrays(self) -> tuple[F64, F64, F64, F64]:
        return (self.t_s, self.lat_deg, self.lon_deg, self.alt_m)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample."""
        return float(self.t_s[-1] - self.t_s[0])


def _frozen_array(a: ArrayLike) -> F64:
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


def _check_samples(
    source: str, t: F64, lat: F64, lon: F64, alt: F64, where: Callable[[int], str]
) -> None:
    """Raise on the first sample that is not finite, out of range or not later than the last."""
    if t.shape[0] < 2:
        found = "no position samples" if t.shape[0] == 0 else "only one position sample"
        raise FlightLogError(f"{source}: {found}; a flight needs at least two")
    for name, a in (("time", t), ("latitude", lat), ("longitude", lon), ("altitude", alt)):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            k = int(bad[0])
            raise FlightLogError(
                f"{source}: {where(k)}: {name} is {float(a[k])}, not a finite number"
            )
    for name, a, limit in (("latitude", lat, 90.0), ("longitude", lon, 180.0)):
        bad = np.flatnonzero(np.abs(a) > limit)
        if bad.size:
            k = int(bad[0])
            raise FlightLogError(
                f"{source}: {where(k)}: {name} {a[k]:.7f} deg is outside ±{limit:g} deg"
            )
    back = np.flatnonzero(np.diff(t) <= 0.0)
    if back.size:
        k = int(back[0]) + 1
        raise FlightLogError(
            f"{source}: {where(k)}: time {t[k]:.6f} s is not after the previous sample's"
            f" {t[k - 1]:.6f} s"
        )


def _assemble(
    source: str,
    t: ArrayLike,
    lat: ArrayLike,
    lon: ArrayLike,
    alt: ArrayLike,
    where: Callable[[int], str],
) -> FlightLog:
    """Validate raw samples (``where(k)`` names sample ``k`` in the file) into a ``FlightLog``.

    A sample at the same time as the previous kept one is dropped when it lies within
    ``REPEAT_MERGE_M`` of it (a logger that repeats a message, a receiver that stamps two fixes
    with one time), with one warning per file and counted in ``repeats_dropped``; farther away it
    is an error, since no drone is at two places at once.
    """
    cols = [np.asarray(a, dtype=np.float64).reshape(-1) for a in (t, lat, lon, alt)]
    t_all, lat_all, lon_all, alt_all = cols
    keep = np.ones(t_all.shape[0], dtype=bool)
    first_drop: int | None = None
    anchor = prev = -1  # the sample a run of equal times is compared with; the last repeat seen
    # Only the repeats are visited, so a long log costs one vectorised comparison.
    for k in (int(i) + 1 for i in np.flatnonzero(t_all[1:] == t_all[:-1])):
        if prev != k - 1:
            anchor = k - 1  # a new run of equal times starts at the sample before
        prev = k
        gap = _distance_m(
            (lat_all[anchor], lon_all[anchor], alt_all[anchor]),
            (lat_all[k], lon_all[k], alt_all[k]),
        )
        if not gap <= REPEAT_MERGE_M:  # NaN positions fall through to the checks below
            if math.isfinite(gap):
                raise FlightLogError(
                    f"{source}: {where(k)}: time {t_all[k]:.6f} s repeats with another position"
                    f" {gap:.1f} m away (more than {REPEAT_MERGE_M:g} m)"
                )
            anchor = k
            continue
        keep[k] = False
        first_drop = k if first_drop is None else first_drop
    dropped = int(np.count_nonzero(~keep))
    if first_drop is not None:
        logger.warning(
            "%s: dropped %d sample(s) repeating the previous sample's time within %g m (first: %s)",
            source,
            dropped,
            REPEAT_MERGE_M,
            where(first_drop),
        )
    index = np.flatnonzero(keep)
    t_k, lat_k, lon_k, alt_k = (c[keep] for c in cols)
    _check_samples(source, t_k, lat_k, lon_k, alt_k, where=lambda k: where(int(index[k])))
    return FlightLog(t_k - t_k[0], lat_k, lon_k, alt_k, source, repeats_dropped=dropped)


def _distance_m(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """Straight-line metres between two nearby WGS84 points (local flat earth, enough at 10 m)."""
    north = math.radians(b[0] - a[0]) * _EARTH_RADIUS_M
    east = math.radians(b[1] - a[1]) * _EARTH_RADIUS_M * math.cos(math.radians(a[0]))
    return math.sqrt(north * north + east * east + (b[2] - a[2]) ** 2)


def _read_text(path: Path) -> str:
    """A text log's contents (UTF-8, BOM dropped); unreadable or not text: FlightLogError."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise FlightLogError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise FlightLogError(f"{path}: not UTF-8 text ({exc.reason})") from None


# --- CSV ----------------------------------------------------------------------------------------


def load_csv(path: str | Path, *, geoid_undulation_m: float = 0.0) -> FlightLog:
    """Read ``time_s,lat,lon,alt_m`` (or ``t,lat,lon,alt``) rows; ``#`` lines and blanks skipped.

    Columns are found by name in the header (any order, extra columns ignored). Heights are
    taken as ellipsoidal; give ``geoid_undulation_m`` when the file holds AMSL heights.
    """
    path = Path(path)
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    cols: tuple[int, int, int, int] = (0, 0, 0, 0)
    names: tuple[str, str, str, str] = ("", "", "", "")
    rows: list[tuple[float, float, float, float]] = []
    lines: list[int] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                cols, names = _csv_columns(path, line, header)
                continue
            if len(row) != len(header):
                raise FlightLogError(
                    f"{path}:{line}: expected {len(header)} fields ({','.join(header)}),"
                    f" found {len(row)}"
                )
            values = []
            for col, name in zip(cols, names, strict=True):
                cell = row[col].strip()
                try:
                    values.append(float(cell))
                except ValueError:
                    raise FlightLogError(
                        f"{path}:{line}: {name} is not a number: {cell[:40]!r}"
                    ) from None
            rows.append((values[0], values[1], values[2], values[3]))
            lines.append(line)
    except csv.Error as exc:
        raise FlightLogError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    if header is None:
        raise FlightLogError(f"{path}: empty file, expected a header time_s,lat,lon,alt_m")
    data = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return _assemble(
        f"{path}",
        data[:, 0],
        data[:, 1],
        data[:, 2],
        data[:, 3] + geoid_undulation_m,
        where=lambda k: f"line {lines[k]}",
    )


def _csv_columns(
    path: Path, line: int, header: Sequence[str]
) -> tuple[tuple[int, int, int, int], tuple[str, str, str, str]]:
    """Indices and names of the time, lat, lon and alt columns of a CSV header."""
    found: list[tuple[int, str]] = []
    for choices in (_TIME_COLUMNS, ("lat",), ("lon",), _ALT_COLUMNS):
        hit = next(((header.index(c), c) for c in choices if c in header), None)
        if hit is None:
            raise FlightLogError(
                f"{path}:{line}: header {','.join(header)!r} has no {' or '.join(choices)}"
                " column; expected time_s,lat,lon,alt_m"
            )
        found.append(hit)
    idx = (found[0][0], found[1][0], found[2][0], found[3][0])
    names = (found[0][1], found[1][1], found[2][1], found[3][1])
    return idx, names


# --- ArduPilot DataFlash ------------------------------------------------------------------------


class _LibraryOutput:
    """What a log library printed while reading: Python prints and its compiled parts' stderr."""

    def __init__(self, py: io.StringIO, native: IO[bytes] | None) -> None:
        self.py = py
        self.native = native
        self.native_text = ""

    def getvalue(self) -> str:
        if self.native is not None and not self.native.closed:
            self.native.flush()
            self.native.seek(0)
            self.native_text = self.native.read().decode("utf-8", "replace")
        return self.py.getvalue() + self.native_text


@contextmanager
def _library_output() -> Iterator[_LibraryOutput]:
    """Collect what a log library prints about bad bytes, to quote it in our error instead.

    pymavlink's compiled indexer (``dfindexer``) writes "bad header …" to file descriptor 2
    itself, past ``sys.stderr``; so descriptor 2 is pointed at a temporary file meanwhile. Like
    ``redirect_stderr``, this holds for the whole process while a log is read.
    """
    buf = io.StringIO()
    with ExitStack() as stack:
        native: IO[bytes] | None = None
        try:
            saved = os.dup(2)
        except OSError:  # no descriptor 2 (a daemon without one): nothing to keep quiet
            saved = -1
        if saved >= 0:
            native = stack.enter_context(tempfile.TemporaryFile())
            sys.stderr.flush()
            os.dup2(native.fileno(), 2)

            def restore() -> None:
                os.dup2(saved, 2)
                os.close(saved)

            stack.callback(restore)
        out = _LibraryOutput(buf, native)
        stack.callback(out.getvalue)  # keep the text once the file is gone
        stack.enter_context(redirect_stdout(buf))
        stack.enter_context(redirect_stderr(buf))
        yield out


def _last_words(said: _LibraryOutput) -> str:
    lines = [ln.strip() for ln in said.getvalue().splitlines() if ln.strip()]
    return f"; the reader said: {lines[-1][:160]}" if lines else ""


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FlightLogError(f"{path}: cannot read ({exc.strerror})") from None
    if not path.is_file():
        raise FlightLogError(f"{path}: not a file")
    if size == 0:
        raise FlightLogError(f"{path}: empty file")


def load_ardupilot_bin(path: str | Path, *, geoid_undulation_m: float = 0.0) -> FlightLog:
    """Read an ArduPilot DataFlash ``.bin`` log: GPS with a 3D fix, else POS (see module doc)."""
    path = Path(path)
    _check_file(path)
    with _library_output() as said:
        try:
            gps, gpa, und, pos = _read_dataflash(path)
        except FlightLogError as exc:
            raise FlightLogError(f"{path}: {exc}") from None
        except Exception as exc:  # pymavlink fails in many ways on damaged bytes
            raise FlightLogError(
                f"{path}: not a readable DataFlash log ({type(exc).__name__}: {exc})"
                f"{_last_words(said)}"
            ) from None
    if gps:
        return _from_gps(path, gps, gpa, und, geoid_undulation_m)
    if pos:
        t, lat, lon, alt = (np.array(c, dtype=np.float64) for c in zip(*pos, strict=True))
        return _assemble(
            f"{path}: POS.Lat/Lng, Alt AMSL + {geoid_undulation_m:g} m",
            t,
            lat,
            lon,
            alt + geoid_undulation_m,
            where=lambda k: f"POS sample {k} (t {pos[k][0]:.6f} s)",
        )
    raise FlightLogError(
        f"{path}: no GPS message with a 3D fix (Status >= 3) and no POS message{_last_words(said)}"
    )


def _read_dataflash(
    path: Path,
) -> tuple[
    list[tuple[float, int, float, float, float]],
    dict[tuple[float, int], float],
    dict[tuple[float, int], float],
    list[tuple[float, float, float, float]],
]:
    """GPS fixes (t, instance, lat, lon, alt), GPA AEl and Und by (t, instance), POS samples."""
    from pymavlink import DFReader  # here, not at the top: importing pymavlink takes 0.2 s

    # Constructed in two steps so that the file it opened is closed even if __init__ fails.
    reader = DFReader.DFReader_binary.__new__(DFReader.DFReader_binary)
    gps: list[tuple[float, int, float, float, float]] = []
    gpa: dict[tuple[float, int], float] = {}
    und: dict[tuple[float, int], float] = {}
    pos: list[tuple[float, float, float, float]] = []
    gps_clock: list[float | None] = []  # each fix's GPS time, where it was timed by T
    try:
        reader.__init__(str(path), zero_time_base=True)
        while True:
            m = reader.recv_match(type=["GPS", "GPA", "POS"], strict=True)
            if m is None:
                break
            kind = m.get_type()
            names = m.get_fieldnames()
            if kind == "GPS":
                if "Status" in names and int(m.Status) < _GPS_FIX_3D:
                    continue
                inst = int(m.I) if "I" in names else 0
                t, gps_t = _dataflash_time(m, names)
                gps.append((t, inst, float(m.Lat), float(m.Lng), float(m.Alt)))
                gps_clock.append(gps_t)
            elif kind == "GPA" and "TimeUS" in names:
                key = (float(m.TimeUS) * 1e-6, int(m.I) if "I" in names else 0)
                if "AEl" in names:
                    gpa[key] = float(m.AEl)
                if "Und" in names:
                    und[key] = float(m.Und)
            elif kind == "POS":
                pos.append((float(m.TimeUS) * 1e-6, float(m.Lat), float(m.Lng), float(m.Alt)))
    finally:
        _close_dataflash(reader)
    if any(g[0] == 0.0 for g in gps) and all(c is not None for c in gps_clock):
        # A fix with T left at 0 (no boot clock logged): all go by their GPS time instead.
        gps = [(c or 0.0, g[1], g[2], g[3], g[4]) for g, c in zip(gps, gps_clock, strict=True)]
    return gps, gpa, und, pos


def _dataflash_time(m: Any, names: Sequence[str]) -> tuple[float, float | None]:
    """Seconds of a GPS message on the boot clock where the log has one, else GPS time.

    ``TimeUS`` (µs since boot, ArduPilot 3.3 on), else ``T`` (ms since boot, beside
    ``TimeMS``/``Week`` in earlier logs), else ``GWk``/``GMS`` or ``Week``/``TimeMS``. The boot
    clock comes first because a receiver may stamp two fixes with one GPS time. The second
    value is the GPS time of a fix timed by ``T``, for logs that leave ``T`` at 0.
    """
    if "TimeUS" in names:
        return float(m.TimeUS) * 1e-6, None
    gps_t: float | None = None
    for week, ms in (("GWk", "GMS"), ("Week", "TimeMS")):
        if week in names and ms in names:
            gps_t = float(getattr(m, week)) * 604800.0 + float(getattr(m, ms)) * 1e-3
            break
    if "T" in names:
        return float(m.T) * 1e-3, gps_t
    if gps_t is not None:
        return gps_t, None
    raise FlightLogError(f"GPS messages carry no time field (columns {','.join(names)})")


def _close_dataflash(reader: Any) -> None:
    """Close the reader's file and memory map without hiding the error that brought us here."""
    for name in ("filehandle", "data_map"):
        handle = getattr(reader, name, None)
        # A view into the map may still be held by a traceback; the map then goes with it.
        if handle is not None:
            with suppress(BufferError, OSError, ValueError):
                handle.close()


def _from_gps(
    path: Path,
    gps: list[tuple[float, int, float, float, float]],
    gpa: dict[tuple[float, int], float],
    und: dict[tuple[float, int], float],
    geoid_undulation_m: float,
) -> FlightLog:
    """The lowest GPS instance with a fix; heights from GPA (AEl, else AMSL − Und) if complete."""
    inst = min(g[1] for g in gps)
    used = [g for g in gps if g[1] == inst]
    t, lat, lon, amsl = (np.array([g[k] for g in used], dtype=np.float64) for k in (0, 2, 3, 4))
    ael = [gpa.get((g[0], inst)) for g in used]
    n_und = [und.get((g[0], inst)) for g in used]
    if all(a is not None and a > _AEL_UNKNOWN_M + 1.0 for a in ael):
        alt, height = np.array(ael, dtype=np.float64), "GPA.AEl ellipsoidal"
    elif all(n is not None and math.isfinite(n) for n in n_und):
        alt, height = amsl - np.array(n_und, dtype=np.float64), "Alt AMSL − GPA.Und"
    else:
        alt, height = amsl + geoid_undulation_m, f"Alt AMSL + {geoid_undulation_m:g} m"
    return _assemble(
        f"{path}: GPS instance {inst} Lat/Lng, {height}",
        t,
        lat,
        lon,
        alt,
        where=lambda k: f"GPS sample {k} (t {used[k][0]:.6f} s)",
    )


# --- PX4 ULog -----------------------------------------------------------------------------------


_PX4_TOPICS = ("vehicle_global_position", "vehicle_gps_position")


def load_px4_ulog(path: str | Path, *, geoid_undulation_m: float = 0.0) -> FlightLog:
    """Read a PX4 ``.ulg``: vehicle_global_position, else vehicle_gps_position (module doc)."""
    from pyulog import ULog  # imported when needed, like pymavlink

    path = Path(path)
    _check_file(path)
    with _library_output() as said:
        try:
            with path.open("rb") as fh:
                ulog = ULog(fh, message_name_filter_list=list(_PX4_TOPICS))
        except OSError as exc:
            raise FlightLogError(f"{path}: cannot read ({exc.strerror})") from None
        except Exception as exc:  # pyulog raises more than ULogException on damaged bytes
            raise FlightLogError(
                f"{path}: not a readable ULog file ({type(exc).__name__}: {exc}){_last_words(said)}"
            ) from None
    datasets: dict[str, Any] = {}
    for d in sorted(ulog.data_list, key=lambda d: int(d.multi_id)):
        datasets.setdefault(d.name, d)
    if "vehicle_global_position" in datasets:
        return _from_global_position(path, datasets["vehicle_global_position"], geoid_undulation_m)
    if "vehicle_gps_position" in datasets:
        return _from_gps_position(path, datasets["vehicle_gps_position"], geoid_undulation_m)
    raise FlightLogError(
        f"{path}: no vehicle_global_position or vehicle_gps_position data{_last_words(said)}"
    )


def _ulog_field(path: Path, topic: Any, *names: str) -> tuple[str, F64]:
    """The first of ``names`` the topic has, as float64."""
    for name in names:
        if name in topic.data:
            return name, np.asarray(topic.data[name], dtype=np.float64)
    raise FlightLogError(
        f"{path}: {topic.name} has none of the fields {', '.join(names)}"
        f" (it has {', '.join(sorted(topic.data))})"
    )


def _ulog_height(
    path: Path,
    topic: Any,
    amsl_names: tuple[str, ...],
    ell_names: tuple[str, ...],
    scale: Callable[[str], float],
    geoid_undulation_m: float,
) -> tuple[F64, str]:
    """Ellipsoidal height when logged (and not all zero, as a receiver without it fills in)."""
    ell = next((n for n in ell_names if n in topic.data), None)
    if ell is not None:
        h = np.asarray(topic.data[ell], dtype=np.float64) * scale(ell)
        if np.any(h != 0.0):
            return h, f"{ell} ellipsoidal"
    name, amsl = _ulog_field(path, topic, *amsl_names)
    return amsl * scale(name) + geoid_undulation_m, f"{name} AMSL + {geoid_undulation_m:g} m"


def _from_global_position(path: Path, topic: Any, geoid_undulation_m: float) -> FlightLog:
    _, t_us = _ulog_field(path, topic, "timestamp")
    _, lat = _ulog_field(path, topic, "lat")
    _, lon = _ulog_field(path, topic, "lon")
    alt, height = _ulog_height(
        path, topic, ("alt",), ("alt_ellipsoid",), lambda _: 1.0, geoid_undulation_m
    )
    return _assemble(
        f"{path}: vehicle_global_position lat/lon, {height}",
        t_us * 1e-6,
        lat,
        lon,
        alt,
        where=lambda k: f"vehicle_global_position sample {k} (timestamp {t_us[k]:.0f} us)",
    )


def _from_gps_position(path: Path, topic: Any, geoid_undulation_m: float) -> FlightLog:
    """Old layout: lat/lon int 1e-7 deg, alt mm; PX4 ≥ 1.14 (SensorGps): degrees and metres."""
    _, t_us = _ulog_field(path, topic, "timestamp")
    lat_name, lat = _ulog_field(path, topic, "latitude_deg", "lat")
    _, lon = _ulog_field(path, topic, "longitude_deg", "lon")
    _, fix = _ulog_field(path, topic, "fix_type")
    scales = {"lat": 1e-7, "lon": 1e-7, "alt": 1e-3, "alt_ellipsoid": 1e-3}
    alt, height = _ulog_height(
        path,
        topic,
        ("altitude_msl_m", "alt"),
        ("altitude_ellipsoid_m", "alt_ellipsoid"),
        lambda n: scales.get(n, 1.0),
        geoid_undulation_m,
    )
    keep = np.flatnonzero(fix >= _GPS_FIX_3D)
    if keep.size == 0:
        raise FlightLogError(f"{path}: vehicle_gps_position has no sample with a 3D fix")
    deg = scales.get(lat_name, 1.0)
    return _assemble(
        f"{path}: vehicle_gps_position {lat_name}, {height}",
        t_us[keep] * 1e-6,
        lat[keep] * deg,
        lon[keep] * deg,
        alt[keep],
        where=lambda k: (
            f"vehicle_gps_position sample {int(keep[k])} (timestamp {t_us[keep[k]]:.0f} us)"
        ),
    )


# --- DJI video captions ------------------------------------------------------------------------


_SRT_TIME = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{1,3})\s*-->")
_NUM = r"([-+]?\d+(?:\.\d+)?)"
_SRT_GPS = re.compile(rf"GPS\s*\(\s*{_NUM}\s*,\s*{_NUM}")  # (lon, lat, …)
_SRT_LAT = re.compile(rf"\[\s*latitude\s*:\s*{_NUM}", re.IGNORECASE)
_SRT_LON = re.compile(rf"\[\s*longt?itude\s*:\s*{_NUM}", re.IGNORECASE)
_SRT_ABS = (
    re.compile(rf"\[\s*altitude\s*:\s*{_NUM}", re.IGNORECASE),
    re.compile(rf"abs_alt\s*:\s*{_NUM}", re.IGNORECASE),
)
_SRT_REL = (
    re.compile(rf"BAROMETER\s*:\s*{_NUM}", re.IGNORECASE),
    re.compile(rf"rel_alt\s*:\s*{_NUM}", re.IGNORECASE),
    re.compile(rf"\bH\s+{_NUM}\s*m\b"),
)


def _srt_first(patterns: Sequence[re.Pattern[str]], block: str) -> float | None:
    for pat in patterns:
        m = pat.search(block)
        if m:
            return float(m[1])
    return None


def load_dji_srt(
    path: str | Path, *, geoid_undulation_m: float = 0.0, takeoff_alt_m: float = 0.0
) -> FlightLog:
    """Read a DJI flight caption ``.srt`` (see module doc for the dialects and heights).

    ``takeoff_alt_m`` is the ellipsoidal height of the take-off point, for captions that only
    give the height above it; a scenario that relocates the flight needs neither.
    """
    path = Path(path)
    text = _read_text(path)
    samples: list[tuple[float, float, float, float | None, float | None]] = []
    blocks: list[int] = []
    for n, block in enumerate(re.split(r"\n[ \t]*\n", text.replace("\r", "")), start=1):
        if not block.strip():
            continue
        tm = _SRT_TIME.search(block)
        if tm is None:
            raise FlightLogError(f"{path}: caption block {n}: no 'HH:MM:SS,mmm -->' time line")
        t = int(tm[1]) * 3600 + int(tm[2]) * 60 + int(tm[3]) + int(tm[4].ljust(3, "0")) / 1e3
        gps = _SRT_GPS.search(block)
        lat_m, lon_m = _SRT_LAT.search(block), _SRT_LON.search(block)
        if lat_m and lon_m:
            lat, lon = float(lat_m[1]), float(lon_m[1])
        elif gps:
            lon, lat = float(gps[1]), float(gps[2])
        else:
            raise FlightLogError(f"{path}: caption block {n}: no GPS(...) or [latitude: ...]")
        if lat == 0.0 and lon == 0.0:
            continue  # no fix yet: DJI writes zeros
        samples.append((t, lat, lon, _srt_first(_SRT_ABS, block), _srt_first(_SRT_REL, block)))
        blocks.append(n)
    if not samples:
        raise FlightLogError(f"{path}: no caption block with a GPS position")
    if all(s[3] is not None for s in samples):
        alt = np.array([s[3] for s in samples], dtype=np.float64) + geoid_undulation_m
        height = f"absolute altitude (AMSL) + {geoid_undulation_m:g} m"
    elif all(s[4] is not None for s in samples):
        alt = np.array([s[4] for s in samples], dtype=np.float64) + takeoff_alt_m
        height = f"height above take-off + {takeoff_alt_m:g} m"
    else:
        k = next((i for i, s in enumerate(samples) if s[3] is None and s[4] is None), None)
        if k is not None:
            raise FlightLogError(f"{path}: caption block {blocks[k]}: no altitude or height field")
        # Every block has one or the other, but not the same one: no height to fly them all by.
        k = next(i for i, s in enumerate(samples) if s[3] is None)
        raise FlightLogError(
            f"{path}: caption block {blocks[k]}: only a height above take-off where earlier "
            "blocks give an absolute altitude: the blocks mix the two"
        )
    t_s, lat_deg, lon_deg = (np.array([s[i] for s in samples]) for i in range(3))
    return _assemble(
        f"{path}: DJI captions, {height}",
        t_s,
        lat_deg,
        lon_deg,
        alt,
        where=lambda k: f"caption block {blocks[k]}",
    )


# --- any format ---------------------------------------------------------------------------------


def load_flight_log(
    path: str | Path,
    fmt: LogFormat | None = None,
    *,
    geoid_undulation_m: float = 0.0,
    takeoff_alt_m: float = 0.0,
) -> FlightLog:
    """Read a flight log; ``fmt`` defaults from the extension (.csv, .bin, .ulg, .srt).

    ``takeoff_alt_m`` only serves logs with heights above take-off (DJI captions).
    """
    path = Path(path)
    if fmt is None:
        found = FORMAT_BY_SUFFIX.get(path.suffix.lower())
        if found is None:
            raise FlightLogError(
                f"{path}: cannot tell the log format from the extension {path.suffix!r};"
                " use .csv, .bin (ArduPilot), .ulg (PX4) or .srt (DJI), or give the format"
            )
        fmt = found
    if fmt == "csv":
        return load_csv(path, geoid_undulation_m=geoid_undulation_m)
    if fmt == "ardupilot":
        return load_ardupilot_bin(path, geoid_undulation_m=geoid_undulation_m)
    if fmt == "px4":
        return load_px4_ulog(path, geoid_undulation_m=geoid_undulation_m)
    if fmt == "dji-srt":
        return load_dji_srt(
            path, geoid_undulation_m=geoid_undulation_m, takeoff_alt_m=takeoff_alt_m
        )
    raise FlightLogError(f"{path}: unknown log format {fmt!r}; use csv, ardupilot, px4 or dji-srt")


# --- flying it ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlightLogPath:
    """A logged flight as a ``Trajectory``: the samples in site ENU, linearly interpolated.

    Scenario time ``t`` plays log time ``(t - t_start_s) * time_scale`` after the first sample
    (``time_scale`` 2 replays twice as fast). The samples are converted to ENU once; velocity is
    the central finite difference of the samples (``np.gradient``, one-sided at the ends),
    interpolated like the position. Before the first and after the last sample the target is
    absent (``None``).

    Without ``relocate`` the flight keeps its real coordinates, moved by ``shift_enu_m``. With
    ``relocate`` its first sample is placed at ``shift_enu_m`` instead: the flight is taken in the
    ENU frame of its own first sample and laid over the site, so that a log recorded elsewhere
    keeps its shape, heading and heights above its start.
    """

    log: FlightLog
    origin: SiteOrigin
    t_start_s: float = 0.0
    shift_enu_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    relocate: bool = False
    time_scale: float = 1.0
    _t: F64 = field(init=False, repr=False, compare=False)
    _pos: F64 = field(init=False, repr=False, compare=False)
    _vel: F64 = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.time_scale) and self.time_scale > 0.0):
            raise ValueError(f"time_scale must be a positive number, not {self.time_scale}")
        if not math.isfinite(self.t_start_s):
            raise ValueError(f"t_start_s must be finite, not {self.t_start_s}")
        log = self.log
        frame = (
            SiteOrigin(float(log.lat_deg[0]), float(log.lon_deg[0]), float(log.alt_m[0]))
            if self.relocate
            else self.origin
        )
        pos = frame.to_enu(log.lat_deg, log.lon_deg, log.alt_m) + np.asarray(self.shift_enu_m)
        t = np.asarray(log.t_s - log.t_s[0], dtype=np.float64)
        vel = np.gradient(pos, t, axis=0)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_pos", pos)
        object.__setattr__(self, "_vel", vel)

    @property
    def t_end_s(self) -> float:
        """Scenario time of the last sample."""
        return self.t_start_s + float(self._t[-1]) / self.time_scale

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """Position/velocity interpolated between the samples (see class doc)."""
        tau = (t_s - self.t_start_s) * self.time_scale
        if not 0.0 <= tau <= self._t[-1]:
            return None
        pos = np.array([np.interp(tau, self._t, self._pos[:, k]) for k in range(3)])
        vel = np.array([np.interp(tau, self._t, self._vel[:, k]) for k in range(3)])
        return pos, vel * self.time_scale
