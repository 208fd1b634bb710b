"""A stdlib sampling profiler on the process's CPU clock, for the benchmarks' "where the time went".

cProfile with ``time.process_time`` charges every Python call a fixed cost, so code made of many
small calls (aiohttp's readline, asyncio's handles) looks several times heavier than it is. This
samples instead: ``ITIMER_PROF`` delivers SIGPROF every ``interval`` seconds of CPU time (user +
system, this process only; the kernel rounds it up to its tick, 4 ms here), and the handler records
the Python stack it interrupted. A sample costs a few microseconds, well under 1 % of the run;
builtins and C code are charged to the Python function that called them. The CPU seconds a share
stands for come from ``time.process_time`` around the sampled region, not from the interval.

    from sampler import Sampler
    with Sampler() as s:
        ...
    s.dump("stacks.json")          # {"interval_s": ..., "stacks": [[count, [frames…]], …]}

``python benchmarks/sampler.py stacks.json [more.json ...] [PATTERN=LABEL ...]`` prints the inclusive share of
each labelled group (the first pattern found in a stack, scanning from the leaf, wins) and the
top functions by self and inclusive samples.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import Counter
from types import FrameType


class Sampler:
    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.stacks: Counter[tuple[str, ...]] = Counter()
        self.cpu_s = 0.0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        stack = []
        while frame is not None:
            code = frame.f_code
            stack.append(f"{code.co_filename}:{code.co_name}")
            frame = frame.f_back
        self.stacks[tuple(stack)] += 1  # leaf first

    def __enter__(self) -> "Sampler":
        signal.signal(signal.SIGPROF, self._on_signal)
        self._cpu0 = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        self.cpu_s = time.process_time() - self._cpu0
        signal.signal(signal.SIGPROF, signal.SIG_DFL)

    def dump(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"cpu_s": self.cpu_s, "stacks": [[n, list(s)] for s, n in self.stacks.items()]}, f)


def _short(frame: str) -> str:
    path, _, name = frame.rpartition(":")
    for marker in ("site-packages/", "lib/python3.11/", "wt-stream/", "/tmp/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}"


def report(paths: list[str], groups: list[tuple[str, str]], top: int = 30) -> None:
    """Shares of the samples of one or more dumps (merged: e.g. several runs of one contender)."""
    stacks: list[tuple[int, list[str]]] = []
    cpu = 0.0
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        stacks += [(n, s) for n, s in data["stacks"]]
        cpu += data["cpu_s"]
    total = sum(n for n, _ in stacks)
    print(f"{total} samples over {cpu:.2f} CPU s ({len(paths)} runs)")
    if groups:
        by_group: Counter[str] = Counter()
        for n, s in stacks:
            label = "other"
            for frame in s:  # leaf first: the innermost matching group owns the sample
                hit = next((lab for pat, lab in groups if pat in frame), None)
                if hit is not None:
                    label = hit
                    break
            by_group[label] += n
        for label, n in by_group.most_common():
            print(f"  {label:<50} {n:>7} {100 * n / total:6.1f} %  {cpu * n / total:6.2f} s")
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for n, s in stacks:
        self_c[_short(s[0])] += n
        for frame in set(s):
            incl[_short(frame)] += n
    print("self:")
    for name, n in self_c.most_common(top):
        print(f"  {100 * n / total:6.1f} %  {name}")
    print("inclusive:")
    for name, n in incl.most_common(top):
        print(f"  {100 * n / total:6.1f} %  {name}")


if __name__ == "__main__":
    files = [a for a in sys.argv[1:] if "=" not in a]
    report(files, [tuple(a.split("=", 1)) for a in sys.argv[1:] if "=" in a])  # type: ignore[misc]
