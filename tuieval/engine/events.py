"""Typed events the engine emits; the headless progress bar and the Textual app consume them.

Events are plain dataclasses so either face can handle them without the engine knowing
which face is listening.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SampleKey:
    case_id: str
    template: str
    sample_index: int


@dataclass
class RunStarted:
    run_id: str
    suite: str
    model: str
    simulated: bool
    n_total: int
    n_already_done: int
    resumed: bool = False
    #: judge requests the run needs (0 without a judge scorer) and those already stored
    n_judge_total: int = 0
    n_judge_done: int = 0


@dataclass
class SampleStarted:
    key: SampleKey
    dispatch_order: int
    messages: list[dict[str, str]]
    attempt: int = 1


@dataclass
class TokenDelta:
    key: SampleKey
    text: str


@dataclass
class SampleRetry:
    key: SampleKey
    attempt: int
    reason: str
    delay_s: float
    rate_limited: bool = False


@dataclass
class SampleFinished:
    """Emitted only after the sample is committed to the database."""

    key: SampleKey
    row: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeFinished:
    """One judge request finished and was stored (`row` is the judgement; counts so far)."""

    key: SampleKey
    row: dict[str, Any]
    n_judge_done: int
    n_judge_total: int


@dataclass
class ConcurrencyChanged:
    limit: int
    reason: str


@dataclass
class RunFinished:
    run_id: str
    status: str  # complete | partial | failed
    n_done: int
    n_total: int
    n_errors: int
    elapsed_s: float


Event = (RunStarted | SampleStarted | TokenDelta | SampleRetry | SampleFinished | JudgeFinished | ConcurrencyChanged
         | RunFinished)
