"""The random draws of a perturbation in bulk: the same values, in the same order, as one
`rng.random()` call each, but made by a few numpy operations for a whole text.

A perturbation's random source is seeded per case and perturbation and used by nothing else
afterwards, so drawing more values than the plain code would use changes nothing: a `Draws`
takes what it needs from a buffer filled ahead. Every value is the one `random()` would give at
that place of the stream: `random()` is (a·2²⁶ + b) / 2⁵³ from two successive 32-bit outputs of
the Mersenne Twister (a = first >> 5, b = second >> 6), and `getrandbits(64·m)` returns the next
2m outputs as one integer, first output in the lowest bits; the arithmetic is exact in float64.

`positions(n, rate)` is `base.draw_positions(rng, n, rate)` on the stream: the geometric gaps
`1 + int(log(1 - u) / log(1 - rate))` computed by numpy, and any gap whose value lies within
1e-7 of an integer worked out again with `math.log`, so that a last-bit difference between
numpy's logarithm and the C library's (none was seen over 2·10⁶ values) cannot move a position.
Tests hold every draw and position to the plain calls.
"""

from __future__ import annotations

import math
import random

import numpy as np

_SCALE_A = 67108864.0                 # 2**26
_SCALE = 1.0 / 9007199254740992.0    # 2**-53
_EMPTY = np.zeros(0, dtype=np.float64)
# how near an integer a gap's value must be to be recomputed by math.log (its rounding error is
# below 1e-13 for the gaps of any text; this margin is a million times that)
_GUARD = 1e-7


def uniforms(rng: random.Random, m: int) -> np.ndarray:
    """The next m values of `rng.random()`, as one float64 array."""
    if m <= 0:
        return _EMPTY
    words = np.frombuffer(rng.getrandbits(64 * m).to_bytes(8 * m, "little"), dtype="<u4")
    return ((words[0::2] >> 5) * _SCALE_A + (words[1::2] >> 6)) * _SCALE


class Draws:
    """A random source's `random()` stream, read in bulk (see the module's docstring). Once a
    caller takes values from a `Draws`, every later draw of that source must come from it too."""

    __slots__ = ("rng", "buf", "at")

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.buf = _EMPTY
        self.at = 0

    def _fill(self, m: int) -> None:
        # at least m values from `at` on: the rest of the buffer, then more from the source
        have = self.buf.size - self.at
        if have < m:
            more = uniforms(self.rng, max(m - have, 64))
            self.buf = np.concatenate((self.buf[self.at:], more)) if have else more
            self.at = 0

    def take(self, m: int) -> np.ndarray:
        """The next m values, as `m` calls of `rng.random()` would give them."""
        self._fill(m)
        out = self.buf[self.at:self.at + m]
        self.at += m
        return out

    def positions(self, n: int, rate: float) -> np.ndarray:
        """`draw_positions(rng, n, rate)` on this stream: indices in range(n), each chosen with
        probability `rate`, by geometric gaps; consumes the same draws (one per chosen index and
        the one that passes n)."""
        if n <= 0 or rate <= 0.0:
            return np.zeros(0, dtype=np.int64)
        if rate >= 1.0:
            return np.arange(n, dtype=np.int64)
        inv_log_q = 1.0 / math.log1p(-rate)
        expected = n * rate
        m = int(expected + 4.0 * math.sqrt(expected) + 8.0)   # nearly always enough at once
        last = -1
        chunks = []
        while True:
            self._fill(m)
            u = self.buf[self.at:self.at + m]
            steps = _gaps(u, inv_log_q)
            steps[0] += last
            pos = np.cumsum(steps)
            k = int(np.searchsorted(pos, n))            # positions below n (they are increasing)
            if k < m:
                chunks.append(pos[:k])
                self.at += k + 1                         # the chosen ones and the one past the end
                return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
            chunks.append(pos)
            self.at += m
            last = int(pos[-1])
            m = max(16, int((n - last) * rate * 2) + 8)


def _gaps(u: np.ndarray, inv_log_q: float) -> np.ndarray:
    # 1 + int(log(1.0 - u) * inv_log_q), elementwise; the value is ≥ 0, so int() is floor()
    x = np.log(1.0 - u) * inv_log_q
    g = np.floor(x)
    frac = x - g
    near = np.flatnonzero((frac < _GUARD) | (frac > 1.0 - _GUARD))
    out = g.astype(np.int64)
    for i in near.tolist():
        out[i] = int(math.log(1.0 - float(u[i])) * inv_log_q)
    out += 1
    return out
