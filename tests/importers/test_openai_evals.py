"""`tuieval import openai-evals`: a registry entry and its samples.jsonl, laid out as the openai/evals
registry lays them out (registry/evals/NAME.yaml, registry/data/NAME/samples.jsonl)."""

from __future__ import annotations

from tests.importers.conftest import FIXTURES

EVALS = FIXTURES / "openai_evals" / "registry" / "evals"


def test_match_eval_with_chat_input(cli, tmp_path, monkeypatch):
    suite_path, suite, notes = cli.imported(tmp_path, "openai-evals", EVALS / "capitals.yaml")
    assert suite["name"] == "capitals"
    assert suite["description"] == "Name the capital city of a country."
    # every sample shares one system message: it becomes the template's
    assert suite["templates"] == [{"id": "input", "prompt": "{{ input }}",
                                   "system": "Reply with the name of the capital city only."}]
    assert [(c["vars"]["input"], c["target"]) for c in suite["cases"]] == [
        ("France", "Paris"), ("Japan", "Tokyo"), ("Australia", "Canberra"), ("Canada", "Ottawa")]
    assert suite["scorers"] == [{"type": "contains", "case_sensitive": True}]
    text = "\n".join(notes)
    assert "Match passes a completion that starts with an ideal answer" in text
    # the few-shot sample (system messages named example_user/example_assistant) has no template form
    assert "sample sample-5 left out: a 4-message conversation" in text
    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_cases"] == 4


def test_includes_fuzzy_and_model_graded_classes(cli, tmp_path):
    _, suite, notes = cli.imported(tmp_path, "openai-evals", EVALS / "arith.yaml")
    assert suite["name"] == "arith-includes"
    assert suite["scorers"] == ["contains"]  # Includes with ignore_case: true
    assert suite["cases"][1]["targets"] == ["19", "nineteen"]
    assert any("holds 3 evals; imported arith-includes" in n for n in notes)

    _, suite, notes = cli.imported(tmp_path, "openai-evals", EVALS / "arith.yaml", "--eval", "arith-fuzzy")
    assert suite["scorers"] == ["contains"]
    assert any(n.startswith("FuzzyMatch also passes when") for n in notes)

    code, out, err = cli("import", "openai-evals", EVALS / "arith.yaml", "--eval", "arith-graded")
    assert code == 2 and out == ""
    assert "evals.elsuite.modelgraded.classify:ModelBasedClassify has no tuieval scorer" in err
    assert "model-graded" in err and len(err.strip().splitlines()) == 1

    code, _, err = cli("import", "openai-evals", EVALS / "arith.yaml", "--eval", "arith-typo")
    assert code == 2 and "--eval arith-typo: no such eval" in err


def test_samples_jsonl_directly(cli, tmp_path):
    samples = EVALS.parent / "data" / "arith" / "samples.jsonl"
    _, suite, notes = cli.imported(tmp_path, "openai-evals", samples)
    assert [c["vars"]["input"] for c in suite["cases"]][0] == "What is 7 + 5? Answer with a number."
    assert "system" not in suite["templates"][0]
    assert any("scored as the basic Match eval" in n for n in notes)
