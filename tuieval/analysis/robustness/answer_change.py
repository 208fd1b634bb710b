"""Did a perturbation change what the model answered — its meaning, not only its string?

For each perturbed copy and its original (paired by tuieval.perturb's `original_case` link),
and for each template both were asked under, the original's answers and the copy's answers
are clustered together as ONE group with the run's clustering tier (`cluster_groups`, the
same tiers and settings the report's variance uses: canonical, lexical, embeddings,
entailment, hybrid). The original's *majority answer* is its largest cluster in that group
(every cluster tied for largest counts: a copy that says either of two equally frequent
original answers has not changed it). A copy's answer *changed meaning* when it falls outside
those clusters.

Per pair (the unit is the original case, as for the flips): `n_answers` copy answers compared
(over its templates; error samples have no answer and are left out, and a template where the
original has no answer compares nothing), `n_changed` of them outside the original's majority
clusters, and `changed` = more than half of them did (with one sample, simply whether it did —
the same "more than half" rule as a case's verdict in the flips). `string_changed` applies the
same rule to the exact answer strings (whitespace at the ends ignored), so a report can show how
much of the string change is only a change of wording.

Numpy and the standard library only; remote tiers get their `judge` / `embed` callables from
the caller. The judge is asked with the original case's question.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.variance.agglomerative import Embed
from tuieval.analysis.variance.entailment import Judge
from tuieval.analysis.variance.groups import cluster_groups
from tuieval.sample_rules import answer_text


@dataclass(frozen=True)
class PairChange:
    """One perturbed copy against its original, over the templates both were asked under."""

    n_answers: int          # copy answers compared (each against the original's answers of its template)
    n_changed: int          # of them in a different cluster from the original's majority
    n_string_changed: int   # of them whose exact string differs from the original's most frequent string(s)

    @property
    def compared(self) -> bool:
        return self.n_answers > 0

    @property
    def changed(self) -> bool:
        """More than half of the compared answers changed meaning."""
        return 2 * self.n_changed > self.n_answers

    @property
    def string_changed(self) -> bool:
        return 2 * self.n_string_changed > self.n_answers


def _answers_by_group(samples: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, Any], list[str | None]]:
    """(case_id, template) → its answers in sample_index order (None for an error)."""
    rows: dict[tuple[Any, Any], list[tuple[int, str | None]]] = defaultdict(list)
    for s in samples:
        rows[(s["case_id"], s.get("template"))].append((int(s.get("sample_index") or 0), answer_text(s)))
    return {k: [a for _, a in sorted(v, key=lambda x: x[0])] for k, v in rows.items()}


def answer_changes(pairs: Sequence[tuple[Any, Any]], samples: Sequence[Mapping[str, Any]], method: str = "canonical",
                   *, threshold: float | None = None, judge: Judge | None = None, embed: Embed | None = None,
                   questions: Mapping[Any, str] | None = None, **tier: Any,
                   ) -> tuple[dict[Any, PairChange], dict[str, Any]]:
    """({copy case_id: PairChange}, the clustering's counters) for (original, copy) id pairs.

    `questions` maps an original case id to its input text (the judge tiers' question);
    `tier` takes rule, tau_low, tau_high, linkage as `cluster_groups` does. Raises what
    `cluster_groups` raises (ValueError for a missing judge or embed function)."""
    answers = _answers_by_group(samples)
    templates: dict[Any, list[Any]] = defaultdict(list)
    for case_id, template in answers:
        templates[case_id].append(template)
    texts: list[str | None] = []
    group: list[int] = []
    group_q: list[str] = []
    layout: list[tuple[Any, int, int, int]] = []   # (copy id, start, n original, n copy) per joint group
    for orig, copy in pairs:
        for t in sorted(templates.get(orig, ()), key=lambda x: (x is None, str(x))):
            a, b = answers.get((orig, t)), answers.get((copy, t))
            if not a or not b:
                continue
            layout.append((copy, len(texts), len(a), len(b)))
            texts.extend(a)
            texts.extend(b)
            group.extend([len(group_q)] * (len(a) + len(b)))
            group_q.append((questions or {}).get(orig) or "")
    ids, stats = cluster_groups(texts, np.asarray(group, dtype=np.int64), method, threshold=threshold, judge=judge,
                                questions=group_q if questions is not None else None, embed=embed,
                                **{k: v for k, v in tier.items() if v is not None})
    ids_l = ids.tolist()
    totals: dict[Any, list[int]] = {copy: [0, 0, 0] for _, copy in pairs}
    for copy, start, na, nb in layout:
        orig_ids = [c for c in ids_l[start:start + na] if c >= 0]
        if not orig_ids:
            continue   # the original has no answer under this template: nothing to compare with
        counts = Counter(orig_ids)
        top = max(counts.values())
        majority = {c for c, k in counts.items() if k == top}
        strings = Counter(t.strip() for t in texts[start:start + na] if t is not None)
        top_s = max(strings.values())
        majority_s = {s for s, k in strings.items() if k == top_s}
        acc = totals[copy]
        for c, t in zip(ids_l[start + na:start + na + nb], texts[start + na:start + na + nb]):
            if c < 0 or t is None:
                continue
            acc[0] += 1
            acc[1] += c not in majority
            acc[2] += t.strip() not in majority_s
    return {copy: PairChange(*v) for copy, v in totals.items()}, stats
