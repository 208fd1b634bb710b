"""Where two texts differ: the spans of each that the other does not have.

A perturbed prompt is read beside its original; what changed must stand out, and nothing else.
The texts are compared word by word (words, runs of spaces, single punctuation marks, so a
doubled space or a dropped comma is a change of its own) with difflib; where a run of words was
replaced by a similar run (a typo, a homoglyph, a casing change), the replaced run is compared
again character by character so only the changed letters are marked. Dissimilar runs (an
inserted distractor sentence) are marked whole, aligned to start at a word.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
#: replaced runs at least this similar (difflib ratio) are refined to their changed characters
CHAR_LEVEL_RATIO = 0.5

Span = tuple[int, int]


def _tokens(text: str) -> tuple[list[str], list[int]]:
    toks, starts = [], []
    for m in _TOKEN.finditer(text):
        toks.append(m.group())
        starts.append(m.start())
    return toks, starts


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _slide(text: str, start: int, end: int) -> Span:
    """An inserted (or deleted) stretch moved right while it can be (its first character is the one
    after it, so the text is the same) until it starts a word: `. The clock is fast` becomes
    `The clock is fast. `, the sentence as a reader sees it."""
    while end < len(text) and text[start] == text[end] and not (start > 0 and text[start - 1].isspace()):
        start, end = start + 1, end + 1
    return start, end


def changed_spans(a: str, b: str) -> tuple[list[Span], list[Span]]:
    """(spans of `a` not in `b`, spans of `b` not in `a`), as [start, end) character offsets, merged
    and in order. Equal texts give two empty lists."""
    ta, sa = _tokens(a)
    tb, sb = _tokens(b)
    sa.append(len(a))
    sb.append(len(b))
    out_a: list[Span] = []
    out_b: list[Span] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        a0, a1, b0, b1 = sa[i1], sa[i2], sb[j1], sb[j2]
        if op == "replace":
            chunk_a, chunk_b = a[a0:a1], b[b0:b1]
            chars = SequenceMatcher(None, chunk_a, chunk_b, autojunk=False)
            if chars.ratio() >= CHAR_LEVEL_RATIO:
                for cop, k1, k2, l1, l2 in chars.get_opcodes():
                    if cop != "equal":
                        out_a.append((a0 + k1, a0 + k2))
                        out_b.append((b0 + l1, b0 + l2))
                continue
        if op == "insert":
            out_b.append(_slide(b, b0, b1))
        elif op == "delete":
            out_a.append(_slide(a, a0, a1))
        else:
            out_a.append((a0, a1))
            out_b.append((b0, b1))
    return _merge(out_a), _merge(out_b)
