"""The whitelist: identities, validity window, area and the reasons a drone is not authorised."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from luchtwacht.identify.authorisation import Authorisations, AuthorisedEntry

T0 = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC).timestamp()
# A square around Volkel's runway midpoint, about 2 km across.
AREA = [(51.647, 5.695), (51.647, 5.722), (51.665, 5.722), (51.665, 5.695)]
IN, OUT = (51.6564, 5.7087), (51.70, 5.80)


def entry(**kw: object) -> AuthorisedEntry:
    return AuthorisedEntry.model_validate({"name": "Base survey", **kw})


def test_uas_id_anywhere_any_time() -> None:
    auth = Authorisations([entry(uas_id="1581F5FJD229V00QZ7")])
    v = auth.check("1581F5FJD229V00QZ7", None, T0, *OUT)
    assert v.authorised and v.entry == "Base survey"
    other = auth.check("1581F5FJD229V00QZ8", None, T0, *IN)
    assert not other.authorised and other.reason == "not listed" and other.entry is None


def test_operator_id_authorises_every_drone_of_that_operator() -> None:
    auth = Authorisations([entry(operator_id="NLD87astrdge12k8")])
    assert auth.check("ANY-SERIAL", "NLD87astrdge12k8", T0, *IN).authorised
    assert not auth.check("ANY-SERIAL", "NLDz9y8x7w6v5u4t", T0, *IN).authorised
    assert not auth.check("ANY-SERIAL", None, T0, *IN).authorised  # operator id not heard


def test_both_ids_must_match_when_both_are_listed() -> None:
    auth = Authorisations([entry(uas_id="S1", operator_id="OP1")])
    assert auth.check("S1", "OP1", T0, *IN).authorised
    assert auth.check("S1", "OP2", T0, *IN).reason == "not listed"
    assert auth.check("S2", "OP1", T0, *IN).reason == "not listed"


def test_validity_window() -> None:
    auth = Authorisations(
        [entry(uas_id="S1", valid_from="2026-06-12T08:00:00Z", valid_to="2026-06-12T10:00:00Z")]
    )
    assert auth.check("S1", None, T0 + 3600, *IN).authorised
    early = auth.check("S1", None, T0 - 1, *IN)
    assert not early.authorised and early.reason == "not yet valid"
    late = auth.check("S1", None, T0 + 2 * 3600 + 1, *IN)
    assert not late.authorised and late.reason == "expired" and late.entry == "Base survey"


def test_area() -> None:
    auth = Authorisations([entry(uas_id="S1", area=AREA)])
    assert auth.check("S1", None, T0, *IN).authorised
    out = auth.check("S1", None, T0, *OUT)
    assert not out.authorised and out.reason == "outside its area"


def test_a_second_entry_may_authorise_what_the_first_does_not() -> None:
    auth = Authorisations(
        [
            entry(uas_id="S1", valid_to="2026-01-01T00:00:00Z"),
            entry(name="Night survey", uas_id="S1", area=AREA),
        ]
    )
    v = auth.check("S1", None, T0, *IN)
    assert v.authorised and v.entry == "Night survey"
    assert auth.check("S1", None, T0, *OUT).reason == "expired"  # the first match's reason


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({}, "uas_id, operator_id or both"),
        ({"uas_id": "S1", "valid_from": "2026-06-12T08:00:00"}, "time zone"),
        (
            {"uas_id": "S1", "valid_from": "2026-06-12T08:00Z", "valid_to": "2026-06-12T07:00Z"},
            "after valid_from",
        ),
        ({"uas_id": "S1", "area": [(51.0, 5.0), (51.1, 5.1)]}, "at least 3"),
        ({"uas_id": "S1", "area": "somewhere"}, "area"),
    ],
)
def test_bad_entries_are_refused(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        entry(**fields)


def test_equal_lists_compare_equal() -> None:
    a = Authorisations([entry(uas_id="S1", area=AREA)], "tolerated")
    assert a == Authorisations([entry(uas_id="S1", area=AREA)], "tolerated")
    assert hash(a) == hash(Authorisations([entry(uas_id="S1", area=AREA)], "tolerated"))
    assert a != Authorisations([entry(uas_id="S1", area=AREA)])
    assert a != Authorisations([entry(uas_id="S2", area=AREA)], "tolerated")
