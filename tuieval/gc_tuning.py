"""The garbage collector of a `tuieval run` process: collect young objects less often, and
never rescan the start-up heap.

A run allocates a few dozen objects per request (futures, responses, rows), nearly all freed
by reference counting; with CPython's default thresholds the cyclic collector still ran a few
hundred times in a 2,000-request run, and each older-generation pass walked every module,
function and suite case loaded at start: 0.15–0.25 s of CPU, about a tenth of the process
(benchmarks/README.md). Only `tuieval run` as the program does this (tuieval.cli.main without
argv): code calling the CLI in-process, such as the tests, keeps its collector as it was.
"""

from __future__ import annotations

import gc

#: Allocations (net of frees) between young-generation collections; CPython's default is 700.
YOUNG_THRESHOLD = 10_000


def collect_less() -> None:
    """Raise the young generation's threshold (the older generations' stay as they are)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_startup() -> None:
    """Move everything alive now (modules, the suite, the backend) out of the collector's reach:
    later collections scan only what the run itself allocates."""
    gc.freeze()
