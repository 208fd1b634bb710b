"""The `contamination` section of a probe run's report (`tuieval contamination`), and the
`contamination=likely` slice it puts on the scoreboard.

A run is a probe run when the store holds its probe settings (Store.get_contamination). The
section is computed by tuieval.contamination.analysis from the stored cases (their targets are
the real continuations) and the raw responses; a cached report's section is reused, so the app
labels the same cases the report lists.
"""

from __future__ import annotations

from typing import Any

from tuieval.store import Store

SAMPLE_COLUMNS = ("case_id", "template", "sample_index", "response", "correct", "error", "error_kind")


def contamination_section(store: Store, run: dict[str, Any]) -> dict[str, Any] | None:
    """The section for a probe run; None for any other run."""
    stored = store.get_contamination(run["id"])
    if stored is None:
        return None
    from tuieval.contamination.analysis import contamination_section as analyse

    return analyse(stored["settings"], store.get_cases(run["id"]), store.get_samples(run["id"], columns=SAMPLE_COLUMNS),
                   stored["ngram"])


def label_cases(store: Store, run: dict[str, Any], cases: list[dict[str, Any]],
                report: dict[str, Any] | None) -> dict[str, Any] | None:
    """For a probe run: the section (the cached report's, else computed) with every case of
    `cases` labelled `contamination=likely|unflagged` in its metadata. None, and nothing
    changed, for any other run."""
    section = (report or {}).get("contamination")
    if section is None:
        section = contamination_section(store, run)
    if section is None:
        return None
    # imported only for a probe run: every run's report passes here, and the module is not light
    from tuieval.contamination.analysis import likely_ids, with_slice

    with_slice(cases, likely_ids(section))
    return section
