"""The in-memory shape of a suite: templates, cases, scorers, sampling, SLO and gates.

The config blocks are frozen values, validated once by the loader: `Sampling`, `Gate`
here, `VarianceConfig` beside the clustering code (tuieval.analysis.variance.config).
Scorers are `ScorerSpec`s (tuieval.scoring.base): tuieval.scoring owns their validation
(`validate_scorer_spec`) and building (`build_scorers`), the loader keeps the typed result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tuieval.analysis.variance.config import VarianceConfig
from tuieval.scoring.base import ScorerSpec
from tuieval.suite import template as tpl

if TYPE_CHECKING:  # tuieval.perturb builds on this module; the type is only named here
    from tuieval.perturb.registry import PerturbSpec


@dataclass
class Template:
    """One phrasing of the prompt. `messages_var` marks a passthrough of chat messages."""

    id: str
    prompt: str
    system: str | None = None
    messages_var: str | None = None

    def render(self, case: "Case") -> list[dict[str, str]]:
        """The chat messages for one case (KeyError names a missing variable)."""
        if self.messages_var is not None:
            value = case.vars.get(self.messages_var)
            if isinstance(value, list):
                return [{"role": str(m.get("role", "user")), "content": tpl.as_text(m.get("content", ""))} for m in value]
            return [{"role": "user", "content": tpl.as_text(value)}]
        messages = []
        if self.system:
            messages.append({"role": "system", "content": tpl.render(self.system, case.vars)})
        messages.append({"role": "user", "content": tpl.render(self.prompt, case.vars)})
        return messages


@dataclass
class Case:
    """One item: its input variables, accepted targets and metadata."""

    id: str
    vars: dict[str, Any]
    targets: list[Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    #: a person's verdict on the case's answer (tuieval.suite.labels), to measure a judge against
    human_label: Any = None

    def input_text(self) -> str:
        """All input text of the case, for length and script slices."""
        return input_text_of(self.vars)


def input_text_of(vars_: dict[str, Any]) -> str:
    """All input text in a case's variables (`Case.input_text`), for any subset of them."""
    parts = []
    for name, value in vars_.items():
        if name.startswith("_shots_"):  # few-shot examples (tuieval.suite.sweep), not this case's input
            continue
        if isinstance(value, list):
            parts.extend(tpl.as_text(m.get("content", "")) if isinstance(m, dict) else tpl.as_text(m) for m in value)
        else:
            parts.append(tpl.as_text(value))
    return "\n".join(parts)


@dataclass(frozen=True)
class Sampling:
    """The suite's `sampling:` block; `tuieval run` flags override each field.

    samples      requests per case and template (≥ 1).
    temperature  0–2.
    max_tokens   output cap per request; None = the provider's default.
    seed         base seed of the run (each sample derives its own).
    """

    samples: int = 1
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Gate:
    """Fail the run (exit 1) when `metric` of the overall result or of `slice` crosses a bound.

    metric    a report metric (loader.GATE_METRICS).
    min, max  bounds; at least one is set.
    slice     "key=value" naming a slice of the report, or None for the overall line.
    """

    metric: str
    min: float | None = None
    max: float | None = None
    slice: str | None = None

    @property
    def slice_key(self) -> str | None:
        return self.slice.partition("=")[0] if self.slice else None

    @property
    def slice_value(self) -> str | None:
        return self.slice.partition("=")[2] if self.slice else None

    def as_mapping(self) -> dict[str, Any]:
        """The stored shape (run config "gates"): metric, min, max, slice."""
        return asdict(self)


@dataclass
class Suite:
    """A loaded, validated suite: templates, cases, scorers and the run settings it asks for."""

    name: str
    path: str
    description: str = ""
    templates: list[Template] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    scorers: list[ScorerSpec] = field(default_factory=lambda: [ScorerSpec("normalized", "normalized")])
    #: built-in extractors (tuieval.scoring.extractors) that re-read every response for the
    #: report's extraction sensitivity; they do not change the run's own score
    extractors: tuple[str, ...] = ()
    #: seeded input perturbations (tuieval.perturb) run beside the original cases
    perturbations: tuple["PerturbSpec", ...] = ()
    sampling: Sampling = field(default_factory=Sampling)
    slo_ms: float | None = None
    gates: list[Gate] = field(default_factory=list)
    variance: VarianceConfig = field(default_factory=VarianceConfig)
    cluster_key: str | None = None
    content_hash: str = ""
    #: case id → human verdict (tuieval.suite.labels)
    human_labels: dict[str, bool] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        """What a run stores about its suite so reports never need the file again."""
        return {
            "description": self.description,
            "templates": [
                {"id": t.id, "prompt": t.prompt, "system": t.system, "messages_var": t.messages_var}
                for t in self.templates
            ],
            "scorers": [s.as_mapping() for s in self.scorers],
            "extractors": list(self.extractors),
            "perturbations": [p.label for p in self.perturbations],
            "gates": [g.as_mapping() for g in self.gates],
            "variance": self.variance.as_mapping(),
            "cluster_key": self.cluster_key,
            "suite_hash": self.content_hash,
            **({"human_labels": dict(self.human_labels)} if self.human_labels else {}),
        }
