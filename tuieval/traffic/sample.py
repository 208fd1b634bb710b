"""Choose which logged prompts a shadow evaluation replays: by hash, stratified, to a budget.

Deterministic: a prompt's draw is the hash of its text (the whole conversation when the log has
messages), so the same log and budget pick the same prompts on any machine, whatever the order
of the lines. Repeated prompts are one prompt (the first logged in its cell), drawn once; they count in the
traffic shares with every repeat.

Stratified: every record falls in one cell, the combination of its derived slices
(`input_tokens`, `script`, `non_ascii_name`, as for suites: tuieval.analysis.slices) and of the
metadata fields that take few values in the log (at most MAX_STRATUM_LEVELS; ids and free text
are left out). The budget is allocated to cells in proportion to their share of the traffic
(largest remainders), so the sample has the traffic's mix exactly, not just in expectation, and
every prompt has (nearly) the same chance of being drawn: the design is self-weighting, and
plain rates over the sample estimate the traffic's. Within a cell the prompts with the smallest
hashes are taken.

Ordered for early stopping: the chosen prompts are interleaved across cells (the r-th of a
cell's n_h prompts at position (r + ½)/n_h), so every prefix of the order is itself close to
proportional and stopping after any prefix still describes the traffic's mix.

Bounded memory: two streamed passes over the log (the first learns which metadata fields are
low-cardinality); per cell at most `budget` candidates are held. A log of at most KEEP_LINES
lines is kept from the first pass and not read (parsed) again: the second reading was half of
the sampler's cost, and the sampler's cost a tenth of a shadow replay's own at zero model latency.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator

from tuieval.traffic.log import LogProblem, TrafficRecord

#: a metadata field with more distinct values than this in the log is not a stratum (an id, a
#: timestamp, free text); it is still a slice column of the report
MAX_STRATUM_LEVELS = 12
#: derived features that define strata
DERIVED_STRATA = ("input_tokens", "script", "non_ascii_name")
#: problems kept to print (all are counted)
KEEP_PROBLEMS = 50
_CHUNK = 2048
#: a log of at most this many lines (records and problems) is held after the first pass, so the
#: second pass reads memory, not the file (a few MB at most); a longer log is read twice
KEEP_LINES = 10_000


def prompt_key(record: TrafficRecord) -> str:
    """The identity of a logged prompt: its conversation when logged, else its text."""
    if record.messages is not None:
        return json.dumps(record.messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return record.prompt


def draw(key: str) -> float:
    """The prompt's uniform draw in [0, 1): blake2b of its key (stable across processes)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def case_id_for(key: str) -> str:
    """A short stable case id for a prompt (t + 12 hex digits of its hash)."""
    return "t" + hashlib.blake2b(key.encode("utf-8"), digest_size=6).hexdigest()


def _stratum_value(v: Any) -> Hashable | None:
    """A metadata value usable as a stratum level (scalars only), else None."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return v
    return None


@dataclass
class Chosen:
    """One prompt to replay: the record, its case id, draw and cell."""

    record: TrafficRecord
    case_id: str
    u: float
    cell: tuple


@dataclass
class SamplePlan:
    """The chosen prompts in replay order, and what the log held."""

    chosen: list[Chosen]
    n_lines: int = 0            # records plus problems
    n_records: int = 0
    n_problems: int = 0
    problems: list[LogProblem] = field(default_factory=list)
    strata_fields: list[str] = field(default_factory=list)
    #: cell label → {"traffic": N_h records, "sampled": n_h prompts}
    cells: dict[str, dict[str, int]] = field(default_factory=dict)
    budget: int = 0


def _records(items: Iterable[TrafficRecord | LogProblem], plan: SamplePlan | None) -> Iterator[TrafficRecord]:
    for item in items:
        if isinstance(item, LogProblem):
            if plan is not None:
                plan.n_problems += 1
                if len(plan.problems) < KEEP_PROBLEMS:
                    plan.problems.append(item)
            continue
        if plan is not None:
            plan.n_records += 1
        yield item


def _low_cardinality_fields(items: Iterable[TrafficRecord | LogProblem]) -> list[str]:
    seen: dict[str, set] = {}
    too_many: set[str] = set()
    for rec in _records(items, None):
        for k, v in rec.metadata.items():
            if k in too_many:
                continue
            sv = _stratum_value(v)
            if sv is None and v is not None:
                too_many.add(k)
                continue
            vals = seen.setdefault(k, set())
            vals.add(sv)
            if len(vals) > MAX_STRATUM_LEVELS:
                too_many.add(k)
                seen.pop(k, None)
    return sorted(k for k in seen if k not in too_many and len(seen[k]) > 1)


def cell_label(fields: list[str], cell: tuple) -> str:
    """A cell as `key=value, key=value` (derived features first, then metadata fields)."""
    return ", ".join(f"{k}={v}" for k, v in zip([*DERIVED_STRATA, *fields], cell))


def allocate(sizes: dict[Any, int], capacity: dict[Any, int], budget: int) -> dict[Any, int]:
    """Proportional allocation of `budget` over cells by `sizes`, by largest remainders, capped by
    `capacity` (what a cell can give); what a capped cell cannot take goes to the others in
    proportion again. Ties go to the cell listed first."""
    alloc = {c: 0 for c in sizes}
    open_cells = [c for c in sizes if capacity.get(c, 0) > 0]
    left = min(budget, sum(capacity.get(c, 0) for c in sizes))
    while left > 0 and open_cells:
        total = sum(sizes[c] for c in open_cells)
        quotas = {c: left * sizes[c] / total for c in open_cells}
        give = {c: min(int(quotas[c]), capacity[c] - alloc[c]) for c in open_cells}
        rest = left - sum(give.values())
        order = sorted(open_cells, key=lambda c: -(quotas[c] - int(quotas[c])))
        for c in order:
            if rest <= 0:
                break
            if give[c] < capacity[c] - alloc[c]:
                give[c] += 1
                rest -= 1
        for c in open_cells:
            alloc[c] += give[c]
        left -= sum(give.values())
        open_cells = [c for c in open_cells if alloc[c] < capacity[c]]
        if sum(give.values()) == 0:
            break
    return alloc


def plan_sample(open_log: Callable[[], Iterable[TrafficRecord | LogProblem]], budget: int) -> SamplePlan:
    """The replay plan for a log: `open_log()` must give a fresh iteration of it (it is read twice)."""
    from tuieval.analysis.slices import derive_features

    kept: list[TrafficRecord | LogProblem] | None = []

    def first_pass() -> Iterator[TrafficRecord | LogProblem]:
        nonlocal kept
        for item in open_log():
            if kept is not None:
                if len(kept) < KEEP_LINES:
                    kept.append(item)
                else:
                    kept = None   # too long to hold: the second pass reads the log again
            yield item

    fields = _low_cardinality_fields(first_pass())
    second = kept if kept is not None else open_log()
    plan = SamplePlan(chosen=[], strata_fields=fields, budget=budget)
    sizes: dict[tuple, int] = {}
    # per cell a bounded max-heap (by -u) of the `budget` smallest draws, and their keys
    heaps: dict[tuple, list] = {}
    held: dict[tuple, dict[str, Chosen]] = {}

    def take(chunk: list[TrafficRecord]) -> None:
        feats = derive_features([r.prompt for r in chunk])
        for i, rec in enumerate(chunk):
            cell = tuple([feats[d][i] for d in DERIVED_STRATA]
                         + [_stratum_value(rec.metadata.get(f)) for f in fields])
            key = prompt_key(rec)
            sizes[cell] = sizes.get(cell, 0) + 1
            box = held.setdefault(cell, {})
            if key in box:
                continue   # a repeat of a held prompt: counted in the traffic, drawn once (as first logged)
            u = draw(key)
            heap = heaps.setdefault(cell, [])
            if len(heap) < budget:
                heapq.heappush(heap, (-u, key))
                box[key] = Chosen(rec, case_id_for(key), u, cell)
            elif -heap[0][0] > u:
                _, dropped = heapq.heapreplace(heap, (-u, key))
                box.pop(dropped, None)
                box[key] = Chosen(rec, case_id_for(key), u, cell)

    chunk: list[TrafficRecord] = []
    for rec in _records(second, plan):
        chunk.append(rec)
        if len(chunk) >= _CHUNK:
            take(chunk)
            chunk = []
    if chunk:
        take(chunk)
    plan.n_lines = plan.n_records + plan.n_problems

    cells = sorted(sizes, key=lambda c: (-sizes[c], repr(c)))
    alloc = allocate({c: sizes[c] for c in cells}, {c: len(held.get(c, {})) for c in cells}, budget)
    ordered: list[tuple[float, float, Chosen]] = []
    for c in cells:
        n_h = alloc[c]
        picks = sorted(held.get(c, {}).values(), key=lambda ch: ch.u)[:n_h]
        for r, ch in enumerate(picks):
            ordered.append(((r + 0.5) / n_h, ch.u, ch))
        plan.cells[cell_label(fields, c)] = {"traffic": sizes[c], "sampled": n_h}
    ordered.sort(key=lambda t: (t[0], t[1]))
    # a prompt logged with two different metadata can sit in two cells: replay it once
    once: set[str] = set()
    plan.chosen = [t[2] for t in ordered if not (t[2].case_id in once or once.add(t[2].case_id))]
    return plan
