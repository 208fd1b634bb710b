"""Python's cyclic garbage collector paused while a large run's report is built.

The pause itself lives in `tuieval.gc_pause` (a leaf module, so the perturbation code can use
it without importing the report package); this name is kept for the report's callers.
"""

from tuieval.gc_pause import paused_gc

__all__ = ["paused_gc"]
