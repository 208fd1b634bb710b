"""`tuieval import promptfoo`: a promptfooconfig.yaml written as promptfoo documents it becomes a suite
that validates and runs; every assertion, prompt and provider it cannot carry is named."""

from __future__ import annotations

import textwrap

from tests.importers.conftest import FIXTURES

CONFIG = FIXTURES / "promptfoo" / "promptfooconfig.yaml"


def test_prompts_tests_and_assertions_become_templates_cases_and_a_scorer(cli, tmp_path, monkeypatch):
    suite_path, suite, notes = cli.imported(tmp_path, "promptfoo", CONFIG)
    # prompts: short.txt holds two prompts split on ---, chat.json one system + user, one inline
    assert [(t["id"], t["prompt"], t.get("system")) for t in suite["templates"]] == [
        ("p1", "Answer in one word: {{question}}", None),
        ("p2", "{{question}} Reply briefly.", None),
        ("chat", "{{question}}", "You are a terse geography tutor."),
        ("p4", "Q: {{question}}\nA:", None),
    ]
    # icontains is the rule most tests assert first: tuieval's contains is case-insensitive by default
    assert suite["scorers"] == ["contains"]
    by_id = {c["id"]: c for c in suite["cases"]}
    assert list(by_id) == ["capital of France", "capital of Japan", "capital of Australia (either spelling)",
                           "sums-1", "sums-2"]
    assert by_id["capital of France"]["target"] == "Paris"
    assert by_id["capital of France"]["metadata"] == {"source": "handwritten", "topic": "geography"}
    assert by_id["capital of Australia (either spelling)"]["targets"] == ["Canberra", "Canberra, ACT"]
    # a list-valued var expands into one case per value, as promptfoo does
    assert [by_id[k]["vars"]["question"] for k in ("sums-1", "sums-2")] == ["What is 2 + 2?", "What is 3 + 1?"]

    text = "\n".join(notes)
    assert "test tone only left out: llm-rubric (a rubric of its own" in text
    assert "test a pattern left out" in text and "regex" in text
    assert "test exact answer left out" in text and "equals yes (the suite's rule is icontains)" in text
    assert "defaultTest assertion(s) not carried over: javascript" in text
    assert "test capital of Japan: assertion(s) not carried over: llm-rubric" in text
    assert "provider vertex:gemini-1.5-pro has no tuieval backend" in text
    # the notes travel in the file too, as comments
    head = suite_path.read_text().split("\nname:")[0]
    assert "llm-rubric" in head and "--model openai/gpt-4o-mini" in head

    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_cases"] == 5
    assert report["overall"]["n_samples"] == 5 * 4  # every case under every prompt


def test_providers_become_model_specs(cli, tmp_path):
    code, _, err = cli("import", "promptfoo", CONFIG)
    assert code == 0
    models = [line.removeprefix("model: --model ") for line in err.splitlines() if line.startswith("model: ")]
    assert models == ["openai/gpt-4o-mini",
                      "openai-compatible/qwen2.5-7b-instruct --base-url http://localhost:8000/v1",
                      "anthropic/claude-3-5-haiku-20241022", "ollama/llama3.1:8b"]


def test_csv_tests_with_expected_columns(cli, tmp_path, monkeypatch):
    suite_path, suite, notes = cli.imported(tmp_path, "promptfoo", FIXTURES / "promptfoo" / "csvconfig.yaml")
    assert [(c["id"], c["vars"], c["target"], c["metadata"]) for c in suite["cases"]] == [
        ("greeting fr", {"language": "French", "input": "Hello world"}, "bonjour", {"difficulty": "easy"}),
        ("greeting de", {"language": "German", "input": "Good morning"}, "guten morgen", {"difficulty": "easy"}),
        ("thanks es", {"language": "Spanish", "input": "Thank you very much"}, "gracias", {"difficulty": "medium"}),
    ]
    assert any(n.startswith("test farewell it left out: llm-rubric") for n in notes)
    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_samples"] == 3


def _config(tmp_path, body: str):
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_case_sensitive_contains_equals_objects_and_unsupported_nunjucks(cli, tmp_path):
    path = _config(tmp_path, """\
        prompts:
          - "Extract as JSON: {{text}}"
          - "{{ text | upper }}"
        providers: [openai:gpt-4o-mini]
        tests:
          - vars: {text: "Ada, 36"}
            assert:
              - type: equals
                value: {name: Ada, age: 36}
          - vars: {text: "Bo, 7"}
            assert:
              - type: equals
                value: {name: Bo, age: 7}
        """)
    _, suite, notes = cli.imported(tmp_path, "promptfoo", path)
    assert suite["scorers"] == ["json"]
    assert [c["target"] for c in suite["cases"]] == [{"name": "Ada", "age": 36}, {"name": "Bo", "age": 7}]
    assert [t["prompt"] for t in suite["templates"]] == ["Extract as JSON: {{text}}"]
    assert any("prompt 2 left out: Nunjucks beyond {{var}} ({{ text | upper }})" in n for n in notes)

    path = _config(tmp_path, """\
        prompts: ["{{q}}"]
        tests:
          - vars: {q: a}
            assert: [{type: contains, value: Yes}]
          - vars: {q: b}
            assert: [{type: starts-with, value: No}]
        """)
    _, suite, notes = cli.imported(tmp_path, "promptfoo", path)
    assert suite["scorers"] == [{"type": "contains", "case_sensitive": True}]
    assert any(n.startswith("starts-with checked as contains") for n in notes)


def test_a_config_with_nothing_tuieval_can_score_exits_2_with_one_line(cli, tmp_path):
    path = _config(tmp_path, """\
        prompts: ["{{q}}"]
        tests:
          - vars: {q: a}
            assert: [{type: llm-rubric, value: is polite}]
        """)
    code, out, err = cli("import", "promptfoo", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(path) in err and "no test could be carried over" in err
    code, _, err = cli("import", "promptfoo", tmp_path / "missing.yaml")
    assert code == 2 and "no such file" in err and "Traceback" not in err


def test_one_rubric_for_every_test_becomes_a_judge_scorer(cli, tmp_path):
    path = _config(tmp_path, """\
        prompts: ["{{q}}"]
        providers: [openai:gpt-4o-mini]
        defaultTest:
          options:
            provider: anthropic:messages:claude-3-5-haiku-20241022
          assert:
            - type: llm-rubric
              value: The answer is polite and names a city.
        tests:
          - vars: {q: Capital of France?}
            assert: [{type: icontains, value: paris}]
          - vars: {q: Capital of Peru?}
            assert: [{type: icontains, value: lima}]
        """)
    _, suite, notes = cli.imported(tmp_path, "promptfoo", path)
    assert suite["scorers"] == ["contains", {"type": "judge", "name": "llm-rubric",
                                             "model": "anthropic/claude-3-5-haiku-20241022",
                                             "mode": "reference_free",
                                             "criteria": "The answer is polite and names a city."}]
    assert not any("not carried over" in n for n in notes)
    assert any(n.startswith("llm-rubric graded by tuieval's judge scorer") for n in notes)
