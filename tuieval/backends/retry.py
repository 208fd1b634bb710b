"""The one back-off policy, used by the engine and the synchronous clients alike.

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the n-th retry waits a
uniform time in [0, min(cap, base · 2^(n-1))], which spreads retries that failed together
apart. A server's Retry-After replaces that draw, honoured up to ``retry_after_cap``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

__all__ = ["BackoffPolicy", "backoff_delay"]


@dataclass(frozen=True)
class BackoffPolicy:
    """The back-off's base, ceiling and the cap on a server's Retry-After, in seconds."""

    base_s: float = 0.5
    cap_s: float = 30.0
    retry_after_cap_s: float = 30.0


def backoff_delay(retry: int, retry_after: float | None, policy: BackoffPolicy,
                  uniform: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
    if retry_after is not None:
        return min(max(0.0, float(retry_after)), policy.retry_after_cap_s)
    return uniform(0.0, min(policy.cap_s, policy.base_s * 2 ** (max(1, retry) - 1)))
