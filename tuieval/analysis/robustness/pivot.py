"""The template pivot: accuracy of each slice under each template, with its interval.

Input: for every sample its case, template and verdict (error samples count as wrong). A
(case, template) pair scores the share of its samples that are correct; a cell (slice,
template) is the mean of those scores over the slice's cases that have the template, with
the interval that treats the case as the unit (`stats.mean_ci_items`: Wilson for 0/1 scores,
the CLT of case means otherwise), as every other accuracy in tuieval. Each cell carries its own
n, since a partial run may lack a template for some cases.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from tuieval.analysis.stats import mean_ci_items


class TemplateScores:
    """The cases × templates accuracy matrix of a run (NaN where a case has no sample of a template)."""

    def __init__(self, samples: Iterable[Mapping[str, Any]]) -> None:
        cases: dict[Any, int] = {}
        templates: dict[str, int] = {}
        hits: dict[tuple[int, int], list[int]] = {}
        for s in samples:
            key = (cases.setdefault(s["case_id"], len(cases)), templates.setdefault(str(s["template"]), len(templates)))
            cell = hits.setdefault(key, [0, 0])
            cell[0] += bool(s["correct"])
            cell[1] += 1
        self.case_index = cases
        self.templates = list(templates)
        self.scores = np.full((len(cases), len(templates)), np.nan)
        for (i, j), (k, n) in hits.items():
            self.scores[i, j] = k / n

    def cells(self, case_ids: Iterable[Any] | None, alpha: float = 0.05) -> list[dict[str, Any]]:
        """One cell per template for the cases `case_ids` (None: every case)."""
        if case_ids is None:
            rows = np.arange(len(self.case_index))
        else:
            rows = np.array(sorted(self.case_index[c] for c in case_ids if c in self.case_index), dtype=np.int64)
        out = []
        for j, name in enumerate(self.templates):
            col = self.scores[rows, j] if rows.size else np.empty(0)
            s = mean_ci_items(col[~np.isnan(col)], alpha)
            out.append({"template": name, "n_cases": s["n"], "accuracy": s["mean"],
                        "accuracy_ci": list(s["ci"]) if s["ci"] else None})
        return out


def template_pivot(samples: Sequence[Mapping[str, Any]], slices: Mapping[str, Iterable[Any] | None], *,
                   alpha: float = 0.05) -> dict[str, list[dict[str, Any]]]:
    """slice name → one cell per template ({template, n_cases, accuracy, accuracy_ci}); a slice's
    members are its case ids (None: every case)."""
    table = TemplateScores(samples)
    return {name: table.cells(members, alpha) for name, members in slices.items()}
