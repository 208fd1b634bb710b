"""`tuieval import inspect` and `tuieval import hf`: Inspect Sample files and saved Hugging Face datasets
(JSONL, CSV, Parquet) become suites that validate and run."""

from __future__ import annotations

import builtins
import json

import pytest

from tests.importers.conftest import FIXTURES

INSPECT = FIXTURES / "inspect"
HF = FIXTURES / "hf"


def test_inspect_samples_text_and_chat_input(cli, tmp_path, monkeypatch):
    suite_path, suite, notes = cli.imported(tmp_path, "inspect", INSPECT / "qa.jsonl")
    cases = {c["id"]: c for c in suite["cases"]}
    assert list(cases) == ["q1", "q2", "q3", "q4"]
    assert cases["q1"]["vars"]["input"] == "What is the chemical symbol for gold?"
    assert cases["q2"]["targets"] == ["8", "eight"]
    assert cases["q1"]["metadata"] == {"subject": "chemistry", "level": "easy"}
    # q3 is [system, user]: the user text is the input and its system prompt travels per case
    assert suite["templates"] == [{"id": "inspect", "prompt": "{{ input }}", "system": "{{ system }}"}]
    assert cases["q3"]["vars"] == {"input": "What is 12 squared?", "system": "Answer with a number only."}
    assert cases["q1"]["vars"]["system"] == ""
    assert suite["scorers"] == ["normalized"]
    text = "\n".join(notes)
    assert "sample q5 left out: no target" in text
    assert "sample q6 left out: a 3-message conversation (user/assistant/user)" in text
    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_cases"] == 4
    assert {s["key"] for s in report["slices"]} >= {"subject"}


def test_inspect_multiple_choice_is_asked_as_inspect_asks_it(cli, tmp_path, monkeypatch):
    suite_path, suite, notes = cli.imported(tmp_path, "inspect", INSPECT / "mc.jsonl")
    assert suite["scorers"] == [{"type": "choice", "choices": "ABCD"}]
    prompt = suite["templates"][0]["prompt"]
    assert "where LETTER is one of A,B,C,D" in prompt and prompt.endswith("{{ input }}\n\n{{ choices_text }}")
    mc1 = suite["cases"][0]
    assert mc1["target"] == "B"
    assert mc1["vars"]["choices_text"] == "A) Venus\nB) Mars\nC) Jupiter\nD) Saturn"
    assert [c["id"] for c in suite["cases"]] == ["mc1", "mc2", "mc3"]
    assert any(n.startswith("sample mc4 left out: target ['E'] is not a letter") for n in notes)
    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_samples"] == 3


def test_inspect_csv_columns_and_the_scorer_flag(cli, tmp_path):
    _, suite, notes = cli.imported(tmp_path, "inspect", INSPECT / "qa.csv", "--scorer", "exact")
    assert suite["scorers"] == ["exact"]
    assert [(c["id"], c["target"], c["metadata"]) for c in suite["cases"]] == [
        ("c1", "Pacific", {"category": "geography"}), ("c2", "9", {"category": "math"}),
        ("c3", "green", {"category": "art"})]
    code, _, err = cli("import", "inspect", INSPECT / "qa.csv", "--scorer", "nope")
    assert code == 2 and err.startswith("tuieval: --scorer")


def test_hf_jsonl_guesses_columns_and_reads_squad_answers(cli, tmp_path, monkeypatch):
    suite_path, suite, notes = cli.imported(tmp_path, "hf", HF / "squad_like.jsonl")
    first = suite["cases"][0]
    assert first["id"] == "5733be284776f41900661182"
    assert first["vars"]["input"] == "What sits on top of the Main Building at Notre Dame?"
    assert first["vars"]["context"].startswith("Architecturally")
    assert suite["cases"][1]["targets"] == ["Congregation of Holy Cross", "the Congregation of Holy Cross"]
    assert "input column guessed: 'question' (give --input COLUMN to choose another)" in notes
    assert "target column guessed: 'answers' (give --target COLUMN to choose another)" in notes
    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_cases"] == 3


def test_hf_csv_with_named_columns_and_metadata(cli, tmp_path):
    _, suite, notes = cli.imported(tmp_path, "hf", HF / "arith.csv", "--input", "problem", "--target", "solution",
                                   "--metadata", "level", "--scorer", "numeric")
    assert [(c["vars"], c["target"], c["metadata"]) for c in suite["cases"]] == [
        ({"input": "What is 6 times 7?"}, "42", {"level": "easy"}),
        ({"input": "What is 15 minus 8?"}, "7", {"level": "easy"}),
        ({"input": "What is 144 divided by 12?"}, "12", {"level": "medium"}),
    ]
    assert suite["scorers"] == ["numeric"]
    assert not any("guessed" in n for n in notes)
    code, _, err = cli("import", "hf", HF / "arith.csv", "--target", "answer")
    assert code == 2 and "--target: no column 'answer'" in err and "problem, solution, level" in err


def test_hf_choices_column_with_an_index_answer_is_multiple_choice(cli, tmp_path):
    _, suite, _ = cli.imported(tmp_path, "hf", HF / "mmlu_like.jsonl", "--metadata", "subject")
    assert [c["target"] for c in suite["cases"]] == ["D", "B", "B"]
    assert suite["cases"][0]["metadata"] == {"subject": "anatomy"}
    assert suite["scorers"] == [{"type": "choice", "choices": "ABCD"}]


def test_hf_parquet(cli, tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet", reason="the optional pyarrow extra is not installed")
    import pyarrow as pa

    rows = [json.loads(line) for line in (HF / "mmlu_like.jsonl").read_text().splitlines()]
    path = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    suite_path, suite, _ = cli.imported(tmp_path, "hf", path)
    assert [c["target"] for c in suite["cases"]] == ["D", "B", "B"]
    report = cli.run_demo(suite_path, tmp_path, monkeypatch)
    assert report["overall"]["n_cases"] == 3


def test_parquet_without_pyarrow_is_one_line_exit_2(cli, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.split(".")[0] == "pyarrow":
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    code, out, err = cli("import", "hf", path)
    assert code == 2 and out == ""
    assert err.strip() == (f"tuieval: {path}: reading Parquet needs the optional pyarrow extra "
                           "(pip install 'tuieval[parquet]')")
