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
    assert load_suite(path).variance.as_mapping() == expected


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


# -- VarianceConfig: the one rule for the tier a report uses ------------------------------------

from tuieval.analysis.variance.config import VarianceConfig  # noqa: E402


@pytest.mark.parametrize("stored, method, remote", [
    (None, "canonical", False),
    ({}, "canonical", False),
    ({"method": "canonical"}, "canonical", False),
    ({"method": "lexical", "threshold": 0.5}, "lexical", False),
    ({"method": "embeddings", "model": "openai/e"}, "embeddings", True),
    ({"method": "embeddings"}, "lexical", False),                       # embeddings without its model
    ({"method": "embeddings", "judge": "openai/j"}, "lexical", False),  # a judge is not an embeddings model
    ({"method": "entailment", "judge": "openai/j"}, "entailment", True),
    ({"method": "entailment", "model": "openai/e"}, "lexical", False),
    ({"method": "hybrid", "judge": "openai/j"}, "hybrid", True),
    ({"method": "hybrid", "model": "openai/e"}, "lexical", False),
    ({"method": "clusters"}, "lexical", False),                          # unknown (an old or hand-edited run)
    ("lexical", "lexical", False),
])
def test_effective_method_of_a_stored_run(stored, method, remote):
    run = {"config": {"variance": stored}}
    cfg = VarianceConfig.from_run(run)
    assert cfg.effective_method == method and cfg.is_remote is remote


def test_from_run_opens_old_and_odd_stored_configs():
    assert VarianceConfig.from_run({}) == VarianceConfig()
    assert VarianceConfig.from_run({"config": None}).method == "canonical"
    # a key this version does not know (a newer or older database) is ignored, not an error
    cfg = VarianceConfig.from_run({"config": {"variance": {"method": "hybrid", "judge": "openai/j", "future": 1}}})
    assert cfg.judge == "openai/j" and cfg.effective_method == "hybrid"


def test_tier_args_and_endpoints():
    cfg = VarianceConfig.from_mapping({"method": "hybrid", "judge": "openai/j", "model": "ollama/e", "rule": "lenient",
                                       "tau_low": 0.4, "threshold": 0.7, "base_url": "http://h/v1",
                                       "judge_base_url": "http://j/v1"})
    assert cfg.tier_args == {"tau_low": 0.4, "rule": "lenient"}  # only what the suite set
    assert cfg.threshold == 0.7
    assert (cfg.model_url, cfg.judge_url) == ("http://h/v1", "http://j/v1")
    assert VarianceConfig().tier_args == {} and VarianceConfig().model_url is None


def test_config_is_frozen_and_stored_as_the_mapping_written(tmp_path):
    import dataclasses

    written = {"method": "embeddings", "model": "openai/text-embedding-3-small", "threshold": 0.9}
    suite = load_suite(_suite(tmp_path, written))
    with pytest.raises(dataclasses.FrozenInstanceError):
        suite.variance.method = "lexical"
    assert suite.config()["variance"] == written
    assert load_suite(_suite(tmp_path, None)).config()["variance"] == {"method": "canonical"}
