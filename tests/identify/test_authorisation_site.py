"""The site file's ``authorised`` and ``policy`` sections: the example, and errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from luchtwacht.site import SiteConfigError, load_site

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "site-ehvk.yaml"
T = 1781258400.0  # 2026-06-12T10:00:00Z


def test_the_examples_authorisation_block_is_valid_once_uncommented(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    head, sep, tail = text.partition("# authorised:\n")
    assert sep, "examples/site-ehvk.yaml documents no authorised: section"
    block, _, rest = tail.partition("\n\n")
    lines = [line[2:] for line in ("# authorised:\n" + block + "\n").splitlines(keepends=True)]
    (tmp_path / "site.yaml").write_text(head + "".join(lines) + "\n" + rest)
    site = load_site(tmp_path / "site.yaml")
    assert [e.name for e in site.authorised] == [
        "Runway inspection (Defensie)",
        "Volkel model flying club",
    ]
    auth = site.authorisations()
    assert auth.policy == "intruder"
    assert auth.check("1581F6ZZC44K00R8M3", None, T, 51.6564, 5.7087).authorised
    assert auth.check("1581F6ZZC44K00R8M3", None, T + 86400, 51.6564, 5.7087).reason == "expired"
    club = auth.check("ANY", "NLDz9y8x7w6v5u4t", T, 51.6564, 5.7087)
    assert not club.authorised and club.reason == "outside its area"
    assert auth.check("ANY", "NLDz9y8x7w6v5u4t", T, 51.658, 5.65).authorised


def test_without_the_sections_the_list_is_empty_and_unlisted_drones_are_intruders() -> None:
    site = load_site(EXAMPLE)
    assert site.authorised == [] and site.authorisations().policy == "intruder"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("authorised:\n  - {name: x}\n", r"bad\.yaml:3: authorised\.0.*uas_id, operator_id"),
        (
            "authorised:\n  - name: x\n    uas_id: S1\n    valid_to: soon\n",
            r"bad\.yaml:5: authorised\.0\.valid_to",
        ),
        ("policy: {cooperative_unlisted: ignore}\n", r"bad\.yaml:2: policy\.cooperative_unlisted"),
    ],
)
def test_errors_name_the_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: {lat: 51.6564, lon: 5.7087}\n" + text)
    with pytest.raises(SiteConfigError, match=where):
        load_site(bad)
