"""Answer variance: canonical forms, semantic clustering tiers and per-group statistics (docs/statistics.md §1–§2).

The unit is one group of N samples (one case × one template).  Answers are grouped
into clusters that "mean the same thing", in tiers of increasing cost, one module each:

    config         the suite's `variance:` block (VarianceConfig) and the tiers' names/defaults
    canonical      1. canonical — normalised exact match; what self-consistency uses (§1.2)
    lexical        2. lexical — character-3-gram + token cosine with number/negation guards
    lexical_batch  the lexical rule for many groups of equal size at once (the same clusters)
    agglomerative  3. embeddings — agglomerative clustering of S = Ê·Êᵀ (complete | average)
    entailment     4. entailment — bidirectional entailment with a judge; hybrid's bands
    partition      the cluster-result shape, first-appearance numbering, the leader loop
    groups         cluster_groups: every tier over many groups at once (the only entry point)
    per_group      semantic entropy, consistency, mode, majority correctness, flip rates

The analysis never talks to a model itself: the caller passes callables, an `Embed`
(list of texts → float matrix, one row per text, in order) and a `Judge`
((question, premise, hypothesis) → raw reply).  Every tier first collapses canonical
duplicates, keeps sample order fixed (cluster ids are numbered by first appearance),
and excludes errors (None answers, id -1).

Names are imported lazily, so `from tuieval.analysis.variance.config import VarianceConfig`
(or this package's VarianceConfig) does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "config": ("DEFAULT_EMBEDDING_THRESHOLD", "DEFAULT_LEXICAL_THRESHOLD", "DEFAULT_LINKAGE", "DEFAULT_RULE",
               "DEFAULT_TAU_HIGH", "DEFAULT_TAU_LOW", "LINKAGES", "METHODS", "REMOTE_METHODS", "RULES",
               "TIER_KEYS", "VarianceConfig"),
    "canonical": ("ARTICLES", "canonical_answer"),
    "partition": ("ClusterResult", "leader_clusters", "renumber"),
    "lexical": ("LexicalFeatures", "NEGATIONS", "l2_normalize", "lexical_equivalence"),
    "agglomerative": ("Embed", "cluster_by_similarity", "embed_rows"),
    "entailment": ("EntailmentOracle", "Judge", "hybrid_equivalence", "parse_judge_reply"),
    "groups": ("FEATURE_CHUNK", "cluster_groups"),
    "per_group": ("EntropyStats", "consistency", "flip", "flip_rates", "group_stats", "semantic_entropy"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
