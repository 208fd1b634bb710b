"""Tier 3, embeddings: agglomerative clustering of a cosine-similarity matrix (docs/statistics.md §1.4).

The caller's `Embed` callable turns texts into vectors; `embed_rows` checks and normalises
its answer, `cluster_by_similarity` clusters S = Ê·Êᵀ with complete or average linkage.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tuieval.analysis.variance.config import DEFAULT_EMBEDDING_THRESHOLD, DEFAULT_LINKAGE, LINKAGES
from tuieval.analysis.variance.lexical import l2_normalize
from tuieval.analysis.variance.partition import renumber

__all__ = ["DEFAULT_EMBEDDING_THRESHOLD", "DEFAULT_LINKAGE", "LINKAGES", "Embed", "cluster_by_similarity",
           "embed_rows"]

Embed = Callable[[list[str]], np.ndarray]
"""embed(texts) → an array of shape (len(texts), d), row i the embedding of texts[i]."""


def cluster_by_similarity(S: np.ndarray, threshold: float, linkage: str = DEFAULT_LINKAGE) -> list[int]:
    """Agglomerative clustering of an N × N similarity matrix (e.g. normalised embeddings E·Eᵀ).

    Repeatedly merges the most similar pair of clusters while their linkage similarity
    is ≥ `threshold` (distance ≤ 1 − τ).  "complete" uses the least similar cross pair,
    "average" the size-weighted mean (Lance–Williams updates).  Single linkage is refused:
    it chains distinct answers through intermediate ones (§1.4).  Ties go to the first
    pair in row-major order, so the result is deterministic; labels are numbered by
    first appearance.  O(N³) — meant for the tens of samples of one group.
    """
    if linkage not in LINKAGES:
        raise ValueError("linkage must be 'complete' or 'average' (single linkage chains answers)")
    M = np.array(S, dtype=float, copy=True)
    n = M.shape[0]
    if M.shape != (n, n):
        raise ValueError("S must be square")
    if n == 0:
        return []
    M = (M + M.T) / 2.0  # tolerate float asymmetry from E·Eᵀ
    np.fill_diagonal(M, -np.inf)
    label = list(range(n))
    sizes = np.ones(n)
    while True:
        flat = int(np.argmax(M))
        a, b = divmod(flat, n)
        if not M[a, b] >= threshold:
            break
        if a > b:
            a, b = b, a
        if linkage == "complete":
            row = np.minimum(M[a], M[b])
        else:
            row = (sizes[a] * M[a] + sizes[b] * M[b]) / (sizes[a] + sizes[b])
        sizes[a] += sizes[b]
        M[a, :] = row
        M[:, a] = row
        M[a, a] = -np.inf
        M[b, :] = -np.inf
        M[:, b] = -np.inf
        label = [a if x == b else x for x in label]
    return renumber(label)


Embed = Callable[[list[str]], np.ndarray]


def embed_rows(embed: Embed, texts: list[str]) -> np.ndarray:
    """Call `embed` and check its answer: (len(texts), d), finite; rows L2-normalised
    (a zero row stays zero and so is similar to nothing)."""
    E = np.asarray(embed(list(texts)), dtype=np.float32)
    if E.ndim != 2 or E.shape[0] != len(texts):
        raise ValueError(f"embed returned shape {E.shape} for {len(texts)} texts")
    if not np.isfinite(E).all():
        raise ValueError("embed returned non-finite values")
    return l2_normalize(E)
