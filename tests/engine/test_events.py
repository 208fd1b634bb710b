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


class _Recorder:
    """A listener that keeps every event it is given."""

    def __init__(self, ignored: frozenset = frozenset()) -> None:
        self.events: list = []
        if ignored:
            self.ignored_events = ignored

    def __call__(self, event) -> None:
        self.events.append(event)


def _run(tmp_path, listener, name: str) -> list:
    import asyncio

    from tests.support.suites import write_echo_suite
    from tuieval.backends.registry import create_backend
    from tuieval.engine import Engine, RunOptions
    from tuieval.store import Store
    from tuieval.suite import load_suite

    suite = load_suite(write_echo_suite(tmp_path, 6, name=name))
    store = Store(tmp_path / f"{name}.db")
    engine = Engine(store, create_backend("demo/steady"), listener)
    options = RunOptions(model="demo/steady", concurrency=4, emit_tokens=True)
    asyncio.run(engine.run(engine.create_run(suite, options), options))
    store.close()
    return [type(e) for e in listener.events]


def test_events_a_listener_ignores_are_not_built_for_it(tmp_path) -> None:
    everything = _run(tmp_path, _Recorder(), "all")
    assert everything.count(SampleStarted) == 6 and everything.count(SampleFinished) == 6
    assert everything.count(TokenDelta) >= 6
    quiet = _run(tmp_path, _Recorder(frozenset({SampleStarted, TokenDelta})), "quiet")
    assert SampleStarted not in quiet and TokenDelta not in quiet
    # the rest arrive as before
    assert quiet == [t for t in everything if t not in (SampleStarted, TokenDelta)]


def test_the_progress_line_ignores_what_it_never_shows() -> None:
    from tuieval.progress import Progress

    assert Progress.ignored_events == frozenset({SampleStarted, TokenDelta})
