"""The derived slice features of many texts in one numpy pass (what `slices.derive_features` returns).

The rules are the one-text functions of `tuieval.analysis.slices` (`estimate_tokens`,
`detect_script`, `has_digits`, `has_non_ascii_name`); this is a faster way to apply them to a
batch, held to them text for text by fuzz tests (tests/unit/test_derived_batch.py,
tests/traffic/test_drift_fast.py). It reads each character once:

* a chunk of texts is joined and encoded once as UTF-16 (two bytes a character); one lookup of
  each code unit in a per-code-point table of flag bits (white space as `str.split` sees it, a
  `\\d` digit, an ASCII letter, a non-ASCII letter) gives everything but the script. (A lookup
  indexed by 16-bit units is one pass; UTF-32 needed a clamp and a 64-bit index array first, and
  was three times slower.)
* words, flags and ASCII letters per text are sums over each text's units (`reduceat`), in 16 bits
  when no text of the chunk is long enough to overflow them (a 64-bit accumulator costs a cast of
  every unit);
* only the non-ASCII units are looked up in the script table; ASCII letters vote Latin by count;
* a text with a character above the BMP (two UTF-16 units) is read by the older batch,
  `slices._derive_features`, which knows those ranges.

A non-ASCII name is looked for only in texts with a non-ASCII letter, by one regex that holds the
whole rule: the capitalised word and what the eight characters before it may be (`_name_pattern`).
`tuieval drift` reads traffic prompts with the same pass (`tuieval.traffic.features`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Sequence

import numpy as np

from tuieval.analysis import slices as _sl

_SPACE, _DIGIT, _ASCII_LETTER, _NON_ASCII_LETTER = 1, 2, 4, 8
#: characters per numpy pass (the temporaries stay a few MB whatever the batch holds)
CHUNK_UNITS = 1 << 20
#: the longest text whose per-text sums may be taken in 16 bits: its ASCII-letter bits (4 each)
#: and its word starts stay below 2**16
_SHORT_SUMS = (1 << 16) // _ASCII_LETTER - 1
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_TABLE: np.ndarray | None = None

#: script labels, in code order: the scripts of the slices table, then the labels `_script_labels`
#: gives for East Asian texts and for texts without letters
SCRIPTS = tuple(_sl._SCRIPTS) + ("cjk", "japanese", "korean", "none")
_SCRIPT_CODE = {s: i for i, s in enumerate(SCRIPTS)}


#: the table's first 256 entries, built alone: text below U+0100 (most suites') needs no more, and
#: the whole table (two BMP-wide regex passes) cost a small run's end about 25 ms
_LATIN1_TABLE: np.ndarray | None = None


def _build_table(old: np.ndarray) -> np.ndarray:
    """Our flag bits from the slices table `old` (space, digit, non-ASCII letter: the one-text rules)."""
    t = np.zeros(old.size, dtype=np.uint8)
    t[(old & _sl._FLAG_SPACE) > 0] |= _SPACE
    t[(old & _sl._FLAG_DIGIT) > 0] |= _DIGIT
    t[(old & _sl._FLAG_NON_ASCII_LETTER) > 0] |= _NON_ASCII_LETTER
    t[ord("A"): ord("Z") + 1] |= _ASCII_LETTER
    t[ord("a"): ord("z") + 1] |= _ASCII_LETTER
    return t


def _table(units: np.ndarray | None = None) -> np.ndarray:
    """Per BMP code point: the flag bits above, built from the slices tables (one rule for each);
    the Latin-1 part alone while no `units` (UTF-16) reach above U+00FF and the whole is not built."""
    global _TABLE, _LATIN1_TABLE
    if _TABLE is None and units is not None and (not units.size or int(units.max()) < 0x100):
        if _LATIN1_TABLE is None:
            _LATIN1_TABLE = _build_table(_sl._flags_below(0x100))
        return _LATIN1_TABLE
    if _TABLE is None:
        _TABLE = _build_table(_sl._flag_table())
    return _TABLE


def derived_columns(texts: Sequence[str], chunk_units: int | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per text: its estimated tokens, its script (an index in SCRIPTS), whether it has a digit,
    whether it has a non-ASCII name (None reads as ""). `chunk_units`: characters per pass."""
    size = chunk_units or CHUNK_UNITS
    texts = [t or "" for t in texts]
    n = len(texts)
    cols = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    plain: list[int] = []     # texts with a character above the BMP: the older batch reads them
    # chunks of about `size` characters (a text longer than that is a chunk of its own)
    cuts = np.searchsorted(np.cumsum(lens), np.arange(size, int(lens.sum()) + 1, size), side="right")
    bounds = sorted({0, n, *cuts.tolist()})
    for start, end in zip(bounds, bounds[1:]):
        _chunk(texts, lens, start, end, cols, plain)
    if plain:
        d = _sl._derive_features([texts[i] for i in plain])
        cols[0][plain] = d["input_tokens_estimate"]
        cols[1][plain] = [_SCRIPT_CODE[v] for v in d["script"]]
        cols[2][plain] = d["has_digits"]
        cols[3][plain] = d["non_ascii_name"]
    return cols


def _sums(values: np.ndarray, at: np.ndarray, short: bool) -> np.ndarray:
    """Each text's sum of `values` (uint8, texts starting at `at`), in 16 bits when `short`."""
    return np.add.reduceat(values, at, dtype=np.uint16 if short else np.int64)


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
        short = bool(lens.max() <= _SHORT_SUMS)
        f = _table(units)[units]
        sp = f & _SPACE
        # a word starts at a non-space character that opens its text or follows a space
        begins = np.empty(units.size, dtype=np.uint8)
        begins[0] = 1
        begins[1:] = sp[:-1]
        begins[at] = 1
        begins &= sp ^ _SPACE
        words[nonempty] = _sums(begins, at, short)
        any_flags[nonempty] = np.bitwise_or.reduceat(f, at)
        ascii_letters[nonempty] = _sums(f & _ASCII_LETTER, at, short) // _ASCII_LETTER
        high = np.flatnonzero(units >= 0x80)
        if high.size:
            hu = units[high]
            letter_at = high[(f[high] & _NON_ASCII_LETTER) > 0]
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
