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

import random
import re

from tuieval.analysis.slices import MEDIUM_MAX_TOKENS, SHORT_MAX_TOKENS, estimate_tokens, token_bucket
from tuieval.perturb.base import Edit, Family, Item, Skip, protected_spans

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
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")
_NEXT = {"short": "medium", "medium": "long"}


_SENTENCE_TOKENS: dict[str, int] = {}


def _tokens(sentence: str) -> int:
    if sentence not in _SENTENCE_TOKENS:
        _SENTENCE_TOKENS[sentence] = estimate_tokens(sentence)
    return _SENTENCE_TOKENS[sentence]


def _bucket(texts: list[str], other: str) -> str:
    return token_bucket(estimate_tokens("\n".join([*texts, other]) if other else "\n".join(texts)))


def _insertion_points(text: str, protected: tuple[str, ...]) -> list[int]:
    """Offsets where a sentence may go: the start, and every sentence boundary before the last
    sentence that is not inside a protected span."""
    spans = protected_spans(text, protected)
    points = [0]
    for m in _BOUNDARY.finditer(text):
        at = m.end()
        if at >= len(text.rstrip()) or any(s < at <= e for s, e in spans):
            continue
        points.append(at)
    return points


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    level = float(severity if severity is not None else FAMILY.default_severity)
    texts = list(item.texts)
    if not any(t.strip() for t in texts):
        return Skip("no input text to pad")
    current = _bucket(texts, item.other_text)
    if current not in _NEXT:
        return Skip(f"already in the longest length bucket ({current})")
    goal = "long" if level > 0.5 else _NEXT[current]
    low_targets = [p.lower() for p in item.protected]
    pool = [s for s in SENTENCES if not any(_contains_word(s.lower(), p) for p in low_targets)]
    if not pool:
        return Skip("every distractor sentence contains a target")
    which = max(range(len(texts)), key=lambda i: len(texts[i]))
    base = texts[which]
    points = _insertion_points(base, item.protected)
    inserted: dict[int, list[str]] = {}
    order: list[str] = []
    added = 0
    floor = SHORT_MAX_TOKENS if goal == "medium" else MEDIUM_MAX_TOKENS
    # Token estimates add up roughly (characters and words), so each round inserts enough
    # sentences to cover the estimated shortfall, then measures the real bucket: a few
    # estimates per case instead of one per inserted sentence.
    while True:
        texts[which] = _assemble(base, points, inserted)
        joined = "\n".join([*texts, item.other_text]) if item.other_text else "\n".join(texts)
        tokens = estimate_tokens(joined)
        if token_bucket(tokens) == goal:
            break
        need = floor + 1 - tokens
        while need > 0:
            if not order:
                order = rng.sample(pool, len(pool))
            sentence = order.pop()
            inserted.setdefault(points[rng.randrange(len(points))], []).append(sentence)
            added += 1
            need -= _tokens(sentence)
    return Edit(texts=tuple(texts), edits=added, detail={"bucket": [current, goal]})


def _contains_word(haystack: str, needle: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", haystack) is not None


def _assemble(base: str, points: list[int], inserted: dict[int, list[str]]) -> str:
    if not inserted:
        return base
    out = []
    pos = 0
    for at in sorted(inserted):
        out.append(base[pos:at])
        out.append(" ".join(inserted[at]) + (" " if at < len(base) and not base[at:at + 1].isspace() else ""))
        pos = at
    out.append(base[pos:])
    return "".join(out)


FAMILY = Family("distractors", "irrelevant sentences padding the input into a longer length bucket", apply, 0.5,
                "≤ 0.5 the next length bucket, above it the longest")
