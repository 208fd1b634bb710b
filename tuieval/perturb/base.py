"""What every perturbation shares: the view of a case it edits, its result, the seeded
random source, and the protection of the spans that carry the answer.

A perturbation never sees a `Case`: it gets an `Item` (the input texts, the targets and the
strings to protect) and returns an `Edit` (new texts, and new targets only for the families
that rewrite them together with the input) or a `Skip` saying why it cannot apply.
`tuieval.perturb.apply` maps that back onto the case's variables.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
import random
import re
import _random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from tuieval.perturb.gaps import gap_table
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
    # protected (start, end) spans of each text, computed once per case by `make_item`
    spans: tuple[tuple[tuple[int, int], ...], ...] = ()

    def spans_of(self, i: int) -> tuple[tuple[int, int], ...]:
        return self.spans[i] if self.spans else tuple(protected_spans(self.texts[i], self.protected))


def make_item(texts: tuple[str, ...], targets: tuple[Any, ...], protected: tuple[str, ...] | None = None,
              other_text: str = "") -> Item:
    """An Item with its protected spans found (protected defaults to the target strings)."""
    if protected is None:
        protected = target_strings(targets)
    spans = tuple([tuple(protected_spans(t, protected)) if t else () for t in texts])
    return frozen(Item, texts=texts, targets=targets, protected=protected, other_text=other_text, spans=spans)


def frozen(cls: type, **fields: Any) -> Any:
    """An instance of the frozen dataclass `cls` with every field given: its `__dict__` filled in
    one call, where the generated `__init__` makes one `object.__setattr__` call per field (a
    few microseconds per object, for objects made once per case and perturbation). Only for
    dataclasses without `__post_init__` or slots, and every field must be passed."""
    obj = _new_object(cls)
    obj.__dict__.update(fields)
    return obj


_new_object = object.__new__


@dataclass(frozen=True)
class Edit:
    """A perturbation's result: the new texts (same order and count as `Item.texts`), the new
    targets when the family rewrites them (None = unchanged), and how many edits were made."""

    texts: tuple[str, ...]
    targets: tuple[Any, ...] | None = None
    edits: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def make_edit(texts: tuple[str, ...], edits: int, targets: tuple[Any, ...] | None = None,
              detail: dict[str, Any] | None = None) -> Edit:
    """`Edit(texts=…, edits=…, …)` filled in one call (`frozen`): the generated `__init__` of a
    frozen dataclass costs about twice as much, and every family makes one Edit per case."""
    return frozen(Edit, texts=texts, targets=targets, edits=edits, detail={} if detail is None else detail)


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
    return RngKeys(seed, name, severity).rng(case_id)


# `random.Random(n)` runs the Python-level `Random.__init__` and `Random.seed` (type checks,
# `super()`) before the C seeding they end in; for an int, `Random.seed` is exactly
# `_random.Random.seed` plus `gauss_next = None`. Calling those two directly on an unseeded
# object gives the same generator state (tests hold it to `random.Random(n)`) for about half
# the cost, which is paid once per case and perturbation.
_new_random = random.Random.__new__
_seed_c = _random.Random.seed


def seeded_random(n: int) -> random.Random:
    """`random.Random(n)` for an int n, the same state, without the Python-level seeding."""
    rng = _new_random(random.Random)
    _seed_c(rng, n)
    rng.gauss_next = None
    return rng


class RngKeys:
    """`case_rng` for one (seed, perturbation, severity) and many cases: the parts of the key
    that do not depend on the case are joined once, not once per case."""

    __slots__ = ("_head", "_tail")

    def __init__(self, seed: int, name: str, severity: float | None) -> None:
        self._head = f"{int(seed)}\x1f"
        self._tail = f"\x1f{name}\x1f{severity_label(severity)}"

    def rng(self, case_id: str) -> random.Random:
        key = (self._head + (case_id if case_id.__class__ is str else str(case_id)) + self._tail).encode("utf-8")
        return seeded_random(int.from_bytes(_blake2b(key, digest_size=8).digest(), "big"))


_blake2b = hashlib.blake2b


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n): `randrange` costs several Python calls per draw, and the
    families draw once per edit (the float's 53 bits make the bias negligible for small n)."""
    return int(rng.random() * n)


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
    table = gap_table(rate)
    out: list[int] = []
    i = -1
    if table is not None:
        # the same gaps by look-up (tuieval.perturb.gaps): one C call per draw, not a logarithm,
        # a multiply and an int()
        rand, find = rng.random, bisect.bisect_right
        while True:
            i += find(table, rand())
            if i >= n:
                return out
            out.append(i)
    inv_log_q = 1.0 / math.log1p(-rate)
    rand, log = rng.random, math.log
    while True:
        # P(gap = g) = (1 - rate)^(g-1) * rate, g ≥ 1
        i += 1 + int(log(1.0 - rand()) * inv_log_q)
        if i >= n:
            return out
        out.append(i)


# ---------------------------------------------------------------------------------------------
# protected spans
# ---------------------------------------------------------------------------------------------

def target_strings(targets: Iterable[Any]) -> tuple[str, ...]:
    """Every scalar leaf of the targets as text (dict values and list items included), longest
    first: these are the strings whose occurrences in the input carry the answer."""
    if len(targets) == 1 and targets.__class__ in (list, tuple) and targets[0].__class__ is str:
        # the most common case of all, one text target: the loop below without its steps
        only = targets[0].strip()
        return (only,) if only else ()
    if targets.__class__ in (list, tuple) and all(t.__class__ is str for t in targets):
        # the common case, flat text targets: target_text of a str is the str itself
        flat = [s for s in (t.strip() for t in targets) if s]
        if len(flat) == 1:
            return (flat[0],)
        return tuple(sorted(dict.fromkeys(flat), key=len, reverse=True))
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


def _is_word_char(ch: str) -> bool:
    # the same test as the regex \w on str patterns: alphanumeric or underscore
    return ch.isalnum() or ch == "_"


def _whole_word_at(text: str, start: int, end: int, target: str) -> bool:
    # A target that starts (ends) with a word character only counts as a whole word there:
    # target "6" is the answer span in "6 sides" but not in "16", and letter target "B" is
    # the label "B)" but not the B of "Bristol".
    if _is_word_char(target[0]) and start > 0 and _is_word_char(text[start - 1]):
        return False
    if _is_word_char(target[-1]) and end < len(text) and _is_word_char(text[end]):
        return False
    return True


def find_whole(text: str, needle: str) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of `needle` in `text` (case-sensitive, overlapping
    allowed) that is a whole word at its word edges; plain `str.find`, no regex to compile."""
    hits = []
    if not needle:
        return hits
    i = text.find(needle)
    while i >= 0:
        if _whole_word_at(text, i, i + len(needle), needle):
            hits.append((i, i + len(needle)))
        i = text.find(needle, i + 1)
    return hits


@functools.lru_cache(maxsize=256)
def _char_at_word_end(ch: str) -> re.Pattern[str]:
    # starts with a literal, so the regex engine jumps between occurrences of `ch` (a leading
    # look-behind, or IGNORECASE, would make it try every position of the text)
    return re.compile(re.escape(ch) + r"(?!\w)")


def protected_spans(text: str, protected: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) spans of `text` where a protected string occurs (case-
    insensitively, whole words at word edges)."""
    if not text:
        return []
    low = text.lower()
    found: list[tuple[int, int]] = []
    for p in protected:
        if not p:
            continue
        lp = p.lower()
        if lp not in low:
            continue                 # the common case: the input does not contain this target
        if len(p) == 1 and p.isascii() and _is_word_char(p) and text.isascii():
            # a letter or digit target ("B", "6") occurs inside most words: a scan of the lower-
            # cased text for it at a word end, then the start tested for the few matches, instead
            # of a find and an edge test per occurrence (single characters cannot overlap; in
            # ASCII text lower() keeps offsets and word characters, and folds case as a
            # case-insensitive match would)
            for m in _char_at_word_end(lp).finditer(low):
                i = m.start()
                if i == 0 or not ((c := low[i - 1]).isalnum() or c == "_"):
                    found.append((i, i + 1))
            continue
        if len(low) != len(text) or len(lp) != len(p):
            # lower() changed a length ("İ" → "i̇"): offsets in `low` are not offsets in `text`
            rx = re.compile(re.escape(p), re.IGNORECASE)
            hits = [m.span() for m in rx.finditer(text)]
        else:
            hits = []
            i = low.find(lp)
            while i >= 0:
                hits.append((i, i + len(p)))
                i = low.find(lp, i + 1)
        found.extend(h for h in hits if _whole_word_at(text, h[0], h[1], p))
    if len(found) < 2:
        return found
    found.sort()
    spans = [found[0]]
    for start, end in found[1:]:
        if start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def inside(spans: tuple[tuple[int, int], ...] | list[tuple[int, int]], start: int, end: int | None = None) -> bool:
    """True when [start, end) (or the character at start) overlaps a protected span."""
    if not spans:
        return False
    end = start + 1 if end is None else end
    k = bisect.bisect_right(spans, (start, math.inf)) - 1
    if k >= 0 and spans[k][1] > start:
        return True
    k += 1
    return k < len(spans) and spans[k][0] < end


def pick_chars(rng: random.Random, text: str, spans, rate: float, eligible) -> list[int]:
    """Indices of characters chosen independently with probability `rate` among the eligible
    characters outside the protected spans.

    Every character is drawn at `rate` and the ineligible ones are dropped (thinning): each
    eligible character is still chosen with probability `rate`, independently, and the cost
    is one draw per chosen character rather than a pass over the text in Python.
    """
    chosen = draw_positions(rng, len(text), rate)
    if not spans:
        return [i for i in chosen if text[i] in eligible]
    # a byte per character, set inside the spans: one index per drawn character instead of an
    # `inside` call (the same test for a single character)
    blocked = bytearray(len(text))
    for s, e in spans:
        blocked[s:e] = b"\x01" * (e - s)
    return [i for i in chosen if text[i] in eligible and not blocked[i]]


def has_free_match(rx: re.Pattern, text: str, spans) -> bool:
    """Whether `rx` matches somewhere outside the protected spans."""
    pos = 0
    while True:
        m = rx.search(text, pos)
        if m is None:
            return False
        if not inside(spans, m.start(), m.end()):
            return True
        pos = m.start() + 1


# a compiled pattern with one capture group, or an object whose `split` gives the same pieces faster
Splitter = "re.Pattern | Any"
# None = every captured piece is eligible (saves a call per piece)
Eligible = "Callable[[list[str], int], bool] | None"
# returns the new piece, or None when the piece turns out not to be eligible
Replace = Callable[[list[str], int, random.Random], "str | None"]


def has_free_piece(parts: list[str], spans, eligible: Eligible) -> bool:
    """Whether some captured piece is eligible and outside the spans."""
    if eligible is None and not spans:
        return len(parts) > 1
    pos = 0
    for k, part in enumerate(parts):
        if k % 2 == 1 and (eligible is None or eligible(parts, k)) and not inside(spans, pos, pos + len(part)):
            return True
        pos += len(part)
    return False


def edit_parts(rng: random.Random, parts: list[str], spans, rate: float, eligible: Eligible, replace: Replace) -> int:
    """Change, in place, about `rate` of the eligible captured pieces of `parts` (from `re.split`
    with one capture group: they are at odd indices) outside the spans; returns the edits.

    Pieces are drawn at `rate` over all captured pieces and the ineligible ones dropped
    (thinning, as in `pick_chars`): each eligible piece is still chosen with probability `rate`.
    Eligibility only ever reads the pieces between captures, which no edit changes.
    """
    chosen = draw_positions(rng, len(parts) // 2, rate)
    if not chosen:
        return 0
    # the pieces overlapping a span found once per text (one bisection per span), not by an
    # `inside` test per chosen piece (numbers and contractions choose every piece at rate 1)
    blocked = blocked_pieces(parts, spans) if spans else ()
    edits = 0
    for j in chosen:
        k = 2 * j + 1
        if eligible is not None and not eligible(parts, k):
            continue
        if k in blocked:
            continue
        new = replace(parts, k, rng)
        if new is not None:
            parts[k] = new
            edits += 1
    return edits


def edit_pieces(item: Item, rng: random.Random, rate: float, splitter: "Splitter", eligible: Eligible,
                replace: Replace, nothing: str, check: Eligible = None) -> "Edit | Skip":
    """The word-level families' loop: split each text by `splitter` (one capture group), change
    about `rate` of the eligible captured pieces outside the protected spans with `replace`,
    or `Skip(nothing)` when no text has a piece that passes `check` (default: `eligible`)."""
    all_parts = [splitter.split(t) for t in item.texts]
    check = check or eligible
    if not any(has_free_piece(parts, item.spans_of(i), check) for i, parts in enumerate(all_parts)):
        return Skip(nothing)
    texts = []
    edits = 0
    for i, parts in enumerate(all_parts):
        n = edit_parts(rng, parts, item.spans_of(i), rate, eligible, replace)
        edits += n
        texts.append("".join(parts) if n else item.texts[i])
    return make_edit(tuple(texts), edits)


def edit_chars(item: Item, rng: random.Random, rate: float, finder: re.Pattern,
               choices: Mapping[str, Sequence[str]], nothing: str) -> "Edit | Skip":
    """The character-level families' loop: change about `rate` of the characters that have
    `choices` (`finder` matches one of them) outside the protected spans, each to one of its
    choices, uniformly. A table rather than a callback: one look-up per edit."""
    if not any(has_free_match(finder, t, item.spans_of(i)) for i, t in enumerate(item.texts)):
        return Skip(nothing)
    rand = rng.random
    texts = []
    edits = 0
    for i, text in enumerate(item.texts):
        chosen = pick_chars(rng, text, item.spans_of(i), rate, choices)
        if not chosen:
            texts.append(text)
            continue
        # the text rebuilt from slices between the edits: a few pieces per edit, rather than a
        # list of every character and a join of them (12% less for homoglyphs)
        out = []
        pos = 0
        for j in chosen:
            options = choices[text[j]]
            out.append(text[pos:j])
            out.append(options[int(rand() * len(options))])
            pos = j + 1
        out.append(text[pos:])
        edits += len(chosen)
        texts.append("".join(out))
    return make_edit(tuple(texts), edits)


class Choices(dict):
    """A piece → its possible replacements table, filled on first use by `make(piece)` (an
    empty tuple: the piece has none, so it is not eligible). Words repeat a lot in prose, so
    each distinct piece is worked out once; the table stops growing at `limit` entries."""

    def __init__(self, make: Callable[[str], tuple[str, ...]], limit: int = 100_000) -> None:
        super().__init__()
        self.make = make
        self.limit = limit

    def __missing__(self, piece: str) -> tuple[str, ...]:
        options = self.make(piece)
        if len(self) < self.limit:
            self[piece] = options
        return options


def edit_choices(item: Item, rng: random.Random, rate: float, splitter: "Splitter", choices: Choices,
                 nothing: str) -> "Edit | Skip":
    """`edit_pieces` for families whose replacement depends on the piece alone (casing,
    whitespace): each drawn piece becomes one of `choices[piece]`, uniformly; pieces with no
    choices are not eligible."""
    all_parts = [splitter.split(t) for t in item.texts]
    eligible = lambda parts, k: bool(choices[parts[k]])  # noqa: E731
    if not any(has_free_piece(parts, item.spans_of(i), eligible) for i, parts in enumerate(all_parts)):
        return Skip(nothing)
    rand = rng.random
    texts = []
    edits = 0
    for i, parts in enumerate(all_parts):
        chosen = draw_positions(rng, len(parts) // 2, rate)
        if not chosen:
            texts.append(item.texts[i])
            continue
        spans = item.spans_of(i)
        blocked = blocked_pieces(parts, spans) if spans else ()
        n = 0
        for j in chosen:
            k = 2 * j + 1
            options = choices[parts[k]]
            if not options or k in blocked:
                continue
            parts[k] = options[int(rand() * len(options))]
            n += 1
        edits += n
        texts.append("".join(parts) if n else item.texts[i])
    return make_edit(tuple(texts), edits)


def blocked_pieces(parts: list[str], spans) -> set[int]:
    """The indices k of `parts` whose piece overlaps a protected span (as `inside` decides for
    the piece's [start, end)): found once per text by bisecting the pieces' offsets for each of
    the few spans, instead of one `inside` test per drawn piece."""
    offsets = list(itertools.accumulate(map(len, parts), initial=0))
    out: set[int] = set()
    last = len(parts) - 1
    for s, e in spans:
        # from the last piece starting before s (every piece before it ends before s); a piece
        # [a, b) overlaps [s, e) when s < b and a < e, an empty piece at a when s <= a < e (so
        # every empty piece sitting at s counts, however many there are)
        k = max(0, bisect.bisect_left(offsets, s) - 1)
        while k <= last and offsets[k] < e:
            a, b = offsets[k], offsets[k + 1]
            if (s < b or (a == b and s <= a)) and a < e:
                out.add(k)
            k += 1
    return out
