"""What the judge and trend views load, in a worker thread with their own connection (as tui/data.py):
a run's `judge` report section, one case's judgements by sample, a suite's trend, the runs' tags."""

from __future__ import annotations

from typing import Any

from tuieval.store import Store


def load_judge_section(db_path: str, run_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the run, its report's `judge` section — None when the suite has no judge scorer)."""
    from tuieval.report import build

    with Store(db_path) as store:
        built = build(store, run_id)
    return built.run, built.report.get("judge")


def load_case_judgements(db_path: str, run_id: str, case_id: str) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """(template, sample index) → that sample's judgements, in judge order (empty without a judge)."""
    with Store(db_path) as store:
        rows = store.get_judgements(store.resolve_run_id(run_id), case_id=case_id)
    out: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for j in rows:
        out.setdefault((j["template"], j["sample_index"]), []).append(j)
    return out


def load_trend(db_path: str, suite: str, model: str | None) -> dict[str, Any]:
    """The suite's tuieval.trend/1 (tuieval.report.trend); TrendError when it has no finished run."""
    from tuieval.report.trend import build_trend

    with Store(db_path) as store:
        return build_trend(store, suite, model)


def load_tags(db_path: str) -> dict[str, list[str]]:
    """run id → its tag names (tuieval.store.tags)."""
    from tuieval.store.tags import tags_by_run

    with Store(db_path) as store:
        return tags_by_run(store)
