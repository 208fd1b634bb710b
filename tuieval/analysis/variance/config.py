"""The suite's `variance:` block as a typed, frozen value: which clustering tier, and its settings.

Stdlib only, so the loader, the report pipeline and the app can import it without numpy.
A run stores the block as the plain mapping the suite wrote (`run["config"]["variance"]`);
`VarianceConfig.from_run(run)` reads it back, from old databases too.  Validation (with
file, field and line) is the suite loader's job; `from_mapping` trusts what it is given
and never raises on unknown or odd values, because a stored run must always open.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

#: Every clustering tier, cheapest first.
METHODS = ("canonical", "lexical", "embeddings", "entailment", "hybrid")
#: Tiers that call a model (an embeddings endpoint or a judge).
REMOTE_METHODS = frozenset({"embeddings", "entailment", "hybrid"})
#: Agglomerative linkages; single linkage is refused because it chains distinct answers.
LINKAGES = ("average", "complete")
#: How two entailment directions decide "same meaning".
RULES = ("strict", "lenient", "no-contradiction")
#: The keys a suite's `variance:` mapping may hold.
KEYS = ("method", "threshold", "linkage", "model", "judge", "rule", "tau_low", "tau_high", "base_url",
        "model_base_url", "judge_base_url")
#: Keys passed to the clustering tiers as keyword arguments when set.
TIER_KEYS = ("tau_low", "tau_high", "rule", "linkage")
#: The endpoint settings (provider/model specs and base URLs).
URL_KEYS = ("base_url", "model_base_url", "judge_base_url")

DEFAULT_METHOD = "canonical"
#: the local tier used when a remote one cannot be (not configured, or its endpoint failed)
LOCAL_FALLBACK = "lexical"
DEFAULT_LEXICAL_THRESHOLD = 0.6
DEFAULT_EMBEDDING_THRESHOLD = 0.88
DEFAULT_LINKAGE = "average"
DEFAULT_RULE = "strict"
DEFAULT_TAU_LOW = 0.3
DEFAULT_TAU_HIGH = 0.9


@dataclass(frozen=True)
class VarianceConfig:
    """A suite's `variance:` block.

    method          canonical | lexical | embeddings | entailment | hybrid, as written
                    (see `effective_method` for the tier actually used).
    threshold       similarity threshold of the lexical / embeddings tier; None = tier default.
    linkage         average | complete (embeddings); None = average.
    rule            strict | lenient | no-contradiction (judge tiers); None = strict.
    tau_low/high    hybrid's similarity band; None = 0.3 / 0.9.
    model           embeddings model spec (provider/model), for embeddings and hybrid.
    judge           judge model spec, for entailment and hybrid.
    base_url        endpoint override for both; model_base_url / judge_base_url override it
                    for one of them.
    """

    method: str = DEFAULT_METHOD
    threshold: float | None = None
    linkage: str | None = None
    rule: str | None = None
    tau_low: float | None = None
    tau_high: float | None = None
    model: str | None = None
    judge: str | None = None
    base_url: str | None = None
    model_base_url: str | None = None
    judge_base_url: str | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | str | None) -> "VarianceConfig":
        """From a `variance:` value: a mapping, a bare method name, or None (canonical).
        Unknown keys are ignored; values are kept as given."""
        if raw is None:
            return cls()
        if isinstance(raw, str):
            return cls(method=raw)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in dict(raw).items() if k in known and v is not None}
        return cls(**values)

    @classmethod
    def from_run(cls, run: Mapping[str, Any]) -> "VarianceConfig":
        """From a stored run row (its `config` JSON, already decoded)."""
        return cls.from_mapping((run.get("config") or {}).get("variance"))

    def as_mapping(self) -> dict[str, Any]:
        """The stored shape: `method` always, other keys only when set."""
        out: dict[str, Any] = {"method": self.method}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "method" and value is not None:
                out[f.name] = value
        return out

    @property
    def effective_method(self) -> str:
        """The tier a report uses: canonical and lexical as given; embeddings only with a
        `model`; entailment and hybrid only with a `judge`; anything else (an unknown
        method, or one missing its model) falls back to lexical."""
        m = self.method
        if m in ("canonical", "lexical"):
            return m
        if m == "embeddings" and self.model:
            return m
        if m in ("entailment", "hybrid") and self.judge:
            return m
        return LOCAL_FALLBACK

    @property
    def is_remote(self) -> bool:
        """Whether the effective tier calls a model (embeddings, entailment, hybrid)."""
        return self.effective_method in REMOTE_METHODS

    @property
    def tier_args(self) -> dict[str, Any]:
        """Keyword arguments for the clustering tiers: the TIER_KEYS that are set."""
        return {k: getattr(self, k) for k in TIER_KEYS if getattr(self, k) is not None}

    @property
    def model_url(self) -> str | None:
        """The embeddings endpoint override: model_base_url, else base_url."""
        return self.model_base_url or self.base_url

    @property
    def judge_url(self) -> str | None:
        """The judge endpoint override: judge_base_url, else base_url."""
        return self.judge_base_url or self.base_url
