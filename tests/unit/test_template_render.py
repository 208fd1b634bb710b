"""A template rendered from its pieces (split once, kept) is what one re.sub over it gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuieval.suite import template as tpl

_VALUES = {"q": "What is 2+2?", "n": 4, "opts": ["a", "b"], "d": {"k": "v", "l": [1, {"m": None}]},
           "brace": "{{ q }}", "e": ""}

_literal = st.text(alphabet=st.sampled_from("ab {}\n é.$\\"), max_size=8)
_placeholder = st.builds(lambda pad1, path, pad2: "{{" + pad1 + path + pad2 + "}}",
                         st.sampled_from(["", " ", "  "]),
                         st.sampled_from(["q", "n", "opts", "opts.1", "d.k", "d.l.1.m", "d.l.0", "brace", "e",
                                          "missing", "d.nope", "opts.9"]),
                         st.sampled_from(["", " ", "\t"]))


def _outcome(render, text):
    try:
        return ("ok", render(text, _VALUES))
    except KeyError as exc:
        return ("KeyError", exc.args)


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(st.one_of(_literal, _placeholder), max_size=6))
def test_render_is_the_single_substitution(pieces):
    text = "".join(pieces)
    assert _outcome(tpl.render, text) == _outcome(tpl.render_plain, text)
    # and again, from the kept pieces
    assert _outcome(tpl.render, text) == _outcome(tpl.render_plain, text)


def test_by_hand():
    assert tpl.render("Say <<{{ q }}>>", _VALUES) == "Say <<What is 2+2?>>"
    assert tpl.render("{{n}}/{{ d.k }}/{{opts}}", _VALUES) == '4/v/["a", "b"]'
    assert tpl.render("no placeholder {", _VALUES) == "no placeholder {"
    assert tpl.render("{{ brace }}", _VALUES) == "{{ q }}"  # a value is not expanded again
    with pytest.raises(KeyError) as first_missing:
        tpl.render("{{ missing }} {{ d.nope }}", _VALUES)
    assert first_missing.value.args == ("missing",)


def test_many_distinct_texts_are_not_all_kept(monkeypatch):
    monkeypatch.setattr(tpl, "_SPLIT", {})
    for i in range(tpl._SPLIT_KEPT + 50):
        assert tpl.render(f"{i}: {{{{ q }}}}", _VALUES) == f"{i}: What is 2+2?"
    assert len(tpl._SPLIT) == tpl._SPLIT_KEPT
