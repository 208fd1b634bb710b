"""The lexical tier stacked over many groups gives exactly the per-group rule's clusters.

Fuzzed groups mix what the rule treats specially — numbers (the number guard), negations,
JSON answers, short answers contained in longer ones, near-duplicates that differ by a
letter — at several thresholds, including thresholds equal to a similarity that occurs (the
pairs within MARGIN of it go to the per-group rule). The reference clusters one group at a
time (tests/support/reference_clustering.cluster_lexical).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.support.reference_clustering import cluster_lexical
from tuieval.analysis.variance import LexicalFeatures, cluster_groups, lexical_equivalence, leader_clusters
from tuieval.analysis.variance.lexical_batch import MARGIN, lexical_clusters_stacked

WORDS = ["paris", "lyon", "the", "answer", "is", "capital", "of", "france", "not", "never", "it", "maybe",
         "42", "4.2", "1912", "1921", "meeting", "monday", "tuesday", "in", "on", "Berlin", "Ämter", "кот"]


def _answer(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return '{"a": %d}' % rng.randint(0, 2)
    if roll < 0.15:
        return rng.choice(["Paris", "paris.", "It is Paris", "The capital of France is Paris"])
    n = rng.randint(1, 7)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.2:  # a near-duplicate: one letter changed
        w = rng.randrange(n)
        words[w] = words[w][:-1] + rng.choice("aeiouxyz")
    return " ".join(words)


def _groups(seed: int, n_groups: int):
    rng = random.Random(seed)
    pool = [_answer(rng) for _ in range(60)]  # a small pool: answers repeat, as samples do
    answers = [[rng.choice(pool) if rng.random() < 0.7 else _answer(rng) for _ in range(rng.randint(1, 12))]
               for _ in range(n_groups)]
    for g in answers:
        if rng.random() < 0.1:
            g[rng.randrange(len(g))] = None  # an error sample
    return answers


def _flat(answers):
    texts = [a for g in answers for a in g]
    groups = np.concatenate([np.full(len(g), i, dtype=np.int64) for i, g in enumerate(answers)])
    return texts, groups


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("threshold", [0.3, 0.6, 0.85])
def test_stacked_lexical_tier_equals_the_per_group_rule(seed, threshold):
    answers = _groups(seed, 150)
    texts, groups = _flat(answers)
    ids, stats = cluster_groups(texts, groups, "lexical", threshold=threshold)
    pos = 0
    for g in answers:
        assert ids[pos: pos + len(g)].tolist() == cluster_lexical(g, threshold), g
        pos += len(g)
    assert stats["groups_clustered"] > 100 and len(set(ids.tolist())) > 3


def test_a_threshold_tied_with_a_similarity_goes_to_the_per_group_rule():
    canon = ["paris", "it is paris", "the capital is paris", "lyon", "the capital is lyon", "capital paris",
             "it is lyon", "paris france"]
    feats = LexicalFeatures(canon)
    S = feats.similarity()
    rng = np.random.default_rng(0)
    rows = np.array([rng.permutation(len(canon))[:5] for _ in range(40)])
    # thresholds exactly at an occurring similarity, and a hair either side of it
    tied = float(S[0, 5])
    assert 0.0 < tied < 1.0
    for threshold in (tied, np.nextafter(np.float32(tied), np.float32(1)), tied - MARGIN / 4, 0.6):
        got, exact = lexical_clusters_stacked(feats, rows, float(threshold))
        want = [leader_clusters(5, lexical_equivalence(feats, r.tolist(), float(threshold))) for r in rows]
        assert got.tolist() == want
        if threshold != 0.6:
            # the groups holding the tied pair (rows 0 and 5 with 0 first) took the per-group rule
            assert exact >= sum(1 for r in rows.tolist() if 0 in r and 5 in r) > 0


def test_stacked_groups_of_one_form_and_none():
    feats = LexicalFeatures(["a", "b"])
    got, exact = lexical_clusters_stacked(feats, np.zeros((3, 1), dtype=np.int64), 0.6)
    assert got.tolist() == [[0], [0], [0]] and exact == 0
    got, _ = lexical_clusters_stacked(feats, np.zeros((0, 4), dtype=np.int64), 0.6)
    assert got.shape == (0, 4)


@pytest.mark.parametrize("chunk", [7, 40, 1 << 14])
def test_featurised_once_or_chunk_by_chunk_the_clusters_are_the_per_group_rule(monkeypatch, chunk):
    # the distinct forms of every group featurised once (they fit one chunk) or, when they do
    # not, chunk by chunk as before: a small chunk forces the second way
    import tuieval.analysis.variance.groups as groups_mod

    monkeypatch.setattr(groups_mod, "LEXICAL_CHUNK", chunk)
    answers = _groups(4, 120)
    texts, groups = _flat(answers)
    ids, _ = cluster_groups(texts, groups, "lexical", threshold=0.6)
    pos = 0
    for g in answers:
        assert ids[pos: pos + len(g)].tolist() == cluster_lexical(g, 0.6), g
        pos += len(g)


def test_pairs_repeated_across_groups_get_one_similarity_and_the_per_group_rule():
    # the same two forms in many groups (in both orders) and a contained short answer: each
    # distinct pair is computed once, and every group still gets the per-group rule's clusters
    canon = ["paris", "it is paris", "lyon", "the capital of france is paris", "paris france", "it is lyon"]
    feats = LexicalFeatures(canon)
    rng = np.random.default_rng(3)
    rows = np.array([rng.permutation(len(canon))[:4] for _ in range(200)])
    for threshold in (0.3, 0.6, 0.9):
        got, _ = lexical_clusters_stacked(feats, rows, threshold)
        want = [leader_clusters(4, lexical_equivalence(feats, r.tolist(), threshold)) for r in rows]
        assert got.tolist() == want
    assert len({tuple(sorted(p)) for r in rows.tolist() for p in zip(r, r[1:])}) < 200  # pairs did repeat
