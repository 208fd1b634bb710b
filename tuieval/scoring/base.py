"""Core scoring types shared by every scorer: `Score`, the `Scorer` protocol and spec errors.

Scorers are pure functions of (response text, accepted targets): no I/O, no global state,
so the engine can call them from any task and the analysis code can re-score stored
responses with a different extractor to measure extraction sensitivity.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True, init=False)
class Score:
    """The outcome of scoring one response.

    `extracted` is the text the scorer actually compared (the number as written, the
    choice letter, the regex group, the canonical JSON...), or None when nothing could be
    extracted — kept separate from `correct` so extraction failures can be counted.
    `score` is in [0, 1]; every scorer is all-or-nothing except JSON with `fields`,
    which gives partial credit for the fraction of fields that match.
    """

    extracted: str | None
    correct: bool
    score: float

    def __init__(self, extracted: str | None, correct: bool, score: float) -> None:
        # Checked here because a score outside [0, 1] would silently corrupt every mean.
        if not (0.0 <= score <= 1.0):
            raise ValueError(f"score must be in [0, 1], got {score!r}")
        # Written into the instance's dict, as the frozen dataclass's own __init__ would through
        # object.__setattr__ three times (every sample makes a Score: that was most of its cost).
        fields = self.__dict__
        fields["extracted"] = extracted
        fields["correct"] = correct
        fields["score"] = score


@runtime_checkable
class Scorer(Protocol):
    """Anything that can judge a response against a list of accepted targets."""

    name: str

    def score(self, response: str, targets: list) -> Score:
        """Correct when the response matches ANY of `targets`."""
        ...


class ScorerSpecError(ValueError):
    """A scorer spec that cannot be built.

    `field_path` names the offending field (e.g. "scorers[1].tolerance"), `message` says
    what is wrong, and `problems` lists every problem found as "path: message" strings.
    """

    def __init__(self, field_path: str, message: str, problems: list[str] | None = None) -> None:
        self.field_path = field_path
        self.message = message
        self.problems = list(problems) if problems else [f"{field_path}: {message}"]
        super().__init__(f"{field_path}: {message}")


#: A scorer's result when there is no response at all (e.g. the request failed).
NO_ANSWER = Score(extracted=None, correct=False, score=0.0)


def as_target_list(targets: Any) -> list:
    """The accepted targets as a list.

    The engine always passes a list, but a bare target is accepted too so a scorer can be
    called by hand (`scorer.score("42", 42)`). Tuples count as lists of targets.
    """
    if targets is None:
        return []
    if targets.__class__ is list:  # what the engine passes: scorers only read it, no copy needed
        return targets
    if isinstance(targets, (list, tuple)):
        return list(targets)
    return [targets]


def is_number(value: Any) -> bool:
    """True for real numbers but not bools (YAML `yes` is a bool, not the number 1)."""
    kind = type(value)
    if kind is int or kind is float:  # the common case, without the ABC check's cost
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def target_text(target: Any) -> str | None:
    """How a target of any YAML/JSON type is written as text, for the text scorers.

    Bools render as JSON does ("true"/"false"), not Python's "True"; dicts and lists as
    canonical JSON. None has no text: a null target never matches.
    """
    if target is None:
        return None
    if isinstance(target, str):
        return target
    if isinstance(target, bool):
        return "true" if target else "false"
    if is_number(target):
        return str(target)
    if isinstance(target, (dict, list, tuple)):
        return canonical_json(target)
    return str(target)


def canonical_json(value: Any) -> str:
    """One stable text form of a JSON value (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class ScorerSpec:
    """A suite's scorer as a typed value: its type, its (unique) name and its options.

    The loader validates a suite's `scorers:` once and keeps these; a run stores
    `as_mapping()`, from which `build_scorer` rebuilds the same scorer.
    """

    type: str
    name: str
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, scorer: "BaseScorer") -> "ScorerSpec":
        return cls(scorer.type, scorer.name, tuple(scorer.options().items()))

    def as_mapping(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, **dict(self.options)}


class BaseScorer:
    """Shared plumbing: the name, the spec it was built from, and the null-response case."""

    #: The spec `type` this class implements.
    type: ClassVar[str] = ""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.type

    def options(self) -> dict[str, Any]:
        """The options this scorer was built with (defaults filled in), for run records."""
        return {}

    @property
    def spec(self) -> dict[str, Any]:
        """A spec that rebuilds this scorer: `build_scorer(s.spec)` behaves identically."""
        return {"type": self.type, "name": self.name, **self.options()}

    def score(self, response: str | None, targets: Any) -> Score:
        # A failed request stores no response; scoring it must not crash the run.
        if response is None:
            return NO_ANSWER
        return self._score(str(response), as_target_list(targets))

    def _score(self, response: str, targets: list) -> Score:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}(name={self.name!r}{', ' + opts if opts else ''})"


def binary(extracted: str | None, correct: bool) -> Score:
    """An all-or-nothing score."""
    return Score(extracted=extracted, correct=correct, score=1.0 if correct else 0.0)
