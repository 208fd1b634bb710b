"""Run the `tuieval` program (as ``python -m tuieval`` would) under the sampling profiler.

    python benchmarks/sample_run.py STACKS.json run SUITE --model ... [tuieval arguments]

The whole process is sampled from the first import of tuieval to its exit (``tuieval run`` ends
with ``os._exit``: the samples are written just before it); read them with
``python benchmarks/sampler.py STACKS.json [PATTERN=LABEL ...]``. The sampler (a SIGPROF handler)
costs well under 1 % of the run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sampler import Sampler  # noqa: E402


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    sampler = Sampler().__enter__()
    real_exit = os._exit

    def dump_then_exit(code: int) -> None:
        sampler.__exit__()
        sampler.dump(out)
        real_exit(code)

    os._exit = dump_then_exit  # type: ignore[assignment]
    sys.argv = ["tuieval", *args]
    try:
        from tuieval.cli import main as tuieval_main

        tuieval_main()
    finally:
        dump_then_exit(0)


if __name__ == "__main__":
    main()
