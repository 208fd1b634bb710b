"""Slices: derived features of a case's input text, and automatic slice discovery (docs/statistics.md §8).

Derived features need no tokenizer or language model download:
  - `input_tokens`: estimated prompt length bucketed into short / medium / long;
  - `script`: the dominant writing system from Unicode code-point ranges;
  - `has_digits`: the input contains a digit;
  - `non_ascii_name`: a capitalised word with non-ASCII letters that does not start a
    sentence (José, Müller, Łukasz) — a heuristic, see `has_non_ascii_name`.

Slices that say something: a level holding every item is not a slice (it is the overall
line), and levels with the same members are one slice listed once, under the first
name in column order (metadata before derived features), with the others as
`aliases` (`distinct_levels`).

Discovery tests every (column = value) slice with enough support, then pairwise
conjunctions of unflagged slices, against its complement, controls the false discovery
rate over all tests, prunes nested findings and ranks what is left.  Each tested slice
also carries the minimum detectable effect of its test (`tuieval.analysis.power`), so a
slice that was not flagged can say whether the run could have seen a difference.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from tuieval.analysis.power import POWER, design_effect, slice_mde
from tuieval.analysis.stats import (benjamini_hochberg, benjamini_yekutieli, clustered_se, fisher_one_sided,
                                    newcombe_diff_ci, _welch_p)

# ---------------------------------------------------------------------------------------------
# Derived features
# ---------------------------------------------------------------------------------------------

# Token-length buckets (estimated tokens): most eval prompts are questions of a few dozen
# tokens; past ~512 the prompt carries a passage or context and models degrade differently.
SHORT_MAX_TOKENS = 64
MEDIUM_MAX_TOKENS = 512

# (first, last, script) code-point ranges, sorted by first code point.
_RANGES = [
    (0x0041, 0x005A, "latin"), (0x0061, 0x007A, "latin"), (0x00C0, 0x00D6, "latin"), (0x00D8, 0x00F6, "latin"),
    (0x00F8, 0x024F, "latin"),
    (0x0370, 0x03FF, "greek"), (0x0400, 0x052F, "cyrillic"), (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"),
    (0x08A0, 0x08FF, "arabic"), (0x0900, 0x097F, "devanagari"), (0x0980, 0x09FF, "bengali"),
    (0x0B80, 0x0BFF, "tamil"), (0x0E00, 0x0E7F, "thai"), (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"), (0x1E00, 0x1EFF, "latin"), (0x1F00, 0x1FFF, "greek"),
    (0x2000, 0x2BFF, "symbol"), (0x3000, 0x303F, "symbol"), (0x3040, 0x30FF, "kana"),
    (0x3130, 0x318F, "hangul"), (0x31F0, 0x31FF, "kana"), (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"),
    (0xAC00, 0xD7AF, "hangul"), (0xF900, 0xFAFF, "han"), (0xFB50, 0xFDFF, "arabic"),
    (0xFE00, 0xFE6F, "symbol"), (0xFE70, 0xFEFF, "arabic"), (0xFF00, 0xFFEF, "symbol"),
    (0x1F000, 0x1FFFF, "symbol"), (0x20000, 0x2A6DF, "han"),
]
_SCRIPTS = sorted({r[2] for r in _RANGES} | {"other"})
_SCRIPT_ID = {s: i for i, s in enumerate(_SCRIPTS)}
_STARTS = np.array([r[0] for r in _RANGES], dtype=np.int64)
_ENDS = np.array([r[1] for r in _RANGES], dtype=np.int64)
_LABEL = np.array([_SCRIPT_ID[r[2]] for r in _RANGES], dtype=np.int64)
_CJK_IDS = [_SCRIPT_ID["han"], _SCRIPT_ID["kana"], _SCRIPT_ID["hangul"]]


def _build_lut() -> np.ndarray:
    # script id of every BMP code point (-1 = votes for nothing), so that most texts are
    # classified by one table lookup per character instead of a range search
    lut = np.full(0x10000, -1, dtype=np.int16)
    lut[0x0370:] = _SCRIPT_ID["other"]
    for lo, hi, name in _RANGES:
        if lo < 0x10000:
            lut[lo: min(hi, 0xFFFF) + 1] = _SCRIPT_ID[name]
    return lut


_LUT = _build_lut()
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def _script_counts(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), n_scripts) counts of code points per script.

    Code points outside every range but above U+036F vote "other" (an unlisted script);
    ASCII digits, punctuation and symbol blocks vote for nothing.  Pure-ASCII texts (the
    common case) take a shortcut: their only script is Latin (count set to 1, since
    callers only need the dominant label and the CJK count).  The others are classified
    in chunked numpy passes (a lookup table for the BMP, a range search above it).
    """
    T = len(texts)
    S = len(_SCRIPTS)
    out = np.zeros((T, S), dtype=np.int64)
    latin = _SCRIPT_ID["latin"]
    rest = []
    for i, t in enumerate(texts):
        if t.isascii():
            if _ASCII_LETTER.search(t):
                out[i, latin] = 1  # only the label and the CJK count are used downstream
        else:
            rest.append(i)
    if not rest:
        return out
    # classify in chunks of ~256k characters so temporary arrays stay a few MB
    start = 0
    while start < len(rest):
        end, size = start, 0
        while end < len(rest) and (end == start or size + len(texts[rest[end]]) <= _CHUNK_CHARS):
            size += len(texts[rest[end]])
            end += 1
        idx = rest[start:end]
        out[np.asarray(idx)] = _count_chunk([texts[i] for i in idx])
        start = end
    return out


_CHUNK_CHARS = 1 << 18


def _count_chunk(sub: list[str]) -> np.ndarray:
    S = len(_SCRIPTS)
    lens = np.fromiter((len(t) for t in sub), dtype=np.int64, count=len(sub))
    # surrogatepass: a lone surrogate (a "\ud800" escape in a JSON log) is a code point like any other
    cp = np.frombuffer("".join(sub).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    tid = np.repeat(np.arange(len(sub), dtype=np.int32), lens)
    lab = _LUT[np.minimum(cp, 0xFFFF)]
    astral = np.flatnonzero(cp > 0xFFFF)
    if astral.size:
        c = cp[astral].astype(np.int64)
        r = np.searchsorted(_STARTS, c, side="right") - 1
        inside = (r >= 0) & (c <= _ENDS[np.maximum(r, 0)])
        lab[astral] = np.where(inside, _LABEL[np.maximum(r, 0)], _SCRIPT_ID["other"])
    # a code point that votes for nothing (-1) is counted in a column S dropped afterwards: the
    # same counts as leaving it out, without two boolean gathers of every code point
    col = np.where(lab >= 0, lab, S).astype(np.int64)
    flat = np.bincount(tid.astype(np.int64) * (S + 1) + col, minlength=len(sub) * (S + 1))
    return flat.reshape(len(sub), S + 1)[:, :S]


def _script_label(row: np.ndarray) -> str:
    """Dominant script of one text from its counts (see `_script_labels`)."""
    return _script_labels(row[None, :])[0]


def _script_labels(counts: np.ndarray) -> list[str]:
    """Dominant script of each text from its row of counts, all rows in one numpy pass.

    Han, kana and hangul are judged together: kana present → "japanese", more hangul
    than han → "korean", otherwise "cjk" (Chinese).  No letters at all → "none".
    """
    votes = counts.copy()
    votes[:, _SCRIPT_ID["symbol"]] = 0
    cjk = votes[:, _CJK_IDS].sum(axis=1)
    best = votes.argmax(axis=1)  # the first of equal maxima, as a row's argmax
    top = votes[np.arange(votes.shape[0]), best]
    labels = np.asarray(_SCRIPTS, dtype=object)[best]
    east = cjk >= top
    japanese = east & (votes[:, _SCRIPT_ID["kana"]] > 0)
    korean = east & ~japanese & (votes[:, _SCRIPT_ID["hangul"]] > votes[:, _SCRIPT_ID["han"]])
    labels[east] = "cjk"
    labels[japanese] = "japanese"
    labels[korean] = "korean"
    labels[votes.sum(axis=1) == 0] = "none"
    return labels.tolist()


def detect_script(text: str) -> str:
    """Dominant writing system of `text`: latin, cyrillic, greek, arabic, hebrew, devanagari,
    bengali, tamil, thai, georgian, armenian, cjk, japanese, korean, other or none."""
    return _script_label(_script_counts([text])[0])


def _token_estimate(n_chars: int, n_cjk: int, n_words: int) -> int:
    # English BPE (cl100k / o200k-like) averages ~4 characters and ~0.75 words per token.
    # Each alone misfires (code and long words break the words rule, numbers and
    # punctuation the characters rule), so average them.  CJK characters are ~1 token each.
    if n_chars == 0:
        return 0
    est = 0.5 * ((n_chars - n_cjk) / 4.0) + 0.5 * (n_words * 4.0 / 3.0) + n_cjk
    return max(1, int(round(est)))


def estimate_tokens(text: str) -> int:
    """Estimated input tokens without a tokenizer (≈ ±25% of a BPE count on English prose)."""
    # one text: a regex count of its CJK characters (built from the same ranges) costs far less
    # than a numpy pass, whose per-call overhead dominates for a single short text
    n_cjk = 0 if text.isascii() else len(_CJK_CHARS.findall(text))
    return _token_estimate(len(text), n_cjk, len(text.split()))


_CJK_CHARS = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi, name in _RANGES
                                      if name in ("han", "kana", "hangul")) + "]")


def token_bucket(n_tokens: int) -> str:
    """short (≤ 64 estimated tokens), medium (≤ 512) or long (> 512)."""
    if n_tokens <= SHORT_MAX_TOKENS:
        return "short"
    if n_tokens <= MEDIUM_MAX_TOKENS:
        return "medium"
    return "long"


_DIGIT = re.compile(r"\d")
# A word (a maximal run of letters) holding at least one non-ASCII letter and starting with an
# upper-case letter: the only words has_non_ascii_name looks at.  The lookbehind starts a match
# only where a word starts (no retry inside every word of a long text); a word that starts with
# an ASCII capital needs a non-ASCII letter further on, one that starts with a non-ASCII capital
# (Ł, Ж) is a match at once.  Lower-case words, the bulk of a Cyrillic or Greek text, are passed
# over inside the regex instead of one by one in Python.
_NON_ASCII_CAPITALISED: re.Pattern[str] | None = None


def _upper_class(end: int) -> str:
    """Every non-ASCII letter below `end` that str.isupper() calls upper case, as the ranges of a
    character class (the few upper-case characters are found first, then checked as letters)."""
    letter = re.compile(r"[^\W\d_]")
    ranges: list[list[int]] = []
    for c in filter(str.isupper, map(chr, range(0x80, end))):
        if letter.match(c):
            cp = ord(c)
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


def _non_ascii_capitalised() -> re.Pattern[str]:
    global _NON_ASCII_CAPITALISED
    if _NON_ASCII_CAPITALISED is None:
        # every non-ASCII letter that str.isupper() calls upper case, as ranges of a character class
        upper = _upper_class(0x110000)
        _NON_ASCII_CAPITALISED = re.compile(
            rf"(?<![^\W\d_])(?:[A-Z][A-Za-z]*[^\W\d_\x00-\x7f]|[{upper}])[^\W\d_]*")
    return _NON_ASCII_CAPITALISED


_NON_ASCII_CAPITALISED_BMP: re.Pattern[str] | None = None


def _non_ascii_capitalised_bmp() -> re.Pattern[str]:
    """The same matches as `_non_ascii_capitalised` in a text with no character above the BMP,
    about 4× faster: it opens with one character class (every capital of the BMP), which the
    regex engine looks for in C, and only then checks, looking back, that a word starts there —
    instead of trying the lookbehind at every position. (A class holding characters above the
    BMP would lose that speed, so texts with such characters take the other pattern.)"""
    global _NON_ASCII_CAPITALISED_BMP
    if _NON_ASCII_CAPITALISED_BMP is None:
        upper = _upper_class(0x10000)
        _NON_ASCII_CAPITALISED_BMP = re.compile(
            rf"[A-Z{upper}](?<![^\W\d_].)(?:(?<=[{upper}])|[A-Za-z]*[^\W\d_\x00-\x7f])[^\W\d_]*")
    return _NON_ASCII_CAPITALISED_BMP


_SENTENCE_END = re.compile(r"[.!?:;\n]\s*$|^\s*$")


_LETTER = re.compile(r"[^\W\d_]")
_LETTERS = re.compile(r"[^\W\d_]+")
#: texts longer than this that are mostly ASCII have their few non-ASCII letters located by numpy
#: first (a regex scan of a long document costs ~40 ns a character)
_LONG_TEXT = 512


def _capitalised_non_ascii_words(text: str):
    """The matches of the capitalised-non-ASCII-word pattern in `text`, in order."""
    rx = _non_ascii_capitalised()
    if len(text) > _LONG_TEXT:
        where = np.flatnonzero(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) > 0x7F)
        if where.size * 8 < len(text):  # mostly ASCII: visit only the words that hold those letters
            pos = 0
            for i in where.tolist():
                if i < pos or not _LETTER.match(text, i):
                    continue
                j = i
                while j > 0 and _LETTER.match(text, j - 1):
                    j -= 1  # back to the start of the word
                m = rx.match(text, j)
                if m is not None:
                    yield m
                    pos = m.end()
                else:
                    pos = _LETTERS.match(text, j).end()
            return
    yield from rx.finditer(text)


def has_digits(text: str) -> bool:
    """True when the text contains any decimal digit (any script)."""
    return _DIGIT.search(text) is not None


def has_non_ascii_name(text: str) -> bool:
    """Heuristic: a capitalised word with a non-ASCII letter that does not start a sentence.

    Catches José, Müller, Łukasz, Владимир mid-sentence.  Skips all-caps words (acronyms)
    and sentence-initial words (capitalised anyway).  False positives: German nouns
    with umlauts (Größe) and sentence-internal capitalised non-ASCII common nouns.
    Only capitalised words with a non-ASCII letter are visited (found by one regex scan).
    """
    if text.isascii():
        return False
    return any(_is_name(text, m.start(), m.group(0)) for m in _capitalised_non_ascii_words(text))


def _is_name(text: str, start: int, word: str) -> bool:
    """Whether a capitalised non-ASCII word found at `start` of `text` counts as a name."""
    if len(word) > 1 and word.isupper():
        return False
    # the word must not open the text or a sentence: look at the few characters before it
    if start <= 8 and not text[:start].strip():
        return False
    return _SENTENCE_END.search(text[max(0, start - 8): start]) is None


def _non_ascii_names(texts: Sequence[str], candidates: Sequence[bool], astral: Sequence[bool]) -> list[bool]:
    """`has_non_ascii_name` of each text whose candidate flag is set (False for the others).

    Short texts within the BMP are searched in one scan of them joined by newlines with the BMP
    pattern (a newline is not a letter, so no word crosses it and the matches are each text's
    own); each match is then judged inside its own text. Long texts, and texts with a character
    above the BMP, take `has_non_ascii_name` one by one.
    """
    out = [False] * len(texts)
    short: list[int] = []
    for i, (t, c, a) in enumerate(zip(texts, candidates, astral)):
        if c:
            if a or len(t) > _LONG_TEXT:
                out[i] = has_non_ascii_name(t)
            else:
                short.append(i)
    if not short:
        return out
    joined = "\n".join(texts[i] for i in short)
    offsets, pos = [], 0
    for i in short:
        offsets.append(pos)
        pos += len(texts[i]) + 1
    k = 0
    for m in _non_ascii_capitalised_bmp().finditer(joined):
        at = m.start()
        while k + 1 < len(offsets) and offsets[k + 1] <= at:
            k += 1   # matches come in order: the text holding this one
        i = short[k]
        if not out[i] and _is_name(texts[i], at - offsets[k], m.group(0)):
            out[i] = True
    return out


#: the last texts derive_features saw and what it made of them: a report and its cost section
#: ask for the same cases' features one after the other, and at 100,000 cases they cost seconds
_LAST_FEATURES: tuple[tuple[str, ...], dict[str, list]] | None = None


def derive_features(texts: Sequence[str]) -> dict[str, list]:
    """Derived slice columns for many input texts at once.

    Returns {"input_tokens": bucket, "input_tokens_estimate": int, "script": label,
    "has_digits": bool, "non_ascii_name": bool}, one entry per text. The same values as
    `estimate_tokens`, `detect_script`, `has_digits` and `has_non_ascii_name` one text at a time
    (the batch reads the characters once, `tuieval.analysis.derived_batch`; those functions are the rule).
    The same texts asked for twice in a row are answered from the first call (fresh lists each time).
    """
    global _LAST_FEATURES
    key = tuple(t or "" for t in texts)
    last = _LAST_FEATURES
    if last is not None and last[0] == key:
        return {k: list(v) for k, v in last[1].items()}
    from tuieval.analysis.derived_batch import SCRIPTS, derived_columns

    # one numpy pass over the characters (derived_batch), the rules' values as lists
    est, script, digits, names = derived_columns(key)
    bucket = (est > SHORT_MAX_TOKENS).astype(np.int64) + (est > MEDIUM_MAX_TOKENS)
    out = {"input_tokens": np.asarray(_BUCKETS, dtype=object)[bucket].tolist(),
           "input_tokens_estimate": est.tolist(),
           "script": np.asarray(SCRIPTS, dtype=object)[script].tolist(),
           "has_digits": digits.tolist(), "non_ascii_name": names.tolist()}
    _LAST_FEATURES = (key, out)
    return {k: list(v) for k, v in out.items()}


#: `token_bucket`'s labels, by the number of bounds an estimate exceeds
_BUCKETS = ("short", "medium", "long")


def _derive_features(texts: list[str]) -> dict[str, list]:
    """The features of each text by the older batch (UTF-32 code points, each rule's own pass):
    what `derived_batch` hands the texts with a character above the BMP to."""
    counts = _script_counts(texts)
    cjk = counts[:, _CJK_IDS].sum(axis=1)
    words, digits, non_ascii_letter, astral = _char_flags(texts)
    n_chars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    est = _token_estimates(n_chars, cjk, words)
    return {
        "input_tokens": [token_bucket(e) for e in est],
        "input_tokens_estimate": est,
        "script": _script_labels(counts),
        "has_digits": digits,
        # no non-ASCII letter, no non-ASCII name: the regex visits only the texts that have one
        "non_ascii_name": _non_ascii_names(texts, non_ascii_letter, astral),
    }


def _token_estimates(n_chars: np.ndarray, n_cjk: np.ndarray, n_words: np.ndarray) -> list[int]:
    """`_token_estimate` of many texts at once (the same arithmetic, the same rounding)."""
    est = 0.5 * ((n_chars - n_cjk) / 4.0) + 0.5 * (n_words * 4.0 / 3.0) + n_cjk
    out = np.maximum(1, np.round(est)).astype(np.int64)   # numpy rounds half to even, as round() does
    out[n_chars == 0] = 0
    return out.tolist()


_FLAG_SPACE, _FLAG_DIGIT, _FLAG_NON_ASCII_LETTER = 1, 2, 4
#: one whitespace character: the regex engine's \s is str.isspace (the test holds them equal)
_SPACE_CHAR = re.compile(r"\s")
_FLAGS: np.ndarray | None = None


def _flag_table() -> np.ndarray:
    """Per BMP code point: whitespace (str.split's rule), a digit (the regex \\d), a non-ASCII letter.

    Built once per process by running each rule's regex over the whole BMP as one string (a
    match is one character, replaced by NUL, so positions stay put) rather than a Python loop
    over 65,536 characters, which was a tenth of a small run's end-of-run analysis;
    tests/unit/test_flag_table.py holds it to the per-character rules."""
    global _FLAGS
    if _FLAGS is None:
        _FLAGS = _flags_below(0x10000)
    return _FLAGS


#: the table's first 256 entries, built alone: text below U+0100 (most suites') needs no more,
#: and the whole table cost a small run's end about 15 ms
_LATIN1_FLAGS: np.ndarray | None = None


def _flags_below(end: int) -> np.ndarray:
    """The flag table of code points 0 … end-1 (each rule is one character's, so a prefix of the
    code points gives the same entries as the whole BMP)."""
    chars = "".join(map(chr, range(end)))
    not_nul = np.arange(end) != 0   # NUL itself is none of the three

    def hits(pattern: re.Pattern[str]) -> np.ndarray:
        marked = pattern.sub("\0", chars).encode("utf-32-le", "surrogatepass")
        return (np.frombuffer(marked, dtype=np.uint32) == 0) & not_nul

    table = np.zeros(end, dtype=np.uint8)
    table[hits(_SPACE_CHAR)] |= _FLAG_SPACE
    table[hits(_DIGIT)] |= _FLAG_DIGIT
    letters = hits(_LETTER)
    letters[:0x80] = False
    table[letters] |= _FLAG_NON_ASCII_LETTER
    return table


def _flags_covering(cp: np.ndarray) -> np.ndarray:
    """A flag table that every code point of ``cp`` indexes: the Latin-1 part when they all lie
    below U+0100, else the whole BMP table."""
    global _LATIN1_FLAGS
    if _FLAGS is None and int(cp.max()) < 0x100:
        if _LATIN1_FLAGS is None:
            _LATIN1_FLAGS = _flags_below(0x100)
        return _LATIN1_FLAGS
    return _flag_table()


def _char_flags(texts: Sequence[str]) -> tuple[np.ndarray, list[bool], list[bool], list[bool]]:
    """Per text: its number of words (len(text.split())), whether it has a digit, whether it has a
    non-ASCII letter, whether it has a character above the BMP — in chunked numpy passes; a text
    with a character above the BMP is read by the plain functions instead (the table covers the BMP)."""
    T = len(texts)
    words = np.zeros(T, dtype=np.int64)
    digits = np.zeros(T, dtype=bool)
    letters = np.zeros(T, dtype=bool)
    astral = [False] * T
    start = 0
    while start < T:
        end, size = start, 0
        while end < T and (end == start or size + len(texts[end]) <= _CHUNK_CHARS):
            size += len(texts[end])
            end += 1
        sub = texts[start:end]
        lens = np.fromiter((len(t) for t in sub), dtype=np.int64, count=len(sub))
        nonempty = lens > 0
        if nonempty.any():
            cp = np.frombuffer("".join(sub).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            flags = _flags_covering(cp)[np.minimum(cp, 0xFFFF)]
            space = flags & _FLAG_SPACE
            # a word starts at a non-space character that opens its text or follows a space
            begins = np.empty(cp.size, dtype=np.uint8)
            begins[0] = 1
            begins[1:] = space[:-1]
            offsets = np.concatenate(([0], np.cumsum(lens)[:-1]))
            at = offsets[nonempty]          # reduceat over empty texts would read their neighbour
            begins[at] = 1
            starts = begins & (space ^ _FLAG_SPACE)
            idx = start + np.flatnonzero(nonempty)
            words[idx] = np.add.reduceat(starts, at, dtype=np.int64)
            # one OR of every text's flags answers both (the bits are apart)
            any_flag = np.bitwise_or.reduceat(flags, at)
            digits[idx] = (any_flag & _FLAG_DIGIT) > 0
            letters[idx] = (any_flag & _FLAG_NON_ASCII_LETTER) > 0
            high = np.flatnonzero(cp > 0xFFFF)
            if high.size:
                for i in np.unique(np.searchsorted(offsets, high, side="right") - 1).tolist():
                    t = sub[i]
                    words[start + i] = len(t.split())
                    digits[start + i] = has_digits(t)
                    letters[start + i] = True   # let has_non_ascii_name decide
                    astral[start + i] = True
        start = end
    return words, digits.tolist(), letters.tolist(), astral


# ---------------------------------------------------------------------------------------------
# Slice levels (the candidates)
# ---------------------------------------------------------------------------------------------

MAX_CATEGORICAL_LEVELS = 50   # more distinct values than this and than n/10 → an ID-like column
HARD_MAX_LEVELS = 500         # never more slices than this from one categorical column
NUMERIC_BINS = 10             # numeric columns with more distinct values than this → deciles


@dataclass
class Level:
    """One (column = value) slice: `value` is the original scalar, a "(lo, hi]" bin label or None (missing)."""

    key: str
    value: Any
    mask: np.ndarray
    bin: tuple[float, float] | None = None
    #: other (column = value) names with exactly the same members, as "key=value"
    aliases: list[str] = field(default_factory=list)


def level_name(key: str, value: Any) -> str:
    """How a slice is named in reports and aliases: "key=value"."""
    return f"{key}={value}"


def distinct_levels(levels: Mapping[str, Sequence[Level]], n: int) -> tuple[dict[str, list[Level]], dict[str, str]]:
    """The levels that say something, each once.

    A level holding all `n` items is dropped: it is the overall line, not a slice (a
    column left with no level is reported as skipped, with its one value).  Levels with
    identical members are merged into the first one met in column order — callers list
    metadata columns before derived ones, so `name_origin=non_english` keeps its name
    and carries `aliases=["non_ascii_name=True"]` — so the merged slice is one row and
    one test in the multiple-testing family.  Returns ({key: [Level, ...]} without empty
    columns, {key: reason} for the columns that lost every level).  The input levels are
    not modified.
    """
    out: dict[str, list[Level]] = {}
    skipped: dict[str, str] = {}
    seen: dict[bytes, Level] = {}
    for key, lvls in levels.items():
        kept: list[Level] = []
        for lv in lvls:
            k = int(lv.mask.sum())
            if k == n:
                skipped[key] = f"one value ({lv.value}) for every case: that is the overall line"
                continue
            sig = np.packbits(lv.mask).tobytes()
            first = seen.get(sig)
            if first is not None:
                first.aliases.append(level_name(key, lv.value))
                first.aliases.extend(lv.aliases)
                continue
            copy = Level(lv.key, lv.value, lv.mask, lv.bin, list(lv.aliases))
            seen[sig] = copy
            kept.append(copy)
        if kept:
            out[key] = kept
        elif key not in skipped:
            skipped[key] = "every level is another slice under another name"
    return out, skipped


def hashable(v: Any) -> Hashable:
    """A metadata value usable as a dict key: lists and mappings as canonical JSON."""
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return v


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def column_levels(key: str, values: Sequence[Any]) -> tuple[list[Level], str | None]:
    """The slices of one column and, if the column was skipped, why.

    Categorical values (strings, bools, small-cardinality numbers) give one slice each;
    missing values (None) are their own level.  A numeric column with more than 10
    distinct values is cut at its deciles into "(lo, hi]" bins (SliceFinder).  A
    categorical column with more than 50 distinct values that also exceeds n/10 (or
    more than 500 at all) looks like an identifier and is skipped: its slices would be
    too small to test and would flood the report.  Lists and dicts are compared as sorted-key JSON.
    """
    n = len(values)
    types = set(map(type, values))
    # lists and mappings become JSON text; other values are their own keys (one pass by type)
    if any(issubclass(t, (dict, list)) for t in types):
        vals = [hashable(v) for v in values]
        types = set(map(type, vals))
    else:
        vals = list(values)
    # every distinct value once, in first-seen order (a dict keeps the first of equal keys, as
    # a set of them would count them): one C pass, not a Python step per value
    first = dict.fromkeys(vals)
    n_none = vals.count(None) if None in first else 0
    n_distinct = len(first) - (n_none > 0)
    arr = None
    if n_none < n and types - {type(None)} <= {int, float}:
        # plain ints and floats: numeric unless a float is NaN (None reads as NaN here too)
        arr = np.array(vals, dtype=float)
        numeric = int(np.isnan(arr).sum()) == n_none
    else:
        numeric = n_none < n and all(_is_number(v) for v in vals if v is not None)  # (stops at the first string)
    if numeric and n_distinct > NUMERIC_BINS:
        if arr is None:
            arr = np.array([np.nan if v is None else float(v) for v in vals])
        ok = ~np.isnan(arr)
        srt = np.sort(arr[ok])
        qs = np.arange(1, NUMERIC_BINS) / NUMERIC_BINS
        edges = np.unique([srt[max(0, math.ceil(q * srt.size) - 1)] for q in qs])
        bins = np.searchsorted(edges, arr, side="left")  # bin b holds (edges[b-1], edges[b]]
        levels = []
        bounds = np.r_[srt[0], edges, srt[-1]]
        for b in range(edges.size + 1):
            mask = ok & (bins == b)
            if not mask.any():
                continue
            lo = float(bounds[b]) if b > 0 else float(srt[0])
            hi = float(bounds[b + 1])
            label = f"[{lo:g}, {hi:g}]" if b == 0 else f"({lo:g}, {hi:g}]"
            levels.append(Level(key, label, mask, (lo, hi)))
        if (~ok).any():
            levels.append(Level(key, None, ~ok))
        return levels, None
    if (n_distinct > MAX_CATEGORICAL_LEVELS and n_distinct > n / 10) or n_distinct > HARD_MAX_LEVELS:
        return [], f"{n_distinct} distinct values: looks like an identifier"
    # codes by first appearance (the first of equal values names the level), looked up in C
    codes = {v: i for i, v in enumerate(first)}
    code = np.fromiter(map(codes.__getitem__, vals), dtype=np.int64, count=n)
    levels = [Level(key, v, code == c) for v, c in codes.items()]
    # stable, readable order: by support (largest first), then by value text; missing last
    levels.sort(key=lambda lv: (lv.value is None, -int(lv.mask.sum()), str(lv.value)))
    return levels, None


def frequent_levels(key: str, values: Sequence[Any], min_count: int) -> list[Level]:
    """The categorical levels of a column holding at least `min_count` items each.

    For a column `column_levels` skips as identifier-like: its many small levels would
    flood a report, but a value shared by enough items is still a slice worth testing.
    """
    vals = [hashable(v) for v in values]
    codes: dict = {}
    code = np.fromiter((codes.setdefault(v, len(codes)) for v in vals), dtype=np.int64, count=len(vals))
    counts = np.bincount(code, minlength=len(codes))
    levels = [Level(key, v, code == c) for v, c in codes.items() if counts[c] >= min_count]
    levels.sort(key=lambda lv: (lv.value is None, -int(lv.mask.sum()), str(lv.value)))
    return levels


# ---------------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------------

@dataclass
class SliceResult:
    """One tested slice.  failure rates, delta and its Newcombe interval describe the
    estimation set (the confirmation half when the data were split, else all items);
    p_value / q_value come from the discovery tests."""

    key: str
    value: Any
    conditions: list[tuple[str, Any]]
    n: int
    failure_rate: float
    rest_failure_rate: float
    delta: float
    delta_ci: tuple[float, float]
    lift: float | None
    p_value: float
    q_value: float | None = None
    flagged: bool = False
    test: str = ""
    exploratory: bool = True
    estimates_from: str = "all"
    discovery_delta: float | None = None
    pruned_by: str | None = None
    aliases: list[str] = field(default_factory=list)
    mde: float | None = None
    mde_alpha: float | None = None
    mask: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "conditions": [list(c) for c in self.conditions],
                "n": self.n, "failure_rate": self.failure_rate, "rest_failure_rate": self.rest_failure_rate,
                "delta": self.delta, "delta_ci": list(self.delta_ci), "lift": self.lift,
                "p_value": self.p_value, "q_value": self.q_value, "flagged": self.flagged, "test": self.test,
                "exploratory": self.exploratory, "estimates_from": self.estimates_from,
                "discovery_delta": self.discovery_delta, "pruned_by": self.pruned_by, "aliases": list(self.aliases),
                "mde": self.mde, "mde_alpha": self.mde_alpha}


def min_support(n: int) -> int:
    """n_min = max(20, 1% of n) (§8 step 2)."""
    return max(20, math.ceil(0.01 * n))


_NORMAL = NormalDist()


class _Tester:
    """Tests slices (boolean masks over a fixed item set) against their complement."""

    def __init__(self, f: np.ndarray, cluster_codes: np.ndarray | None, alpha: float) -> None:
        self.f = f
        self.binary = bool(np.all((f == 0.0) | (f == 1.0)))
        self.cl = cluster_codes
        self.alpha = alpha
        self.n = f.size
        self.total = float(f.sum())
        self.total2 = float((f * f).sum())

    def stats(self, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # support, Σf and Σf² of every slice as matrix products, in row chunks so the
        # float64 copy of a (2000 × 10⁴) mask matrix never exists at once
        ff = np.stack([np.ones_like(self.f), self.f, self.f * self.f], axis=1)
        out = np.empty((masks.shape[0], 3))
        for s in range(0, masks.shape[0], 256):
            out[s: s + 256] = masks[s: s + 256].astype(np.float64) @ ff
        return out[:, 0], out[:, 1], out[:, 2]

    def test(self, mask: np.ndarray, n_s: int, s1: float, s2: float) -> tuple[float, str]:
        n_r = self.n - n_s
        if n_s < 1 or n_r < 1:
            return math.nan, "none"
        if self.cl is not None:
            se_s = clustered_se(self.f[mask], self.cl[mask])
            se_r = clustered_se(self.f[~mask], self.cl[~mask])
            if se_s is not None and se_r is not None:
                diff = s1 / n_s - (self.total - s1) / n_r
                se = math.hypot(se_s, se_r)
                if se == 0:
                    return (0.0 if diff > 0 else 1.0), "clustered-z"
                return 1.0 - _NORMAL.cdf(diff / se), "clustered-z"
        if self.binary:
            return fisher_one_sided(int(round(s1)), n_s, int(round(self.total - s1)), n_r), "fisher"
        if n_s < 2 or n_r < 2:
            return math.nan, "welch"
        var_s = max(0.0, (s2 - s1 * s1 / n_s) / (n_s - 1))
        r1, r2 = self.total - s1, self.total2 - s2
        var_r = max(0.0, (r2 - r1 * r1 / n_r) / (n_r - 1))
        return _welch_p(s1 / n_s - r1 / n_r, var_s / n_s, var_r / n_r, n_s, n_r), "welch"

    def effect(self, n_s: int, s1: float) -> tuple[float, float, float, tuple[float, float], float | None]:
        n_r = self.n - n_s
        p_s = s1 / n_s if n_s else math.nan
        p_r = (self.total - s1) / n_r if n_r else math.nan
        # clamp float noise from the matrix sums so Wilson never sees k outside [0, n]
        k_s = min(max(s1, 0.0), n_s)
        k_r = min(max(self.total - s1, 0.0), n_r)
        ci = newcombe_diff_ci(k_s, n_s, k_r, n_r, self.alpha) if n_s and n_r else (math.nan, math.nan)
        p_all = self.total / self.n if self.n else math.nan
        lift = (p_s / p_all) if p_all > 0 else None
        return p_s, p_r, p_s - p_r, ci, lift


def _cond_label(conds: Sequence[tuple[str, Any]]) -> tuple[str, Any]:
    if len(conds) == 1:
        return conds[0][0], conds[0][1]
    return " & ".join(c[0] for c in conds), " & ".join(json.dumps(c[1]) if not isinstance(c[1], str) else c[1]
                                                        for c in conds)


def discover_slices_columns(columns: Mapping[str, Sequence[Any]], failures: Sequence[float], *,
                            alpha: float = 0.05, delta_min: float = 0.05, max_tests: int = 2000,
                            n_min: int | None = None, cluster_ids: Sequence[Hashable] | None = None,
                            correction: str = "bh", split_min_n: int = 400, rng_seed: int = 0,
                            levels: Mapping[str, list[Level]] | None = None,
                            samples_per_item: float | None = None) -> dict:
    """Slice discovery over per-item columns and failure indicators f_i ∈ [0, 1] (§8).

    Steps: candidate levels per column (`column_levels`); when n ≥ `split_min_n` the items
    are split 50/50 (seeded) into discovery and confirmation halves, otherwise all items
    are used and findings are marked exploratory.  On the discovery items, every level
    with support ≥ n_min (max(20, 1%)) is tested against its complement (one-sided
    Fisher exact for binary f, Welch t for fractional f, a clustered-SE z-test when
    `cluster_ids` are given), then pairwise conjunctions of levels from different
    columns whose parents were not provisionally flagged (BH over the single-level tests)
    and whose support differs from both parents'.  m = every test performed (capped at
    `max_tests`, conjunctions with the largest support kept first); BH (or BY) q-values
    over all m; flagged = q ≤ alpha and Δ ≥ delta_min.  Flagged slices whose items are a
    subset of another flagged slice with an equal or larger Δ are pruned (pruned_by).
    Effects (rates, Δ, Newcombe CI, lift) are re-estimated on the confirmation half when
    split.  Results are ranked: flagged first by the CI's lower bound, then support.

    Before testing, levels holding every item are dropped and levels with identical
    members merged (`distinct_levels`: one test, the other names in `aliases`); a
    conjunction with the same members as a level or an earlier conjunction is not tested
    again.  Every tested slice carries `mde`: the smallest increase of its failure rate
    over the rest's that its test would detect with 80% power at the level `alpha / m`
    (`power.slice_mde`, on the discovery items; `samples_per_item` is the mean number of
    samples behind a fractional f_i, used to floor its design effect).

    Returns {"results": [SliceResult...], "m": tests, "n": items, "n_min", "split": bool,
    "exploratory": bool, "skipped_columns": {key: reason}, "test_family": "bh"|"by",
    "mde_alpha": alpha / m, "power": 0.8}.
    """
    f = np.asarray(failures, dtype=float)
    n = f.size
    if np.any((f < 0) | (f > 1)) or np.any(np.isnan(f)):
        raise ValueError("failure indicators must be in [0, 1]")
    skipped: dict[str, str] = {}
    if levels is None:
        levels = {}
        for key, vals in columns.items():
            if len(vals) != n:
                raise ValueError(f"column {key!r} has {len(vals)} values for {n} items")
            lv, why = column_levels(key, vals)
            if why:
                skipped[key] = why
            else:
                levels[key] = lv
    levels, merged_away = distinct_levels(levels, n)
    skipped.update(merged_away)
    split = n >= split_min_n
    if split:
        rng = np.random.default_rng(rng_seed)
        disc = np.zeros(n, dtype=bool)
        disc[rng.permutation(n)[: n // 2]] = True
    else:
        disc = np.ones(n, dtype=bool)
    conf = ~disc if split else disc
    disc_at = np.flatnonzero(disc)
    codes = None
    if cluster_ids is not None:
        table: dict = {}
        codes = np.fromiter((table.setdefault(c, len(table)) for c in cluster_ids), dtype=np.int64, count=n)
    tester = _Tester(f[disc], None if codes is None else codes[disc], alpha)
    estimator = _Tester(f[conf], None if codes is None else codes[conf], alpha) if split else tester
    nd = int(disc.sum())
    nmin = n_min if n_min is not None else min_support(nd)

    # -- single levels -------------------------------------------------------------------------
    base: list[tuple[list[tuple[str, Any]], np.ndarray]] = []
    aliases: dict[tuple[str, Hashable], list[str]] = {}
    members = set()  # packed masks of every listed level: a conjunction equal to one is no new slice
    for key, lvls in levels.items():
        for lv in lvls:
            members.add(np.packbits(lv.mask).tobytes())
            aliases[(key, hashable(lv.value))] = list(lv.aliases)
            m_d = lv.mask[disc]
            s = int(m_d.sum())
            if s >= nmin and s < nd:
                base.append(([(key, lv.value)], lv.mask))
    tests: list[tuple[list[tuple[str, Any]], np.ndarray]] = base[:max_tests]

    def run(batch):
        if not batch:
            return np.zeros(0), [], np.zeros(0), np.zeros(0), np.zeros(0)
        # the masks stacked whole, then the discovery items' columns taken at once (the same
        # rows as each mask's own m[disc], without a boolean gather per mask)
        masks = np.take(np.stack([m for _, m in batch]), disc_at, axis=1)
        ns, s1, s2 = tester.stats(masks)
        ps, kinds = [], []
        for i in range(len(batch)):
            p, kind = tester.test(masks[i], int(ns[i]), float(s1[i]), float(s2[i]))
            ps.append(p)
            kinds.append(kind)
        return np.asarray(ps), kinds, ns, s1, masks

    p_base, kinds_base, ns_base, s1_base, masks_base = run(tests)
    adjust = benjamini_yekutieli if correction == "by" else benjamini_hochberg
    provisional = np.zeros(len(tests), dtype=bool)
    if len(tests):
        q0 = adjust(p_base)
        d0 = s1_base / ns_base - (tester.total - s1_base) / np.maximum(nd - ns_base, 1)
        provisional = (q0 <= alpha) & (d0 >= delta_min)

    # -- pairwise conjunctions of unflagged parents (SliceFinder lattice, degree 2) ------------
    conj: list[tuple[int, tuple[list[tuple[str, Any]], np.ndarray]]] = []
    room = max_tests - len(tests)
    if room > 0 and len(tests) > 1:
        ok_idx = [i for i in range(len(tests)) if not provisional[i]]
        if ok_idx:
            M = masks_base[ok_idx].astype(np.float32)
            inter = M @ M.T  # supports of all pairwise intersections in one product
            sup = ns_base[ok_idx]
            for a in range(len(ok_idx)):
                ka = tests[ok_idx[a]][0][0][0]
                for b in range(a + 1, len(ok_idx)):
                    if tests[ok_idx[b]][0][0][0] == ka:
                        continue  # same column: disjoint levels
                    s = int(inter[a, b])
                    if s < nmin or s == sup[a] or s == sup[b] or s >= nd:
                        continue  # too small, or identical to a parent (no new test)
                    ia, ib = ok_idx[a], ok_idx[b]
                    both = tests[ia][1] & tests[ib][1]
                    sig = np.packbits(both).tobytes()
                    if sig in members:
                        continue  # the same cases as a slice already listed
                    members.add(sig)
                    conj.append((s, (tests[ia][0] + tests[ib][0], both)))
        conj.sort(key=lambda x: -x[0])  # stable: ties keep enumeration order
        conj = conj[:room]
    conj_tests = [c for _, c in conj]
    p_conj, kinds_conj, ns_conj, s1_conj, _ = run(conj_tests)

    all_tests = tests + conj_tests
    p_all = np.concatenate([p_base, p_conj]) if len(all_tests) else np.zeros(0)
    kinds = kinds_base + kinds_conj
    q_all = adjust(p_all) if len(all_tests) else np.zeros(0)
    ns_all = np.concatenate([ns_base, ns_conj]) if len(all_tests) else np.zeros(0)
    s1_all = np.concatenate([s1_base, s1_conj]) if len(all_tests) else np.zeros(0)

    # power of each test at the level the flagging rule applies when one slice stands out:
    # BH with one true effect among m rejects it when p ≤ alpha / m
    m_tests = len(all_tests)
    mde_level = alpha / max(1, m_tests)
    f_disc = tester.f
    p_bar = float(f_disc.mean()) if f_disc.size else 0.0
    deff = design_effect(p_bar, float(f_disc.var()) if f_disc.size else 0.0, samples_per_item)

    results: list[SliceResult] = []
    if split and all_tests:
        # every test's confirmation items taken at once (row i is all_tests[i]'s mask[conf])
        on_conf = np.take(np.stack([m for _, m in all_tests]), np.flatnonzero(conf), axis=1)
    for i, (conds, mask) in enumerate(all_tests):
        _, _, d_disc, _, _ = tester.effect(int(ns_all[i]), float(s1_all[i]))
        n_s_d = int(ns_all[i])
        n_r_d = nd - n_s_d
        rest_rate = (tester.total - float(s1_all[i])) / n_r_d if n_r_d else math.nan
        mde = (slice_mde(n_s_d, n_r_d, min(1.0, max(0.0, rest_rate)), mde_level, deff=deff,
                         test="fisher" if tester.binary else "welch") if n_r_d else None)
        flagged = bool(q_all[i] <= alpha and d_disc >= delta_min)
        if split:
            m_c = on_conf[i]
            n_c = int(np.count_nonzero(m_c))
            s1_c = float(estimator.f[m_c].sum())
            if n_c and n_c < estimator.n:
                p_s, p_r, d, ci, lift = estimator.effect(n_c, s1_c)
            else:
                p_s = p_r = d = math.nan
                ci, lift = (math.nan, math.nan), None
            n_rep = n_c
        else:
            p_s, p_r, d, ci, lift = tester.effect(int(ns_all[i]), float(s1_all[i]))
            n_rep = int(ns_all[i])
        key, value = _cond_label(conds)
        results.append(SliceResult(
            key=key, value=value, conditions=list(conds), n=n_rep, failure_rate=p_s, rest_failure_rate=p_r,
            delta=d, delta_ci=(float(ci[0]), float(ci[1])), lift=lift,
            p_value=float(p_all[i]) if not math.isnan(p_all[i]) else math.nan, q_value=float(q_all[i]),
            flagged=flagged, test=kinds[i], exploratory=not split,
            estimates_from="confirmation" if split else "all", discovery_delta=float(d_disc),
            aliases=list(aliases.get((key, hashable(value)), [])) if len(conds) == 1 else [],
            mde=mde, mde_alpha=mde_level, mask=mask))

    # -- pruning: a flagged subset of a flagged slice with Δ at least as large adds nothing ------
    flagged_idx = [i for i, r in enumerate(results) if r.flagged]
    # each flagged slice's discovery items taken once, not once per pair it is compared in
    on_disc = {i: results[i].mask[disc] for i in flagged_idx}
    for a in flagged_idx:
        ra = results[a]
        ma = on_disc[a]
        for b in flagged_idx:
            rb = results[b]
            if a == b or rb.pruned_by is not None:
                continue
            mb = on_disc[b]
            if (ma & ~mb).any() or rb.discovery_delta < ra.discovery_delta:
                continue
            if not (mb & ~ma).any() and a < b:
                continue  # identical item sets: keep the earlier (simpler) one
            ra.flagged = False
            ra.pruned_by = f"{rb.key}={rb.value}"
            break

    def rank(r: SliceResult):
        lo = r.delta_ci[0] if not math.isnan(r.delta_ci[0]) else -math.inf
        return (not r.flagged, -lo if r.flagged else (r.q_value if r.q_value is not None else 1.0), -r.n)

    results.sort(key=rank)
    return {"results": results, "m": len(all_tests), "n": n, "n_min": nmin, "split": split,
            "exploratory": not split, "skipped_columns": skipped, "test_family": correction,
            "mde_alpha": mde_level, "power": POWER}


def discover_slices(rows: Sequence[Mapping[str, Any]], failure_key: str = "failure", *,
                    feature_keys: Sequence[str] | None = None, cluster_key: str | None = None,
                    **kwargs) -> list[SliceResult]:
    """Slice discovery on per-item rows: each row is a dict of features plus `failure_key` ∈ [0, 1].

    Features default to every key except the failure and cluster keys; a key missing
    from a row is a missing value.  See `discover_slices_columns` for the procedure and
    keyword arguments; this returns its ranked list of SliceResult.
    """
    if feature_keys is None:
        seen: dict[str, None] = {}
        for r in rows:
            for k in r:
                if k not in (failure_key, cluster_key):
                    seen.setdefault(k, None)
        feature_keys = list(seen)
    columns = {k: [r.get(k) for r in rows] for k in feature_keys}
    f = [float(r[failure_key]) for r in rows]
    clusters = [r.get(cluster_key) for r in rows] if cluster_key else None
    return discover_slices_columns(columns, f, cluster_ids=clusters, **kwargs)["results"]

