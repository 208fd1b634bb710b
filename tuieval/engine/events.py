"""Typed events the engine emits; the headless progress bar and the Textual app consume them.

Events are plain classes so either face can handle them without the engine knowing which
face is listening. They behave as the dataclasses they were (keyword or positional
construction, defaults, field-wise equality, the same repr; SampleKey frozen and hashable)
but are written out: every `tuieval run` imports this module before its first request, and
generating nine dataclasses' methods took several milliseconds of its start.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any


#: marks a field left to its default: a new empty dict
_NEW_DICT: Any = object()


class _Fields:
    """Equality and repr from the class's `_fields`, as a dataclass has them."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value: unhashable

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({shown})"


class SampleKey(_Fields):
    """One (case, template, sample index): immutable, a dict key."""

    __slots__ = ("case_id", "template", "sample_index", "_hash")
    _fields = ("case_id", "template", "sample_index")

    def __init__(self, case_id: str, template: str, sample_index: int) -> None:
        # Through the slots' own setters (what object.__setattr__ ends in, without its lookup by
        # name): a run makes one key per sample it plans. The hash is the fields' tuple's, made
        # once: a key is looked up several times per request.
        _set_case_id(self, case_id)
        _set_template(self, template)
        _set_sample_index(self, sample_index)
        _set_hash(self, hash((case_id, template, sample_index)))

    def __hash__(self) -> int:  # type: ignore[override]
        return self._hash

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple:
        return (SampleKey, (self.case_id, self.template, self.sample_index))


_set_case_id = SampleKey.case_id.__set__  # type: ignore[attr-defined]
_set_template = SampleKey.template.__set__  # type: ignore[attr-defined]
_set_sample_index = SampleKey.sample_index.__set__  # type: ignore[attr-defined]
_set_hash = SampleKey._hash.__set__  # type: ignore[attr-defined]


class RunStarted(_Fields):
    _fields = ("run_id", "suite", "model", "simulated", "n_total", "n_already_done", "resumed", "n_judge_total",
               "n_judge_done")

    def __init__(self, run_id: str, suite: str, model: str, simulated: bool, n_total: int, n_already_done: int,
                 resumed: bool = False, n_judge_total: int = 0, n_judge_done: int = 0) -> None:
        self.run_id = run_id
        self.suite = suite
        self.model = model
        self.simulated = simulated
        self.n_total = n_total
        self.n_already_done = n_already_done
        self.resumed = resumed
        #: judge requests the run needs (0 without a judge scorer) and those already stored
        self.n_judge_total = n_judge_total
        self.n_judge_done = n_judge_done


class SampleStarted(_Fields):
    _fields = ("key", "dispatch_order", "messages", "attempt")

    def __init__(self, key: SampleKey, dispatch_order: int, messages: list[dict[str, str]], attempt: int = 1) -> None:
        self.key = key
        self.dispatch_order = dispatch_order
        self.messages = messages
        self.attempt = attempt


class TokenDelta(_Fields):
    _fields = ("key", "text")

    def __init__(self, key: SampleKey, text: str) -> None:
        self.key = key
        self.text = text


class SampleRetry(_Fields):
    _fields = ("key", "attempt", "reason", "delay_s", "rate_limited")

    def __init__(self, key: SampleKey, attempt: int, reason: str, delay_s: float, rate_limited: bool = False) -> None:
        self.key = key
        self.attempt = attempt
        self.reason = reason
        self.delay_s = delay_s
        self.rate_limited = rate_limited


class SampleFinished(_Fields):
    """Emitted only after the sample is committed to the database."""

    _fields = ("key", "row", "metadata")

    def __init__(self, key: SampleKey, row: Any = _NEW_DICT, metadata: Any = _NEW_DICT) -> None:
        self.key = key
        # a fresh dict per event when not given (a dataclass's default_factory)
        self.row = {} if row is _NEW_DICT else row
        self.metadata = {} if metadata is _NEW_DICT else metadata


class JudgeFinished(_Fields):
    """One judge request finished and was stored (`row` is the judgement; counts so far)."""

    _fields = ("key", "row", "n_judge_done", "n_judge_total")

    def __init__(self, key: SampleKey, row: dict[str, Any], n_judge_done: int, n_judge_total: int) -> None:
        self.key = key
        self.row = row
        self.n_judge_done = n_judge_done
        self.n_judge_total = n_judge_total


class ConcurrencyChanged(_Fields):
    _fields = ("limit", "reason")

    def __init__(self, limit: int, reason: str) -> None:
        self.limit = limit
        self.reason = reason


class RunFinished(_Fields):
    _fields = ("run_id", "status", "n_done", "n_total", "n_errors", "elapsed_s")

    def __init__(self, run_id: str, status: str, n_done: int, n_total: int, n_errors: int, elapsed_s: float) -> None:
        self.run_id = run_id
        self.status = status  # complete | partial | failed
        self.n_done = n_done
        self.n_total = n_total
        self.n_errors = n_errors
        self.elapsed_s = elapsed_s


Event = (RunStarted | SampleStarted | TokenDelta | SampleRetry | SampleFinished | JudgeFinished | ConcurrencyChanged
         | RunFinished)
