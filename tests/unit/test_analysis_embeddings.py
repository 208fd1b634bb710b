"""The embeddings tier, hybrid with embedded similarity, and precomputed clusters in analyze_run."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tuieval.analysis.report import analyze_run, cluster_records, cluster_run
from tests.support.reference_clustering import cluster_embeddings, cosine_similarity_matrix
from tuieval.analysis.variance import DEFAULT_EMBEDDING_THRESHOLD, cluster_by_similarity, cluster_groups

VOCAB: dict[str, int] = {}


class BagEmbed:
    """Deterministic bag-of-words vectors (one dimension per word); records its calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                out[i, VOCAB.setdefault(w, len(VOCAB))] += 1.0
        return out * 3.0  # not normalised: the analysis must normalise


GROUPS = [
    ["Paris is the capital", "the capital is Paris", "Lyon is the capital", "paris IS the capital!"],
    ["blue", "Blue.", "red", "the sky is blue", None],
    ["42", "42", "42"],
]


def _flat(groups):
    texts = [a for g in groups for a in g]
    idx = np.concatenate([np.full(len(g), i) for i, g in enumerate(groups)])
    return texts, idx


def test_cosine_matrix_normalises_rows():
    S = cosine_similarity_matrix(np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    assert S[0, 0] == pytest.approx(1.0) and S[0, 1] == pytest.approx(2 ** -0.5) and S[2].tolist() == [0, 0, 0]


def test_embeddings_tier_batches_distinct_answers_and_matches_the_single_group_function():
    embed = BagEmbed()
    texts, idx = _flat(GROUPS)
    ids, stats = cluster_groups(texts, idx, "embeddings", embed=embed)
    # one call for the chunk; canonical duplicates and the all-equal group never embedded
    assert len(embed.calls) == 1
    assert embed.calls[0] == ["Paris is the capital", "the capital is Paris", "Lyon is the capital", "blue", "red",
                              "the sky is blue"]
    assert stats["embed_calls"] == 1 and stats["embedded_texts"] == 6
    assert stats["threshold"] == DEFAULT_EMBEDDING_THRESHOLD and stats["linkage"] == "average"
    assert ids.tolist() == [0, 0, 1, 0, 0, 0, 1, 2, -1, 0, 0, 0]
    pos = 0
    for g in GROUPS:
        assert ids[pos: pos + len(g)].tolist() == cluster_embeddings(g, BagEmbed()).ids
        pos += len(g)
    # a lower threshold merges "Lyon is the capital" (cos 0.75) with the Paris answers
    ids, _ = cluster_groups(texts, idx, "embeddings", embed=BagEmbed(), threshold=0.7, linkage="complete")
    assert ids[:4].tolist() == [0, 0, 0, 0]


def test_embeddings_tier_needs_embed_and_refuses_single_linkage():
    texts, idx = _flat(GROUPS)
    with pytest.raises(ValueError, match="embed"):
        cluster_groups(texts, idx, "embeddings")
    with pytest.raises(ValueError, match="single linkage"):
        cluster_groups(texts, idx, "embeddings", embed=BagEmbed(), linkage="single")
    with pytest.raises(ValueError, match="shape"):
        cluster_groups(texts, idx, "embeddings", embed=lambda ts: np.zeros((1, 3)))


def test_average_linkage_differs_from_complete():
    # a—b 0.9, b—c 0.9, a—c 0.8: average merges all at τ=0.85, complete stops at two clusters
    S = np.array([[1, 0.9, 0.8], [0.9, 1, 0.9], [0.8, 0.9, 1]])
    assert cluster_by_similarity(S, 0.85, "average") == [0, 0, 0]
    assert cluster_by_similarity(S, 0.85, "complete") == [0, 0, 1]


def test_hybrid_takes_similarity_from_embed_when_given():
    texts, idx = _flat(GROUPS)
    judged = []

    def judge(q, a, b):
        judged.append((a, b))
        return "entailment" if sorted(a.lower().split()) == sorted(b.lower().split()) else "contradiction"

    embed = BagEmbed()
    ids, stats = cluster_groups(texts, idx, "hybrid", judge=judge, embed=embed, tau_low=0.6, tau_high=0.95,
                                questions=["q0", "q1", "q2"])
    assert stats["similarity"] == "embeddings" and len(embed.calls) == 1
    assert ids.tolist() == [0, 0, 1, 0, 0, 0, 1, 2, -1, 0, 0, 0]
    b = stats["bands"]
    assert b["exact"] == 1 + 1 + 2 and b["below_low"] >= 3  # blue/red/sky pairs never judged
    assert stats["judge_calls"] == len(judged) == 2 * (b["band"] + b["above_high"])
    _, lex = cluster_groups(texts, idx, "hybrid", judge=judge, questions=["q0", "q1", "q2"])
    assert lex["similarity"] == "lexical" and "embed_calls" not in lex


def _s(cid, i, text, template="t"):
    return {"case_id": cid, "template": template, "sample_index": i, "response": text, "extracted": text,
            "correct": text == "Paris is the capital", "score": 0.0, "latency_ms": 10.0, "ttft_ms": 2.0,
            "output_tokens": 3, "error": None if text is not None else "boom",
            "error_kind": None if text is not None else "server_error"}


RUN = {"id": "r", "suite": "s", "model": "m", "status": "complete", "samples_per_case": 4, "temperature": 0.7,
       "started_at": "2026-01-01T00:00:00", "finished_at": "2026-01-01T00:00:10", "slo_ms": None,
       "config": {"variance": {"method": "embeddings", "model": "openai/x", "threshold": 0.7,
                               "linkage": "complete"}}}
CASES = [{"case_id": f"c{i}", "position": i, "metadata": {}, "input_text": f"q{i}"} for i in range(3)]
SAMPLES = [_s(f"c{g}", i, a) for g, answers in enumerate(GROUPS) for i, a in enumerate(answers)]


def test_analyze_run_embeddings_from_config_and_precomputed_clusters_agree():
    rep = analyze_run(RUN, CASES, SAMPLES, embed=BagEmbed())
    c = rep["analysis"]["clustering"]
    assert (c["method"], c["threshold"], c["linkage"], c["embed_calls"]) == ("embeddings", 0.7, "complete", 1)
    assert [case["n_clusters"] for case in rep["cases"]] == [1, 3, 1]
    with pytest.raises(ValueError, match="embed"):
        analyze_run(RUN, CASES, SAMPLES)

    results = cluster_run(SAMPLES, "embeddings", embed=BagEmbed(), threshold=0.7, linkage="complete")
    assert results.stats["embed_calls"] == 1
    assignments, rows = cluster_records(SAMPLES, results)
    again = analyze_run(RUN, CASES, SAMPLES, clusters=assignments, cluster_stats={"source": "stored"})
    assert again["cases"] == rep["cases"] and again["overall"] == rep["overall"]
    assert again["analysis"]["clustering"]["source"] == "stored"
    # labels are renumbered by first appearance, whatever the stored numbers were
    shifted = {k: v + 5 for k, v in assignments.items()}
    assert analyze_run(RUN, CASES, SAMPLES, clusters=shifted)["cases"] == rep["cases"]
    missing = dict(assignments)
    missing.pop(("c1", "t", 2))
    with pytest.raises(ValueError, match="no cluster"):
        analyze_run(RUN, CASES, SAMPLES, clusters=missing)
