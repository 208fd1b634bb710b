"""Multiple-choice answers: find the option letter a response commits to.

Responses state their choice in many ways ("The answer is (B)", "B.", "**B**",
"Answer: b", "\\boxed{C}", "I'd go with C"), and a chain of thought mentions other
letters on the way. Patterns are therefore tried from most to least explicit, and the
first that finds something decides:

1. the whole response is a letter with decoration: "B", "b.", "**(B)**";
2. an explicit statement — "answer is B", "Answer: (b)", "answer to ... is **C**",
   "\\boxed{D}" — taking the LAST one, since a response may revise itself;
3. the response opens with a labelled letter: "B. Paris", "(C) 42", "**D)** ..." —
   unless other lines are labelled with other letters (the options restated);
4. a bold letter, "**B**" or "**B. Paris**", the last one;
5. a parenthesised letter "(B)" or "option B" — only if exactly one distinct letter is
   mentioned this way (responses often walk through every option);
6. a bare capital letter token — again only if exactly one distinct letter appears
   ("I think it's C"); "A" and "I" followed by a lowercase word are read as English.

Lowercase letters are only trusted where a letter is clearly meant (patterns 1 and 2),
and in pattern 2 only when nothing but punctuation follows ("answer is a dog" is not A).
Anything else extracts nothing: an honest None beats a guessed letter.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from tuieval.scoring.base import BaseScorer, Score, binary

DEFAULT_CHOICES = "ABCD"

# Markdown/quote decoration that may surround a letter.
_DECO = r"""[\s*_`"'(\[]*"""


class ChoiceExtractor:
    """Finds the chosen letter among `choices` (upper-case ASCII letters)."""

    def __init__(self, choices: str = DEFAULT_CHOICES) -> None:
        self.choices = choices.upper()
        letter = "[" + re.escape(self.choices) + "]"
        self._whole = re.compile(rf"^{_DECO}(?P<L>{letter})[\s*_`\"')\].:]*$", re.IGNORECASE)
        self._explicit = re.compile(
            rf"""
            \banswers?\b
            (?:\s+(?:to|for)\b[^.\n:]{{0,60}}?)?            # "answer to this question"
            # One loop over single separators/words (no nested quantifiers), so a long
            # run of spaces or asterisks after "answer" cannot cause slow backtracking.
            (?:[\s*_`:=\-\u2013\u2014"'(\[]|\b(?:is|(?:would|should|will)\s+be|option|choice|letter)\b)*
            (?P<L>{letter})(?![\w])
            | \\boxed\{{\s*(?:\\text(?:bf)?\{{\s*)?[(\[]?\s*(?P<B>{letter})\b
            """,
            re.IGNORECASE | re.VERBOSE,
        )
        # After a lowercase letter only punctuation/decoration may follow on its line.
        self._lower_ok = re.compile(r"[ \t*_`\"')\].!?,;:]*(?:$|\n)")
        self._leading = re.compile(rf"^{_DECO}(?P<L>{letter})(?:[)\].:]|\*\*)(?:\s|$|\*)", re.MULTILINE)
        self._bold = re.compile(rf"\*\*\s*[(\[]?(?P<L>{letter})(?:[)\].:]|\s*\*\*)")
        self._mentioned = re.compile(
            rf"\((?P<L>{letter})\)|\b(?i:option|choice)\s+[(\[]?(?P<O>{letter})(?![\w])"
        )
        self._bare = re.compile(rf"(?<![\w\-/'’.])(?P<L>{letter})(?![\w\-/'’])")
        self._english_word = re.compile(r"\s+[a-z]")

    def extract(self, text: str) -> str | None:
        """The chosen letter (upper case), or None when the response does not commit."""
        text = unicodedata.normalize("NFKC", text).strip()
        if not text:
            return None
        whole = self._whole.match(text)
        if whole:
            return whole.group("L").upper()
        explicit = None
        for m in self._explicit.finditer(text):
            found = m.group("L") or m.group("B")
            if found.islower() and m.group("L") and not self._lower_ok.match(text, m.end()):
                continue
            explicit = found
        if explicit:
            return explicit.upper()
        leading = self._leading.match(text)
        if leading:
            # "A) ... B) ... C) ..." restates the options rather than choosing one.
            labels = {m.group("L") for m in self._leading.finditer(text)}
            if len(labels) == 1:
                return leading.group("L")
        bold = [m.group("L") for m in self._bold.finditer(text)]
        if bold:
            return bold[-1]
        mentioned = {m.group("L") or m.group("O") for m in self._mentioned.finditer(text)}
        if len(mentioned) == 1:
            return mentioned.pop()
        if mentioned:
            return None
        bare = {
            m.group("L")
            for m in self._bare.finditer(text)
            if not (m.group("L") in "AI" and self._english_word.match(text, m.end()))
        }
        return bare.pop() if len(bare) == 1 else None

    def target_letter(self, target: Any) -> str | None:
        """A target as a letter: "B", "b", "(B)", "B. Paris" all mean B."""
        if not isinstance(target, str):
            return None
        return self.extract(target)


class ChoiceScorer(BaseScorer):
    """The extracted choice letter equals a target letter (case-insensitive).

    Option: `choices`, the valid letters (default "ABCD"); letters outside it are never
    extracted, which is what keeps "I" in "I think" from being read as option I.
    """

    type = "choice"

    def __init__(self, name: str | None = None, choices: str = DEFAULT_CHOICES) -> None:
        super().__init__(name)
        self.extractor = ChoiceExtractor(choices)

    @property
    def choices(self) -> str:
        return self.extractor.choices

    def options(self) -> dict[str, Any]:
        return {"choices": self.choices}

    def _score(self, response: str, targets: list) -> Score:
        letter = self.extractor.extract(response)
        if letter is None:
            return binary(None, False)
        wanted = {self.extractor.target_letter(t) for t in targets}
        return binary(letter, letter in wanted)
