"""tuieval.json_text.encoder gives json.dumps's text for every JSON value, whatever the options."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuieval.json_text import encoder

_OPTIONS = [
    {"ensure_ascii": False},
    {"ensure_ascii": True},
    {"ensure_ascii": False, "separators": (",", ":")},
    {"ensure_ascii": True, "separators": (",", ":")},
]

_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
            | st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from('"\\\n\t\x00\x7f\u2028é😀')))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


@pytest.mark.parametrize("options", _OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@settings(max_examples=150, deadline=None)
@given(value=_values)
def test_the_same_text_as_json_dumps(options, value):
    assert encoder(**options)(value) == json.dumps(value, **options)


def test_rows_as_the_engine_writes_them():
    encode = encoder(ensure_ascii=False)
    scores = {"regex": {"extracted": "tok1", "correct": True, "score": 1.0},
              "judge": {"extracted": None, "correct": None, "score": None, "pending": True}}
    assert encode(scores) == ('{"regex": {"extracted": "tok1", "correct": true, "score": 1.0}, '
                              '"judge": {"extracted": null, "correct": null, "score": null, "pending": true}}')
    prompt = [{"role": "system", "content": "Réponds « oui »"}, {"role": "user", "content": 'a "b"\n'}]
    assert encode(prompt) == ('[{"role": "system", "content": "Réponds « oui »"}, '
                              '{"role": "user", "content": "a \\"b\\"\\n"}]')
    assert encoder(ensure_ascii=False, separators=(",", ":"))({"t": 0.5, "n": [1, math.inf]}) == '{"t":0.5,"n":[1,Infinity]}'


def test_what_json_cannot_encode_raises_as_dumps_does():
    encode = encoder(ensure_ascii=False)
    with pytest.raises(TypeError):
        encode({"x": object()})
    with pytest.raises(TypeError):
        json.dumps({"x": object()})
    # a failed call leaves nothing behind: the next value encodes
    assert encode({"x": [1, 2]}) == '{"x": [1, 2]}'
