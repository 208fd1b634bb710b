"""What the robustness views read from the store, off the event loop (as tuieval.tui.data).

Each function opens its own connection and returns plain data: the cases × templates scores of
the scoreboard's template pivot, a perturbed case with its original (prompts, answers,
verdicts), and one case's samples as every extractor of the run read them. Nothing here asks a
model: the extractors re-read stored responses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tuieval.analysis.robustness.pivot import TemplateScores
from tuieval.sample_rules import is_correct, is_error
from tuieval.store import Store

SCORER_PREFIX = "scorer:"


def load_template_scores(db_path: str, run_id: str) -> TemplateScores:
    """The run's per-(case, template) accuracy, for the scoreboard's slices × templates pivot."""
    with Store(db_path) as store:
        rows = store.get_samples(run_id, columns=("case_id", "template", "correct", "error"))
    for r in rows:
        r["correct"] = is_correct(r)
    return TemplateScores(rows)


def prompt_text(prompt: Any) -> str:
    """A stored prompt (JSON chat messages) as the text the model read: each message on its own
    paragraph, the system one labelled."""
    try:
        messages = json.loads(prompt) if isinstance(prompt, str) else prompt
    except ValueError:
        return str(prompt or "")
    if not isinstance(messages, list):
        return str(prompt or "")
    parts = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        parts.append(content if m.get("role") == "user" else f"[{m.get('role')}] {content}")
    return "\n\n".join(parts)


@dataclass
class CaseSide:
    """One side of a pair: the case and its samples, by template."""

    case_id: str
    metadata: dict[str, Any]
    targets: list[Any]
    #: template → its samples (sample_index order), each with prompt text, response, extracted, correct, error
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def accuracy(self) -> float | None:
        flat = [s for ss in self.samples.values() for s in ss]
        return sum(s["correct"] for s in flat) / len(flat) if flat else None


@dataclass
class PairDetail:
    original: CaseSide
    perturbed: CaseSide

    @property
    def templates(self) -> list[str]:
        return list(dict.fromkeys([*self.original.samples, *self.perturbed.samples]))


def _side(store: Store, run_id: str, case_id: str) -> CaseSide:
    case = store.get_case(run_id, case_id) or {"metadata": {}, "targets": []}
    side = CaseSide(case_id, case.get("metadata") or {}, list(case.get("targets") or []))
    for s in store.get_samples(run_id, case_id=case_id,
                               columns=("template", "sample_index", "prompt", "response", "extracted",
                                        "correct", "error")):
        side.samples.setdefault(s["template"], []).append({
            "sample_index": s["sample_index"], "prompt": prompt_text(s["prompt"]), "response": s["response"],
            "extracted": s["extracted"], "correct": is_correct(s), "error": s["error"] if is_error(s) else None})
    return side


def load_pair(db_path: str, run_id: str, original_id: str, perturbed_id: str) -> PairDetail:
    with Store(db_path) as store:
        return PairDetail(_side(store, run_id, original_id), _side(store, run_id, perturbed_id))


@dataclass
class ExtractorReading:
    """One sample of a case as each extractor read it."""

    template: str
    sample_index: int
    error: str | None
    extracted: dict[str, str | None]
    correct: dict[str, bool]

    @property
    def disagree(self) -> bool:
        verdicts = set(self.correct.values())
        return len(verdicts) > 1


def load_case_extractions(db_path: str, run_id: str, case_id: str, names: list[str]) -> list[ExtractorReading]:
    """The case's samples read by the run's extractors `names` (as the report's
    robustness.extractors names them: `scorer:NAME` for the suite's scorers, else built-in ones)."""
    from tuieval.report.rescore import SAMPLE_COLUMNS, read_samples

    builtins = [n for n in names if not n.startswith(SCORER_PREFIX)]
    with Store(db_path) as store:
        samples = store.get_samples(run_id, case_id=case_id, columns=SAMPLE_COLUMNS)
        case = store.get_case(run_id, case_id) or {"targets": []}
    got, verdicts, extracted = read_samples(samples, {case_id: case.get("targets") or []}, builtins)
    index = {n: i for i, n in enumerate(got)}
    shown = [n for n in names if n in index]
    out = []
    for row, s in enumerate(samples):
        err = s.get("error")
        out.append(ExtractorReading(
            template=str(s["template"]), sample_index=int(s["sample_index"]), error=err,
            extracted={n: extracted[row][index[n]] for n in shown},
            # an error sample is wrong under every extractor (sample_rules)
            correct={n: bool(verdicts[row, index[n]]) and err is None for n in shown}))
    return out
