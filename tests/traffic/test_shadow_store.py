"""How a shadow replay stores and reads what it compares: the logged baseline in bulk
(tuieval.store.bulk), found by `search` like any sample; a prompt encoded once for both runs; the
answers compared taken from memory, as the store holds them."""

from __future__ import annotations

import json

from tests.traffic.test_shadow_cli import _invoke, _traffic_log
from tuieval.store import Store
from tuieval.sample_rules import answer_text
from tuieval.store.shadow import get_shadow, lean_samples


def test_the_logged_baseline_answers_are_found_by_search(tmp_path, model_server, capsys):
    log = _traffic_log(tmp_path)   # prompts 8, 9, 10 logged "Answer: other<i>", the server answers N<i>
    db = tmp_path / "t.db"
    code, out, err = _invoke(["shadow", str(log), "--candidate", "openai-compatible/cand",
                              "--base-url", model_server.openai_base_url, "--db", str(db), "--format", "json",
                              "--max-retries", "0"], capsys)
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    with Store(db) as store:
        baseline = get_shadow(store, run_id)["baseline_run_id"]
    code, out, err = _invoke(["search", "other9", "--json", "--db", str(db)], capsys)
    assert code == 0, err
    hits = json.loads(out)
    # only the logged answer says other9 (the candidate answered N9); the baseline's own verdict
    # is correct (a logged answer is its own target)
    assert [(h["run_id"], h["verdict"]) for h in hits] == [(baseline, "correct")]
    assert "«other9»" in hits[0]["snippet"]
    # the prompt of a logged row is searchable too: both runs hold "number 3"
    code, out, _ = _invoke(["search", "number 3", "--json", "--db", str(db)], capsys)
    assert sorted(h["run_id"] for h in json.loads(out)) == sorted([baseline, run_id])


def test_a_prompt_is_encoded_once_as_each_run_would_encode_its_case():
    from tuieval.traffic.log import TrafficRecord
    from tuieval.traffic.sample import Chosen
    from tuieval.traffic.shadow import _case_row, _prompt

    messages = [{"role": "system", "content": 'Say "yes"\nor no'}, {"role": "user", "content": "José García?"}]
    meta = {"team": "ü", "n": [1, {"a": None}]}
    chat = Chosen(TrafficRecord(line=3, prompt="José García?", messages=messages, response="Sí", metadata=meta),
                  "k1", 0.5, ())
    flat = Chosen(TrafficRecord(line=4, prompt="Who?"), "k2", 0.5, ())
    p = _prompt(chat)
    # what `add_cases` stores for the case {vars: {messages}, targets, metadata, input_text}
    assert _case_row(p, "Sí") == ("k1", json.dumps({"messages": messages}, ensure_ascii=False),
                                  json.dumps(["Sí"], ensure_ascii=False), json.dumps(meta, ensure_ascii=False),
                                  'Say "yes"\nor no\nJosé García?')
    assert json.loads(p.vars_json) == {"messages": messages} and json.loads(p.prompt_json) == messages
    # a flat record's prompt becomes one user turn; no answer: no target
    q = _prompt(flat)
    assert _case_row(q, None) == ("k2", '{"messages": [{"role": "user", "content": "Who?"}]}', "[]", "{}", "Who?")
    assert q.prompt_json == '[{"role": "user", "content": "Who?"}]'


def test_the_candidates_rows_from_the_engines_events_are_the_stored_rows(tmp_path, model_server):
    import asyncio

    from tests.support.suites import write_echo_suite
    from tuieval.backends.base import Timeouts
    from tuieval.backends.registry import create_backend
    from tuieval.engine import Engine, RunOptions
    from tuieval.suite import load_suite
    from tuieval.traffic.shadow import _Answers

    suite = load_suite(write_echo_suite(tmp_path, 6))
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/m", base_url=model_server.openai_base_url, timeouts=timeouts)
    store = Store(tmp_path / "t.db")
    options = RunOptions(model="openai-compatible/m", base_url=model_server.openai_base_url, timeouts=timeouts,
                         concurrency=2, max_retries=0)
    seen = []
    answers = _Answers(seen.append)
    engine = Engine(store, backend, answers)
    run_id = engine.create_run(suite, options)
    model_server.fail_first(1, 500, key="tok2")    # c002: an error sample
    ids = [f"c{i:03d}" for i in range(6)]

    async def go():
        try:
            await engine.run(run_id, options, cases=ids[:3])
            first = answers.batch_rows(store, run_id, engine, ids[:3])
            # a resume: c000–c002 are stored, only c003–c005 are asked
            await engine.run(run_id, options, cases=ids)
            return first, answers.batch_rows(store, run_id, engine, ids), dict(answers.rows)
        finally:
            await backend.aclose()

    first, both, asked = asyncio.run(go())

    def answers_of(rows):
        return {cid: (answer_text(r), r.get("error") is None) for cid, r in rows.items()}

    # what the verdicts read (the answer, and whether it is an error) is what the store holds
    assert answers_of(first) == answers_of({s["case_id"]: s for s in lean_samples(store, run_id, ids[:3])})
    assert answers_of(both) == answers_of({s["case_id"]: s for s in lean_samples(store, run_id, ids)})
    assert sorted(asked) == ids[3:]                      # the second pass asked only those
    assert answers_of(both)["c002"] == (None, False)     # by hand: c002 failed, c001 answered tok1
    assert answers_of(both)["c001"] == ("tok1", True)
    # the first batch came from memory: the very rows the engine reported
    assert all(first[c] is not None and "prompt" in first[c] for c in ids[:3])
    assert seen                                           # the caller's on_event still hears every event


def test_a_logged_answer_is_scored_as_the_scorer_scores_it_against_itself():
    from tuieval.traffic.log import TrafficRecord
    from tuieval.traffic.sample import Chosen
    from tuieval.traffic.shadow import _logged_sample, _prompt, _scorer

    for response in ["  Paris ", "", "   ", "!!!", "The", "the Eiffel-Tower!", "José", "2.5", "Answer: N3",
                     'say "hi"\\', "tab\there\nline", "\u2028 emoji 😀 \x00", "東京"]:
        ch = Chosen(TrafficRecord(line=1, prompt="q", response=response), "k", 0.5, ())
        row = _logged_sample("r", ch, _prompt(ch), 0, "2026-12-01T00:00:00+00:00")
        plain = _scorer().score(response, [response])
        assert (row["extracted"], row["correct"], row["score"]) == (plain.extracted, plain.correct, plain.score)
        # the scores column holds what json.dumps writes for the mapping
        scores = {"normalized": {"extracted": plain.extracted, "correct": plain.correct, "score": plain.score}}
        assert row["scores"] == json.dumps(scores, ensure_ascii=False)
    # by hand: punctuation and articles only normalise to nothing, so they are no answer
    ch = Chosen(TrafficRecord(line=1, prompt="q", response="The"), "k", 0.5, ())
    assert _logged_sample("r", ch, _prompt(ch), 0, "t")["correct"] is False
    ch = Chosen(TrafficRecord(line=1, prompt="q", response=" Paris "), "k", 0.5, ())
    assert _logged_sample("r", ch, _prompt(ch), 0, "t")["extracted"] == "Paris"



def test_pairs_agree_exactly_when_the_full_clustering_puts_them_in_one_cluster():
    from tuieval.report.clustering import cluster_pairs, cluster_samples

    pairs = [("Paris", "paris."), ("4", "4.0"), ("4", "four"), ("The Eiffel Tower", "eiffel tower!"),
             ("José", "Jose"), ("Person 3", "Person 3"), ("yes", "no")]
    # by hand (canonical: case, punctuation and articles go, numbers compare as numbers, accents stay)
    want = [True, True, False, True, False, True, False]
    for method, expected in (("canonical", want), ("lexical", None)):
        run = {"id": "r", "config": {"variance": {"method": method}}}
        samples = [{"case_id": f"k{i}", "template": "pair", "sample_index": j, "answer": text, "error": None}
                   for i, pair in enumerate(pairs) for j, text in enumerate(pair)]
        full, _rows, _ = cluster_samples(run, samples, None, method, None)
        same = [full[(f"k{i}", "pair", 0)] == full[(f"k{i}", "pair", 1)] for i in range(len(pairs))]
        got = cluster_pairs(run, pairs, None, method, None)
        assert got == same, method
        if expected is not None:
            assert got == expected


def test_canonical_pairs_are_compared_by_their_forms_without_the_clustering_arrays(monkeypatch):
    import numpy as np

    import tuieval.analysis.variance.groups as groups
    import tuieval.report.clustering as clustering
    from tuieval.report.clustering import cluster_pairs

    pairs = [('{"b": 1.0, "a": 2}', '{"a":2,"b":1}'), ("", "!"), ("1,000", "1000.0"), ("isn't", "isnt"),
             ("Paris", "London"), (None, "x"), (None, None)]
    # by hand: JSON compared as data, pure punctuation is the empty answer, numbers as numbers,
    # apostrophes inside words go; a missing answer matches only another missing one
    want = [True, True, True, True, False, False, True]
    # the plain path: every pair one group of cluster_groups
    ids, _ = groups.cluster_groups([t for p in pairs for t in p], np.repeat(np.arange(len(pairs)), 2), "canonical")
    assert (ids[0::2] == ids[1::2]).tolist() == want

    def refuse(*a, **k):
        raise AssertionError("the canonical tier needs neither arrays nor endpoints")

    monkeypatch.setattr(groups, "cluster_groups", refuse)
    monkeypatch.setattr(clustering, "Endpoints", refuse)
    run = {"id": "r", "config": {"variance": {"method": "canonical"}}}
    assert cluster_pairs(run, pairs, None, "canonical", None) == want


def test_identical_answers_agree_without_clustering_and_the_rest_as_clustered():
    from tuieval.report.clustering import cluster_pairs
    from tuieval.traffic.shadow import agreement

    run = {"id": "r", "config": {"variance": {"method": "canonical"}}}
    pairs = {"a": ("Paris", "Paris"), "b": ("Paris", "paris."), "c": ("4", "four"), "d": ("x", None), "e": (None, "y")}
    base = {k: {"case_id": k, "response": b, "error": None if b is not None else "timeout"} for k, (b, _c) in pairs.items()}
    cand = {k: {"case_id": k, "response": c, "error": None if c is not None else "timeout"} for k, (_b, c) in pairs.items()}
    got = agreement(run, None, base, cand, None)
    # by hand: a identical, b the same canonical form, c not; d the candidate failed (disagrees),
    # e the baseline has no answer (not comparable)
    assert got == {"a": True, "b": True, "c": False, "d": False, "e": None}
    assert [got[k] for k in "abc"] == cluster_pairs(run, [pairs[k] for k in "abc"], None, "canonical", None)


def test_a_logged_batch_is_stored_whole_or_not_at_all(tmp_path, model_server, monkeypatch):
    import asyncio

    import pytest

    import tuieval.traffic.shadow as shadow
    from tuieval.backends.base import Timeouts
    from tuieval.backends.registry import create_backend

    log = _traffic_log(tmp_path)   # 12 logged prompts (one line malformed)
    timeouts = Timeouts(connect=2, read=5, total=10)
    settings = shadow.ShadowSettings(log_path=str(log), candidate="openai-compatible/cand", budget=100,
                                     concurrency=2, max_retries=0, timeouts=timeouts, batch=4)
    backend = create_backend("openai-compatible/cand", base_url=model_server.openai_base_url, timeouts=timeouts)
    real = shadow._add_candidate_cases
    calls = []

    def fails_second(*args):
        calls.append(1)
        if len(calls) == 2:   # the second batch: its baseline rows are already written in the transaction
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(shadow, "_add_candidate_cases", fails_second)
    store = Store(tmp_path / "t.db")

    async def go():
        try:
            await shadow.run_shadow(store, settings, shadow.make_plan(settings), backend, None)
        finally:
            await backend.aclose()

    with pytest.raises(RuntimeError):
        asyncio.run(go())
    runs = {r["model"]: r["id"] for r in store.list_runs()}
    base, cand = runs["logged/unknown"], runs["openai-compatible/cand"]
    count = lambda table, rid: store.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?",  # noqa: E731
                                                  (rid,)).fetchone()[0]
    # by hand: the first batch (4 prompts) is in both runs; of the second, nothing, in either
    assert (count("cases", base), count("samples", base)) == (4, 4)
    assert (count("cases", cand), count("samples", cand)) == (4, 4)
    assert store.get_run(base)["n_cases"] == 4
    store.close()
