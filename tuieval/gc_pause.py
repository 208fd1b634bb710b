"""Python's cyclic garbage collector paused while a bulk step builds many objects.

A report over a million samples, a re-scoring of 100,000 samples or the perturbed copies of
10,000 cases allocate hundreds of thousands of tuples, lists and dictionaries that all stay
alive, and each allocation burst triggers collections that walk every tracked object: on a
million-sample run, reading the sample columns took 23 s with the collector running and 9 s
without it. None of these steps makes reference cycles worth collecting, so the collector is
paused for the step and resumed (and not forced) afterwards; reference counting still frees
memory. Nested or concurrent steps (the app loads in threads) share one pause: it ends when
the last of them does. A leaf module (no tuieval imports) so any layer may use it.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector for the duration of the block (reference counting still frees memory)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
