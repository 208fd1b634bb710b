"""The `judge` scorer: a rubric, the judge prompt, the strict grade parser and the verdict rule.

A judge scorer does not call a model itself (scorers stay pure): the engine sends the
requests this module builds (:meth:`JudgeScorer.messages`) to each judge model, stores each
reply as a judgement, and asks :meth:`JudgeScorer.verdict` for the sample's Score once every
judgement of the sample is in.  Until then :meth:`score` returns a *pending* Score (not correct).

Rubrics (one of):

* ``choices`` — choice strings with scores in [0, 1] (OpenAI evals' model-graded style),
  e.g. ``{A: 1, B: 0.5, C: 0}``; default ``{PASS: 1, FAIL: 0}``;
* ``range`` — an integer score range ``[lo, hi]`` (G-Eval style); a grade g scores
  (g − lo) / (hi − lo).

A grade is correct when its score is at least ``pass`` (default 0.5). ``criteria`` is the
rubric text shown to the judge.  Modes: ``reference`` (the answer is compared with the case's
target), ``reference_free`` (criteria only) and ``pairwise`` (which of the answer and the
reference answer — the target, or the case variable named by ``against`` — is better; judged
in both orders, an order-dependent verdict counts as a tie).

The reply is parsed strictly: the last line matching ``grade_pattern`` (default
``GRADE: <grade>``) must name a listed choice or a number inside the range; anything else is
*unparsed*, counted, and never correct.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from tuieval.scoring.base import BaseScorer, Score, target_text

#: In every judge system prompt: the loopback test server recognises rubric judge calls by it.
RUBRIC_MARKER = "Finish with one line: GRADE:"
DEFAULT_PATTERN = r"^[ \t]*\**[ \t]*GRADE[ \t]*:[ \t]*\**[ \t]*([^\s*]+?)[.*]*[ \t]*$"
DEFAULT_CHOICES = {"PASS": 1.0, "FAIL": 0.0}
PAIRWISE_CHOICES = ("A", "B", "TIE")
MODES = ("reference", "reference_free", "pairwise")
#: pairwise orientations: "ab" shows the answer first, "ba" the reference first
ORIENTATIONS = ("ab", "ba")
DEFAULT_CRITERIA = {
    "reference": "The answer gives the same final answer as the reference answer.",
    "reference_free": "The answer is correct and answers the question.",
    "pairwise": "Which answer answers the question better?",
}
MAX_CHARS = 8000
_TAG_NAMES = ("question", "answer", "reference", "answer_a", "answer_b", "criteria", "grades")


@dataclass(frozen=True)
class Grade:
    """One parsed judge reply: the grade as written, its score, or why it could not be read."""

    grade: str | None
    score: float | None
    reasoning: str
    problem: str | None = None

    @property
    def parsed(self) -> bool:
        return self.grade is not None


def _inert(text: str) -> str:
    """Model text placed inside our tags cannot close them (the answer is data, not prompt)."""
    text = str(text)[:MAX_CHARS]
    for name in _TAG_NAMES:
        text = re.sub(rf"</?\s*{name}\s*>", lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text,
                      flags=re.I)
    return text


class JudgeScorer(BaseScorer):
    """See the module docstring. `models` is the judge panel (one or more model specs)."""

    type = "judge"

    def __init__(self, name: str | None = None, *, models: Sequence[str], mode: str = "reference",
                 criteria: str | None = None, choices: Mapping[str, float] | None = None,
                 range: Sequence[int] | None = None, pass_score: float = 0.5, samples: int = 1,
                 temperature: float = 0.0, max_tokens: int | None = None, base_url: str | None = None,
                 api_key_env: str | None = None, grade_pattern: str | None = None,
                 against: str | None = None) -> None:
        super().__init__(name)
        self.models = list(models)
        self.mode = mode
        self.criteria = criteria or DEFAULT_CRITERIA[mode]
        self.range = tuple(int(x) for x in range) if range is not None else None
        if mode == "pairwise":
            self.choices = None
        elif self.range is None:
            self.choices = {str(k): float(v) for k, v in (choices or DEFAULT_CHOICES).items()}
        else:
            self.choices = None
        self.pass_score = float(pass_score)
        self.samples = int(samples)
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.grade_pattern = grade_pattern or DEFAULT_PATTERN
        self._pattern = re.compile(self.grade_pattern, re.M | re.I)
        self.against = against

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {"models": list(self.models), "mode": self.mode, "criteria": self.criteria,
                               "pass": self.pass_score, "samples": self.samples, "temperature": self.temperature}
        if self.choices is not None:
            out["choices"] = dict(self.choices)
        if self.range is not None:
            out["range"] = list(self.range)
        for key in ("max_tokens", "base_url", "api_key_env", "against"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.grade_pattern != DEFAULT_PATTERN:
            out["grade_pattern"] = self.grade_pattern
        return out

    # -- what the engine asks ---------------------------------------------------

    def units(self) -> list[tuple[str, int, str]]:
        """Every judgement one response needs: (judge spec, judge sample index, orientation)."""
        orientations = ORIENTATIONS if self.mode == "pairwise" else ("",)
        return [(m, k, o) for m in self.models for k in range(self.samples) for o in orientations]

    def grade_names(self) -> list[str]:
        """The grades the judge may give, best first (as shown to it)."""
        if self.mode == "pairwise":
            return list(PAIRWISE_CHOICES)
        if self.range is not None:
            return [str(g) for g in range(self.range[1], self.range[0] - 1, -1)]
        assert self.choices is not None
        return [k for k, _ in sorted(self.choices.items(), key=lambda kv: -kv[1])]

    def _grades_text(self) -> str:
        if self.mode == "pairwise":
            return "A, B, TIE"
        if self.range is not None:
            return f"{self.range[0]}..{self.range[1]}"
        assert self.choices is not None
        return ", ".join(f"{k}={v:g}" for k, v in self.choices.items())

    def other_answer(self, targets: Sequence[Any], variables: Mapping[str, Any]) -> str:
        """The reference answer: the case variable `against`, else the first target."""
        if self.against is not None:
            return str(variables.get(self.against, ""))
        return " | ".join(t for t in (target_text(t) for t in targets) if t is not None)

    def messages(self, question: str, answer: str, targets: Sequence[Any], variables: Mapping[str, Any],
                 orientation: str = "") -> list[dict[str, str]]:
        """The chat messages of one judge request."""
        system = ("You are an impartial grader of answers. Read the rubric, reason briefly, and grade. "
                  f"{RUBRIC_MARKER} <grade>, using one of the grades listed in <grades>.")
        parts = [f"<question>\n{_inert(question)}\n</question>"]
        reference = self.other_answer(targets, variables)
        if self.mode == "pairwise":
            first, second = (answer, reference) if orientation != "ba" else (reference, answer)
            parts.append(f"<answer_a>\n{_inert(first)}\n</answer_a>")
            parts.append(f"<answer_b>\n{_inert(second)}\n</answer_b>")
            ask = "Which answer is better: A, B, or TIE when they are equally good?"
        else:
            parts.append(f"<answer>\n{_inert(answer)}\n</answer>")
            if self.mode == "reference":
                parts.append(f"<reference>\n{_inert(reference)}\n</reference>")
            ask = "Grade the answer against the criteria."
        parts.append(f"<criteria>\n{self.criteria}\n</criteria>")
        parts.append(f"<grades>{self._grades_text()}</grades>")
        parts.append(f"{ask} {RUBRIC_MARKER} <grade>")
        return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]

    def parse(self, reply: str | None) -> Grade:
        """The grade of one reply (strict: see the module docstring)."""
        text = str(reply or "")
        matches = list(self._pattern.finditer(text))
        if not matches:
            return Grade(None, None, text.strip(), "no grade line")
        m = matches[-1]
        raw = (m.group(1) if m.groups() else m.group(0)).strip()
        reasoning = (text[: m.start()] + text[m.end():]).strip()
        if self.mode == "pairwise":
            hit = raw.upper()
            if hit in PAIRWISE_CHOICES:
                return Grade(hit, None, reasoning)
            return Grade(None, None, reasoning, f"grade {raw[:20]!r} is not A, B or TIE")
        if self.range is not None:
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            lo, hi = self.range
            if not (lo <= value <= hi):
                return Grade(None, None, reasoning, f"grade {raw[:20]!r} is not a number in {lo}..{hi}")
            return Grade(raw, (value - lo) / (hi - lo), reasoning)
        assert self.choices is not None
        for name, score in self.choices.items():
            if name.upper() == raw.upper():
                return Grade(name, score, reasoning)
        return Grade(None, None, reasoning, f"grade {raw[:20]!r} is not one of {', '.join(self.choices)}")

    def is_pass(self, score: float | None) -> bool:
        return score is not None and score >= self.pass_score - 1e-12

    def _score(self, response: str, targets: list) -> Score:
        # Pure scoring cannot judge: the engine fills the verdict in once the judgements arrive.
        return PENDING

    def verdict(self, judgements: Iterable[Mapping[str, Any]]) -> Score:
        """The sample's Score from its stored judgements (see `sample_verdict`)."""
        v = sample_verdict(self, judgements)
        return Score(extracted=None, correct=v["correct"], score=v["score"])


#: A judge scorer's Score before its judgements are in.
PENDING = Score(extracted=None, correct=False, score=0.0)


def pairwise_outcome(ab: str | None, ba: str | None) -> tuple[str | None, bool]:
    """(win | loss | tie | None, order_dependent) of the answer from its two orders' grades.

    In order ab the answer is A, in ba it is B. A missing or unparsed order gives None.
    Orders naming different outcomes (e.g. "A" both times: the first position always wins)
    are order dependent, and count as a tie."""
    if ab is None or ba is None:
        return None, False
    first = {"A": "win", "B": "loss", "TIE": "tie"}[ab]
    second = {"B": "win", "A": "loss", "TIE": "tie"}[ba]
    if first == second:
        return first, False
    return "tie", True


_OUTCOME_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def vote_units(scorer: JudgeScorer, judgements: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int], dict]:
    """Per (judge, judge sample): {"score", "correct", "parsed", "order_dependent"} of one vote.

    A vote whose reply was unparsed (or whose request failed) has parsed False and no score."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for j in judgements:
        rows.setdefault((j["judge"], int(j["judge_sample"])), {})[j.get("orientation") or ""] = j
    out: dict[tuple[str, int], dict] = {}
    for unit, by_order in rows.items():
        if scorer.mode == "pairwise":
            ab, ba = by_order.get("ab"), by_order.get("ba")
            grade_ab = ab.get("grade") if ab and ab.get("parsed") else None
            grade_ba = ba.get("grade") if ba and ba.get("parsed") else None
            outcome, dependent = pairwise_outcome(grade_ab, grade_ba)
            score = None if outcome is None else _OUTCOME_SCORE[outcome]
            out[unit] = {"score": score, "correct": outcome == "win", "parsed": outcome is not None,
                         "order_dependent": dependent, "outcome": outcome}
        else:
            j = by_order.get("")
            parsed = bool(j and j.get("parsed"))
            score = j.get("score") if parsed else None
            out[unit] = {"score": score, "correct": parsed and scorer.is_pass(score), "parsed": parsed,
                         "order_dependent": False, "outcome": None}
    return out


def sample_verdict(scorer: JudgeScorer, judgements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The sample's verdict: correct when a strict majority of ALL votes (every judge, every
    judge sample; an unparsed vote counts against) is correct; score the mean score of the
    parsed votes (0 when none parsed)."""
    judgements = list(judgements)
    votes = list(vote_units(scorer, judgements).values())
    n = len(votes)
    # what the judges said most often: the grade (pairwise: win / tie / loss), for listings
    said = [v["outcome"] for v in votes if v["outcome"]] if scorer.mode == "pairwise" else \
        [j["grade"] for j in judgements if j.get("parsed") and j.get("grade") is not None]
    modal = max(sorted(set(said)), key=said.count) if said else None
    n_correct = sum(v["correct"] for v in votes)
    scores = [v["score"] for v in votes if v["score"] is not None]
    return {"correct": n > 0 and 2 * n_correct > n, "score": float(sum(scores) / len(scores)) if scores else 0.0,
            "n_votes": n, "n_correct": n_correct, "n_unparsed": sum(not v["parsed"] for v in votes), "grade": modal}
