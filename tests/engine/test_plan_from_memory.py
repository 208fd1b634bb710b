"""A run planned by the engine that just stored it takes its cases from memory instead of decoding
every stored case again — and plans exactly what a planner reading the store plans (the fast path
held to the plain one), falling back to the store when the two could differ."""

from __future__ import annotations

from pathlib import Path

from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions
from tuieval.engine.runner import chat_request
from tuieval.store import Store
from tuieval.store.shadow import add_cases
from tuieval.suite import load_suite

SUITE = """
name: mem
templates:
  - {id: plain, prompt: "Say <<{{ token }}>>"}
  - {id: polite, prompt: "Please say <<{{ token }}>> ({{ extra }})"}
scorers: [{type: regex, pattern: 'Answer: (\\w+)', then: exact}]
sampling: {samples: 2, seed: 3}
cases:
  - {id: a, token: t1, extra: [1, 2.5, null, true], target: t1, metadata: {tier: gold, n: 3}}
  - {id: b, token: t2, extra: {deep: [x, {y: 1}]}, targets: [t2, T2]}
  - {id: c, token: "é ✓", extra: "", target: 7}
"""


def _suite(tmp_path: Path, text: str = SUITE):
    path = tmp_path / "mem.yaml"
    path.write_text(text, encoding="utf-8")
    return load_suite(str(path))


def _planned(engine: Engine, store: Store, run_id: str) -> list[tuple]:
    run = store.get_run(run_id)
    work, done = engine.plan(run)
    # every value with its type, as repr shows it (1 and 1.0, "1" and 1, a list and a tuple differ)
    return [(w.case.id, repr(w.key), w.dispatch_order, repr(w.case.vars), repr(w.case.targets), repr(w.case.metadata),
             repr(chat_request(w, run, False).messages)) for w in work] + [done]


def _count_reads(store: Store) -> list[str]:
    reads: list[str] = []
    real = store.get_cases

    def counted(run_id, case_ids=None):
        reads.append(run_id)
        return real(run_id, case_ids)

    store.get_cases = counted  # type: ignore[method-assign]
    return reads


def test_the_engine_that_stored_the_run_plans_it_from_memory_as_the_store_would(tmp_path):
    store = Store(tmp_path / "m.db")
    engine = Engine(store, create_backend("demo/steady"))
    run_id = engine.create_run(_suite(tmp_path), RunOptions(model="demo/steady"))
    reads = _count_reads(store)
    fast = _planned(engine, store, run_id)
    assert reads == []                       # no case decoded again
    plain = _planned(Engine(store, create_backend("demo/steady")), store, run_id)
    assert reads == [run_id]                 # another engine (a resume) reads the store
    # 3 cases × 2 templates × 2 samples, none stored yet
    assert len(fast) == 13 and fast[-1] == 0
    assert fast == plain


def test_values_json_would_change_are_read_back_from_the_store(tmp_path):
    # a number as a mapping key comes back from JSON as a string: memory would differ from the store
    suite = _suite(tmp_path, SUITE.replace("metadata: {tier: gold, n: 3}", "metadata: {1: gold}"))
    store = Store(tmp_path / "m.db")
    engine = Engine(store, create_backend("demo/steady"))
    run_id = engine.create_run(suite, RunOptions(model="demo/steady"))
    reads = _count_reads(store)
    fast = _planned(engine, store, run_id)
    assert reads == [run_id]
    assert {row[5] for row in fast[:-1] if row[0] == "a"} == {"{'1': 'gold'}"}
    assert fast == _planned(Engine(store, create_backend("demo/steady")), store, run_id)


def test_cases_appended_after_the_run_was_stored_are_planned_too(tmp_path):
    store = Store(tmp_path / "m.db")
    engine = Engine(store, create_backend("demo/steady"))
    run_id = engine.create_run(_suite(tmp_path), RunOptions(model="demo/steady"))
    add_cases(store, run_id, [{"case_id": "d", "vars": {"token": "t4", "extra": "x"}, "targets": ["t4"],
                               "metadata": {}, "input_text": "t4\nx"}])
    fast = _planned(engine, store, run_id)
    assert sorted({row[0] for row in fast[:-1]}) == ["a", "b", "c", "d"]
    assert fast == _planned(Engine(store, create_backend("demo/steady")), store, run_id)
