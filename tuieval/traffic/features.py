"""The derived features `tuieval drift` compares, for a million prompts: one numpy pass per batch.

`derived_levels(texts)` gives, per text, the levels of DERIVED features (input-token bucket,
dominant script, has digits, non-ASCII name) — the values `tuieval.analysis.slices.derive_features`
gives (that function, and the one-text rules behind it, are the rule; a test holds the two equal
on fuzzed texts).  It is faster because it reads each character once instead of three times:

* the batch is joined and encoded once as UTF-16 (two bytes a character, half the memory traffic
  of UTF-32); one lookup in a per-code-point table gives every flag a character has (white space
  as `str.split` sees it, a `\\d` digit, an ASCII letter, a non-ASCII letter);
* only the non-ASCII characters are looked up in the script table; ASCII letters vote Latin by
  a count, so the common, mostly ASCII text costs no per-character script work;
* a text with a character above the BMP (an emoji: two UTF-16 units) is read by
  `derive_features` itself, which knows those ranges.

A non-ASCII name (`slices.has_non_ascii_name`: a capitalised word with a non-ASCII letter that
does not open the text or a sentence) is looked for only in texts that have a non-ASCII letter, by
one regex that holds the whole rule — the word and what the eight characters before it may be —
so a word that is not a name costs no Python step (`_name_pattern`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Sequence

import numpy as np

from tuieval.analysis import slices as _sl

#: DERIVED feature names, in the order of the tuples `derived_levels` returns
KEYS = ("input_tokens", "script", "has_digits", "non_ascii_name")

_SPACE, _DIGIT, _ASCII_LETTER, _NON_ASCII_LETTER = 1, 2, 4, 8
#: characters per numpy pass (the temporaries stay a few MB whatever the batch holds)
_CHUNK_UNITS = 1 << 20
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_TABLE: np.ndarray | None = None


def _table() -> np.ndarray:
    """Per BMP code point: the flag bits above, built from the slices tables (one rule for each)."""
    global _TABLE
    if _TABLE is None:
        old = _sl._flag_table()   # space, digit, non-ASCII letter, by the one-text rules
        t = np.zeros(0x10000, dtype=np.uint8)
        t[(old & _sl._FLAG_SPACE) > 0] |= _SPACE
        t[(old & _sl._FLAG_DIGIT) > 0] |= _DIGIT
        t[(old & _sl._FLAG_NON_ASCII_LETTER) > 0] |= _NON_ASCII_LETTER
        t[ord("A"): ord("Z") + 1] |= _ASCII_LETTER
        t[ord("a"): ord("z") + 1] |= _ASCII_LETTER
        _TABLE = t
    return _TABLE


#: the levels each feature can take, in code order (a text's code packs one index of each)
BUCKETS = ("short", "medium", "long")
SCRIPTS = tuple(_sl._SCRIPTS) + ("cjk", "japanese", "korean", "none")
_SCRIPT_CODE = {s: i for i, s in enumerate(SCRIPTS)}
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
    whether it has a non-ASCII name (None reads as "")."""
    texts = [t or "" for t in texts]
    n = len(texts)
    cols = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    plain: list[int] = []     # texts with a character above the BMP: the slices batch reads them
    # chunks of about _CHUNK_UNITS characters (a text longer than that is a chunk of its own)
    cuts = np.searchsorted(np.cumsum(lens), np.arange(_CHUNK_UNITS, int(lens.sum()) + 1, _CHUNK_UNITS), side="right")
    bounds = sorted({0, n, *cuts.tolist()})
    for start, end in zip(bounds, bounds[1:]):
        _chunk(texts, lens, start, end, cols, plain)
    if plain:
        d = _sl.derive_features([texts[i] for i in plain])
        cols[0][plain] = d["input_tokens_estimate"]
        cols[1][plain] = [_SCRIPT_CODE[v] for v in d["script"]]
        cols[2][plain] = d["has_digits"]
        cols[3][plain] = d["non_ascii_name"]
    return cols


def _chunk(texts: list[str], all_lens: np.ndarray, start: int, end: int, cols: tuple, plain: list[int]) -> None:
    sub = texts[start:end]
    lens = all_lens[start:end]
    where = np.arange(start, end)
    joined = "".join(sub)
    units = np.frombuffer(joined.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    if units.size != len(joined):
        # a character above the BMP takes two units: set those texts aside, read the rest
        astral = np.fromiter((_ASTRAL.search(t) is not None for t in sub), dtype=bool, count=len(sub))
        plain.extend(where[astral].tolist())
        keep = np.flatnonzero(~astral)
        if not keep.size:
            return
        sub = [sub[i] for i in keep.tolist()]
        lens, where = lens[keep], where[keep]
        joined = "".join(sub)
        units = np.frombuffer(joined.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    n = len(sub)
    ends = np.cumsum(lens)
    offsets = ends - lens
    nonempty = lens > 0
    at = offsets[nonempty]   # reduceat over an empty text would read its neighbour
    words = np.zeros(n, dtype=np.int64)
    any_flags = np.zeros(n, dtype=np.uint8)
    ascii_letters = np.zeros(n, dtype=np.int64)
    S = len(_sl._SCRIPTS)
    counts = np.zeros((n, S), dtype=np.int64)
    letter_at = np.zeros(0, dtype=np.int64)
    if at.size:
        u = units
        # ASCII characters by comparisons (vectorised, ~10x cheaper than a table lookup per
        # character); the few others by the table. uint16 arithmetic wraps, so `u - 9 <= 4` is 9..13
        space = (u == 32) | ((u - np.uint16(9)) <= 4) | ((u - np.uint16(28)) <= 3)
        letter = ((u | np.uint16(32)) - np.uint16(97)) <= 25
        f = space.view(np.uint8) | (((u - np.uint16(48)) <= 9).view(np.uint8) << 1) | (letter.view(np.uint8) << 2)
        high = np.flatnonzero(u >= 0x80)
        if high.size:
            hu = u[high]
            fh = _table()[hu]
            f[high] = fh
            letter_at = high[(fh & _NON_ASCII_LETTER) > 0]
        sp = f & _SPACE
        # a word starts at a non-space character that opens its text or follows a space
        begins = np.empty(units.size, dtype=np.uint8)
        begins[0] = 1
        begins[1:] = sp[:-1]
        begins[at] = 1
        words[nonempty] = np.add.reduceat(begins & (sp ^ _SPACE), at, dtype=np.int64)
        any_flags[nonempty] = np.bitwise_or.reduceat(f, at)
        ascii_letters[nonempty] = np.add.reduceat(letter.view(np.uint8), at, dtype=np.int64)
        if high.size:
            lab = _sl._LUT[hu]
            vote = lab >= 0
            tid = np.searchsorted(ends, high[vote], side="right")
            counts += np.bincount(tid * S + lab[vote], minlength=n * S).reshape(n, S)
    # ASCII letters vote Latin (the only script they vote for in the slices table)
    counts[:, _sl._SCRIPT_ID["latin"]] += ascii_letters
    cjk = counts[:, _sl._CJK_IDS].sum(axis=1)
    cols[0][where] = _sl._token_estimates(lens, cjk, words)
    cols[1][where] = np.fromiter(map(_SCRIPT_CODE.__getitem__, _sl._script_labels(counts)), dtype=np.int64, count=n)
    cols[2][where] = (any_flags & _DIGIT) > 0
    cols[3][where] = _names(sub, (any_flags & _NON_ASCII_LETTER) > 0, lens, offsets, letter_at)


_NAME: re.Pattern[str] | None = None


def _name_pattern() -> re.Pattern[str]:
    """A capitalised word with a non-ASCII letter (`slices._non_ascii_capitalised_bmp`, for texts
    within the BMP) that does not start a sentence, by `slices._is_name`'s look at the eight
    characters before it: there, the last character that is not white space exists, is not one
    of `.!?:;`, and no newline follows it.  Look-behinds must have a fixed width, so there is one
    for each count (0-7) of the white space between that character and the word.  (The all-caps
    test stays in Python: it is one `str.isupper` of a word that matched.)"""
    global _NAME
    if _NAME is None:
        upper = _sl._upper_class(0x10000)
        ctx = "|".join(rf"(?<=[^\s.!?:;][^\S\n]{{{k}}}.)" for k in range(8))
        _NAME = re.compile(rf"[A-Z{upper}](?<![^\W\d_].)(?:{ctx})"
                           rf"(?:(?<=[{upper}])|[A-Za-z]*[^\W\d_\x00-\x7f])[^\W\d_]*", re.DOTALL)
    return _NAME


def _names(sub: list[str], letters: np.ndarray, lens: np.ndarray, offsets: np.ndarray,
           letter_at: np.ndarray) -> np.ndarray:
    """`has_non_ascii_name` of each text of a chunk within the BMP; `letters`: whether it has a
    non-ASCII letter; `letter_at`: where the chunk's non-ASCII letters are (sorted)."""
    out = np.zeros(len(sub), dtype=bool)
    rx = _name_pattern()
    long_ = lens > _sl._LONG_TEXT
    short = np.flatnonzero(letters & ~long_).tolist()
    if short:
        # short texts: one scan of them joined by newlines (a newline is not a letter and ends a
        # sentence, so no match crosses a text or takes its neighbour's end for context)
        joined = "\n".join([sub[i] for i in short])
        starts = (np.cumsum(lens[short] + 1) - (lens[short] + 1)).tolist()
        pos, size = 0, len(joined)
        search = rx.search
        while pos < size:
            m = search(joined, pos)
            if m is None:
                break
            k = bisect_right(starts, m.start()) - 1
            w = m.group()
            if len(w) > 1 and w.isupper():   # an acronym
                pos = m.end()
                continue
            out[short[k]] = True
            pos = starts[k + 1] if k + 1 < len(starts) else size   # the next text
    # long texts: only the words around their non-ASCII letters (a regex over a long, mostly
    # ASCII document would cost more than the rest of its features)
    match = rx.match
    for i in np.flatnonzero(letters & long_).tolist():
        t, o = sub[i], int(offsets[i])
        lo, hi = np.searchsorted(letter_at, [o, o + int(lens[i])]).tolist()
        done = 0
        for j in (letter_at[lo:hi] - o).tolist():
            if j < done:
                continue
            while j > 0 and _sl._LETTER.match(t, j - 1):
                j -= 1   # back to the start of the word
            m = match(t, j)
            if m is not None:
                w = m.group()
                if not (len(w) > 1 and w.isupper()):
                    out[i] = True
                    break
                done = m.end()
            else:
                done = _sl._LETTERS.match(t, j).end()
    return out
