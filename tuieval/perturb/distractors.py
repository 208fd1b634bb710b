"""Distractors: irrelevant sentences inserted into the input until it reaches a longer
length bucket (short → medium → long, as the scoreboard's input_tokens slice counts them).

The sentences name no person, place, number or date, and one that contains a target is never
used, so they cannot supply or contradict an answer. They go between the sentences of the
longest input text (the passage, or the question when there is nothing else), never after its
last sentence, so a question at the end stays at the end, and never inside a protected span.

`severity` ≤ 0.5 pads into the next bucket; above 0.5 into the longest one. A case already in
the longest bucket is skipped.
"""

from __future__ import annotations

import bisect
import functools
import operator
import random
import re

from tuieval.analysis.slices import MEDIUM_MAX_TOKENS, SHORT_MAX_TOKENS, estimate_tokens, token_bucket
from tuieval.perturb.base import Edit, Family, Item, Skip, make_edit

SENTENCES: tuple[str, ...] = (
    "The office kitchen was repainted a pale shade of green last spring.",
    "Several people prefer to take the stairs rather than wait for the lift.",
    "A small plant on the windowsill needs water every few days.",
    "The printer on the second corridor jams whenever the paper is damp.",
    "Most of the chairs in the meeting room were replaced after complaints about comfort.",
    "It rained for most of the afternoon, and the car park flooded slightly.",
    "Someone left an umbrella by the entrance, and nobody has claimed it yet.",
    "The coffee machine makes a loud noise before it starts pouring.",
    "A new recycling bin was placed next to the vending machine.",
    "The cleaning staff usually arrive early in the evening.",
    "There was a long discussion about which biscuits to order for the break room.",
    "The corridor lights switch off automatically when nobody walks past.",
    "A notice on the board reminds everyone to close the windows before leaving.",
    "The heating is turned up in winter, though some rooms stay cold.",
    "Many visitors comment on the large painting of a lighthouse in the lobby.",
    "The lift was out of service for a short while and then worked again.",
    "A delivery of paper towels arrived a little later than expected.",
    "Some colleagues bring their lunch from home, while others eat out.",
    "The garden behind the building has a bench that gets the morning sun.",
    "The blinds in the west-facing rooms are usually kept half closed.",
    "A fire drill is held from time to time, and everyone gathers outside.",
    "The reception desk keeps a bowl of mints for anyone who passes by.",
    "Parking near the entrance is often difficult in the mornings.",
    "The noticeboard is cluttered with old posters that nobody removes.",
    "A few people complained that the music in the waiting area was too loud.",
    "The windows were cleaned on a sunny day, which made a noticeable difference.",
    "Someone suggested moving the water cooler closer to the desks.",
    "The carpet in the hallway shows wear where most people walk.",
    "An old filing cabinet still stands in the corner, mostly empty.",
    "The wall clock in the kitchen runs a little fast.",
    "A spare set of keys is kept in a drawer at reception.",
    "The bicycle rack outside is full on days with good weather.",
    "The staff newsletter mostly covers birthdays and small announcements.",
    "There is a debate about whether the plants in the lobby are real.",
    "A stack of unused folders sits on a shelf near the photocopier.",
    "The door to the courtyard sticks a little in humid weather.",
    "People tend to gather near the window when the weather changes.",
    "The break room fridge is cleared out at the end of each week.",
    "A faint smell of fresh paint lingered in the stairwell for a while.",
    "Nobody remembers who chose the colour of the curtains.",
)
# A boundary ends after the whitespace that follows . ! or ?, or after a run of newlines: the
# offsets `re.finditer(r"[.!?]\s+(?=\S)|\n+")` ends its matches at. `_boundaries` finds them by
# looking only at those four characters (str.find, in C) instead of running the regex over every
# character of a long passage, which cost most of the padding's time (tests check the two agree).
BOUNDARY_RULE = re.compile(r"[.!?]\s+(?=\S)|\n+")
_SPACE_RUN = re.compile(r"\s+")
_NEWLINE_RUN = re.compile(r"\n+")
_NEXT = {"short": "medium", "medium": "long"}


def _insertion_points(text: str, spans) -> list[int]:
    """Offsets where a sentence may go: the start, and every sentence boundary before the last
    sentence that is not inside a protected span."""
    end = len(text.rstrip())
    # searching only up to `end` leaves out the boundaries after the last sentence, and no match
    # can end past it (the text before `end` ends in a non-space)
    points = [0, *_boundaries(text, end)]
    if spans:
        # the points are ascending: each of the few spans removes one run of them, found by bisection
        # (not one test of every point against every span)
        drop = set()
        for s, e in spans:
            drop.update(range(bisect.bisect_right(points, s), bisect.bisect_left(points, e)))
        if drop:
            points = [at for k, at in enumerate(points) if k not in drop]
    return points


def _boundaries(text: str, end: int) -> list[int]:
    """The ends of `BOUNDARY_RULE`'s matches in text[:end], where text[end - 1] is not a space."""
    marks: list[int] = []
    for ch in ".!?\n":
        find = text.find
        i = find(ch, 0, end)
        while i >= 0:
            marks.append(i)
            i = find(ch, i + 1, end)
    marks.sort()
    out: list[int] = []
    resume = 0                       # where the regex would scan on from after its last match
    for at in marks:
        if at < resume:
            continue                 # inside the whitespace a match already took
        if text[at] == "\n":
            resume = _NEWLINE_RUN.match(text, at, end).end()
        else:
            run = _SPACE_RUN.match(text, at + 1, end)
            if run is None:
                continue             # "3.5", "?!": no whitespace after the mark
            resume = run.end()       # < end, so a non-space follows: the lookahead holds
        out.append(resume)
    return out


def _added_tokens(sentence: str) -> float:
    # What inserting "sentence " before a word adds to `estimate_tokens`: that estimate is
    # 0.5 × non-CJK characters / 4 + 0.5 × words × 4/3 (+ CJK characters), and the sentences
    # are ASCII, so each one adds exactly this much before rounding. Summing it avoids
    # re-estimating the whole text after every sentence; the tests check the real bucket.
    return 0.5 * (len(sentence) + 1) / 4.0 + 0.5 * len(sentence.split()) * 4.0 / 3.0


_ADDED: dict[str, float] = {s: _added_tokens(s) for s in SENTENCES}


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    level = float(severity if severity is not None else FAMILY.default_severity)
    texts = list(item.texts)
    if all(not t or t.isspace() for t in texts):     # `not any(t.strip() …)` without copying the texts
        return Skip("no input text to pad")
    joined = "\n".join([*texts, item.other_text]) if item.other_text else "\n".join(texts)
    tokens = estimate_tokens(joined)
    current = token_bucket(tokens)
    if current not in _NEXT:
        return Skip(f"already in the longest length bucket ({current})")
    goal = "long" if level > 0.5 else _NEXT[current]
    pool = _pool(item.protected)
    if not pool:
        return Skip("every distractor sentence contains a target")
    which = 0 if len(texts) == 1 else max(range(len(texts)), key=lambda i: len(texts[i]))
    base = texts[which]
    spans = item.spans_of(which)
    if spans and sum(e - s for s, e in spans) >= len(base.strip()):
        # the text is the answer itself ("Repeat: {{ word }}"): padding it changes the task
        return Skip("the input text is all answer")
    points = _insertion_points(base, spans)
    # the estimate is rounded, so the unrounded one may be up to 0.5 lower; one token of
    # margin above the bucket's floor then guarantees the rounded estimate is past it
    floor = SHORT_MAX_TOKENS if goal == "medium" else MEDIUM_MAX_TOKENS
    need = floor + 1.0 - (tokens - 0.5)
    # (insertion point, sentence) in the order drawn; grouped by point only once, in _assemble
    placed: list[tuple[int, str]] = []
    unused = list(pool)
    left = len(unused)
    rand, n_points, added_of, place = rng.random, len(points), _ADDED, placed.append
    while need > 0:
        if not left:
            unused = list(pool)          # more padding than there are sentences: reuse them
            left = len(unused)
        # `below(rng, n)` written out: two draws per sentence, the same draws in the same order
        left -= 1
        sentence = unused.pop(int(rand() * (left + 1)))
        place((points[int(rand() * n_points)], sentence))
        need -= added_of[sentence]
    texts[which] = _assemble(base, placed)
    return make_edit(tuple(texts), len(placed), detail={"bucket": [current, goal]})


_ALL_LOWER = "\n".join(SENTENCES).lower()


def _pool(protected: tuple[str, ...]) -> tuple[str, ...]:
    """The sentences that contain no target (as a whole word, case-insensitively)."""
    clash = tuple(p.lower() for p in protected if p.lower() in _ALL_LOWER)
    if not clash:
        return SENTENCES             # the common case, decided by one substring test per target
    return _pool_without(clash)


@functools.lru_cache(maxsize=4096)
def _pool_without(clash: tuple[str, ...]) -> tuple[str, ...]:
    # option letters ("a", "b") and short words clash often and repeat: cached
    return tuple(s for s in SENTENCES if not any(_contains_word(s.lower(), p) for p in clash))


def _contains_word(haystack: str, needle: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", haystack) is not None


def _assemble(base: str, placed: list[tuple[int, str]]) -> str:
    """`base` with each sentence inserted at its point: by point, and at one point in the order
    drawn (the sort is stable). Each sentence is followed by one space, so it adds exactly its
    words (see _added_tokens)."""
    placed.sort(key=_point)
    out = []
    pos = 0
    for at, sentence in placed:
        if at != pos:
            out.append(base[pos:at])
            pos = at
        out.append(sentence)
        out.append(" ")
    out.append(base[pos:])
    return "".join(out)


_point = operator.itemgetter(0)


FAMILY = Family("distractors", "irrelevant sentences padding the input into a longer length bucket", apply, 0.5,
                "≤ 0.5 the next length bucket, above it the longest")
