"""Drone make and model from serials and radio protocols: the decoder, with its evidence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from luchtwacht.identify.make_model import (
    MANUFACTURER_CODES,
    SubClassReading,
    identify_make,
    looks_like_serial,
    read_protocol,
    read_serial,
    read_sub_class,
)

DJI = "1581F4XFC2190000A1B2"  # code 1581, length F = 15, 15 characters follow


def test_a_well_formed_dji_serial_names_dji_with_high_confidence() -> None:
    r = read_serial(DJI)
    assert (r.code, r.maker, r.problems) == ("1581", "DJI", ())
    mm = identify_make(DJI, None, None)
    assert mm is not None
    assert (mm.make, mm.confidence) == ("DJI", "high")
    assert mm.evidence == ("Remote ID serial 1581F…: manufacturer code 1581 = DJI (CTA-2063-A)",)
    assert mm.label == "DJI (high)"


def test_a_length_character_that_does_not_match_is_malformed_and_lowers_confidence() -> None:
    r = read_serial("1581F5FJD229V00QZ7")  # F says 15, 13 follow
    assert r.problems == ("length character F says 15 characters, 13 follow",)
    mm = identify_make(None, "1581F5FJD229V00QZ7", None)
    assert mm is not None and (mm.make, mm.confidence) == ("DJI", "medium")
    assert any("malformed: length character F says 15" in e for e in mm.evidence)
    assert read_serial("1581C123456789ABC").well_formed  # C = 12


def test_bad_characters_and_lengths_are_named() -> None:
    r = read_serial("1581FOI23456789ABCDE")  # O and I are not allowed
    assert any("'I' 'O'" in p for p in r.problems)
    assert any("not 1-9 or A-F" in p for p in read_serial("1581G123").problems)
    assert any("too short" in p for p in read_serial("1581").problems)
    assert any("longer than 20" in p for p in read_serial("1581F" + "1" * 16).problems)
    assert any("'f'" in p for p in read_serial("1581f4XFC2190000A1B2").problems)


def test_an_unknown_code_is_said_to_be_not_in_the_table() -> None:
    mm = identify_make(None, "ZZZZ3ABC", None)
    assert mm is not None and mm.make is None and mm.confidence == "low"
    assert mm.evidence == ("RF-decoded serial ZZZZ3…: manufacturer code ZZZZ (not in the table)",)
    assert "ZZZZ" not in MANUFACTURER_CODES


def test_a_module_makers_code_names_no_airframe_make() -> None:
    mm = identify_make("1596B12345678ABC", None, None)  # Dronetag: B = 11
    assert mm is not None and mm.make is None
    assert "Dronetag" in mm.evidence[0] and "says nothing of the airframe" in mm.evidence[0]


def test_a_remote_id_that_is_no_serial_is_not_read_as_one() -> None:
    assert not looks_like_serial("NLDx4t7wq2abc")
    assert not looks_like_serial("c0ffee00-1234-5678-9abc-def012345678")
    assert looks_like_serial(DJI)
    mm = identify_make("NLDx4t7wq2abc", None, None)
    assert mm is not None and mm.make is None
    assert mm.evidence == ("UAS ID NLDx4t7wq2abc is not a CTA-2063-A serial",)


def test_protocol_only_evidence() -> None:
    assert read_protocol("DJI OcuSync 2").family == "OcuSync 2"
    assert read_protocol("OcuSync 3.0").family == "OcuSync 3"
    assert read_protocol("Lightbridge 2").make == "DJI"
    assert read_protocol("Autel SkyLink").make == "Autel"
    mm = identify_make(None, None, "DJI OcuSync 2")
    assert mm is not None
    assert (mm.make, mm.family, mm.confidence) == ("DJI", "OcuSync 2", "medium")
    assert mm.evidence == ("RF link DJI OcuSync 2 heard: DJI's own link",)
    elrs = identify_make(None, None, "ExpressLRS")
    assert elrs is not None and elrs.make is None and elrs.family == "FPV or home-built"
    assert elrs.label == "FPV or home-built (low)"
    assert identify_make(None, None, "TBS Crossfire") is not None
    assert read_protocol("TBS Crossfire").open_link
    unknown = identify_make(None, None, "Zigbee")
    assert unknown is not None and unknown.evidence[0].endswith("not known to name a make")


def test_serial_and_protocol_agreeing_give_high_confidence() -> None:
    mm = identify_make("1581F5FJD229V00QZ7", None, "DJI OcuSync 2")  # malformed serial, but agree
    assert mm is not None
    assert (mm.make, mm.family, mm.confidence) == ("DJI", "OcuSync 2", "high")
    assert mm.evidence[-1] == "serial and RF link agree"
    assert mm.label == "DJI OcuSync 2 (high)"


def test_serial_and_protocol_disagreeing_give_low_confidence_and_both_makes() -> None:
    mm = identify_make(DJI, None, "Autel SkyLink")
    assert mm is not None
    assert (mm.make, mm.confidence) == ("Autel or DJI", "low")
    assert mm.evidence[-1] == "the evidence disagrees: Autel vs DJI"


def test_no_evidence_is_none_and_a_repeated_serial_is_read_once() -> None:
    assert identify_make(None, None, None) is None
    assert identify_make(" ", "", "  ") is None
    mm = identify_make(DJI, DJI, None)
    assert mm is not None and len(mm.evidence) == 1


@given(
    st.one_of(st.none(), st.text()),
    st.one_of(st.none(), st.text()),
    st.one_of(st.none(), st.text()),
)
def test_any_strings_never_raise(uas_id: str | None, serial: str | None, proto: str | None) -> None:
    mm = identify_make(uas_id, serial, proto)
    if mm is not None:
        assert mm.evidence and mm.confidence in ("high", "medium", "low")
        assert isinstance(mm.label, str)


@given(st.text())
def test_read_serial_never_raises(text: str) -> None:
    r = read_serial(text)
    assert r.well_formed == (not r.problems)


def test_the_picture_carries_make_and_evidence_for_rf_and_remote_id_drones() -> None:
    """jammed-intruder: an OcuSync link with a serial (RF detectors) and a Remote ID hobby drone."""
    from pathlib import Path

    from luchtwacht.model.track import TrackView
    from luchtwacht.pipeline import Pipeline
    from luchtwacht.sim.scenario_file import load_scenario_file

    root = Path(__file__).resolve().parents[2]
    pipe = Pipeline(load_scenario_file(root / "scenarios" / "jammed-intruder.yaml"))
    last: dict[str, TrackView] = {}

    def look(p: Pipeline) -> None:
        for v in p.views:
            if v.rf_serial or v.uas_id:
                last["rf" if v.rf_serial else "rid"] = v

    pipe.run(90.0, on_cycle=look)
    rf, rid = last["rf"], last["rid"]
    assert rf.rf_protocol == "DJI OcuSync 2" and rf.rf_serial == DJI
    assert rf.make_model == "DJI OcuSync 2 (high)"
    assert rf.make_evidence == (
        "RF-decoded serial 1581F…: manufacturer code 1581 = DJI (CTA-2063-A)",
        "RF link DJI OcuSync 2 heard: DJI's own link",
        "serial and RF link agree",
    )
    # The scenario's Remote ID serial has 13 characters where its length character says 15.
    assert rid.uas_id == "1581F5FJD229V00QZ7" and rid.make_model == "DJI (medium)"
    assert any("malformed" in e for e in rid.make_evidence)
    # The terminal's wide tracks table shows it in the Identity column.
    from rich.console import Console

    from luchtwacht.console.terminal import tracks_table

    con = Console(width=220, record=True)
    con.print(tracks_table(pipe.picture(pipe.utc(pipe.t_s))))
    text = con.export_text()
    assert f"RF {DJI} · DJI OcuSync 2 (high)" in text
    assert "RID 1581F5FJD229V00QZ7 · DJI (medium)" in text
    others = [v for v in pipe.views if not (v.rf_serial or v.uas_id or v.rf_protocol)]
    assert all(v.make_model is None and v.make_evidence == () for v in others)


def test_a_sapient_sub_class_names_make_and_model_with_its_source() -> None:
    assert read_sub_class("Rotary wing / DJI Mavic 3") == SubClassReading(
        "Rotary wing / DJI Mavic 3", "DJI", "Mavic 3"
    )
    assert read_sub_class("Mavic 3").make == "DJI"  # the family names its make
    assert read_sub_class("Anafi USA").make == "Parrot"
    assert read_sub_class("Rotary wing / Quadcopter") == SubClassReading(
        "Rotary wing / Quadcopter", None, None
    )
    mm = identify_make(None, None, None, "Rotary wing / DJI Mavic 3", "RF DF north-west")
    assert mm is not None
    assert (mm.make, mm.model, mm.confidence, mm.label) == (
        "DJI",
        "Mavic 3",
        "medium",
        "DJI Mavic 3 (medium)",
    )
    assert mm.evidence == (
        "SAPIENT sub-class 'Rotary wing / DJI Mavic 3' from RF DF north-west: DJI's Mavic 3",
    )


def test_a_sub_class_that_agrees_raises_confidence_and_one_that_disagrees_lowers_it() -> None:
    agree = identify_make(None, None, "DJI OcuSync 3", "DJI Mavic 3", "RF1")
    assert agree is not None and (agree.make, agree.confidence) == ("DJI", "high")
    assert agree.evidence[-1] == "RF link and sub-class agree"
    clash = identify_make(DJI, None, None, "Autel EVO II", "RF1")
    assert clash is not None and clash.confidence == "low" and clash.make == "Autel or DJI"
    assert clash.evidence[-1] == "the evidence disagrees: Autel vs DJI"
    kind = identify_make(None, None, None, "Rotary wing", None)
    assert kind is not None and kind.make is None and kind.confidence == "low"
    assert kind.evidence == ("SAPIENT sub-class 'Rotary wing': a type, names no make",)
