"""Two fast paths' rules held to the plain ones: the lexical tier's pair similarities summed over
the sparser row's nonzero columns, and the sample-rule masks made by C-level maps.

A float32 sum of at most D products, in any order, is within γ_D = D·u/(1 − D·u) (u = 2⁻²⁴) of
the exact value times Σ|aᵢbᵢ| (docs/statistics.md §1.2): the reference is the exact dot product
in float64, and the bound is computed here by hand.
"""

from __future__ import annotations

import random

import numpy as np

from tuieval.analysis.variance import lexical_batch
from tuieval.analysis.variance.lexical_batch import nonzero_structure, sparse_pair_dots
from tuieval.sample_rules import correct_mask, error_mask, is_correct, is_error


def _matrix(rng, rows, width):
    m = np.zeros((rows, width), dtype=np.float32)
    for r in range(rows):
        kind = rng.random()
        if kind < 0.1:
            continue                           # a zero row (an empty form)
        k = width if kind > 0.9 else rng.randint(1, min(12, width))
        cols = rng.sample(range(width), k)
        m[r, cols] = [rng.uniform(0.01, 1.0) for _ in cols]
        m[r] /= np.linalg.norm(m[r])
    return m


def test_sparse_dots_are_within_the_float32_bound_of_the_exact_ones(monkeypatch):
    rng = random.Random(9)
    u = 2.0 ** -24
    for trial in range(40):
        width = rng.choice([8, 64, 768])
        m = _matrix(rng, rng.randint(1, 40), width)
        a = np.array([rng.randrange(m.shape[0]) for _ in range(200)], dtype=np.int64)
        b = np.array([rng.randrange(m.shape[0]) for _ in range(200)], dtype=np.int64)
        if trial % 2:  # chunks of a few products: pairs split across chunks, one pair over a chunk
            monkeypatch.setattr(lexical_batch, "SPARSE_TERMS", 5)
        else:
            monkeypatch.setattr(lexical_batch, "SPARSE_TERMS", 1 << 22)
        got = sparse_pair_dots(m, a, b, nonzero_structure(m) if trial % 3 else None)
        assert got.dtype == np.float32 and got.shape == a.shape
        m64 = m.astype(np.float64)
        exact = np.einsum("ij,ij->i", m64[a], m64[b])
        bound = width * u / (1 - width * u) * np.einsum("ij,ij->i", np.abs(m64[a]), np.abs(m64[b]))
        assert (np.abs(got.astype(np.float64) - exact) <= bound + 1e-12).all()
        zero = ~m.any(axis=1)
        assert (got[zero[a] | zero[b]] == 0).all()
    assert sparse_pair_dots(np.zeros((3, 4), dtype=np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)).size == 0


def test_sample_rule_masks_are_the_per_row_rules():
    rng = random.Random(2)
    pool_error = [None, "timeout", "", "HTTP 500", 0]
    pool_correct = [None, 0, 1, True, False, 2]
    rows = [{"error": rng.choice(pool_error), "correct": rng.choice(pool_correct)} for _ in range(500)]
    errors = error_mask([r["error"] for r in rows])
    assert errors.tolist() == [is_error(r) for r in rows]
    assert correct_mask([r["correct"] for r in rows], errors).tolist() == [is_correct(r) for r in rows]
    assert error_mask([]).size == 0
