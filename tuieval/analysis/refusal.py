"""Does an answer decline the request?  A phrase heuristic for refusal rates.

Matches the stock openings of English refusals ("I can't help with that", "I'm sorry, but I
cannot", "As an AI language model, I", "I won't") in the first 200 characters, after
folding curly apostrophes.  It misses refusals in other languages and ones that open with
something else, and can flag an answer that quotes such a phrase; it is meant for the change
of a rate between two windows, where such misses cancel out, not for judging one answer.
"""

from __future__ import annotations

import re

_HEAD = 200
_REFUSAL = re.compile(
    r"\b(?:i\s*(?:can ?not|can't|cannot|won't|will not|am not able to|am unable to|'m unable to|'m not able to)"
    r"\s+(?:help|assist|provide|comply|do that|answer|share|fulfil|fulfill|support|create|generate|write|engage)"
    r"|i'm sorry,? but i|i am sorry,? but i|sorry, (?:but )?i (?:can't|cannot|won't)"
    r"|as an ai(?: language model)?,? i|i must (?:decline|refuse)|i (?:have to|need to) decline)",
    re.IGNORECASE,
)


def is_refusal(text: str | None) -> bool:
    """True when the answer opens like a refusal (see the module docstring for its limits)."""
    if not text:
        return False
    head = text[:_HEAD].replace("\u2019", "'")
    return _REFUSAL.search(head) is not None
