"""The engine's events behave as the dataclasses they replaced: construction by position or
keyword with the same defaults, field-wise equality, the dataclass repr, SampleKey frozen and
hashable, the others unhashable; and none of them is a generated dataclass (their methods
were generated at every `tuieval run`'s start)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from tuieval.engine import events
from tuieval.engine.events import (ConcurrencyChanged, JudgeFinished, RunFinished, RunStarted, SampleFinished,
                                   SampleKey, SampleRetry, SampleStarted, TokenDelta)

KEY = SampleKey("c1", "t0", 2)


def test_sample_key_is_a_frozen_hashable_value() -> None:
    assert KEY == SampleKey("c1", "t0", 2) and KEY != SampleKey("c1", "t0", 3)
    assert KEY != ("c1", "t0", 2)  # not a tuple: only another key equals it
    assert len({KEY, SampleKey("c1", "t0", 2), SampleKey("c2", "t0", 2)}) == 2
    assert {KEY: 1}[SampleKey(case_id="c1", template="t0", sample_index=2)] == 1
    assert repr(KEY) == "SampleKey(case_id='c1', template='t0', sample_index=2)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        KEY.case_id = "x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(KEY)) == KEY


def test_defaults_equality_and_repr_as_before() -> None:
    started = RunStarted("r", "s", "demo/steady", True, 10, 4)
    assert (started.resumed, started.n_judge_total, started.n_judge_done) == (False, 0, 0)
    assert started == RunStarted(run_id="r", suite="s", model="demo/steady", simulated=True, n_total=10,
                                 n_already_done=4, resumed=False)
    assert started != RunStarted("r", "s", "demo/steady", True, 10, 4, resumed=True)
    assert repr(ConcurrencyChanged(8, "recovering")) == "ConcurrencyChanged(limit=8, reason='recovering')"
    assert repr(TokenDelta(KEY, "<b>")) == ("TokenDelta(key=SampleKey(case_id='c1', template='t0', "
                                            "sample_index=2), text='<b>')")
    assert SampleStarted(KEY, 5, []).attempt == 1
    assert SampleRetry(KEY, 1, "HTTP 429", 0.5).rate_limited is False
    a, b = SampleFinished(KEY), SampleFinished(KEY)
    assert a.row == {} and a.metadata == {} and a.row is not b.row  # a new dict each, as default_factory
    assert a == b and a != SampleFinished(KEY, {"correct": 1})
    assert JudgeFinished(KEY, {}, 1, 2) == JudgeFinished(KEY, {}, 1, 2)
    assert RunFinished("r", "complete", 3, 3, 0, 1.5).status == "complete"
    assert started.__eq__(object()) is NotImplemented
    with pytest.raises(TypeError):
        hash(started)  # compared by value and mutable: unhashable, as a dataclass with eq


def test_no_event_is_a_generated_dataclass() -> None:
    classes = [getattr(events, name) for name in ("SampleKey", "RunStarted", "SampleStarted", "TokenDelta",
                                                  "SampleRetry", "SampleFinished", "JudgeFinished",
                                                  "ConcurrencyChanged", "RunFinished")]
    assert not any(dataclasses.is_dataclass(c) for c in classes)
