"""Option shuffle: the options of a multiple-choice question put in another order, with the
target letter remapped so the same option text is still the answer.

Options are found as consecutive labelled lines in an input text, labels A, B, C … in order
("A) …", "A. …", "A: …", "(A) …"); each line keeps its label style, only the option texts
move. The target may be the letter ("B", "(B)", "B)", "B."), the option text itself (left as
it is: it has not changed) or "B) text" (both parts follow). The order is a uniformly random
permutation other than the original; this family takes no severity.
"""

from __future__ import annotations

import random
import re
from typing import Any

from tuieval.perturb.base import Edit, Family, Item, Skip

_LINE = re.compile(r"^(?P<pre>[ \t]*)(?P<label>\((?P<l1>[A-Z])\)|(?P<l2>[A-Z])[).:])(?P<gap>[ \t]+)(?P<text>\S.*?)[ \t]*$",
                   re.MULTILINE)
_LETTER_TARGET = re.compile(r"^\s*(\(?)([A-Z])([).:]?)\s*$")
_LETTER_TEXT_TARGET = re.compile(r"^\s*(\(?)([A-Z])([).:])\s+(.+?)\s*$")


def _option_block(text: str) -> list[re.Match] | None:
    """The first run of ≥ 2 consecutive lines labelled A, B, C … in order."""
    lines = list(_LINE.finditer(text))
    i = 0
    while i < len(lines):
        if _letter(lines[i]) != "A":
            i += 1
            continue
        block = [lines[i]]
        j = i + 1
        while j < len(lines) and _letter(lines[j]) == chr(ord("A") + len(block)) \
                and text.count("\n", block[-1].end(), lines[j].start()) == 1:
            block.append(lines[j])
            j += 1
        if len(block) >= 2:
            return block
        i = j
    return None


def _letter(m: re.Match) -> str:
    return m.group("l1") or m.group("l2")


def _remap(target: Any, new_letter: dict[str, str], texts_by_letter: dict[str, str]) -> tuple[Any, bool]:
    """(remapped target, whether it refers to an option)."""
    if not isinstance(target, str):
        return target, False
    m = _LETTER_TARGET.match(target)
    if m and m.group(2) in new_letter:
        return f"{m.group(1)}{new_letter[m.group(2)]}{m.group(3)}", True
    m = _LETTER_TEXT_TARGET.match(target)
    if m and m.group(2) in new_letter and texts_by_letter[m.group(2)].strip().lower() == m.group(4).lower():
        return f"{m.group(1)}{new_letter[m.group(2)]}{m.group(3)} {m.group(4)}", True
    low = target.strip().lower()
    return target, any(low == t.strip().lower() for t in texts_by_letter.values())


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    for which, text in enumerate(item.texts):
        block = _option_block(text)
        if block is not None:
            break
    else:
        return Skip("not multiple choice (no options labelled A, B, … on their own lines)")
    letters = [_letter(m) for m in block]
    texts_by_letter = {_letter(m): m.group("text") for m in block}
    n = len(block)
    order = list(range(n))
    while order == list(range(n)):
        rng.shuffle(order)
    # position p now shows the option that was at order[p]
    new_letter = {letters[order[p]]: letters[p] for p in range(n)}
    remapped = [_remap(t, new_letter, texts_by_letter) for t in item.targets]
    if not any(refers for _, refers in remapped):
        return Skip("the target is neither an option letter nor an option's text")
    pieces = []
    pos = 0
    for p, m in enumerate(block):
        src = block[order[p]]
        pieces.append(text[pos:m.start("text")])
        pieces.append(src.group("text"))
        pos = m.end("text")
    pieces.append(text[pos:])
    texts = list(item.texts)
    texts[which] = "".join(pieces)
    moved = sum(1 for p in range(n) if order[p] != p)
    return Edit(texts=tuple(texts), targets=tuple(t for t, _ in remapped), edits=moved,
                detail={"order": "".join(letters[i] for i in order)})


FAMILY = Family("options", "multiple-choice options reordered, target letter remapped", apply, None)
