"""Tier 2, lexical similarity: hashed character-3-gram and token cosine in numpy, with number,
negation and JSON guards and a containment rule (docs/statistics.md §1.4).

Features are built for canonical forms (`canonical.canonical_answer`), many at once.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Sequence

import numpy as np

from tuieval.analysis.variance.config import DEFAULT_LEXICAL_THRESHOLD

__all__ = ["CHAR_DIM", "TOKEN_DIM", "CHAR_WEIGHT", "CONTAINMENT_MAX_TOKENS", "DEFAULT_LEXICAL_THRESHOLD",
           "NEGATIONS", "LexicalFeatures", "lexical_equivalence", "l2_normalize"]

CHAR_DIM = 512     # hashed 3-gram buckets: collisions barely matter for short answers
TOKEN_DIM = 256
CHAR_WEIGHT = 0.5
CONTAINMENT_MAX_TOKENS = 4

_DIGIT = re.compile(r"\d")
_NUMBER_TOKEN = re.compile(r"(?<!\S)-?\.?\d\S*")  # a canonical token that starts like a number

NEGATIONS = frozenset({
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "cant", "dont",
    "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt", "couldnt",
    "hasnt", "havent", "hadnt", "false", "incorrect", "nein", "non", "nicht", "нет", "не",
})


def _mix(h: np.ndarray) -> np.ndarray:
    # splitmix64-style finaliser: spreads similar code-point triples over all buckets
    h = h ^ (h >> np.uint64(31))
    h = h * np.uint64(0x7FB5D329728EA185)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x81DADEF4BC2DD44D)
    return h ^ (h >> np.uint64(33))


def _char_ngram_block(strings: Sequence[str], dim: int = CHAR_DIM) -> np.ndarray:
    """Hashed character-3-gram counts of " s " for a batch of strings, one numpy pass.

    All strings are joined with NUL separators and turned into code points; a trigram is
    kept only when its three positions belong to the same string.  Hashing is
    arithmetic on code points, so it is deterministic (unlike Python's salted hash()).
    """
    U = len(strings)
    out = np.zeros((U, dim), dtype=np.float32)
    if U == 0:
        return out
    padded = [f" {s} " for s in strings]
    lens = np.fromiter((len(p) for p in padded), dtype=np.int64, count=U)
    cp = np.frombuffer("\0".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    sid = np.repeat(np.arange(U, dtype=np.int64), lens + 1)[: cp.size]
    if cp.size < 3:
        return out
    sep = np.cumsum(lens + 1)[:-1] - 1  # positions of the NUL separators
    sid[sep] = -1
    ok = (sid[:-2] >= 0) & (sid[:-2] == sid[2:])
    h = _mix((cp[:-2] << np.uint64(42)) ^ (cp[1:-1] << np.uint64(21)) ^ cp[2:])
    b = (h % np.uint64(dim)).astype(np.int64)
    flat = np.bincount(sid[:-2][ok] * dim + b[ok], minlength=U * dim)
    out[:] = flat.reshape(U, dim)
    return out


_TOKEN_WEIGHTS = _mix(np.arange(1, 65, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)


def _token_block(strings: Sequence[str], dim: int = TOKEN_DIM) -> np.ndarray:
    """Hashed token counts of space-separated canonical strings, one numpy pass.

    A token's hash is Σ code_point[k]·W[k mod 64] over its characters (uint64, wrapping),
    mixed and reduced modulo `dim`: deterministic, and no Python work per token.
    """
    U = len(strings)
    out = np.zeros((U, dim), dtype=np.float32)
    if U == 0:
        return out
    lens = np.fromiter((len(x) for x in strings), dtype=np.int64, count=U)
    joined = "\0".join(strings)
    if not joined:
        return out
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    sid = np.repeat(np.arange(U, dtype=np.int64), lens + 1)[: cp.size]
    boundary = (cp == 32) | (cp == 0)
    chars = np.flatnonzero(~boundary)
    if chars.size == 0:
        return out
    starts_mask = np.r_[True, chars[1:] != chars[:-1] + 1]  # a token starts after a gap
    seg = np.flatnonzero(starts_mask)
    tok_of = np.cumsum(starts_mask) - 1
    offset = np.arange(chars.size) - seg[tok_of]
    h = np.add.reduceat(cp[chars] * _TOKEN_WEIGHTS[offset % 64], seg)
    bucket = (_mix(h) % np.uint64(dim)).astype(np.int64)
    flat = np.bincount(sid[chars[seg]] * dim + bucket, minlength=U * dim)
    out[:] = flat.reshape(U, dim)
    return out


def l2_normalize(block: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; a zero row stays zero."""
    norms = np.linalg.norm(block, axis=1, keepdims=True)
    return np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)


class LexicalFeatures:
    """Feature rows and guard data for a list of canonical strings.

    The similarity of rows i, j is  w·cos(char-3-grams) + (1−w)·cos(tokens), computed as
    one dot product of the concatenated, separately normalised and weighted blocks.
    Guards veto a merge whatever the similarity, because lexical (and embedding)
    similarity is blind to exactly these changes (§1.4 failure modes):
      - either answer is JSON (structured data is equal only when canonically equal);
      - both answers contain numbers and the number sets differ ("1912" vs "1921");
      - one answer carries a negation word and the other does not ("is" vs "isn't").
    A containment rule merges a short answer (≤ 4 tokens) with a longer one that
    contains it as a whole-token phrase ("paris" in "capital of france is paris"):
    the extra-words case, where cosine of a one-word answer with a sentence is low.
    """

    def __init__(self, canon: Sequence[str], *, char_weight: float = CHAR_WEIGHT) -> None:
        self.canon = list(canon)
        char = l2_normalize(_char_ngram_block(self.canon)) * np.float32(math.sqrt(char_weight))
        tok = l2_normalize(_token_block(self.canon)) * np.float32(math.sqrt(1.0 - char_weight))
        self.matrix = np.concatenate([char, tok], axis=1)
        # canonical strings are single-space separated, so counting spaces counts tokens
        self.n_tokens = [(c.count(" ") + 1) if c else 0 for c in self.canon]
        self.numbers = [frozenset(_NUMBER_TOKEN.findall(c)) if _DIGIT.search(c) else frozenset()
                        for c in self.canon]
        self.negated = [not NEGATIONS.isdisjoint(c.split()) for c in self.canon]
        # JSON answers are data: only canonical equality (already collapsed) makes them equal
        self.structured = [c[:1] in ("{", "[") for c in self.canon]
        self.padded = [f" {c} " for c in self.canon]

    def similarity(self, rows: Sequence[int] | None = None) -> np.ndarray:
        m = self.matrix if rows is None else self.matrix[np.asarray(rows, dtype=np.int64)]
        return np.clip(m @ m.T, 0.0, 1.0)

    def guard_ok(self, i: int, j: int) -> bool:
        if self.structured[i] or self.structured[j]:
            return False
        ni, nj = self.numbers[i], self.numbers[j]
        if ni and nj and ni != nj:
            return False
        return self.negated[i] == self.negated[j]

    def contains(self, i: int, j: int) -> bool:
        a, b = (i, j) if self.n_tokens[i] <= self.n_tokens[j] else (j, i)
        na = self.n_tokens[a]
        return 0 < na <= CONTAINMENT_MAX_TOKENS and self.padded[a] in self.padded[b]


def lexical_equivalence(feats: LexicalFeatures, rows: Sequence[int], threshold: float) -> Callable[[int, int], bool]:
    """The tier-2 rule for answers at positions a, b of `rows` (feature rows): the guards
    pass and either the similarity is ≥ `threshold` or the shorter answer is a whole
    phrase of the longer (containment)."""
    S = feats.similarity(rows).tolist()

    def eq(a: int, b: int) -> bool:
        ra, rb = rows[a], rows[b]
        if not feats.guard_ok(ra, rb):
            return False
        if S[a][b] >= threshold:
            return True
        return feats.contains(ra, rb)

    return eq

