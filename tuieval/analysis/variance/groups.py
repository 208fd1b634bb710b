"""Batch clustering of many groups of answers at once: the path of the report and the store.

A group is one (case, template) sampled N times.  Every tier first collapses canonical
duplicates inside each group (fully vectorised, and all the canonical tier needs); the
other tiers then visit only groups with more than one canonical form, featurising (or
embedding) their distinct forms a chunk at a time, and cluster each group with its
tier's rule: `lexical.lexical_equivalence` and `agglomerative.cluster_by_similarity`,
`entailment.EntailmentOracle` and `entailment.hybrid_equivalence`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Callable, Iterator, Sequence

import numpy as np

from tuieval.analysis.variance.agglomerative import Embed, cluster_by_similarity, embed_rows
from tuieval.analysis.variance.canonical import canonical_answer
from tuieval.analysis.variance.config import (DEFAULT_EMBEDDING_THRESHOLD, DEFAULT_LEXICAL_THRESHOLD, DEFAULT_LINKAGE,
                                              DEFAULT_RULE, DEFAULT_TAU_HIGH, DEFAULT_TAU_LOW, LINKAGES, METHODS,
                                              RULES)
from tuieval.analysis.variance.entailment import EntailmentOracle, Judge, hybrid_equivalence
from tuieval.analysis.variance.lexical import LexicalFeatures, lexical_equivalence
from tuieval.analysis.variance.lexical_batch import GroupGuards, lexical_clusters_stacked, stack_by_size
from tuieval.analysis.variance.partition import leader_clusters

__all__ = ["FEATURE_CHUNK", "cluster_groups"]

FEATURE_CHUNK = 1024  # distinct answers featurised (or embedded) at once
LEXICAL_CHUNK = 1 << 14  # the lexical tier's chunk: ~50 MB of float32 features


@dataclass
class _Forms:
    """The distinct canonical forms of every group, in sample order.

    A *form* is one (group, canonical answer) pair; forms are ordered by their first
    answer, so a group's forms are contiguous: starts[g] .. starts[g] + counts[g]
    (g indexes groups that have a valid answer).  `answer_form[k]` is the form of
    valid answer k, `first_answer[f]` the position in `texts` of form f's first answer.
    """

    canon: list[str]            # distinct canonical strings of the whole batch
    valid: np.ndarray           # positions of answers that are not None
    form_group: np.ndarray      # group of each form
    form_canon: np.ndarray      # index into `canon` of each form
    first_answer: np.ndarray    # position in texts of each form's first answer
    answer_form: np.ndarray     # form of each valid answer
    starts: np.ndarray
    counts: np.ndarray


def _forms(texts: Sequence[str | None], groups: np.ndarray) -> _Forms | None:
    n = len(texts)
    # each answer's first position among equal answers, in one C-level pass over them
    # (`setdefault` keeps the first position it was given): one hash look-up per answer, where a
    # dict of the distinct answers and then a look-up of each answer in it were two
    seen: dict[str | None, int] = {}
    first_pos = np.fromiter(map(seen.setdefault, texts, count()), dtype=np.int64, count=n)
    # canonical forms, computed once per distinct raw string (answers repeat a lot); the
    # distinct strings in order of first appearance (the dict's order), so canonical ids are
    # numbered by first appearance as a loop over the answers would number them
    canon_id: dict[str, int] = {}
    canon: list[str] = []
    at: list[int] = []
    code: list[int] = []
    for t, pos in seen.items():
        if t is None:
            continue
        c = canonical_answer(t)
        k = canon_id.get(c)
        if k is None:
            k = canon_id[c] = len(canon)
            canon.append(c)
        at.append(pos)
        code.append(k)
    by_pos = np.full(n, -1, dtype=np.int64)   # canonical id at each distinct answer's first position
    by_pos[at] = code
    cid = by_pos[first_pos]
    valid = np.flatnonzero(cid >= 0)
    if valid.size == 0:
        return None
    U = len(canon)
    # first appearance of each (group, canonical form): np.unique gives the first index
    key = groups[valid] * U + cid[valid]
    ukey, first_idx, inv = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(valid[first_idx], kind="stable")  # forms in sample order
    rank_of = np.empty(order.size, dtype=np.int64)
    rank_of[order] = np.arange(order.size)
    form_group = (ukey // U)[order]
    starts = np.r_[0, np.flatnonzero(np.diff(form_group)) + 1]
    counts = np.diff(np.r_[starts, form_group.size])
    return _Forms(canon=canon, valid=valid, form_group=form_group, form_canon=(ukey % U)[order],
                  first_answer=valid[first_idx[order]], answer_form=rank_of[inv.reshape(-1)],
                  starts=starts, counts=counts)


def _chunks(multi: np.ndarray, counts: np.ndarray, size: int = FEATURE_CHUNK) -> Iterator[np.ndarray]:
    """Consecutive runs of the groups in `multi` holding ≤ `size` forms together
    (a larger group is a chunk of its own), so memory stays bounded however many
    distinct answers the run has."""
    if multi.size == 0:
        return
    # chunk ends from the running total of forms: the same cuts as adding group by group
    total = np.cumsum(counts[multi])
    pos = 0
    while pos < multi.size:
        base = int(total[pos - 1]) if pos else 0
        end = int(np.searchsorted(total, base + size, side="right"))
        end = max(end, pos + 1)
        yield multi[pos:end]
        pos = end


def _form_positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """starts[k] … starts[k] + counts[k] − 1 for every k, concatenated."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64) - np.r_[0, np.cumsum(counts)[:-1]], counts) + \
        np.arange(int(counts.sum()))


def _check(method: str, judge: Judge | None, embed: Embed | None, linkage: str, rule: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; expected one of {METHODS}")
    if method in ("entailment", "hybrid") and judge is None:
        raise ValueError(f"method {method!r} needs a judge")
    if method == "embeddings" and embed is None:
        raise ValueError("method 'embeddings' needs an embed function")
    if method == "embeddings" and linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {LINKAGES} (single linkage chains answers)")
    if method in ("entailment", "hybrid") and rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


def cluster_groups(texts: Sequence[str | None], groups: np.ndarray, method: str = "canonical", *,
                   threshold: float | None = None, judge: Judge | None = None,
                   questions: Sequence[str] | None = None, rule: str = DEFAULT_RULE,
                   tau_low: float = DEFAULT_TAU_LOW, tau_high: float = DEFAULT_TAU_HIGH,
                   embed: Embed | None = None, linkage: str = DEFAULT_LINKAGE) -> tuple[np.ndarray, dict]:
    """Cluster many groups at once; returns (cluster id per answer, -1 for None; stats).

    `groups` is the group index of each answer; answers of one group must be contiguous
    and in sample order (the caller sorts).  Cluster ids are numbered by first appearance
    inside each group.  `questions[g]` is group g's question (judge tiers); one decision
    cache is shared by the groups of one question.

    `embeddings` needs `embed` (texts → matrix): each group's distinct answers (the
    original text of each canonical form's first occurrence) are embedded, one `embed`
    call per chunk of distinct strings, and clustered agglomeratively on S = E·Eᵀ with
    `linkage` (average | complete) at `threshold` (default 0.88).  `hybrid` takes its S
    from `embed` when given, else from the lexical tier (default threshold 0.6).

    Stats: method, groups_clustered; threshold/linkage (lexical, embeddings);
    embed_calls, embedded_texts (embedding similarity); rule, judge_calls,
    unparsed_replies (fallbacks to neutral), pair_cache_hits (judge tiers); bands
    {exact, below_low, band, above_high} and similarity ("embeddings" | "lexical") for hybrid.
    """
    _check(method, judge, embed, linkage, rule)
    use_embed = method == "embeddings" or (method == "hybrid" and embed is not None)
    groups = np.asarray(groups, dtype=np.int64)
    if threshold is None:
        threshold = DEFAULT_EMBEDDING_THRESHOLD if method == "embeddings" else DEFAULT_LEXICAL_THRESHOLD
    stats: dict = {"method": method}
    if method == "lexical":
        stats.update(threshold=threshold)
    elif method == "embeddings":
        stats.update(threshold=threshold, linkage=linkage)
    elif method == "hybrid":
        stats.update(tau_low=tau_low, tau_high=tau_high, similarity="embeddings" if use_embed else "lexical")
    if method in ("entailment", "hybrid"):
        stats.update(rule=rule, judge_calls=0, unparsed_replies=0, pair_cache_hits=0)
    if use_embed:
        stats.update(embed_calls=0, embedded_texts=0)

    ids = np.full(len(texts), -1, dtype=np.int64)
    forms = _forms(texts, groups)
    if forms is None:
        if method == "hybrid":
            stats["bands"] = {"exact": 0, "below_low": 0, "band": 0, "above_high": 0}
        return ids, stats
    # the canonical tier: one cluster per form, numbered by its rank inside its group
    form_cluster = np.arange(forms.form_group.size) - np.repeat(forms.starts, forms.counts)
    multi = np.flatnonzero(forms.counts > 1)
    stats["groups_clustered"] = int(multi.size)
    bands = {"below_low": 0, "band": 0, "above_high": 0}
    if method != "canonical" and multi.size:
        tier = _Tier(method, texts, forms, threshold, linkage, judge, questions, rule, tau_low, tau_high,
                     embed if use_embed else None, bands, stats)
        # the lexical tier clusters a chunk's groups stacked (lexical_batch), so larger chunks pay
        size = LEXICAL_CHUNK if method == "lexical" else FEATURE_CHUNK
        if method == "lexical" and tier.featurise_all(multi, size):
            # the distinct forms of every group fit in one chunk's features (answers repeat across
            # groups: a million samples had 10,127 distinct forms where chunks of groups asked for
            # 112,563): featurised once, and every group stacked at once
            tier.cluster_chunk(multi, form_cluster)
        else:
            for chunk in _chunks(multi, forms.counts, size):
                tier.cluster_chunk(chunk, form_cluster)
        if method in ("entailment", "hybrid"):
            stats.update(tier.judge_counters())
    if method == "hybrid":
        # "exact": answers merged by canonical equality before any comparison
        stats["bands"] = {"exact": int(forms.valid.size - forms.form_group.size), **bands}
    ids[forms.valid] = form_cluster[forms.answer_form]
    return ids, stats


class _Tier:
    """One non-canonical tier applied chunk by chunk to the groups with several forms."""

    def __init__(self, method: str, texts: Sequence[str | None], forms: _Forms, threshold: float, linkage: str,
                 judge: Judge | None, questions: Sequence[str] | None, rule: str, tau_low: float, tau_high: float,
                 embed: Embed | None, bands: dict, stats: dict) -> None:
        self.method, self.texts, self.forms = method, texts, forms
        self.threshold, self.linkage = threshold, linkage
        self.judge, self.questions, self.rule = judge, questions, rule
        self.tau_low, self.tau_high = tau_low, tau_high
        self.embed, self.bands, self.stats = embed, bands, stats
        self.oracles: dict[str, EntailmentOracle] = {}
        self.row_of = np.full(len(forms.canon), -1, dtype=np.int64)
        self.all_feats: LexicalFeatures | None = None  # set by featurise_all

    def featurise_all(self, groups: np.ndarray, limit: int) -> bool:
        """Featurise the distinct forms of all `groups` at once when there are at most `limit`
        of them (a chunk's memory): then `cluster_chunk` reuses these features. False otherwise.
        A form's feature row is the same whichever forms are featurised beside it."""
        f = self.forms
        need = np.unique(f.form_canon[_form_positions(f.starts[groups], f.counts[groups])])
        if need.size > limit:
            return False
        self.row_of[need] = np.arange(need.size)
        self.all_feats = LexicalFeatures([f.canon[c] for c in need.tolist()])
        return True

    def cluster_chunk(self, chunk: np.ndarray, form_cluster: np.ndarray) -> None:
        f = self.forms
        feats = self.all_feats
        if feats is None and self.method in ("lexical", "hybrid") and self.embed is None:
            need = np.unique(f.form_canon[_form_positions(f.starts[chunk], f.counts[chunk])])
            self.row_of[need] = np.arange(need.size)
            feats = LexicalFeatures([f.canon[c] for c in need.tolist()])
        if self.method == "lexical":
            self._lexical_stacked(chunk, feats, form_cluster)
            return
        # the judge and the embedding model read an original answer, not the normalised form
        originals: dict[int, list[str]] = {}
        if self.method != "lexical":
            for g in chunk.tolist():
                s, m = int(f.starts[g]), int(f.counts[g])
                originals[g] = [str(self.texts[i]) for i in f.first_answer[s: s + m].tolist()]
        E, emb_row = self._embed_chunk(originals)
        for g in chunk.tolist():
            s, m = int(f.starts[g]), int(f.counts[g])
            form_cluster[s: s + m] = self._cluster_group(g, s, m, feats, originals.get(g), E, emb_row)

    def _lexical_stacked(self, chunk: np.ndarray, feats: LexicalFeatures, form_cluster: np.ndarray) -> None:
        """The chunk's groups clustered by size, stacked (lexical_batch: the per-group rule's clusters)."""
        f = self.forms
        guards = GroupGuards(feats)
        for m, gs in stack_by_size(f.starts, f.counts, chunk).items():
            pos = f.starts[gs][:, None] + np.arange(m)           # (G, m) form positions
            ids, _ = lexical_clusters_stacked(feats, self.row_of[f.form_canon[pos]], self.threshold, guards)
            form_cluster[pos] = ids

    def _embed_chunk(self, originals: dict[int, list[str]]) -> tuple[np.ndarray | None, dict[str, int]]:
        if self.embed is None:
            return None, {}
        emb_row: dict[str, int] = {}
        for lst in originals.values():
            for t in lst:
                emb_row.setdefault(t, len(emb_row))
        E = embed_rows(self.embed, list(emb_row))
        self.stats["embed_calls"] += 1
        self.stats["embedded_texts"] += len(emb_row)
        return E, emb_row

    def _cluster_group(self, g: int, s: int, m: int, feats: LexicalFeatures | None, originals: list[str] | None,
                       E: np.ndarray | None, emb_row: dict[str, int]) -> list[int]:
        f = self.forms
        rows = self.row_of[f.form_canon[s: s + m]].tolist() if feats is not None else None
        if self.method == "lexical":
            return leader_clusters(m, lexical_equivalence(feats, rows, self.threshold))
        S = None
        if E is not None:
            Eg = E[[emb_row[t] for t in originals]].astype(np.float64)
            S = np.clip(Eg @ Eg.T, -1.0, 1.0)
        if self.method == "embeddings":
            return cluster_by_similarity(S, self.threshold, self.linkage)
        oracle = self._oracle(g)
        if self.method == "entailment":
            eq: Callable[[int, int], bool] = lambda r, j: oracle.equivalent(originals[r], originals[j])
        else:
            if S is None:
                S = feats.similarity(rows)
            eq = hybrid_equivalence(S, originals, oracle, self.tau_low, self.tau_high, self.bands)
        return leader_clusters(m, eq)

    def _oracle(self, g: int) -> EntailmentOracle:
        q = self.questions[int(self.forms.form_group[self.forms.starts[g]])] if self.questions is not None else ""
        oracle = self.oracles.get(q)
        if oracle is None:
            oracle = self.oracles[q] = EntailmentOracle(self.judge, q, self.rule)
        return oracle

    def judge_counters(self) -> dict:
        os_ = self.oracles.values()
        return {"judge_calls": sum(o.judge_calls for o in os_), "unparsed_replies": sum(o.unparsed for o in os_),
                "pair_cache_hits": sum(o.pair_cache_hits for o in os_)}
