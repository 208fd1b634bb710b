"""The embeddings / entailment / hybrid clustering tiers end to end against the loopback server.

The server answers "Answer: X" where X cycles through the `|`-separated alternatives of
the prompt's <<…>>, so the 4 samples of a case get 4 given answers (in some order).  Its
/v1/embeddings is a hashed bag of words (cos = shared words / √(|a|·|b|)) and it answers
judge prompts with `server.judge_rule(premise, hypothesis)`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support.model_server import JUDGE_KEY
from tuieval import report as reporting
from tuieval.analysis.variance import cluster_groups
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions
from tuieval.store import Store
from tuieval.suite import load_suite

TUIEVAL = [sys.executable, "-m", "tuieval"]
SECRET = "sk-test-REMOTE-CLUSTER-5e1d7c2b9a"

# case id → its 4 answers and the expected grouping label of each answer
CASES = {
    # "Paris is the capital" and "the capital is Paris" are the same bag of words (cos 1);
    # "Lyon is the capital" shares 3 of 4 words (cos 0.75 < 0.88): its own cluster
    "c0": (["Paris is the capital", "the capital is Paris", "Lyon is the capital", "Paris is the capital"],
           "PPLP"),
    # "blue" / "Blue." are canonical duplicates; "the sky is blue" has cos 0.5 with "blue"
    "c1": (["blue", "Blue.", "red", "the sky is blue"], "bbrs"),
    # all identical: no embedding and no judge call for this case
    "c2": (["42", "42", "42", "42"], "aaaa"),
}


def _words(text: str) -> list[str]:
    return sorted(re.findall(r"\w+", text.lower()))


def bag_rule(premise: str, hypothesis: str) -> str:
    """The judge rule of these tests: the same bag of words entails, else contradiction."""
    return "entailment" if _words(premise) == _words(hypothesis) else "contradiction"


def _write_suite(tmp_path: Path, variance: dict, cases: dict = CASES) -> Path:
    suite = {
        "name": "remote",
        "template": "Question {{ qid }}: repeat <<{{ alts }}>>",
        "cases": [{"id": cid, "qid": cid, "alts": "|".join(answers), "target": answers[0]}
                  for cid, (answers, _) in cases.items()],
        "scorers": [{"type": "regex", "pattern": r"Answer: (.+)", "then": "normalized"}],
        "sampling": {"samples": 4, "temperature": 0.0, "seed": 1},
        "variance": variance,
    }
    path = tmp_path / "remote.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith(("OPENAI_", "ANTHROPIC_", "OLLAMA_", "VLLM_", "TUIEVAL_")):
            monkeypatch.delenv(key)


def _run_engine(tmp_path: Path, server, variance: dict, cases: dict = CASES) -> tuple[Store, str]:
    """A run with the engine in this process (no report yet), as tests/engine do."""
    suite = load_suite(_write_suite(tmp_path, variance, cases))
    base = server.openai_base_url
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/echo", base_url=base, timeouts=timeouts)
    store = Store(tmp_path / "runs.db")
    options = RunOptions(model="openai-compatible/echo", base_url=base, concurrency=4, retry_base_s=0.01,
                         retry_cap_s=0.05, timeouts=timeouts)
    engine = Engine(store, backend, None)
    run_id = engine.create_run(suite, options)

    async def go():
        try:
            return await engine.run(run_id, options)
        finally:
            await backend.aclose()

    assert asyncio.run(go()).status == "complete"
    return store, run_id


def _check_grouping(samples: list[dict], cases: dict = CASES) -> None:
    """Two samples of a case share a cluster exactly when their answers' labels agree."""
    by_case: dict[str, list[dict]] = {}
    for s in samples:
        by_case.setdefault(s["case_id"], []).append(s)
    assert set(by_case) == set(cases)
    for cid, rows in by_case.items():
        answers, labels = cases[cid]
        label_of = dict(zip(answers, labels))
        assert sorted(s["extracted"] for s in rows) == sorted(answers)  # each alternative once
        for a in rows:
            for b in rows:
                same_label = label_of[a["extracted"]] == label_of[b["extracted"]]
                assert (a["cluster"] == b["cluster"]) == same_label, (cid, a["extracted"], b["extracted"])


def _db_bytes(tmp_path: Path) -> bytes:
    db = tmp_path / "runs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(p.read_bytes() for p in tmp_path.glob("runs.db*"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "OLLAMA_", "VLLM_", "TUIEVAL_"))}
    env.update(extra)
    return env


def test_embeddings_tier_through_the_cli(tmp_path, model_server):
    # the key is required by every route, chat and embeddings alike, and never stored
    model_server.require_api_key = SECRET
    suite = _write_suite(tmp_path, {"method": "embeddings", "model": "openai-compatible/emb",
                                    "base_url": model_server.openai_base_url})
    db = tmp_path / "runs.db"
    run = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "openai-compatible/echo", "--base-url",
                                    model_server.openai_base_url, "--concurrency", "4", "--db", str(db), "-q"],
                         capture_output=True, text=True, timeout=60, env=_env(OPENAI_API_KEY=SECRET))
    assert run.returncode == 0, run.stderr
    run_id = run.stdout.strip().splitlines()[-1]
    assert model_server.status_counts[401] == 0
    # clustered once: the 6 distinct answers of c0 and c1 went in one batch, c2 needed none
    assert model_server.embedding_requests == 1 and model_server.embedding_inputs == 6
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        samples = [dict(r) for r in conn.execute("SELECT * FROM samples WHERE run_id = ?", (run_id,))]
        stored = [dict(r) for r in conn.execute("SELECT * FROM clusters WHERE run_id = ?", (run_id,))]
    _check_grouping(samples)
    assert {r["method"] for r in stored} == {"embeddings"}
    assert sorted(r["size"] for r in stored if r["case_id"] == "c0") == [1, 3]
    assert sorted(r["size"] for r in stored if r["case_id"] == "c1") == [1, 1, 2]

    # `tuieval report` reads the report the run stored: no second round of embedding requests
    rep = subprocess.run(TUIEVAL + ["report", run_id, "--db", str(db), "--format", "json"],
                         capture_output=True, text=True, timeout=60, env=_env(OPENAI_API_KEY=SECRET))
    assert rep.returncode == 0, rep.stderr
    cached = json.loads(rep.stdout)
    assert cached["analysis"]["clustering"]["source"] == "computed"
    assert model_server.embedding_requests == 1
    # without that stored report (e.g. after an upgrade) it re-analyses from the stored clusters
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM reports")
    rep = subprocess.run(TUIEVAL + ["report", run_id, "--db", str(db), "--format", "json"],
                         capture_output=True, text=True, timeout=60, env=_env(OPENAI_API_KEY=SECRET))
    assert rep.returncode == 0, rep.stderr
    report = json.loads(rep.stdout)
    clustering = report["analysis"]["clustering"]
    assert clustering["method"] == "embeddings" and clustering["source"] == "stored"
    assert model_server.embedding_requests == 1
    assert [c["n_clusters"] for c in report["cases"]] == [2, 3, 1]
    assert [c["n_clusters"] for c in cached["cases"]] == [2, 3, 1]

    assert SECRET.encode() not in _db_bytes(tmp_path)
    assert SECRET not in run.stderr + run.stdout + rep.stderr + rep.stdout


def test_embeddings_report_counts_and_matches_stored_clusters(tmp_path, model_server):
    store, run_id = _run_engine(tmp_path, model_server, {
        "method": "embeddings", "model": "openai-compatible/emb", "base_url": model_server.openai_base_url,
        "threshold": 0.7, "linkage": "complete"})
    report = reporting.build_report(store, run_id, persist_clusters=True)
    c = report["analysis"]["clustering"]
    assert (c["method"], c["threshold"], c["linkage"], c["source"]) == ("embeddings", 0.7, "complete", "computed")
    assert c["embed_calls"] == 1 and c["embedded_texts"] == 6 and c["embedding_requests"] == 1
    assert model_server.embedding_requests == 1  # one clustering for the stored rows and the report
    # at τ = 0.7 "Lyon is the capital" (cos 0.75 with both Paris answers) joins them
    looser = {"c0": (CASES["c0"][0], "PPPP"), "c1": CASES["c1"], "c2": CASES["c2"]}
    _check_grouping(store.get_samples(run_id), looser)
    # the report's clusters are the stored ones
    stored = store.conn.execute("SELECT case_id, size FROM clusters WHERE run_id = ? ORDER BY case_id, cluster",
                                (run_id,)).fetchall()
    assert [(r[0], r[1]) for r in stored] == [(case["id"], cl["size"]) for case in report["cases"]
                                              for cl in case["clusters"]]


def test_entailment_tier_counts_judge_calls(tmp_path, model_server):
    model_server.judge_rule = bag_rule
    store, run_id = _run_engine(tmp_path, model_server, {
        "method": "entailment", "judge": "openai-compatible/judge", "base_url": model_server.openai_base_url,
        "rule": "strict"})
    report = reporting.build_report(store, run_id, persist_clusters=True)
    samples = store.get_samples(run_id)
    _check_grouping(samples)
    c = report["analysis"]["clustering"]
    assert c["method"] == "entailment" and c["rule"] == "strict" and c["judge"] == "openai-compatible/judge"
    # every judge call was one request, made once (not again for the report)
    assert c["judge_calls"] == c["judge_requests"] == model_server.judge_requests > 0
    assert model_server.prompt_counts[JUDGE_KEY] == model_server.judge_requests
    assert c["unparsed_replies"] == 0
    # the same count as the analysis itself finds with the same rule on the stored samples
    cases = {cc["case_id"]: cc["input_text"] for cc in store.get_cases(run_id)}
    samples.sort(key=lambda s: (s["case_id"], s["sample_index"]))
    order = sorted(cases)
    _, stats = cluster_groups([s["extracted"] for s in samples], np.array([order.index(s["case_id"]) for s in samples]),
                              "entailment", judge=lambda q, a, b: bag_rule(a, b), questions=[cases[k] for k in order])
    assert stats["judge_calls"] == c["judge_calls"]
    # the judge saw each case's question and never a case whose answers were all equal
    assert {q for q, _, _ in model_server.judge_log} <= {cases["c0"], cases["c1"]}


def test_unreadable_judge_replies_are_counted_as_fallbacks(tmp_path, model_server):
    model_server.judge_rule = lambda premise, hypothesis: "Hmm, hard to say really."
    store, run_id = _run_engine(tmp_path, model_server, {
        "method": "entailment", "judge": "openai-compatible/judge", "base_url": model_server.openai_base_url})
    report = reporting.build_report(store, run_id)
    c = report["analysis"]["clustering"]
    assert c["unparsed_replies"] == c["judge_calls"] == model_server.judge_requests > 0
    # neutral under the strict rule: every distinct answer is its own cluster
    assert [case["n_clusters"] for case in report["cases"]] == [3, 3, 1]


def test_hybrid_tier_reports_bands(tmp_path, model_server):
    model_server.judge_rule = bag_rule
    store, run_id = _run_engine(tmp_path, model_server, {
        "method": "hybrid", "model": "openai-compatible/emb", "judge": "openai-compatible/judge",
        "base_url": model_server.openai_base_url, "tau_low": 0.6, "tau_high": 0.95})
    report = reporting.build_report(store, run_id, persist_clusters=True)
    _check_grouping(store.get_samples(run_id))
    c = report["analysis"]["clustering"]
    assert c["similarity"] == "embeddings" and (c["tau_low"], c["tau_high"]) == (0.6, 0.95)
    bands = c["bands"]
    assert set(bands) == {"exact", "below_low", "band", "above_high"}
    # canonical duplicates, merged before any comparison: c0's second "Paris is the capital",
    # c1's "Blue." after "blue", c2's three repeats of "42"
    assert bands["exact"] == 1 + 1 + 3
    # only pairs at or above τ_low reach the judge, two directions each
    assert c["judge_calls"] == model_server.judge_requests == 2 * (bands["band"] + bands["above_high"])
    assert bands["below_low"] > 0  # c1's blue/red/sky pairs are never judged
    assert model_server.embedding_requests == 1


def test_broken_judge_raises_one_line_naming_the_field(tmp_path, model_server):
    store, run_id = _run_engine(tmp_path, model_server, {
        "method": "entailment", "judge": "openai-compatible/judge", "base_url": model_server.openai_base_url})
    model_server.fail_first(10**9, 401, key=JUDGE_KEY)
    with pytest.raises(reporting.ClusteringBackendError) as info:
        reporting.build_report(store, run_id, persist_clusters=True)
    msg = str(info.value)
    assert msg.startswith("variance.judge: ") and "\n" not in msg and "401" in msg
    assert info.value.field == "variance.judge"
    assert model_server.judge_requests == 1  # a 401 is not retried
    assert store.conn.execute("SELECT COUNT(*) FROM clusters").fetchone()[0] == 0


def test_broken_embeddings_endpoint_exits_2_naming_the_field(tmp_path, model_server):
    store, run_id = _run_engine(tmp_path, model_server, {
        "method": "embeddings", "model": "openai-compatible/emb", "base_url": model_server.openai_base_url})
    store.close()
    # from now on the server wants another key, and echoes the one it got in its 401
    model_server.require_api_key = "sk-the-right-key-000000"
    result = subprocess.run(TUIEVAL + ["report", run_id, "--db", str(tmp_path / "runs.db"), "--format", "json"],
                            capture_output=True, text=True, timeout=60, env=_env(OPENAI_API_KEY=SECRET))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "variance.model" in lines[0] and "401" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr
    assert model_server.embedding_requests == 1
    assert SECRET.encode() not in _db_bytes(tmp_path)


def test_misconfigured_endpoint_names_the_field(tmp_path, model_server, monkeypatch):
    store, run_id = _run_engine(tmp_path, model_server, {
        "method": "embeddings", "model": "openai/text-embedding-3-small"})
    # no OPENAI_API_KEY and the default api.openai.com endpoint: refused before any request
    with pytest.raises(reporting.ClusteringBackendError) as info:
        reporting.build_report(store, run_id)
    assert str(info.value).startswith("variance.model: OPENAI_API_KEY is not set")
    # an embeddings endpoint failing after retries is a one-line error too (connection refused)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setattr("tuieval.backends.sync_http.sleep", lambda s: None)
    with pytest.raises(reporting.ClusteringBackendError) as info:
        reporting.build_report(store, run_id)
    msg = str(info.value)
    assert msg.startswith("variance.model: embeddings model openai/text-embedding-3-small at http://127.0.0.1:9/v1 "
                          "failed: connect failed") and "\n" not in msg and SECRET not in msg
