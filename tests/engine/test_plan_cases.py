"""A run that grows batch by batch (a shadow replay): `Engine.run(…, cases=…)` plans and sends only
the cases named, from their own stored rows, with dispatch positions that follow the cases before
them and survive a resume. Against the loopback server, on a real SQLite file."""

from __future__ import annotations

import asyncio
import json

from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions
from tuieval.engine.runner import chat_request
from tuieval.store import Store
from tuieval.store.shadow import add_cases
from tuieval.suite import load_suite


def _case(i: int) -> dict:
    return {"case_id": f"c{i:03d}", "vars": {"token": f"tok{i}"}, "targets": [f"tok{i}"], "metadata": {},
            "input_text": f"Repeat the token <<tok{i}>> please."}


def _setup(tmp_path, server):
    # six cases stored when the run is made (two samples each), eight appended later
    suite = load_suite(write_echo_suite(tmp_path, 6, samples=2))
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/test-model", base_url=server.openai_base_url, timeouts=timeouts)
    store = Store(tmp_path / "t.db")
    options = RunOptions(model="openai-compatible/test-model", base_url=server.openai_base_url, timeouts=timeouts,
                         concurrency=4)
    engine = Engine(store, backend)
    run_id = engine.create_run(suite, options)
    assert add_cases(store, run_id, [_case(i) for i in range(6, 14)]) == 8
    return store, engine, backend, run_id, options


def _orders(store, run_id):
    return {(s["case_id"], s["sample_index"]): s["dispatch_order"] for s in store.get_samples(run_id)}


def test_a_batch_sends_only_its_cases_at_positions_after_the_cases_before_it(tmp_path, model_server):
    store, engine, backend, run_id, options = _setup(tmp_path, model_server)
    first = [f"c{i:03d}" for i in range(6, 10)]
    second = [f"c{i:03d}" for i in range(10, 14)]

    async def go():
        try:
            a = await engine.run(run_id, options, cases=first)
            b = await engine.run(run_id, options, cases=second)
            return a, b
        finally:
            await backend.aclose()

    a, b = asyncio.run(go())
    # only the named cases were asked, two samples each; the six stored before them were not
    assert dict(model_server.prompt_counts) == {f"tok{i}": 2 for i in range(6, 14)}
    assert model_server.requests_total == 16
    orders = _orders(store, run_id)
    # case at position p, sample i: dispatched among its batch in [p0·2, (p0 + 4)·2), p0 the batch's first position
    assert sorted(orders[(f"c{i:03d}", k)] for i in range(6, 10) for k in (0, 1)) == list(range(12, 20))
    assert sorted(orders[(f"c{i:03d}", k)] for i in range(10, 14) for k in (0, 1)) == list(range(20, 28))
    # 28 samples expected (14 cases × 2), 8 then 16 stored: the run is not complete yet
    assert (a.n_done, a.n_total, a.status) == (8, 28, "partial")
    assert (b.n_done, b.n_total, b.status) == (16, 28, "partial")


def test_planning_a_batch_again_keeps_each_missing_sample_at_its_position(tmp_path, model_server):
    store, engine, backend, run_id, options = _setup(tmp_path, model_server)
    batch = [f"c{i:03d}" for i in range(6, 10)]
    run = store.get_run(run_id)
    work, done = engine.plan(run, batch)
    before = {(w.key.case_id, w.key.sample_index): w.dispatch_order for w in work}
    assert done == 0 and len(before) == 8
    # one sample of the batch finished before the process died
    store.add_sample({"run_id": run_id, "case_id": "c007", "template": "default", "sample_index": 1,
                      "dispatch_order": before[("c007", 1)], "prompt": "[]", "response": "Answer: tok7",
                      "correct": True, "score": 1.0, "latency_ms": 5.0})
    work, done = engine.plan(run, batch)
    after = {(w.key.case_id, w.key.sample_index): w.dispatch_order for w in work}
    assert done == 1
    assert after == {k: v for k, v in before.items() if k != ("c007", 1)}
    # and the batch's work is those cases' only, in the order of their dispatch positions
    assert [w.dispatch_order for w in work] == sorted(after.values())
    asyncio.run(backend.aclose())


def test_a_batch_plans_the_same_work_as_the_whole_run_restricted_to_it(tmp_path, model_server):
    # the batch path holds to the plain one: same samples (case, template, index) with the same
    # cases and requests, minus the same stored ones; only the dispatch positions differ
    store, engine, backend, run_id, options = _setup(tmp_path, model_server)
    store.add_sample({"run_id": run_id, "case_id": "c008", "template": "default", "sample_index": 0,
                      "dispatch_order": 0, "prompt": "[]", "response": "Answer: tok8", "correct": True, "score": 1.0})
    run = store.get_run(run_id)
    batch = [f"c{i:03d}" for i in range(6, 10)]
    whole, done_whole = engine.plan(run)
    part, done_part = engine.plan(run, batch)
    assert done_whole == done_part == 1
    def sent(items):
        return {(w.key, json.dumps(chat_request(w, run, False).messages), json.dumps(w.case.targets),
                 json.dumps(w.case.metadata)) for w in items}

    expected = sent(w for w in whole if w.case.id in batch)
    assert sent(part) == expected and len(expected) == 7
    asyncio.run(backend.aclose())


def _append(store, run_id, cases):
    from tuieval.store.shadow import append_encoded_cases

    return append_encoded_cases(store, run_id, [(c["case_id"], json.dumps(c["vars"]), json.dumps(c["targets"]),
                                                 json.dumps(c["metadata"]), c["input_text"]) for c in cases])


def test_cases_handed_over_as_appended_are_planned_as_the_store_would_plan_them(tmp_path, model_server):
    from tuieval.suite.model import Case

    store, engine, backend, run_id, options = _setup(tmp_path, model_server)
    more = [{**_case(i), "metadata": {"team": "ü", "n": [i, None]}} for i in range(14, 18)]
    # the ids the store added, in order; one already stored is kept and left out
    assert _append(store, run_id, [_case(6), *more]) == [c["case_id"] for c in more]
    batch = [c["case_id"] for c in more]
    handed = [Case(id=c["case_id"], vars=c["vars"], targets=c["targets"], metadata=c["metadata"]) for c in more]
    run = store.get_run(run_id)
    engine.remember_appended(run_id, handed)
    from_memory, done_memory = engine.plan(run, batch)
    from_store, done_store = engine.plan(run, batch)   # handed over once: planned again, they are read
    assert done_memory == done_store == 0
    # the cases handed over were planned, not decoded again …
    assert {id(w.case) for w in from_memory} == {id(c) for c in handed}
    assert not {id(w.case) for w in from_store} & {id(c) for c in handed}

    def sent(items):
        return [(w.key, w.dispatch_order, json.dumps(chat_request(w, run, False).messages),
                 chat_request(w, run, False).hint, w.case.vars, w.case.targets, w.case.metadata) for w in items]

    # … and the work is the same, request for request, at the same positions: cases 14–17 at
    # positions 14–17 (6 created, 8 appended), two samples each
    assert sent(from_memory) == sent(from_store)
    assert sorted(w.dispatch_order for w in from_memory) == list(range(28, 36))
    asyncio.run(backend.aclose())


def test_a_case_handed_over_that_would_not_read_back_as_itself_is_planned_from_the_store(tmp_path, model_server):
    from tuieval.suite.model import Case

    store, engine, backend, run_id, options = _setup(tmp_path, model_server)
    more = [_case(i) for i in range(14, 16)]
    _append(store, run_id, more)
    run = store.get_run(run_id)
    # a tuple is stored as a JSON list: what the store holds is not the value handed over
    engine.remember_appended(run_id, [Case(id=c["case_id"], vars=c["vars"], targets=tuple(c["targets"]),
                                           metadata=c["metadata"]) for c in more])
    work, _ = engine.plan(run, [c["case_id"] for c in more])
    assert sorted(w.case.targets for w in work) == [["tok14"]] * 2 + [["tok15"]] * 2
    asyncio.run(backend.aclose())
