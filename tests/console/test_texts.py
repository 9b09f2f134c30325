"""The node's sentences: one catalogue, recognised again from the text, translated in the page."""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luchtwacht.texts import TEMPLATES, fields, recognise, say

I18N = Path(__file__).resolve().parents[2] / "web" / "src" / "i18n.js"


def _node_texts(language: str) -> dict[str, str]:
    """The page's translations of the node's templates (``NODE_TEXTS.<language>`` in i18n.js)."""
    source = I18N.read_text(encoding="utf-8")
    block = re.search(
        r"export const NODE_TEXTS = \{\n  " + language + r": \{\n(.*?)\n  \},", source, re.S
    )
    assert block is not None, f"no NODE_TEXTS.{language} in {I18N}"
    return dict(re.findall(r'^\s+"([\w.]+)": "((?:[^"\\]|\\.)*)",$', block.group(1), re.M))


def test_every_template_has_a_dutch_translation_with_the_same_fields() -> None:
    nl = _node_texts("nl")
    assert set(nl) == set(TEMPLATES), f"only in one: {set(nl) ^ set(TEMPLATES)}"
    for code, template in TEMPLATES.items():
        assert sorted(fields(template)) == sorted(re.findall(r"\{(\w+)\}", nl[code])), code


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_each_sentence_is_recognised_as_the_template_and_fields_it_was_made_from(code: str) -> None:
    args = {name: f"{name} value {k}" for k, name in enumerate(fields(TEMPLATES[code]))}
    text = say(code, **args)
    assert recognise(text) == (code, args)


_value = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s
)


@given(code=st.sampled_from(sorted(TEMPLATES)), data=st.data())
def test_any_field_values_give_a_sentence_of_that_template(code: str, data: st.DataObject) -> None:
    names = fields(TEMPLATES[code])
    args = {n: data.draw(_value, label=n) for n in names}
    found = recognise(say(code, **args))
    assert found is not None
    # Values that themselves contain the template's words may split differently, but the
    # sentence always reads back as the same template when put together again.
    got_code, got_args = found
    assert say(got_code, **got_args) == say(code, **args)


def test_a_missing_or_surplus_field_is_a_defect_and_other_text_is_not_recognised() -> None:
    with pytest.raises(ValueError, match="fields"):
        say("opt.busy")
    with pytest.raises(ValueError, match="fields"):
        say("opt.empty", n=1)
    with pytest.raises(KeyError):
        say("no.such.code")
    assert recognise("something the node never says") is None


def test_the_node_writes_its_sentences_from_the_catalogue() -> None:
    """Alert messages and option blocks as the node makes them are recognised."""
    from luchtwacht.counter.authority import UNKNOWN_OR_WRONG
    from luchtwacht.node.approval import EXPIRED, SAME_PERSON

    for text in (UNKNOWN_OR_WRONG, EXPIRED, SAME_PERSON):
        assert recognise(text) is not None, text
