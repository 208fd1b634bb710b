"""What every perturbation shares: the view of a case it edits, its result, the seeded
random source, and the protection of the spans that carry the answer.

A perturbation never sees a `Case`: it gets an `Item` (the input texts, the targets and the
strings to protect) and returns an `Edit` (new texts, and new targets only for the families
that rewrite them together with the input) or a `Skip` saying why it cannot apply.
`tuieval.perturb.apply` maps that back onto the case's variables.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from tuieval.scoring.base import target_text


@dataclass(frozen=True)
class Item:
    """A case as a perturbation sees it.

    `texts` are the input strings that may change, in a fixed order; `other_text` is the rest
    of the case's input (variables the perturbation must not touch), counted for length only;
    `targets` are the case's accepted answers; `protected` the strings (target leaves) whose
    occurrences in the input must stay exactly as they are.
    """

    texts: tuple[str, ...]
    targets: tuple[Any, ...]
    protected: tuple[str, ...]
    other_text: str = ""


@dataclass(frozen=True)
class Edit:
    """A perturbation's result: the new texts (same order and count as `Item.texts`), the new
    targets when the family rewrites them (None = unchanged), and how many edits were made."""

    texts: tuple[str, ...]
    targets: tuple[Any, ...] | None = None
    edits: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """The perturbation cannot apply to this case (no number to reformat, not multiple choice…)."""

    reason: str


Apply = Callable[[Item, "float | None", random.Random], "Edit | Skip"]


@dataclass(frozen=True)
class Family:
    """One kind of perturbation.

    `default_severity` is None for a family that takes no severity (option shuffle);
    `severity_means` says in a few words what the number controls, for errors and --help.
    """

    name: str
    summary: str
    apply: Apply
    default_severity: float | None
    severity_means: str = ""


# ---------------------------------------------------------------------------------------------
# the seeded random source
# ---------------------------------------------------------------------------------------------

def severity_label(severity: float | None) -> str:
    """The canonical text of a severity, as used in derived case ids and seeds ("0.1", "1")."""
    if severity is None:
        return ""
    text = repr(float(severity))
    return text[:-2] if text.endswith(".0") else text


def case_rng(seed: int, case_id: str, name: str, severity: float | None) -> random.Random:
    """A `random.Random` determined by (seed, case id, perturbation, severity) alone.

    blake2b rather than `hash()`: Python salts str hashes per process, and the same suite must
    give the same perturbed inputs on every machine and every run.
    """
    key = "\x1f".join((str(int(seed)), str(case_id), name, severity_label(severity))).encode("utf-8")
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


def draw_positions(rng: random.Random, n: int, rate: float) -> list[int]:
    """Indices in range(n), each chosen independently with probability `rate`.

    Drawn by geometric gaps (one random number per chosen index, not one per candidate), so a
    rate of 0.05 over 200 characters costs ~10 draws; the distribution is the same Bernoulli
    process.
    """
    if n <= 0 or rate <= 0.0:
        return []
    if rate >= 1.0:
        return list(range(n))
    log_q = math.log1p(-rate)
    out: list[int] = []
    i = -1
    while True:
        # P(gap = g) = (1 - rate)^(g-1) * rate, g ≥ 1
        i += 1 + int(math.log(1.0 - rng.random()) / log_q)
        if i >= n:
            return out
        out.append(i)


# ---------------------------------------------------------------------------------------------
# protected spans
# ---------------------------------------------------------------------------------------------

def target_strings(targets: Iterable[Any]) -> tuple[str, ...]:
    """Every scalar leaf of the targets as text (dict values and list items included), longest
    first: these are the strings whose occurrences in the input carry the answer."""
    out: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        else:
            text = target_text(value)
            if text is not None and text.strip():
                out.setdefault(text.strip(), None)

    walk(list(targets))
    return tuple(sorted(out, key=len, reverse=True))


def _pattern_part(s: str) -> str:
    # A target that starts (ends) with a word character only counts as a whole word there:
    # target "6" is the answer span in "6 sides" but not in "16", and letter target "B" is
    # the label "B)" but not the B of "Bristol".
    body = re.escape(s)
    if re.match(r"\w", s[0]):
        body = r"(?<!\w)" + body
    if re.match(r"\w", s[-1]):
        body = body + r"(?!\w)"
    return body


def protected_spans(text: str, protected: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) spans of `text` where a protected string occurs (case-
    insensitively, whole words at word edges)."""
    parts = [p for p in protected if p]
    if not parts or not text:
        return []
    # a cheap test first: most inputs of most cases do not contain their target at all
    low = text.lower()
    parts = [p for p in parts if p.lower() in low]
    if not parts:
        return []
    rx = re.compile("|".join(_pattern_part(p) for p in parts), re.IGNORECASE)
    spans: list[tuple[int, int]] = []
    pos = 0
    # alternation is tried longest-first (target_strings sorts), and overlapping matches of
    # different targets are found by restarting one character after each match start
    while True:
        m = rx.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        if end == start:
            pos = start + 1
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
        pos = start + 1
    return spans


def split_protected(text: str, protected: Iterable[str]) -> list[tuple[str, bool]]:
    """`text` cut into (segment, is_protected) pieces, in order; joining them gives `text`."""
    spans = protected_spans(text, protected)
    if not spans:
        return [(text, False)]
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in spans:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


Segment = Callable[[str], "tuple[str, int, int]"]


def rewrite_free(text: str, protected: Iterable[str], fn: Segment) -> tuple[str, int, int]:
    """Apply `fn` (segment → (new segment, edits, eligible)) to the unprotected parts of `text`
    only; returns the new text with the summed edit and eligible counts."""
    edits = eligible = 0
    pieces = []
    for segment, is_protected in split_protected(text, protected):
        if is_protected or not segment:
            pieces.append(segment)
            continue
        new, n, e = fn(segment)
        pieces.append(new)
        edits += n
        eligible += e
    return "".join(pieces), edits, eligible


def edit_segments(item: Item, fn: Segment, nothing: str) -> "Edit | Skip":
    """Apply a segment rewrite to every input text outside the protected spans; `Skip(nothing)`
    when no text had anything eligible (the case cannot show this perturbation)."""
    texts = []
    edits = eligible = 0
    for text in item.texts:
        new, n, e = rewrite_free(text, item.protected, fn)
        texts.append(new)
        edits += n
        eligible += e
    if eligible == 0:
        return Skip(nothing)
    return Edit(texts=tuple(texts), edits=edits, detail={"eligible": eligible})
