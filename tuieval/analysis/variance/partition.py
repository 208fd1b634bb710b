"""Partitions of one group's answers: the cluster-result shape, first-appearance numbering and
the greedy leader loop the lexical and judge tiers share (docs/statistics.md §1.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

@dataclass(slots=True)
class ClusterResult:
    """The clustering of one group of answers.

    ids[i] is the cluster of answer i (clusters numbered 0, 1, … by first appearance),
    or -1 for an excluded answer (error / None).  representatives[k] is the position of
    cluster k's first member, sizes[k] its size.  `sample_indices`, when set, aligns ids
    with the samples' own sample_index values.  `stats` carries tier-specific counters
    (judge calls, unparsed judge replies, similarity band counts).
    """

    ids: list[int]
    method: str
    n_valid: int = 0
    n_clusters: int = 0
    representatives: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    sample_indices: list[int] | None = None
    stats: dict = field(default_factory=dict)

    @classmethod
    def from_ids(cls, ids: Sequence[int], method: str, **kw) -> "ClusterResult":
        ids = [int(i) for i in ids]
        k = max(ids) + 1 if ids else 0
        reps = [-1] * k
        sizes = [0] * k
        for pos, c in enumerate(ids):
            if c >= 0:
                sizes[c] += 1
                if reps[c] < 0:
                    reps[c] = pos
        return cls(ids=ids, method=method, n_valid=sum(sizes), n_clusters=sum(1 for s in sizes if s),
                   representatives=reps, sizes=sizes, **kw)

    def assignment(self) -> dict[int, int]:
        """sample_index (or position) → cluster id, for valid answers only."""
        keys = self.sample_indices if self.sample_indices is not None else range(len(self.ids))
        return {int(k): c for k, c in zip(keys, self.ids) if c >= 0}


def renumber(ids: Sequence[int]) -> list[int]:
    """Renumber cluster labels by first appearance, keeping -1 for excluded answers."""
    seen: dict[int, int] = {}
    return [-1 if c < 0 else seen.setdefault(c, len(seen)) for c in ids]


def leader_clusters(n: int, equivalent: Callable[[int, int], bool]) -> list[int]:
    """docs/statistics.md §1.2 greedy loop: each item joins the first cluster (in creation order) whose
    FIRST member it is equivalent to, else founds a new cluster."""
    reps: list[int] = []
    assign = [0] * n
    for j in range(n):
        for ci, r in enumerate(reps):
            if equivalent(r, j):
                assign[j] = ci
                break
        else:
            assign[j] = len(reps)
            reps.append(j)
    return assign
