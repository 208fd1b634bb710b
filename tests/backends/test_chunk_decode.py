"""An OpenAI stream chunk's JSON read by the scanner alone is what json.loads reads (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuieval.backends.base import ServerError
from tuieval.backends.openai import _DONE, _decode_chunk

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_space = st.sampled_from(["", "", " ", "\t", "\n", "  \r\n"])


@settings(max_examples=400, deadline=None)
@given(value=_json, before=_space, after=_space, ascii_only=st.booleans(), tail=st.sampled_from(["", "", "x", "}", ",1"]))
def test_a_chunk_decodes_as_json_loads_does(value, before, after, ascii_only, tail) -> None:
    text = before + json.dumps(value, ensure_ascii=ascii_only) + after + tail
    try:
        want = json.loads(text)
    except ValueError:
        with pytest.raises(ServerError, match="invalid JSON"):
            _decode_chunk(text)
        return
    got = _decode_chunk(text)
    assert got == want and type(got) is type(want)


def test_done_with_spaces_and_what_is_not_json() -> None:
    assert _decode_chunk(" [DONE] ") is _DONE and _decode_chunk("[DONE]\t") is _DONE
    for bad in ("", " ", "{", '{"a":1', "data: {}", "NaNx", "[DONE"):
        with pytest.raises(ServerError, match="invalid JSON"):
            _decode_chunk(bad)
    # the whole value only: what json.loads refuses (trailing data) is refused here too
    with pytest.raises(ServerError):
        _decode_chunk('{"a":1}{"b":2}')
    assert _decode_chunk('{"a":1} ') == {"a": 1} and _decode_chunk(' {"a":[1,2.5,"\\u00e9"]}') == {"a": [1, 2.5, "é"]}
