"""Drone make and model from a track's identities, with the evidence in words.

Three kinds of evidence are read:

- an ANSI/CTA-2063-A serial number — a 4-character manufacturer code (assigned by ICAO), one
  length character (1..9, A=10 .. F=15) and the manufacturer's serial of that many characters,
  all digits or upper-case letters except O and I — from a Remote ID Basic ID (the track's UAS
  ID) or decoded by an RF detector from the drone's link;
- the radio protocol an RF detector fingerprinted (OcuSync, Lightbridge, ExpressLRS, ...);
- a SAPIENT classification sub-class (``DetectionReport.classification.sub_class``): the model
  an RF detector's fingerprint library names for the link ("DJI Mavic 3", "Mavic 3"), or only a
  type ("Rotary wing"), read by :func:`read_sub_class`.

Nothing here reads what the simulator knows: only the strings a real receiver would decode. A
Remote ID serial can be spoofed; the evidence names where each string came from, so an
operator can weigh it, and a serial and an RF link that name different makes are said to
disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Manufacturer codes, only those a public source states (ICAO's register is not public as a
# list; add codes here with their source):
# - 1581: DJI. DJI's Mobile SDK v5 reference, IUASRemoteIDManager: "The prefix 1581F means it
#   is a drone produced by DJI" (https://developer.dji.com/api-reference-v5/android-api/
#   Components/IUASRemoteIDManager/IUASRemoteIDManager.html).
# - 1596: Dronetag (add-on Remote ID modules): "Dronetag Remote ID devices use the SN starting
#   with 1596 (MFR Code of Dronetag)" (https://help.dronetag.com/knowledge-base/how-to-find-sn).
# - 1726: Auterion (Skynode flight computer): "the vehicle serial number in Remote ID is ...
#   Auterion's registered manufacturing code" with the example 17269123456789
#   (https://docs.auterion.com/auterion-os/remote-id/how-remote-id-works).
# The layout (code, length character, serial; no O or I) is from the Dronetag page above.
MANUFACTURER_CODES: Final[dict[str, tuple[str, bool]]] = {
    # code: (name, whether the name is the airframe's make)
    "1581": ("DJI", True),
    "1596": ("Dronetag", False),  # a Remote ID module fitted to any airframe
    "1726": ("Auterion", False),  # a flight computer fitted to other makers' airframes
}
_NOT_AIRFRAME: Final = {
    "1596": "an add-on Remote ID module: says nothing of the airframe",
    "1726": "a Skynode flight computer: the airframe is another maker's",
}

_SERIAL_CHARS: Final = frozenset("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")  # no O, no I
_LENGTH_CHARS: Final = "123456789ABCDEF"  # 1..15
SERIAL_MAX: Final = 20  # 4 + 1 + 15


@dataclass(frozen=True, slots=True)
class SerialReading:
    """An ANSI/CTA-2063-A serial number taken apart; ``problems`` empty when well formed."""

    serial: str
    code: str
    maker: str | None  # from :data:`MANUFACTURER_CODES`, None when the code is not there
    problems: tuple[str, ...]

    @property
    def well_formed(self) -> bool:
        """True when the serial follows CTA-2063-A's structure."""
        return not self.problems


def read_serial(text: str) -> SerialReading:
    """Take a serial number apart and say what is wrong with its structure, if anything."""
    s = text.strip()
    problems: list[str] = []
    bad = sorted({c for c in s if c not in _SERIAL_CHARS})
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        problems.append(f"characters {shown} are not allowed (digits, A-Z without O and I)")
    if len(s) < 6:
        problems.append(f"{len(s)} characters: too short for code, length and serial")
    elif len(s) > SERIAL_MAX:
        problems.append(f"{len(s)} characters: longer than {SERIAL_MAX}")
    if len(s) >= 5:
        length_char = s[4]
        if length_char not in _LENGTH_CHARS:
            problems.append(f"length character {length_char!r} is not 1-9 or A-F")
        else:
            declared = _LENGTH_CHARS.index(length_char) + 1
            actual = len(s) - 5
            if actual != declared and len(s) >= 6:
                problems.append(
                    f"length character {length_char} says {declared} characters, {actual} follow"
                )
    code = s[:4].upper()
    entry = MANUFACTURER_CODES.get(code)
    return SerialReading(s, code, entry[0] if entry else None, tuple(problems))


def looks_like_serial(text: str) -> bool:
    """Whether a UAS ID of unknown type is in serial-number form (not a registration or UUID).

    The track keeps the UAS ID but not the Basic ID's id type, so a Remote ID UAS ID is read as a
    serial only when its first five characters fit: four code characters and a length character.
    """
    s = text.strip()
    return (
        len(s) >= 6
        and all(c in _SERIAL_CHARS for c in s[:4])
        and s[4] in _LENGTH_CHARS
        and s[:4].upper() == s[:4]
    )


# Radio links an RF detector may name → (make, model family). Open hobby links name no make.
# Families are DJI's own link generations as its product specifications name them.
_PROPRIETARY: Final[tuple[tuple[re.Pattern[str], str, str | None], ...]] = (
    (re.compile(r"ocusync\s*(?:v|version\s*)?([1-4])|\bo([34])\b", re.I), "DJI", "OcuSync {}"),
    (re.compile(r"ocusync", re.I), "DJI", "OcuSync"),
    (re.compile(r"lightbridge", re.I), "DJI", "Lightbridge"),
    (re.compile(r"drone\s*id|\bdji\b", re.I), "DJI", None),
    (re.compile(r"sky\s*link|autel", re.I), "Autel", "SkyLink"),
    (re.compile(r"skydio", re.I), "Skydio", None),
    (re.compile(r"parrot", re.I), "Parrot", None),
)
_OPEN: Final = re.compile(
    r"expresslrs|\belrs\b|crossfire|\bcrsf\b|tracer|frsky|access|accst|spektrum|dsmx?|flysky"
    r"|afhds|ghost|mavlink|sik|openhd|wfb|wifibroadcast",
    re.I,
)


@dataclass(frozen=True, slots=True)
class LinkReading:
    """What a fingerprinted radio protocol says of the make: a make, or an open hobby link."""

    protocol: str
    make: str | None
    family: str | None
    open_link: bool


def read_protocol(protocol: str) -> LinkReading:
    """Which make (and link generation) a radio protocol points to, if any."""
    p = protocol.strip()
    for pattern, make, family in _PROPRIETARY:
        m = pattern.search(p)
        if m:
            gen = next((g for g in m.groups() if g), None) if m.groups() else None
            fam = family.format(gen) if family and "{}" in family else family
            return LinkReading(p, make, fam, False)
    return LinkReading(p, None, None, bool(_OPEN.search(p)))


# Makes a SAPIENT sub-class may name, and model families that name their make (each family as
# its maker's product pages name it). Matched as words, without regard to case.
_MAKES: Final = ("DJI", "Autel", "Parrot", "Skydio", "Yuneec")
_FAMILIES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\b(mavic|phantom|inspire|matrice|agras|avata|spark|neo|flip|mini \d)\b", re.I),
     "DJI"),
    (re.compile(r"\b(evo|dragonfish)\b", re.I), "Autel"),
    (re.compile(r"\b(anafi|bebop|disco)\b", re.I), "Parrot"),
    (re.compile(r"\b(skydio \w+|x10|x2)\b", re.I), "Skydio"),
    (re.compile(r"\b(typhoon|mantis)\b", re.I), "Yuneec"),
)  # fmt: skip
_TYPES: Final = re.compile(
    r"^(uav|uas|drone|rotary[ -]?wing|fixed[ -]?wing|multi[ -]?rotor|quad[ -]?copter|"
    r"hexa[ -]?copter|octo[ -]?copter|vtol|hybrid|helicopter|small|micro|mini|class \w+)$",
    re.I,
)


@dataclass(frozen=True, slots=True)
class SubClassReading:
    """What a SAPIENT sub-class path says: a make and a model, or only a type."""

    sub_class: str
    make: str | None
    model: str | None


def read_sub_class(sub_class: str) -> SubClassReading:
    """Read a sub-class path ("Rotary wing / DJI Mavic 3"): its make and model, if it names any.

    The deepest level that is not a mere type ("Rotary wing", "Quadcopter") is the model; its
    make is named in it ("DJI Mavic 3") or known from its family ("Mavic 3" is DJI's).
    """
    levels = [x.strip() for x in sub_class.split("/") if x.strip()]
    named = [x for x in levels if not _TYPES.match(x)]
    if not named:
        return SubClassReading(sub_class.strip(), None, None)
    name = named[-1]
    model: str | None = name
    make = next((m for m in _MAKES if re.search(rf"\b{m}\b", name, re.I)), None)
    if make is None:
        make = next((m for pat, m in _FAMILIES if pat.search(name)), None)
    if make is not None:  # "DJI Mavic 3" → model "Mavic 3"; a bare make names no model
        model = re.sub(rf"^\s*{make}\b[\s:-]*", "", name, flags=re.I).strip() or None
    return SubClassReading(sub_class.strip(), make, model)


@dataclass(frozen=True, slots=True)
class MakeModel:
    """A make (model family, model) with a confidence word and the evidence in words."""

    make: str | None
    family: str | None
    confidence: str  # "high", "medium" or "low"
    evidence: tuple[str, ...]
    model: str | None = None  # the model a SAPIENT sub-class named, e.g. "Mavic 3"

    @property
    def label(self) -> str:
        """One line for a table: make, model (else link family) and confidence."""
        parts = [p for p in (self.make, self.model or self.family) if p] or ["make unknown"]
        return f"{' '.join(parts)} ({self.confidence})"


def identify_make(
    uas_id: str | None,
    rf_serial: str | None,
    rf_protocol: str | None,
    sub_class: str | None = None,
    sub_class_by: str | None = None,
) -> MakeModel | None:
    """Decide a make from a track's identities; None when there is no evidence at all.

    Confidence: "high" when a well-formed serial with a known code names the make, or two kinds
    of evidence (serial, proprietary link, SAPIENT sub-class) agree; "medium" on a proprietary
    link or a sub-class alone, or a malformed serial whose code is known; "low" when evidence
    disagrees or only an open hobby link was heard. ``sub_class_by`` names the sensor that
    reported ``sub_class``.
    """
    evidence: list[str] = []
    serial_makes: list[tuple[str, bool]] = []  # (make, well formed)
    sources = (("RF-decoded serial", rf_serial), ("Remote ID serial", uas_id))
    seen: set[str] = set()
    for source, text in sources:
        if not text or not text.strip() or text.strip() in seen:
            continue
        if source == "Remote ID serial" and not looks_like_serial(text):
            evidence.append(f"UAS ID {text.strip()[:24]} is not a CTA-2063-A serial")
            continue
        seen.add(text.strip())
        r = read_serial(text)
        head = f"{source} {r.serial[:5]}…" if len(r.serial) > 5 else f"{source} {r.serial}"
        if r.maker is None:
            evidence.append(f"{head}: manufacturer code {r.code} (not in the table)")
        elif r.code in _NOT_AIRFRAME:
            evidence.append(
                f"{head}: manufacturer code {r.code} = {r.maker}, {_NOT_AIRFRAME[r.code]}"
            )
        else:
            evidence.append(f"{head}: manufacturer code {r.code} = {r.maker} (CTA-2063-A)")
            serial_makes.append((r.maker, r.well_formed))
        if r.problems:
            evidence.append(f"{head} malformed: " + "; ".join(r.problems))
    link = read_protocol(rf_protocol) if rf_protocol and rf_protocol.strip() else None
    if link is not None:
        if link.make:
            evidence.append(f"RF link {link.protocol} heard: {link.make}'s own link")
        elif link.open_link:
            evidence.append(f"RF link {link.protocol} heard: an open hobby link, any make")
        else:
            evidence.append(f"RF link {link.protocol} heard: protocol not known to name a make")
    sub = read_sub_class(sub_class) if sub_class and sub_class.strip() else None
    if sub is not None:
        head = f"SAPIENT sub-class '{sub.sub_class[:40]}'"
        by = (sub_class_by or "").strip()[:40]
        head += f" from {by}" if by else ""
        if sub.make:
            what = f"{sub.make}'s {sub.model}" if sub.model else f"a {sub.make}"
            evidence.append(f"{head}: {what}")
        else:
            what = f"model {sub.model}, of no make known here" if sub.model else "a type"
            evidence.append(f"{head}: {what}, names no make")
    if not evidence:
        return None
    sub_make = {sub.make} if sub is not None and sub.make else set()
    link_make = {link.make} if link and link.make else set()
    makes = {m for m, _ in serial_makes} | link_make | sub_make
    family = link.family if link and link.make else None
    model = sub.model if sub is not None and sub.make else None
    if len(makes) > 1:
        evidence.append("the evidence disagrees: " + " vs ".join(sorted(makes)))
        return MakeModel(" or ".join(sorted(makes)), None, "low", tuple(evidence))
    if makes:
        make = next(iter(makes))
        good_serial = any(ok for _, ok in serial_makes)
        kinds = [k for k, hit in (("serial", serial_makes), ("RF link", link_make),
                                  ("sub-class", sub_make)) if hit]  # fmt: skip
        if good_serial or len(kinds) > 1:
            conf = "high"
            if len(kinds) > 1:
                evidence.append(" and ".join(kinds) + " agree")
        else:
            conf = "medium"
        return MakeModel(make, family, conf, tuple(evidence), model)
    # No make: an open hobby link says FPV or home-built; a module's or flight computer's code,
    # an unknown code or an unknown protocol say only that something is there.
    family = "FPV or home-built" if link is not None and link.open_link else None
    return MakeModel(None, family, "low", tuple(evidence), sub.model if sub is not None else None)
