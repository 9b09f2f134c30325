"""Every sentence the node writes for people, by code: one catalogue, English here.

Alert messages, why an option is blocked, the classifier's reasons and why a command was
refused are written in English by the node (and stored so in recordings). The operator console
shows them in the operator's language: it fetches these templates (``GET /api/texts``), finds
the one an English sentence was made from, and fills in its own translation of that code
(``web/src/i18n.js``, ``node.<code>``) with the same parameters. Sentences made here with
:func:`say` are therefore always recognised, in live pictures and in replays of old recordings.

Templates hold plain ``{name}`` fields only (no format specs): callers pass values already
rounded as they should read. Parameter values that are words of the node's vocabulary (a class,
an effector kind, a state, a permission) are translated by the console too.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

_TEMPLATES: dict[str, str] = {
    # --- alerts (threat/alerts.py) ----------------------------------------------------------
    "alert.breach_coop": "Track {track}: cooperative drone {uas} inside {zone} at {height} m",
    "alert.breach": "Track {track}: non-cooperative drone inside {zone} at {height} m",
    "alert.approach_coop": (
        "Track {track}: cooperative drone {uas} predicted to enter {zone} in {s} s"
    ),
    "alert.approach": "Track {track}: non-cooperative drone predicted to enter {zone} in {s} s",
    "alert.breach_unauth": (
        "Track {track}: unauthorised Remote ID drone {uas} inside {zone} at {height} m"
    ),
    "alert.approach_unauth": (
        "Track {track}: unauthorised Remote ID drone {uas} predicted to enter {zone} in {s} s"
    ),
    "alert.swarm_approach": "Swarm {swarm}: {n} drones predicted to enter {zone} in {s} s",
    "alert.swarm_breach": "Swarm {swarm}: {n} drones, {k} of them inside {zone}",
    # Remote ID spoofing and inconsistency (identify/spoofing.py)
    "alert.spoof_unseen": (
        "Remote ID {uas}: claimed position not seen by the radar for {s} s, no independent track"
    ),
    "alert.spoof_unseen_near": (
        "Remote ID {uas}: claimed position not seen by the radar for {s} s;"
        " nearest independent track {track} is {dist} m away"
    ),
    "alert.spoof_far": (
        "Track {track}: its Remote ID {uas} claims a position {dist} m away, for {s} s"
    ),
    # --- countermeasure options: blocks, safety interlocks, warnings (counter/recommend.py) ---
    "opt.offline": "effector node offline",
    "opt.empty": "magazine empty",
    "opt.busy": "busy with engagement {eng}",
    "opt.out_of_reach": "out of reach within {s} s",
    "opt.min_range": "inside its minimum range",
    "opt.line_of_fire": "track {track} in the line of fire",
    "opt.gnss_manned": "manned aircraft {icao} within GNSS jamming range",
    "opt.gnss_manned_track": "manned aircraft track {track} within GNSS jamming range",
    "opt.jam_coop": "would also jam cooperative drone {uas}",
    "opt.jam_coop_track": "would also jam cooperative drone track {track}",
    "opt.debris": "debris would fall in no-fire area {area}",
    "opt.net_no_fire": "net would come down in no-fire area {area}",
    "opt.no_link": "no control link heard by the RF detectors: autonomous?",
    "opt.fingerprinted": "link fingerprinted: {protocol}",
    "opt.band": "link at {mhz} MHz is outside its bands",
    "opt.no_effect": "{kind} had no effect on this track before",
    # --- why a recommendation is made now (counter/recommend.py why_now) ---------------------
    "rec.inside": "inside {zone}",
    "rec.due": "breach in {s} s; {effector} needs {effect} s + {react} s to approve",
    "rec.no_option": "breach in {s} s; no usable option yet",
    # --- the classifier's reasons (identify/classify.py) -----------------------------------
    "reason.remoteid": "broadcasts Remote ID",
    "reason.adsb": "Mode S / ADS-B transponder",
    "reason.rf": "RF link {protocol} heard",
    "reason.sensors_report": "sensors report {cls} rather than {cls2}",
    "reason.sensors_lean": "sensors lean to {cls}",
    "reason.hover": "hovers, {height} m above the site",
    "reason.hover_like": "hovers, {height} m above the site: flies like {a_cls}",
    "reason.hover_more": "hovers, {height} m above the site: more like {a_cls}",
    "reason.speed": "{speed} m/s, {height} m above the site",
    "reason.speed_like": "{speed} m/s, {height} m above the site: flies like {a_cls}",
    "reason.speed_more": "{speed} m/s, {height} m above the site: more like {a_cls}",
    "reason.hovered": "hovered {s} s",
    "reason.flown": "flew {s} s: not clutter",
    "reason.flies_with": "flies with {n} others at {speed} m/s",
    "reason.climbs": "climbs {rate} m/s",
    "reason.descends": "descends {rate} m/s",
    "reason.steady": "held course and speed for {s} s",
    "reason.weaves": "weaves, turning {turn}°/s",
    # --- commands refused (node/core.py, counter/, node/approval.py) ------------------------
    "err.queue_full": "too many commands waiting: try again",
    "err.no_camera": "no camera {camera} to cue",
    "err.no_track": "no track {track}",
    "err.no_effectors": "no effectors on this site",
    "err.not_pending": "recommendation {rec} is not pending",
    "err.no_option": "recommendation {rec} has no option {effector}",
    "err.cannot_engage": "{effector} cannot engage: {blocks}",
    "err.track_gone": "track {track} is no longer held",
    "err.friend": "track {track} is a friend now: not engaged",
    "err.not_active": "engagement {eng} is not active",
    "err.no_rec": "no recommendation {rec}",
    "err.rec_state": "recommendation {rec} is {state}",
    "err.awaits_second": (
        "recommendation {rec} already awaits a second approval ({effector}, approved by {by})"
    ),
    "err.too_many_held": "too many approvals awaiting confirmation",
    "err.none_held": "no approval of recommendation {rec} awaits confirmation",
    "err.other_effector": "recommendation {rec} awaits confirmation of {effector}, not {other}",
    "err.same_person": "the second approval must come from another person",
    "err.window_expired": "confirmation window expired",
    # --- logging in and sessions (counter/authority.py, console/server.py) ------------------
    "auth.wrong": "unknown user or wrong password",
    "auth.backed_off": "too many failed logins from this source; try again after {time}",
    "auth.disabled": "account disabled",
    "auth.unknown_session": "unknown session",
    "auth.expired": "session expired",
    "auth.role": "role {role} may not {permission}",
    "web.log_in": "log in first",
    "web.role": "your role may not {permission}",
    "web.session": "session unknown or expired: log in again",
    "web.csrf": "missing or wrong CSRF token",
    "web.no_track": "no track {track} in the picture",
    "web.no_picture": "no picture yet: the node has not published",
}

TEMPLATES: Mapping[str, str] = MappingProxyType(_TEMPLATES)


def fields(template: str) -> tuple[str, ...]:
    """The ``{name}`` fields of a template, in order."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def say(code: str, **args: object) -> str:
    """The English sentence ``code`` with ``args`` filled in; every field must be given.

    A code that is not in the catalogue or a missing or surplus field is a defect of the
    caller, not of the input: it raises (``KeyError``/``ValueError``) so tests catch it.
    """
    template = _TEMPLATES[code]
    names = fields(template)
    if set(names) != set(args):
        raise ValueError(f"text {code}: fields {sorted(names)}, given {sorted(args)}")
    return template.format(**{k: str(v) for k, v in args.items()})


def _pattern(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("^" + "".join(parts) + "$", re.DOTALL)


# The most specific templates (most literal text) are tried first.
_PATTERNS = sorted(
    ((code, _pattern(t)) for code, t in _TEMPLATES.items()),
    key=lambda cp: -len(re.sub(r"\{\w+\}", "", _TEMPLATES[cp[0]])),
)


@lru_cache(maxsize=4096)
def _recognise(text: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    for code, pattern in _PATTERNS:
        m = pattern.match(text)
        if m is not None:
            return code, tuple(m.groupdict().items())
    return None


def recognise(text: str) -> tuple[str, dict[str, str]] | None:
    """The code and fields an English sentence was made from, or None (not one of ours).

    What the console does in the browser, here for tests and for other consumers.
    """
    found = _recognise(text)
    return None if found is None else (found[0], dict(found[1]))
