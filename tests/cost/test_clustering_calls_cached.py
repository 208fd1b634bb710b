"""The clustering's own requests and the response cache: the entailment judge is cached under
`--cache` like the other judge calls (a rerun sends none), `--cache-only` replays the embedding
and judge calls of a report from the cache and says what is missing without sending it, and the
embedding requests of export, the app's inspector and shadow are recorded in `embedding_usage`
(their cost) as the report's are. The real engine and report, the loopback server (its counters
say what was sent), real SQLite files."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.engine.test_remote_clustering import SECRET, TUIEVAL, _check_grouping, _env, _write_suite, bag_rule
from tuieval.backends.base import Timeouts
from tuieval.backends.judge import ChatJudge
from tuieval.backends.registry import create_backend
from tuieval.cost.prices import PriceTable, parse_table
from tuieval.engine import Engine, RunOptions
from tuieval.engine.caching import EntailmentCache
from tuieval.report import build_report, export_rows
from tuieval.report.endpoints import CacheOnlyMissing, replay_only
from tuieval.store import Store
from tuieval.store.response_cache import ResponseCache
from tuieval.suite import load_suite

EMBEDDINGS = {"method": "embeddings", "model": "openai-compatible/emb"}
ENTAILMENT = {"method": "entailment", "judge": "openai-compatible/judge", "rule": "strict"}


def _run(tmp_path, server, store, variance, cache_path=None):
    """One run of the remote-tier suite in this process (no report yet)."""
    suite = load_suite(_write_suite(tmp_path, {**variance, "base_url": server.openai_base_url}))
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/echo", base_url=server.openai_base_url, timeouts=timeouts)
    cache = ResponseCache(cache_path) if cache_path else None
    options = RunOptions(model="openai-compatible/echo", base_url=server.openai_base_url, concurrency=4,
                         timeouts=timeouts, cache_path=cache.path if cache else None)
    engine = Engine(store, backend, cache=cache)
    run_id = engine.create_run(suite, options)

    async def go():
        try:
            return await engine.run(run_id, options)
        finally:
            await backend.aclose()

    assert asyncio.run(go()).status == "complete"
    if cache is not None:
        cache.close()
    return run_id


# -- the entailment judge under --cache ------------------------------------------------------

def test_the_entailment_judge_is_answered_from_the_cache_keyed_by_its_whole_body(tmp_path, model_server):
    model_server.judge_rule = bag_rule
    cache = EntailmentCache(ResponseCache(tmp_path / "c.db"))
    with ChatJudge("openai-compatible/judge", base_url=model_server.openai_base_url, cache=cache) as a:
        forward = a("q?", "Paris is the capital", "the capital is Paris")
        other = a("q?", "Paris is the capital", "Lyon is the capital")
    assert model_server.judge_requests == 2
    with ChatJudge("openai-compatible/judge", base_url=model_server.openai_base_url, cache=cache) as b:
        assert b("q?", "Paris is the capital", "the capital is Paris") == forward == "entailment"
        assert b("q?", "Paris is the capital", "Lyon is the capital") == other == "contradiction"
        # the other direction and another question are other bodies: sent
        b("q?", "the capital is Paris", "Paris is the capital")
        b("another question?", "Paris is the capital", "the capital is Paris")
    assert model_server.judge_requests == 4
    assert b.counters()["cached_requests"] == 2 and b.counters()["requests"] == 2
    cache.cache.close()


def test_a_rerun_with_the_cache_sends_no_entailment_judge_request(tmp_path, model_server):
    model_server.judge_rule = bag_rule
    store = Store(tmp_path / "runs.db")
    cache = tmp_path / "cache.db"
    first = _run(tmp_path, model_server, store, ENTAILMENT, cache)
    report = build_report(store, first, persist_clusters=True)
    sent = model_server.judge_requests
    assert sent > 0 and report["analysis"]["clustering"]["judge_requests"] == sent
    _check_grouping(store.get_samples(first))
    second = _run(tmp_path, model_server, store, ENTAILMENT, cache)
    again = build_report(store, second, persist_clusters=True)
    assert model_server.judge_requests == sent  # every judge call came from the cache
    c = again["analysis"]["clustering"]
    assert (c["judge_requests"], c["judge_cached_requests"]) == (0, sent)
    _check_grouping(store.get_samples(second))
    store.close()


# -- --cache-only for the report's clustering ------------------------------------------------

def test_cache_only_replays_the_embeddings_and_says_what_is_missing(tmp_path, model_server):
    store = Store(tmp_path / "runs.db")
    cache = tmp_path / "cache.db"
    first = _run(tmp_path, model_server, store, EMBEDDINGS, cache)
    with replay_only(), pytest.raises(CacheOnlyMissing) as caught:
        build_report(store, first, persist_clusters=True)
    assert model_server.embedding_requests == 0  # nothing was sent
    # c0 and c1's six distinct answers go in one request; c2's answers are all equal
    assert caught.value.missing == {"embedding_requests": 1, "embedding_texts": 6}
    message = str(caught.value)
    assert message.startswith("variance.model: --cache-only: 1 embedding request(s) (6 texts)")
    assert "\n" not in message and not store.has_clusters(first)
    build_report(store, first, persist_clusters=True)  # sent now, and cached
    assert model_server.embedding_requests == 1
    second = _run(tmp_path, model_server, store, EMBEDDINGS, cache)
    with replay_only():
        report = build_report(store, second, persist_clusters=True)
    assert model_server.embedding_requests == 1
    assert report["analysis"]["clustering"]["embedding_cached_requests"] == 1
    _check_grouping(store.get_samples(second))
    store.close()


def test_cache_only_replays_the_entailment_judge_and_counts_what_is_missing(tmp_path, model_server):
    model_server.judge_rule = bag_rule
    store = Store(tmp_path / "runs.db")
    run_id = _run(tmp_path, model_server, store, ENTAILMENT, tmp_path / "cache.db")
    with replay_only(), pytest.raises(CacheOnlyMissing) as caught:
        build_report(store, run_id, persist_clusters=True)
    assert model_server.judge_requests == 0
    # strict rule, both directions per pair of distinct answers: c0 has 3 distinct answers (3 pairs),
    # c1 has 4 (6 pairs): at most 18 requests; each is asked once, all were missing
    assert 0 < caught.value.missing["judge_requests"] <= 18
    assert str(caught.value).startswith("variance.judge: --cache-only:")
    store.close()


def test_a_run_without_a_cache_cannot_replay_its_clustering(tmp_path, model_server):
    store = Store(tmp_path / "runs.db")
    run_id = _run(tmp_path, model_server, store, EMBEDDINGS)
    with replay_only(), pytest.raises(CacheOnlyMissing, match="the run has no response cache"):
        build_report(store, run_id)
    assert model_server.embedding_requests == 0
    store.close()


def _cli(*args, **env):
    return subprocess.run(TUIEVAL + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                          env=_env(**env))


def test_run_and_report_cache_only_through_the_cli(tmp_path, model_server):
    suite = _write_suite(tmp_path, {**EMBEDDINGS, "base_url": model_server.openai_base_url})
    db, cache = tmp_path / "runs.db", tmp_path / "cache.db"
    common = ["--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url, "--db", db,
              "--cache-path", cache, "-q"]
    first = _cli("run", suite, *common, "--cache", OPENAI_API_KEY=SECRET)
    assert first.returncode == 0, first.stderr
    assert model_server.embedding_requests == 1
    answered = model_server.prompt_counts.total()
    # the same run again, replayed: answers and embeddings from the cache, nothing sent
    again = _cli("run", suite, *common, "--cache-only", OPENAI_API_KEY=SECRET)
    assert again.returncode == 0, again.stderr
    assert model_server.embedding_requests == 1 and model_server.prompt_counts.total() == answered
    # another embeddings model: the answers are cached, its embeddings are not — said, not sent
    other = tmp_path / "other"
    other.mkdir()
    suite2 = _write_suite(other, {**EMBEDDINGS, "model": "openai-compatible/emb2",
                                  "base_url": model_server.openai_base_url})
    missing = _cli("run", suite2, *common, "--cache-only", OPENAI_API_KEY=SECRET)
    assert missing.returncode == 3, missing.stderr
    assert "--cache-only: 1 embedding request(s) (6 texts) to openai-compatible/emb2 are not in the response cache" \
        in missing.stderr
    assert "Traceback" not in missing.stderr and model_server.embedding_requests == 1
    run_id = missing.stdout.strip().splitlines()[-1]
    for fmt in ("md", "html"):
        rep = _cli("report", run_id, "--db", db, "--cache-only", "--format", fmt, OPENAI_API_KEY=SECRET)
        assert rep.returncode == 3 and "6 texts" in rep.stderr and model_server.embedding_requests == 1
        assert len(rep.stderr.strip().splitlines()) == 1


# -- embedding requests outside the report are recorded ----------------------------------------

def _usage(store, run_id):
    return [tuple(r) for r in store.conn.execute(
        "SELECT purpose, requests, texts, input_tokens FROM embedding_usage WHERE run_id = ? ORDER BY id",
        (run_id,)).fetchall()]


def test_export_of_an_unanalysed_run_records_its_embedding_requests(tmp_path, model_server):
    store = Store(tmp_path / "runs.db")
    run_id = _run(tmp_path, model_server, store, EMBEDDINGS)
    rows = list(export_rows(store, run_id))
    assert len(rows) == 12 and model_server.embedding_requests == 1
    # by hand: the 6 distinct answers embedded are 4+4+4 + 1+1+4 = 18 words, the server's token count
    assert _usage(store, run_id) == [("export", 1, 6, 18)]
    # the report then clusters once more (the export stored nothing): both are the run's cost
    prices = PriceTable(parse_table({"models": {"openai-compatible/emb": {"input": 500, "output": 0}}}, "test"))
    (emb,) = build_report(store, run_id, prices=prices)["cost"]["embeddings"]
    assert (emb["n_requests"], emb["input_tokens"]) == (2, 36)
    assert emb["dollars"] == pytest.approx(36 * 500 / 1e6)
    store.close()


def test_the_inspector_records_the_embedding_requests_of_the_case_it_clusters(tmp_path, model_server):
    from tuieval.tui.data import load_case

    store = Store(tmp_path / "runs.db")
    run_id = _run(tmp_path, model_server, store, EMBEDDINGS)
    store.close()
    detail = load_case(str(tmp_path / "runs.db"), run_id, "c0")
    assert detail.method == "embeddings" and model_server.embedding_requests == 1
    with Store(tmp_path / "runs.db") as store:
        # c0's three distinct answers: 4 words each
        assert _usage(store, run_id) == [("inspector", 1, 3, 12)]


def test_shadow_agreement_records_its_embedding_requests_with_the_candidate_run(tmp_path, model_server):
    from tuieval.traffic.shadow import agreement

    store = Store(tmp_path / "runs.db")
    run_id = _run(tmp_path, model_server, store, EMBEDDINGS)
    run = store.get_run(run_id)
    cases = store.get_cases(run_id)
    base = {"c0": {"case_id": "c0", "response": "Answer: Paris is the capital", "extracted": "Paris is the capital",
                   "error": None}}
    cand = {"c0": {"case_id": "c0", "response": "Answer: the capital is Paris", "extracted": "the capital is Paris",
                   "error": None}}
    assert agreement(run, cases, base, cand, store) == {"c0": True}
    assert model_server.embedding_requests == 1
    assert _usage(store, run_id) == [("shadow", 1, 2, 8)]
    store.close()
