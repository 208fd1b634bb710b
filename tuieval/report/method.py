"""The one rule for which clustering tier a run's report uses.

`embeddings` needs `variance.model`, `entailment` and `hybrid` need `variance.judge`; a run
stored without them (or with an unknown method) falls back to the embedded lexical tier.
The CLI, the report, the export and the app's inspector all ask `effective_method`.
"""

from __future__ import annotations

from typing import Any, Mapping

#: clustering tiers that call a model (an embeddings endpoint or a judge)
REMOTE_METHODS = frozenset({"embeddings", "entailment", "hybrid"})
#: the local tier used when a remote one cannot be (not configured, or its endpoint failed)
LOCAL_FALLBACK = "lexical"


def variance_config(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run's stored `variance:` block (empty when the suite had none)."""
    return dict(((run.get("config") or {}).get("variance")) or {})


def effective_method(run: Mapping[str, Any]) -> str:
    """The clustering tier a report of this run uses."""
    var = variance_config(run)
    method = var.get("method", "canonical")
    if method in ("canonical", "lexical"):
        return method
    if method == "embeddings" and var.get("model"):
        return method
    if method in ("entailment", "hybrid") and var.get("judge"):
        return method
    return LOCAL_FALLBACK
