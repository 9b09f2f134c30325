"""Write docs/THIRD-PARTY.md: the licence of every package Luchtwacht needs at run time.

The table is generated, never hand-written, from the metadata of the installed distributions
(``importlib.metadata``): the runtime dependency closure of ``luchtwacht`` is walked through each
distribution's ``Requires-Dist``, with environment markers evaluated for this interpreter and
platform and extras followed where a requirement names them. Dev and bench extras and the test
peers (taky, asterix-decoder, in venvs of their own) are not in it; docs/licensing.md covers them.

Usage, from the repository root after ``make install-dev``::

    .venv/bin/python scripts/third_party.py            # rewrite docs/THIRD-PARTY.md
    .venv/bin/python scripts/third_party.py --check    # exit 1 if the committed file is stale

tests/test_third_party.py regenerates the table and compares it with the committed file, so a
changed pin in pyproject.toml without a regenerated table fails the suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata as metadata
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "THIRD-PARTY.md"

# A License field longer than this, or over several lines, is a full licence text pasted into
# the metadata (scipy, matplotlib, sapient-proto do this); the classifiers name it better.
_SHORT_LICENSE_CHARS = 60

# Project-URL labels taken as the homepage, best first; labels compared lower-case, alphanumerics
# only, as PEP 753 normalises them ("Source Code" -> "sourcecode").
_HOMEPAGE_LABELS = (
    "homepage",
    "home",
    "repository",
    "source",
    "sourcecode",
    "github",
    "githubrepo",
)


class MissingDistributionError(Exception):
    """A requirement of the closure is not installed, so its licence cannot be read."""

    def __init__(self, name: str, required_by: str) -> None:
        if required_by:
            super().__init__(f"{required_by} requires {name}, which is not installed here")
        else:
            super().__init__(f"{name} is not installed here")
        self.name = name
        self.required_by = required_by


@dataclasses.dataclass(frozen=True, slots=True)
class ThirdParty:
    """One installed distribution of the closure, as its own metadata describes it."""

    name: str  # as the distribution spells it (pyModeS, PyYAML)
    version: str
    licence: str  # SPDX expression, License field or classifiers, whichever it states first
    licence_from: str  # "License-Expression", "License" or "classifier", or "" if none
    homepage: str
    required_by: tuple[str, ...]  # canonical names of the closure members that require it


def _field(meta: metadata.PackageMetadata, name: str) -> str:
    """A single-valued metadata field, stripped, or "" when the distribution leaves it out."""
    values = meta.get_all(name) or []
    return str(values[0]).strip() if values else ""


def _licence(meta: metadata.PackageMetadata) -> tuple[str, str]:
    """The distribution's licence and the metadata field it came from (core metadata 2.4)."""
    expression = _field(meta, "License-Expression")
    if expression:
        return expression, "License-Expression"
    field = _field(meta, "License")
    if field and "\n" not in field and len(field) <= _SHORT_LICENSE_CHARS:
        return field, "License"
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    if classifiers:
        return "; ".join(classifiers), "classifier"
    if field:
        # A pasted text without classifiers: its first line is usually the licence's title.
        return field.splitlines()[0].strip(), "License"
    return "not stated", ""


def _homepage(meta: metadata.PackageMetadata) -> str:
    """The Home-page field, else the Project-URL whose label says homepage or source."""
    home = _field(meta, "Home-page")
    if home:
        return home
    urls: dict[str, str] = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls.setdefault(re.sub(r"[^a-z0-9]", "", label.lower()), url.strip())
    for label in _HOMEPAGE_LABELS:
        if label in urls:
            return urls[label]
    return next(iter(urls.values()), "")


def _requirements(
    dist: metadata.Distribution, extras: frozenset[str]
) -> Iterable[tuple[str, frozenset[str]]]:
    """The distribution's requirements that apply here, with the extras they ask for."""
    environments = [{"extra": extra} for extra in sorted(extras | {""})]
    for line in dist.requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"{dist.metadata['Name']}: bad Requires-Dist {line!r}: {exc}") from exc
        marker: Marker | None = req.marker
        if marker is None or any(marker.evaluate(env) for env in environments):
            yield req.name, frozenset(canonicalize_name(e) for e in req.extras)


def runtime_closure(root: str = "luchtwacht") -> list[ThirdParty]:
    """Every distribution ``root`` needs at run time (itself left out), sorted by name."""
    try:
        metadata.distribution(root)
    except metadata.PackageNotFoundError as exc:
        raise MissingDistributionError(root, "") from exc
    root_key = canonicalize_name(root)
    extras_seen: dict[str, frozenset[str]] = {}
    required_by: dict[str, set[str]] = {root_key: set()}
    dists: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, frozenset[str], str]] = [(root, frozenset(), "")]
    while todo:
        name, extras, parent = todo.pop()
        key = canonicalize_name(name)
        if parent:
            required_by.setdefault(key, set()).add(parent)
        # A distribution is walked again only when asked for with extras not walked before.
        if key in extras_seen and extras <= extras_seen[key]:
            continue
        try:
            dist = dists.get(key) or metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise MissingDistributionError(name, parent) from exc
        dists[key] = dist
        extras_seen[key] = extras_seen.get(key, frozenset()) | extras
        todo.extend(
            (child, child_extras, key) for child, child_extras in _requirements(dist, extras)
        )
    rows = []
    for member in sorted(dists):
        if member == root_key:
            continue
        meta = dists[member].metadata
        licence, licence_from = _licence(meta)
        rows.append(
            ThirdParty(
                name=meta["Name"],
                version=meta["Version"],
                licence=licence,
                licence_from=licence_from,
                homepage=_homepage(meta),
                required_by=tuple(sorted(required_by[member])),
            )
        )
    return rows


def copyleft(licence: str) -> str:
    """'strong' for GPL/AGPL, 'weak' for LGPL/MPL/EPL, '' for permissive (by the licence's name)."""
    text = licence.upper()
    if re.search(r"\bLGPL|LESSER GENERAL PUBLIC|\bMPL\b|MOZILLA PUBLIC|\bEPL\b|ECLIPSE", text):
        return "weak"
    if re.search(r"\bA?GPL|GENERAL PUBLIC LICENSE|\bGNU GPL", text):
        return "strong"
    return ""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", r"\|").replace("\n", " ")


def render(root: str, rows: list[ThirdParty]) -> str:
    """The Markdown document: how it was made, the copyleft members, then the table."""
    python = f"CPython {sys.version_info.major}.{sys.version_info.minor} on {sys.platform}"
    lines = [
        "# Third-party packages and their licences",
        "",
        "<!-- Generated by scripts/third_party.py from the installed packages' metadata;",
        "     do not edit. Regenerate: .venv/bin/python scripts/third_party.py -->",
        "",
        f"The runtime dependency closure of `{root}` ({len(rows)} distributions): what",
        "`pip install .` installs besides Luchtwacht itself (Apache-2.0, `LICENSE`), with",
        f"requirements' environment markers evaluated for {python}. Dev and bench extras",
        "and the test peers are not in it; `docs/licensing.md` says what these licences mean",
        "for a distribution of Luchtwacht.",
        "Licences are as each package's metadata states them (`License-Expression`, else",
        "`License`, else its trove classifiers); the column *from* says which.",
        "",
    ]
    strong = [r for r in rows if copyleft(r.licence) == "strong"]
    weak = [r for r in rows if copyleft(r.licence) == "weak"]
    lines.append("Copyleft in the closure:")
    lines.append("")
    for label, group in (("strong (GPL)", strong), ("weak (LGPL, MPL)", weak)):
        names = ", ".join(f"{r.name} {r.version} ({r.licence})" for r in group) or "none"
        lines.append(f"- {label}: {names}")
    lines += [
        "",
        "| Package | Version | Licence | from | Homepage | Required by |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = (
            r.name,
            r.version,
            r.licence,
            r.licence_from or "—",
            r.homepage or "—",
            ", ".join(r.required_by),
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the table; one line on stderr and exit 2 if it can't."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="file to write")
    parser.add_argument("--root", default="luchtwacht", help="distribution whose closure to list")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if --out differs from it"
    )
    args = parser.parse_args(argv)
    try:
        text = render(args.root, runtime_closure(args.root))
    except (MissingDistributionError, ValueError) as exc:
        print(f"third_party: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(
                f"third_party: {args.out} is stale; run .venv/bin/python scripts/third_party.py",
                file=sys.stderr,
            )
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"third_party: {len(text.splitlines())} lines written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
