"""A recording opened read-only for evidence: its run, site, zones, feeds, window and identity.

The time and zone readers are shared with ``export geojson`` (:mod:`luchtwacht.publish.geojson`):
a time is ISO 8601 (no zone: UTC) or seconds since the run's start.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from luchtwacht.evidence.errors import EvidenceError
from luchtwacht.evidence.manifest import file_sha256
from luchtwacht.geo import SiteOrigin
from luchtwacht.model.zone import Zone
from luchtwacht.publish.geojson import (
    ExportError,
    iso_time,
    open_recording,
    parse_time,
    recorded_zones,
    recording_span,
)

__all__ = ["Feed", "Recording", "Window", "iso_time"]


@dataclass(frozen=True, slots=True)
class Window:
    """The time window asked for, inclusive at both ends (UTC seconds), and the run's start."""

    from_s: float
    to_s: float
    run_start_s: float | None

    def describe(self) -> dict[str, Any]:
        """The window as ISO 8601 UTC and as seconds since the run's start (for manifests)."""
        out: dict[str, Any] = {"from": iso_time(self.from_s), "to": iso_time(self.to_s)}
        if self.run_start_s is not None:
            out["from_run_s"] = round(self.from_s - self.run_start_s, 3)
            out["to_run_s"] = round(self.to_s - self.run_start_s, 3)
        return out

    def text(self) -> str:
        """``2026-06-12T21:30:00.000Z – 2026-06-12T21:33:00.000Z`` for sentences."""
        return f"{iso_time(self.from_s)} – {iso_time(self.to_s)}"


@dataclass(frozen=True, slots=True)
class Feed:
    """An input feed as the recording's ``meta`` registers it (``feed:<sensor id>``)."""

    sensor_id: str
    name: str
    fmt: str
    interval_s: float | None


class Recording:
    """A recording opened read-only (``mode=ro``); use as a context manager."""

    def __init__(self, path: Path) -> None:
        try:
            self.db = open_recording(path)
        except ExportError as exc:
            raise EvidenceError(str(exc)) from None
        self.path = path
        try:
            self.meta = {str(k): str(v) for k, v in self.db.execute("SELECT key, value FROM meta")}
            self.tables = {
                str(r[0])
                for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            self.span = recording_span(self.db)
            self.zones: tuple[Zone, ...] = recorded_zones(self.db) or ()
        except sqlite3.Error as exc:
            self.db.close()
            raise EvidenceError(f"{path}: not a readable recording ({exc})") from None
        site = self._json("site")
        self.site_name = str(site.get("name", "")) if site else ""
        try:
            self.origin: SiteOrigin | None = SiteOrigin(
                float(site["lat"]), float(site["lon"]), float(site.get("alt_m", 0.0))
            )
        except (KeyError, TypeError, ValueError):
            self.origin = None

    def __enter__(self) -> Recording:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def _json(self, key: str) -> dict[str, Any]:
        try:
            value = json.loads(self.meta.get(key) or "null")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def has(self, table: str) -> bool:
        """Whether the recording has this table (older recordings lack some)."""
        return table in self.tables

    def columns(self, table: str) -> set[str]:
        """The column names of a table of the recording."""
        return {str(r[1]) for r in self.db.execute(f"PRAGMA table_info({table})")}

    def window(self, t_from: str | None, t_to: str | None) -> Window:
        """``--from``/``--to`` read against the run's start; absent ends are the run's ends."""
        start = self.span.start_s
        try:
            lo = parse_time(t_from, start) if t_from is not None else start
            hi = parse_time(t_to, start) if t_to is not None else self.span.end_s
        except ExportError as exc:
            raise EvidenceError(str(exc)) from None
        if lo is None or hi is None:
            raise EvidenceError(
                f"{self.path}: the recording has no start or end; give --from and --to"
            )
        if lo > hi:
            raise EvidenceError(f"--from {iso_time(lo)} is after --to {iso_time(hi)}")
        return Window(lo, hi, start)

    def zone(self, name: str) -> Zone:
        """The recorded zone of this name; :class:`EvidenceError` listing the known ones."""
        for z in self.zones:
            if z.name == name:
                return z
        known = ", ".join(repr(z.name) for z in self.zones) or "none"
        raise EvidenceError(f"--zone {name!r}: no such zone in the recording (zones: {known})")

    def feeds(self) -> list[Feed]:
        """The registered input feeds, in the order they were added."""
        feeds: list[tuple[float, Feed]] = []
        for key in self.meta:
            if not key.startswith("feed:"):
                continue
            spec = self._json(key)
            interval = spec.get("interval_s")
            sid = key[len("feed:") :]
            feeds.append(
                (
                    float(spec.get("order", math.inf)),
                    Feed(
                        sid,
                        str(spec.get("name", sid)),
                        str(spec.get("fmt", "")),
                        float(interval) if isinstance(interval, int | float) else None,
                    ),
                )
            )
        return [f for _, f in sorted(feeds, key=lambda p: (p[0], p[1].sensor_id))]

    def identity(self) -> dict[str, Any]:
        """What identifies the recording: its file's SHA-256 and size, its run and signer.

        ``chain_format`` and ``signing_key`` (the public key the recorder keeps in ``meta``) are
        copied as recorded; an older recording's unsigned ``audit_head`` too. The signed commit
        that covers a window is :func:`luchtwacht.evidence.chainstate.chain_state`'s.
        """
        files = []
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            if p.is_file() and (p == self.path or p.stat().st_size > 0):
                files.append({"name": p.name, "bytes": p.stat().st_size, "sha256": file_sha256(p)})
        node = self._json("node")
        recorded = ("chain_format", "signing_key", "audit_head")
        return {
            "files": files,
            "site": self.site_name,
            "fusion_node_id": node.get("fusion_node_id"),
            "scenario": self.meta.get("scenario"),
            "run_start": iso_time(self.span.start_s) if self.span.start_s is not None else None,
            "run_end": iso_time(self.span.end_s) if self.span.end_s is not None else None,
            "meta": {k: self.meta[k] for k in recorded if k in self.meta},
        }
