"""The derived features `tuieval drift` compares, for a million prompts: one numpy pass per batch.

`derived_levels(texts)` gives, per text, the levels of DERIVED features (input-token bucket,
dominant script, has digits, non-ASCII name) — the values `tuieval.analysis.slices.derive_features`
gives. Both read the texts with the same pass, `tuieval.analysis.derived_batch` (each character
read once from its UTF-16 unit, one regex holding the whole name rule); the one-text rules of
`tuieval.analysis.slices` are the rule, and fuzz tests hold the pass to them. Here the levels are
counted as small integer codes (`derived_codes`), one per combination of the four features.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tuieval.analysis import derived_batch as _batch
from tuieval.analysis import slices as _sl

#: DERIVED feature names, in the order of the tuples `derived_levels` returns
KEYS = ("input_tokens", "script", "has_digits", "non_ascii_name")

#: characters per numpy pass (the temporaries stay a few MB whatever the batch holds)
_CHUNK_UNITS = _batch.CHUNK_UNITS

#: the levels each feature can take, in code order (a text's code packs one index of each)
BUCKETS = ("short", "medium", "long")
SCRIPTS = _batch.SCRIPTS
#: every (bucket, script, has digits, non-ASCII name), indexed by code
LEVELS = tuple((b, s, d, n) for b in BUCKETS for s in SCRIPTS for d in (False, True) for n in (False, True))
_LEVEL_CODE = {lv: i for i, lv in enumerate(LEVELS)}


def derived_levels(texts: Sequence[str]) -> list[tuple]:
    """(input-token bucket, script, has digits, non-ASCII name) of each text (None reads as "")."""
    return [LEVELS[c] for c in derived_codes(texts).tolist()]


def derived_codes(texts: Sequence[str]) -> np.ndarray:
    """The index in LEVELS of each text's derived levels (None reads as "")."""
    est, script, digits, names = derived_columns(texts)
    bucket = (est > _sl.SHORT_MAX_TOKENS).astype(np.int64) + (est > _sl.MEDIUM_MAX_TOKENS)
    return ((bucket * len(SCRIPTS) + script) * 2 + digits) * 2 + names


def derived_columns(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per text: its estimated tokens, its script (an index in SCRIPTS), whether it has a digit,
    whether it has a non-ASCII name (None reads as ""): `derived_batch.derived_columns`."""
    return _batch.derived_columns(texts, _CHUNK_UNITS)
