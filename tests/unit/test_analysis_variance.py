"""Clustering tiers, semantic entropy and per-group statistics (docs/statistics.md §1–§2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.reference_clustering import (
    adjusted_rand_index,
    cluster_canonical,
    cluster_entailment,
    cluster_hybrid,
    cluster_lexical,
    lexical_similarity,
    majority_correct,
    modal_cluster,
)
from tuieval.analysis.variance import (
    ClusterResult,
    canonical_answer,
    cluster_by_similarity,
    cluster_groups,
    consistency,
    flip,
    flip_rates,
    group_stats,
    parse_judge_reply,
    semantic_entropy,
)


def _cluster(method: str, answers, question: str = "", **kw) -> tuple[list[int], dict]:
    """The product's clustering (cluster_groups) of one group of answers."""
    ids, stats = cluster_groups(list(answers), np.zeros(len(answers), dtype=np.int64), method,
                                questions=[question], **kw)
    return ids.tolist(), stats


# ---------------------------------------------------------------------------------------------
# A labelled set of answer groups: (question, [(answer, true cluster label), ...]).
# Labels are what a careful human would call "the same answer to this question".
# Hard cases on purpose: number formats, extra words, dates 1912/1921, negation,
# swapped roles, units, JSON, refusals, multiple-choice letters, long answers.
# ---------------------------------------------------------------------------------------------

LABELLED = [
    ("How many dollars?", [("1,000", 0), ("1000", 0), ("1000.0", 0), ("The answer is 1000.", 0),
                           ("It's 1,000 dollars", 0), ("999", 1), ("The answer is 999", 1), ("one thousand", 0)]),
    ("When did the Titanic sink?", [("1912", 0), ("It sank in 1912.", 0), ("1921", 1), ("in 1912", 0),
                                    ("The year was 1921", 1), ("April 1912", 0)]),
    ("Capital of France?", [("Paris", 0), ("paris.", 0), ("The capital is Paris", 0), ("Paris, France", 0),
                            ("Lyon", 1), ("It is Lyon.", 1), ("lyon", 1)]),
    ("Is the sky blue?", [("Yes", 0), ("yes.", 0), ("No", 1), ("no", 1), ("Yes, it is.", 0),
                          ("No, it isn't.", 1), ("It is not.", 1)]),
    ("What is the powerhouse of the cell?", [
        ("The mitochondria is the powerhouse of the cell", 0), ("Mitochondria are the powerhouse of the cell.", 0),
        ("the mitochondria is the powerhouse of the cell!", 0), ("The nucleus is the powerhouse of the cell", 1),
        ("It's the mitochondria", 0)]),
    ("Return the object.", [('{"a": 1, "b": 2}', 0), ('{"b":2,"a":1}', 0), ('{"a": 1.0, "b": 2}', 0),
                            ('{"a": 1, "b": 3}', 1)]),
    ("Who wrote Hamlet?", [("William Shakespeare", 0), ("Shakespeare", 0), ("Shakespeare wrote it", 0),
                           ("Christopher Marlowe", 1), ("Marlowe", 1), ("It was Marlowe.", 1)]),
    ("At what temperature does water boil at sea level?", [
        ("100 °C", 0), ("100 degrees Celsius", 0), ("212 °F", 0), ("Water boils at 100 °C", 0), ("90 °C", 1)]),
    ("Where is the Brandenburg Gate?", [("", 0), ("", 0), ("I don't know", 1), ("I do not know.", 1),
                                        ("Berlin", 2)]),
    ("Which option is correct?", [("B", 0), ("b", 0), ("(B)", 0), ("Answer: B", 0), ("C", 1),
                                  ("The answer is C.", 1)]),
    ("Who won the match?", [("Alice beat Bob", 0), ("Alice defeated Bob", 0), ("Bob beat Alice", 1),
                            ("Alice won against Bob", 0)]),
    ("What is the capital of France?", [("Paris", 0),
                                        ("After considering the options, the capital of France is Paris.", 0),
                                        ("Marseille", 1), ("The answer is Marseille, I think", 1)]),
]

TRUTH = {(q, a): lab for q, group in LABELLED for a, lab in group}


def fake_judge(question: str, premise: str, hypothesis: str) -> str:
    """A deterministic judge that knows the labels, with realistic noise in its replies:
    varied casing and punctuation, a contradiction for opposite yes/no answers, and an
    unparseable reply for pairs about "know" (falls back to neutral and is counted)."""
    if "know" in premise.lower() and "know" in hypothesis.lower():
        return "¯\\_(ツ)_/¯ hard to say, honestly"
    same = TRUTH[(question, premise)] == TRUTH[(question, hypothesis)]
    if same:
        return "Entailment." if len(premise) % 2 else "ENTAILMENT - the answers agree"
    if question == "Is the sky blue?":
        return "contradiction"
    return "Neutral: different answers"


def _tier_ari(tier: str) -> tuple[float, list[float], dict]:
    scores, counters = [], {"judge_calls": 0, "unparsed_replies": 0}
    for q, group in LABELLED:
        answers = [a for a, _ in group]
        truth = [lab for _, lab in group]
        kw = {"judge": fake_judge} if tier in ("entailment", "hybrid") else {}
        if tier == "hybrid":
            kw.update(tau_low=0.2, tau_high=0.9)
        pred, stats = _cluster(tier, answers, q, **kw)
        for k in counters:
            counters[k] += stats.get(k, 0)
        scores.append(adjusted_rand_index(truth, pred))
    return float(np.mean(scores)), scores, counters


# Floors well under the measured figures (printed by test_ari_report) but above what
# a broken tier would score; the figures themselves go into the benchmark README.
@pytest.mark.parametrize("tier,floor", [("canonical", 0.2), ("lexical", 0.5), ("hybrid", 0.75),
                                        ("entailment", 0.9)])
def test_ari_floor_per_tier(tier, floor):
    mean, scores, _ = _tier_ari(tier)
    assert mean >= floor, (tier, mean, scores)


def test_ari_ordering_and_report(capsys):
    figures = {t: _tier_ari(t) for t in ("canonical", "lexical", "hybrid", "entailment")}
    with capsys.disabled():
        print()
        for t, (mean, scores, counters) in figures.items():
            print(f"ARI {t:>10}: mean {mean:.3f}  per group {[round(s, 2) for s in scores]}  {counters}")
    # each tier should improve on the previous one on this set
    assert figures["canonical"][0] < figures["lexical"][0] < figures["hybrid"][0] <= figures["entailment"][0]
    # the unparseable "know" replies were counted, and the hybrid asked the judge less
    assert figures["entailment"][2]["unparsed_replies"] >= 1
    assert figures["hybrid"][2]["judge_calls"] < figures["entailment"][2]["judge_calls"]


# ---------------------------------------------------------------------------------------------
# canonical answers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("1,000", "1000"), ("1000", "1000.0"), ("1,000.50", "1000.5"), ("The Answer", "answer"),
    ("  Paris. ", "paris"), ("An apple!", "apple"), ('{"b": 1, "a": [1, 2]}', '{"a":[1,2],"b":1.0}'),
    ("```json\n{\"a\": 1}\n```", '{"a": 1}'), ("-0", "0"), ("007", "7"), ("−5", "-5"), ("isn't", "isnt"),
])
def test_canonical_equal(a, b):
    assert canonical_answer(a) == canonical_answer(b)


@pytest.mark.parametrize("a,b", [
    ("1912", "1921"), ("5", "-5"), ("1,2,3", "123"), ("yes", "no"), ('{"a": "X"}', '{"a": "x"}'),
    ("3.14", "3.141"),
])
def test_canonical_different(a, b):
    assert canonical_answer(a) != canonical_answer(b)


def test_canonical_edge_cases():
    assert canonical_answer(None) is None
    assert canonical_answer("") == ""
    assert canonical_answer("...") == ""
    assert canonical_answer("covid-19") == "covid 19"


# ---------------------------------------------------------------------------------------------
# tiers: properties
# ---------------------------------------------------------------------------------------------

answer_text = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=20)


@settings(max_examples=60, deadline=None)
@given(answer_text, st.integers(1, 8), st.randoms(use_true_random=False))
def test_identical_answers_form_one_cluster(text, n, rnd):
    answers = [text] * n
    rnd.shuffle(answers)
    assert _cluster("canonical", answers)[0] == [0] * n
    assert _cluster("lexical", answers)[0] == [0] * n
    assert cluster_by_similarity(np.ones((n, n)), 0.9) == [0] * n


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(answer_text, st.none()), max_size=10))
def test_clustering_is_deterministic_and_first_appearance_numbered(answers):
    a = _cluster("lexical", answers)[0]
    assert a == _cluster("lexical", list(answers))[0]
    assert a == cluster_lexical(answers)  # the per-group reference agrees
    seen = []
    for x, c in zip(answers, a):
        assert (x is None) == (c == -1)
        if c >= 0 and c not in seen:
            assert c == len(seen)  # clusters are numbered in order of first appearance
            seen.append(c)
    # the lexical tier only merges further: never splits canonical duplicates
    canon = _cluster("canonical", answers)[0]
    assert canon == cluster_canonical(answers)
    for i in range(len(answers)):
        for j in range(len(answers)):
            if canon[i] >= 0 and canon[i] == canon[j]:
                assert a[i] == a[j]


def test_errors_are_excluded():
    ids = _cluster("canonical", ["x", None, "x", "y"])[0]
    assert ids == [0, -1, 0, 1]
    se = semantic_entropy(ids)
    assert se.n_valid == 3 and se.n_clusters == 2


def test_lexical_guards_numbers_and_negation():
    assert _cluster("lexical", ["The Titanic sank in 1912", "The Titanic sank in 1921"])[0] == [0, 1]
    assert _cluster("lexical", ["The door is open", "The door is not open"])[0] == [0, 1]
    assert _cluster("lexical", ["The door is open", "the door is open."])[0] == [0, 0]


def test_agglomerative_never_chains():
    # a–b and b–c similar, a–c not: complete linkage must not put a and c together
    S = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.9], [0.1, 0.9, 1.0]])
    ids = cluster_by_similarity(S, 0.8, "complete")
    assert ids[0] != ids[2]
    ids = cluster_by_similarity(S, 0.8, "average")
    assert ids[0] != ids[2]
    with pytest.raises(ValueError):
        cluster_by_similarity(S, 0.8, "single")


def test_agglomerative_embeddings_two_groups():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(2, 16))
    E = np.vstack([centres[0] + 0.05 * rng.normal(size=(4, 16)), centres[1] + 0.05 * rng.normal(size=(3, 16))])
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    ids = cluster_by_similarity(E @ E.T, 0.9, "average")
    assert ids == [0, 0, 0, 0, 1, 1, 1]


# ---------------------------------------------------------------------------------------------
# judge tiers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply,label,ok", [
    ("Entailment", "entailment", True), ("  CONTRADICTION.", "contradiction", True),
    ("neutral", "neutral", True), ("The answers entail each other", "entailment", True),
    ("I cannot decide", "neutral", False), ("", "neutral", False), (None, "neutral", False),
    ("x" * 30 + "entailment", "neutral", False),  # only the first 30 characters are read
])
def test_parse_judge_reply(reply, label, ok):
    assert parse_judge_reply(reply) == (label, ok)


def test_entailment_rules_and_cache():
    calls = []

    def judge(q, a, b):
        calls.append((a, b))
        table = {("x", "y"): "entailment", ("y", "x"): "neutral", ("x", "z"): "neutral", ("z", "x"): "neutral"}
        return table.get((a, b), "contradiction")

    assert _cluster("entailment", ["x", "y"], "q", judge=judge, rule="strict")[0] == [0, 1]
    assert _cluster("entailment", ["x", "y"], "q", judge=judge, rule="lenient")[0] == [0, 0]
    assert _cluster("entailment", ["x", "z"], "q", judge=judge, rule="lenient")[0] == [0, 1]
    assert _cluster("entailment", ["x", "z"], "q", judge=judge, rule="no-contradiction")[0] == [0, 0]
    calls.clear()
    # two groups of the same question share one decision cache
    ids, stats = cluster_groups(["x", "y", "x", "y", "y", "y", "x"], np.array([0, 0, 0, 0, 0, 1, 1]), "entailment",
                                judge=judge, questions=["q", "q"])
    assert ids.tolist() == [0, 1, 0, 1, 1, 0, 1]
    assert len(calls) == 2  # duplicates collapsed: one pair, two directions, asked once
    assert stats["judge_calls"] == 2 and stats["pair_cache_hits"] == 1


def test_all_identical_answers_never_call_the_judge():
    def judge(*_):
        raise AssertionError("judge called")

    ids, stats = _cluster("entailment", ["Paris", "paris", "Paris."], "q", judge=judge)
    assert ids == [0, 0, 0] and stats["judge_calls"] == 0


def test_greedy_first_member_wins():
    # non-transitive: b~a, c~b but c!~a.  Algorithm 1 compares with the FIRST member only.
    eq = {frozenset("ab"), frozenset("bc")}

    def judge(q, p, h):
        return "entailment" if frozenset(p + h) in eq else "neutral"

    assert _cluster("entailment", ["a", "b", "c"], "q", judge=judge)[0] == [0, 0, 1]


def test_hybrid_bands_are_counted():
    answers = ["1912", "1921", "It sank in 1912", "banana"]
    _, stats = _cluster("hybrid", answers, judge=lambda q, a, b: "neutral", tau_low=0.2, tau_high=0.9)
    b = stats["bands"]
    assert b["below_low"] + b["band"] + b["above_high"] > 0
    assert stats["judge_calls"] == 2 * (b["band"] + b["above_high"])
    ref = cluster_hybrid(answers, lexical_similarity(answers), 0.2, 0.9, lambda q, a, b: "neutral")
    assert ref.stats["bands"] == b


def test_cluster_groups_matches_the_per_group_reference():
    groups_answers = [[a for a, _ in g] for _, g in LABELLED]
    texts = [a for g in groups_answers for a in g] + [None, "solo"]
    groups = np.concatenate([np.full(len(g), i) for i, g in enumerate(groups_answers)] + [np.full(2, len(groups_answers))])
    for method, single in (("canonical", cluster_canonical), ("lexical", cluster_lexical)):
        ids, stats = cluster_groups(texts, groups, method)
        pos = 0
        for g in groups_answers:
            assert ids[pos: pos + len(g)].tolist() == single(g)
            pos += len(g)
        assert ids[-2:].tolist() == [-1, 0]
    ids, stats = cluster_groups(texts[:-2], groups[:-2], "entailment", judge=fake_judge,
                                questions=[q for q, _ in LABELLED])
    pos = 0
    for q, g in LABELLED:
        answers = [a for a, _ in g]
        assert ids[pos: pos + len(g)].tolist() == cluster_entailment(q, answers, fake_judge).ids
        pos += len(g)
    assert stats["unparsed_replies"] >= 1
    ids, stats = cluster_groups(texts[:-2], groups[:-2], "hybrid", judge=fake_judge, tau_low=0.2, tau_high=0.9,
                                questions=[q for q, _ in LABELLED])
    pos, bands = 0, {"exact": 0, "below_low": 0, "band": 0, "above_high": 0}
    for q, g in LABELLED:
        answers = [a for a, _ in g]
        ref = cluster_hybrid(answers, lexical_similarity(answers), 0.2, 0.9, fake_judge, question=q)
        assert ids[pos: pos + len(g)].tolist() == ref.ids
        bands = {k: bands[k] + ref.stats["bands"][k] for k in bands}
        pos += len(g)
    assert stats["bands"] == bands


def test_cluster_result_from_ids():
    r = ClusterResult.from_ids([0, -1, 1, 0], "canonical", sample_indices=[3, 4, 5, 6])
    assert r.n_valid == 3 and r.n_clusters == 2 and r.representatives == [0, 2] and r.sizes == [2, 1]
    assert r.assignment() == {3: 0, 5: 1, 6: 0}


# ---------------------------------------------------------------------------------------------
# entropy, consistency, mode (golden vector §10)
# ---------------------------------------------------------------------------------------------

def test_semantic_entropy_golden():
    se = semantic_entropy([0, 0, 1, 0, 2])
    assert se.semantic_entropy == pytest.approx(0.950271, abs=1e-6)
    assert se.semantic_entropy_normalized == pytest.approx(0.590436, abs=1e-6)
    assert se.miller_madow == pytest.approx(0.950271 + 2 / 10, abs=1e-6)
    assert consistency([0, 0, 1, 0, 2]) == pytest.approx(0.6)


def test_entropy_edge_cases():
    one = semantic_entropy([0])
    assert one.semantic_entropy == 0.0 and one.semantic_entropy_normalized is None
    none = semantic_entropy([-1, -1])
    assert none.semantic_entropy is None and none.n_valid == 0
    assert consistency([]) is None
    same = semantic_entropy([0, 0, 0])
    assert same.semantic_entropy == 0.0 and same.semantic_entropy_normalized == 0.0
    spread = semantic_entropy([0, 1, 2, 3])
    assert spread.semantic_entropy_normalized == pytest.approx(1.0)


def test_mode_ties_first_appearing_wins():
    m = modal_cluster([1, 0, 0, 1, 2])  # ids need not be numbered by appearance here
    assert m.mode == 1 and m.is_tied and m.tied == [1, 0] and m.count == 2
    assert modal_cluster([0, 1, 1]).is_tied is False
    assert modal_cluster([-1]).mode is None
    assert majority_correct([0, 1, 1], [True, False, True]) is False  # mode 1's first member is wrong
    assert majority_correct([0, 1, 0], [True, False, False]) is True
    assert majority_correct([-1, -1], [False, False]) is False


def test_flip_rates():
    assert flip({"a"}, {"a"}) == 0.0 and flip({"a"}, {"b"}) == 1.0
    assert flip({"a", "b"}, {"a"}) == pytest.approx(0.5)
    fr = flip_rates([{"a"}, {"a"}, {"b"}])
    assert fr["anchored"] == pytest.approx(0.5) and fr["pairwise"] == pytest.approx(2 / 3)


def test_group_stats_matches_scalar_functions():
    rng = np.random.default_rng(0)
    groups, ids, correct = [], [], []
    for g in range(50):
        n = int(rng.integers(1, 9))
        raw = rng.integers(-1, 4, n).tolist()
        # renumber by first appearance, as every tier does
        seen: dict[int, int] = {}
        raw = [-1 if x < 0 else seen.setdefault(x, len(seen)) for x in raw]
        groups += [g] * n
        ids += raw
        correct += rng.random(n).round().astype(bool).tolist()
    gs = group_stats(np.array(groups), np.array(ids), np.array(correct), 50)
    groups_a = np.array(groups)
    for g in range(50):
        sel = groups_a == g
        gi = np.array(ids)[sel].tolist()
        gc = np.array(correct)[sel].tolist()
        se = semantic_entropy(gi)
        assert gs["n_valid"][g] == se.n_valid
        if se.n_valid == 0:
            assert math.isnan(gs["semantic_entropy"][g]) and not gs["majority_correct"][g]
            continue
        valid = [x for x in gi if x >= 0]
        p = np.array([valid.count(c) for c in set(valid)]) / len(valid)
        assert gs["semantic_entropy"][g] == pytest.approx(float(-(p * np.log(p)).sum()))
        assert gs["consistency"][g] == pytest.approx(consistency(gi))
        m = modal_cluster(gi)
        assert gs["mode"][g] == m.mode and gs["is_tied"][g] == m.is_tied
        assert gs["majority_correct"][g] == majority_correct(gi, gc)


# ---------------------------------------------------------------------------------------------
# ARI itself
# ---------------------------------------------------------------------------------------------

def test_adjusted_rand_index():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 0, 0], [0, 0, 0, 0]) == 1.0
    assert adjusted_rand_index([0, 1, 2, 3], [0, 0, 0, 0]) == pytest.approx(0.0)
    # the two examples of scikit-learn's adjusted_rand_score documentation
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(0.5714285714)
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.2424242424)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789,.-− aAbThe{}[]\"':x_éß٣?!\n’")), max_size=30))
def test_canonical_is_idempotent(text):
    c = canonical_answer(text)
    assert canonical_answer(c) == c


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcXYZ _-.,;:!?'`\t\n()\"")), max_size=30))
def test_ascii_fast_path_matches_regex_tokenisation(text):
    # the ASCII shortcut (translate + split) must tokenise exactly like the general pattern
    from tuieval.analysis.variance.canonical import _APOSTROPHES, _WORDS, ARTICLES

    s = _APOSTROPHES.sub("", text.strip().lower())
    assert canonical_answer(text) == " ".join(t for t in _WORDS.findall(s) if t not in ARTICLES)
