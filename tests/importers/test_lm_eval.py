"""`tuieval import lm-eval`: a generative task YAML over a local data file, shaped like the harness's gsm8k."""

from __future__ import annotations

import re

from tests.importers.conftest import FIXTURES

TASKS = FIXTURES / "lm_eval"


def test_gsm8k_style_task(cli, tmp_path, monkeypatch):
    suite_path, suite, notes = cli.imported(tmp_path, "lm-eval", TASKS / "gsm8k_local.yaml")
    assert suite["name"] == "gsm8k_local"
    # {{question.strip()}} becomes {{ question }} over stripped data
    assert suite["templates"] == [{"id": "doc_to_text", "prompt": "Question: {{ question }}\nAnswer:"}]
    assert suite["cases"][2]["vars"]["question"] == "A shop sells 1,200 pens a week. How many pens does it sell in 3 weeks?"
    # regexes_to_ignore applied to the references, as the harness does: "…#### 3,600" -> "3600"
    assert [c["target"] for c in suite["cases"]] == ["72", "10", "3600"]
    # filter_list: one regex scorer per pipeline, the first decides
    assert suite["scorers"] == [
        {"type": "regex", "name": "strict-match", "pattern": r"#### (\-?[0-9\.\,]+)", "then": "normalized",
         "match": "first", "group": 1},
        {"type": "regex", "name": "flexible-extract", "pattern": r"(-?[$0-9.,]{2,})|(-?[0-9]+)",
         "then": "normalized", "match": "last", "group": 0},
    ]
    assert suite["sampling"] == {"temperature": 0.0}
    text = "\n".join(notes)
    assert "generation_kwargs.until" in text and "num_fewshot 5 not carried over" in text

    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_cases"] == 3
    # two scorers: the report compares their verdicts on the same responses
    names = {e["name"] for e in report["robustness"]["extractors"]["extractors"]}
    assert {"scorer:strict-match", "scorer:flexible-extract"} <= names


def test_the_strict_filter_reads_a_gsm8k_answer_like_the_harness(cli, tmp_path):
    """The imported regex, applied by tuieval's regex scorer, finds what lm-eval's strict-match would."""
    from tuieval.scoring import build_scorers

    _, suite, _ = cli.imported(tmp_path, "lm-eval", TASKS / "gsm8k_local.yaml")
    strict = build_scorers([suite["scorers"][0]])[0]
    response = "She sold 48 + 24 = 72 clips.\n#### 72"
    expected = re.findall(r"#### (\-?[0-9\.\,]+)", response)[0]  # the harness's regex filter, by hand
    got = strict.score(response, ["72"])
    assert got.extracted == expected and got.correct
    assert not strict.score("The answer is 72.", ["72"]).correct  # no "####": strict-match finds nothing


def test_non_generative_and_python_tasks_are_refused_in_one_line(cli):
    code, out, err = cli("import", "lm-eval", TASKS / "loglik.yaml")
    assert code == 2 and out == ""
    assert "output_type multiple_choice" in err and "generate_until" in err
    code, _, err = cli("import", "lm-eval", TASKS / "python_prompt.yaml")
    assert code == 2 and "doc_to_text is Python (!function utils.doc_to_text)" in err
    assert "Traceback" not in err
