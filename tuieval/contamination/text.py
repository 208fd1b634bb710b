"""The tokeniser and the overlap measures every contamination probe shares.

A token is a maximal run of letters and digits, lowercased: whitespace, punctuation and
symbols separate tokens and are never tokens themselves ("Don't stop!" → don, t, stop). This
is the normalisation of lm-evaluation-harness' 13-gram decontamination (lowercase, split on
whitespace and punctuation), used here for the corpus scan and for the verbatim probe alike,
so a span counts as reproduced under exactly one rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """The normalised tokens of `text`."""
    return [m.group(0).lower() for m in _TOKEN.finditer(text)]


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """(token, start, end) for each token, with character offsets into `text` itself (so a
    reproduced span can be highlighted in the model's own answer)."""
    return [(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def iter_tokens(text: str) -> Iterator[str]:
    for m in _TOKEN.finditer(text):
        yield m.group(0).lower()


def ngrams(toks: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    """Every run of n consecutive tokens, in order (none when there are fewer than n)."""
    for i in range(len(toks) - n + 1):
        yield tuple(toks[i:i + n])


def ngram_overlap(reference: Sequence[str], candidate: Sequence[str], n: int) -> float | None:
    """The share of the reference's distinct n-grams that occur in the candidate; None when the
    reference has fewer than n tokens (nothing to reproduce)."""
    ref = set(ngrams(reference, n))
    if not ref:
        return None
    return len(ref & set(ngrams(candidate, n))) / len(ref)


@dataclass(frozen=True)
class CommonRun:
    """The longest run of tokens the reference and the candidate share, where it is in each."""

    length: int          # tokens
    ref_start: int       # token index into the reference
    cand_start: int      # token index into the candidate


def longest_common_run(reference: Sequence[str], candidate: Sequence[str]) -> CommonRun:
    """Longest common substring over tokens (dynamic programming, one row at a time:
    O(len·len) time, O(len) memory). Ties go to the earliest run in the candidate, then in
    the reference."""
    best = CommonRun(0, 0, 0)
    prev = [0] * (len(reference) + 1)
    for j, c in enumerate(candidate, 1):
        row = [0] * (len(reference) + 1)
        for i, r in enumerate(reference, 1):
            if r == c:
                row[i] = prev[i - 1] + 1
                if row[i] > best.length:
                    best = CommonRun(row[i], i - row[i], j - row[i])
        prev = row
    return best


@dataclass(frozen=True)
class Reproduction:
    """How much of `reference` a candidate text reproduced."""

    lcs_tokens: int              # the longest shared run, in tokens
    overlap: float | None        # share of the reference's n-grams in the candidate
    span: tuple[int, int] | None  # the shared run's character offsets in the candidate text
    span_text: str

    def as_dict(self) -> dict:
        return {"lcs_tokens": self.lcs_tokens, "overlap": self.overlap,
                "span": list(self.span) if self.span else None, "span_text": self.span_text}


def reproduction(reference: str, candidate: str, n: int) -> Reproduction:
    """The verbatim probe's measures of `candidate` (the model's continuation) against the
    `reference` (the case's real continuation)."""
    ref = tokens(reference)
    spans = token_spans(candidate)
    cand = [t for t, _, _ in spans]
    run = longest_common_run(ref, cand)
    span = None
    text = ""
    if run.length:
        start, end = spans[run.cand_start][1], spans[run.cand_start + run.length - 1][2]
        span, text = (start, end), candidate[start:end]
    return Reproduction(run.length, ngram_overlap(ref, cand, n), span, text)


def shuffled_words(text: str, rng) -> str:
    """The same whitespace-separated words in a random order: text no model has seen, with the
    same vocabulary and length (the verbatim probe's control)."""
    words = text.split()
    order = list(range(len(words)))
    if len(words) > 1:
        while order == sorted(order):
            rng.shuffle(order)
    return " ".join(words[i] for i in order)


def chunk_token_lists(chunks: Iterable[str]) -> Iterator[list[str]]:
    """The tokens of a text given in pieces, one list per piece, as if it were one string: a
    token cut by a piece boundary is held back and joined with the next piece."""
    carry = ""
    for piece in chunks:
        text = carry + piece
        if not text:
            continue
        found = _TOKEN.findall(text)
        # a token that reaches the end of the piece may go on in the next one
        carry = found.pop() if found and _TOKEN.match(text[-1]) else ""
        if found:
            yield [t.lower() for t in found]
    if carry:
        yield [carry.lower()]


def chunks_tokens(chunks: Iterable[str]) -> Iterator[str]:
    """The same tokens one at a time."""
    for batch in chunk_token_lists(chunks):
        yield from batch
