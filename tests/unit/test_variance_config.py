"""`variance:` in a suite: the clustering tiers' keys and the problems validation reports."""

from __future__ import annotations

import pytest
import yaml

from tuieval.suite import load_suite, validate


def _suite(tmp_path, variance):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "v", "template": "Q: {{ q }}", "cases": [{"id": 1, "q": "x", "target": "y"}],
                                    "variance": variance}), encoding="utf-8")
    return path


@pytest.mark.parametrize("variance", [
    "lexical",
    {"method": "embeddings", "model": "openai/text-embedding-3-small", "threshold": 0.88, "linkage": "average"},
    {"method": "embeddings", "model": "ollama/nomic-embed-text", "linkage": "complete"},
    {"method": "entailment", "judge": "openai/gpt-4o-mini", "rule": "strict"},
    {"method": "entailment", "judge": "anthropic/claude-3-5-haiku-latest", "rule": "no-contradiction"},
    {"method": "hybrid", "model": "ollama/nomic-embed-text", "judge": "openai-compatible/my-judge",
     "judge_base_url": "http://localhost:8000/v1", "tau_low": 0.5, "tau_high": 0.95},
    {"method": "hybrid", "judge": "vllm/qwen", "rule": "lenient"},
    {"method": "embeddings", "model": "openai-compatible/emb", "base_url": "http://127.0.0.1:9/v1", "threshold": 1},
])
def test_valid_configs_load_as_written(tmp_path, variance):
    path = _suite(tmp_path, variance)
    assert validate(path) == []
    expected = {"method": variance} if isinstance(variance, str) else variance
    assert load_suite(path).variance == expected


@pytest.mark.parametrize("variance, field, words", [
    ({"method": "embeddings"}, "variance.model", "required for method embeddings"),
    ({"method": "entailment"}, "variance.judge", "required for method entailment"),
    ({"method": "hybrid", "model": "openai/e"}, "variance.judge", "required for method hybrid"),
    ({"method": "embeddings", "model": "text-embedding-3-small"}, "variance.model", "expected provider/model"),
    ({"method": "entailment", "judge": "acme/j"}, "variance.judge", "unknown provider 'acme'"),
    ({"method": "entailment", "judge": "demo/steady"}, "variance.judge", "simulated demo model"),
    ({"method": "embeddings", "model": "anthropic/x"}, "variance.model", "no embeddings endpoint"),
    ({"method": "embeddings", "model": "openai-compatible/e"}, "variance.base_url", "required for variance.model"),
    ({"method": "embeddings", "model": "openai/e", "base_url": "localhost:8000"}, "variance.base_url", "URL"),
    ({"method": "embeddings", "model": "openai/e", "threshold": 0}, "variance.threshold", "(0, 1]"),
    ({"method": "embeddings", "model": "openai/e", "threshold": 1.5}, "variance.threshold", "(0, 1]"),
    ({"method": "embeddings", "model": "openai/e", "threshold": "high"}, "variance.threshold", "(0, 1]"),
    ({"method": "embeddings", "model": "openai/e", "linkage": "single"}, "variance.linkage", "chains"),
    ({"method": "hybrid", "judge": "openai/j", "tau_low": 0.9, "tau_high": 0.5}, "variance.tau_low", "below tau_high"),
    ({"method": "hybrid", "judge": "openai/j", "tau_high": -1}, "variance.tau_high", "(0, 1]"),
    ({"method": "entailment", "judge": "openai/j", "rule": "loose"}, "variance.rule", "strict, lenient"),
    ({"method": "embeddings", "model": "openai/e", "treshold": 0.9}, "variance.treshold", "unknown field"),
    ({"method": "clusters"}, "variance.method", "must be one of"),
])
def test_each_problem_names_its_field(tmp_path, variance, field, words):
    problems = validate(_suite(tmp_path, variance))
    assert [p.field for p in problems] == [field], problems
    assert words in problems[0].message and problems[0].line is not None
