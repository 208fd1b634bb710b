"""`json.dumps`'s text, from the json module's C encoder made once instead of once per call.

`json.dumps(value, ensure_ascii=False)` (or an encoder's `.encode`) builds the C encoder again on
every call and runs a few Python checks around it: for the small values a run writes per request
and per sample (the request body, the stored prompt, the scores), that is more than half the cost
of the call. `encoder()` makes the C encoder once with the same arguments `JSONEncoder.iterencode`
passes it, so the text is the same; where the C encoder is missing it is `JSONEncoder.encode`.

One difference, on purpose: no circular-reference check. A value that contains itself raises
RecursionError instead of ValueError. These encoders are for values built fresh for one row or
request (dicts of scalars and lists), which cannot contain themselves; and a check kept across
calls would outlive a failed call (the C encoder leaves the ids it was visiting in its table).
"""

from __future__ import annotations

import json
from json import encoder as _c
from typing import Any, Callable

__all__ = ["encoder"]


def encoder(*, ensure_ascii: bool = True, separators: tuple[str, str] | None = None) -> Callable[[Any], str]:
    """A function returning `json.dumps(value, ensure_ascii=..., separators=...)`'s text."""
    plain = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=separators, check_circular=False)
    if _c.c_make_encoder is None:  # a Python without the _json accelerator
        return plain.encode
    strings = _c.encode_basestring_ascii if ensure_ascii else _c.encode_basestring
    make = _c.c_make_encoder(None, plain.default, strings, None, plain.key_separator, plain.item_separator,
                             plain.sort_keys, plain.skipkeys, plain.allow_nan)
    join = "".join

    def encode(value: Any) -> str:
        return join(make(value, 0))

    return encode
