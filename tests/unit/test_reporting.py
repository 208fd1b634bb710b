"""Reports and exports over a real SQLite store: contract fields, formats, inert model output."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tuieval import report as reporting
from tuieval.gates import evaluate_gates
from tuieval.report import formats
from tuieval.store import Store

NASTY = "[bold red]x[/] \x1b]52;c;aGVsbG8=\x07 \x1b[2J done"


@pytest.fixture()
def store(tmp_path):
    st = Store(tmp_path / "r.db")
    run_id = st.create_run(
        {"suite": "s", "model": "openai/m", "samples_per_case": 2, "temperature": 0.7, "n_cases": 3,
         "n_templates": 1, "n_expected": 6, "slo_ms": 500, "config": {"templates": [], "scorers": ["normalized"]}},
        [{"case_id": f"c{i}", "position": i, "vars": {"q": f"question {i}"}, "targets": ["yes"],
          "metadata": {"lang": "en" if i < 2 else "de"}, "input_text": f"question {i}"} for i in range(3)],
    )
    answers = {("c0", 0): "yes", ("c0", 1): "yes", ("c1", 0): NASTY, ("c1", 1): "yes", ("c2", 0): None, ("c2", 1): "no"}
    for (case, idx), text in answers.items():
        error = "server error 500" if text is None else None
        st.add_sample({"run_id": run_id, "case_id": case, "template": "t0", "sample_index": idx, "dispatch_order": idx,
                       "prompt": [{"role": "user", "content": "q"}], "response": text, "extracted": text,
                       "correct": text == "yes", "score": float(text == "yes"), "error": error,
                       "error_kind": "server_error" if error else None,
                       "latency_ms": None if error else 100.0 + 50 * idx, "ttft_ms": None if error else 40.0})
    st.set_status(run_id, "complete")
    st.run_id = run_id
    return st


def test_report_json_has_every_contract_field(store):
    report = reporting.build_report(store, store.run_id, persist_clusters=True)
    assert report["schema"] == "tuieval.report/1"
    assert set(report["run"]) >= {"id", "suite", "model", "status", "samples_per_case", "temperature", "started_at",
                                  "finished_at", "slo_ms"}
    metrics = {"n_cases", "n_samples", "n_errors", "accuracy", "accuracy_ci", "majority_accuracy", "consistency",
               "semantic_entropy", "pass_at_k", "pass_hat_k", "error_rate", "latency_ms", "ttft_ms",
               "accuracy_within_slo"}
    assert set(report["overall"]) >= metrics
    for s in report["slices"]:
        assert set(s) >= metrics | {"key", "value", "flagged", "q_value"}
    for c in report["cases"]:
        assert set(c) >= {"id", "metadata", "accuracy", "consistency", "n_clusters", "semantic_entropy",
                          "majority_correct", "clusters"}
    o = report["overall"]
    # independent arithmetic: 3 correct of 6 samples; per-case means 1, 0.5, 0 -> 0.5
    assert o["accuracy"] == pytest.approx(0.5)
    assert (o["n_samples"], o["n_errors"], o["error_rate"]) == (6, 1, pytest.approx(1 / 6))
    de = next(s for s in report["slices"] if s["key"] == "lang" and s["value"] == "de")
    assert de["n_cases"] == 1 and de["accuracy"] == 0
    json.dumps(report)  # serialisable


def test_export_rows_carry_clusters_and_errors(store):
    reporting.build_report(store, store.run_id, persist_clusters=True)
    rows = list(reporting.export_rows(store, store.run_id))
    assert len(rows) == 6
    keys = {"run_id", "case_id", "template", "sample_index", "prompt", "response", "extracted", "correct", "score",
            "latency_ms", "ttft_ms", "output_tokens", "error", "cluster", "metadata"}
    assert all(set(r) >= keys for r in rows)
    by = {(r["case_id"], r["sample_index"]): r for r in rows}
    assert by[("c0", 0)]["cluster"] == by[("c0", 1)]["cluster"]
    assert by[("c1", 0)]["cluster"] != by[("c1", 1)]["cluster"]
    err = by[("c2", 0)]
    assert err["error"] == "server error 500" and err["correct"] is False and err["cluster"] is None


def test_markdown_csv_and_junit_are_well_formed_and_inert(store):
    report = reporting.build_report(store, store.run_id)
    md = formats.to_markdown(report)
    assert "\x1b" not in md and "\x07" not in md
    assert "[bold red]x[/]" in md  # shown literally
    table = list(csv.reader(io.StringIO(formats.to_csv(report))))
    assert table[0][:3] == ["key", "value", "n_cases"] and table[1][0] == "overall"
    assert len(table) == 1 + 1 + len(report["slices"])
    report["gates"] = evaluate_gates(report, [{"metric": "accuracy", "min": 0.8}])
    root = ET.fromstring(formats.to_junit(report))
    assert root.get("failures") == "1"


def test_cli_report_and_export_through_a_subprocess(store):
    out = subprocess.run([sys.executable, "-m", "tuieval", "report", "latest", "--db", store.path, "--format", "md"],
                         capture_output=True, text=True, check=True).stdout
    assert "\x1b" not in out and "s · openai/m" in out
    lines = subprocess.run([sys.executable, "-m", "tuieval", "export", store.run_id[:12], "--db", store.path],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(lines) == 6 and all(json.loads(line)["run_id"] == store.run_id for line in lines)


def test_a_finished_runs_report_is_stored_and_invalidated_by_new_samples(store):
    first = reporting.build_report(store, store.run_id)
    run = store.get_run(store.run_id)
    assert store.cached_report(store.run_id, store.report_fingerprint(run)) is not None
    assert reporting.build_report(store, store.run_id) == first
    store.add_sample({"run_id": store.run_id, "case_id": "c2", "template": "t0", "sample_index": 2,
                      "dispatch_order": 9, "prompt": [], "response": "yes", "extracted": "yes", "correct": True,
                      "score": 1.0, "latency_ms": 90.0})
    again = reporting.build_report(store, store.run_id)
    assert again["overall"]["n_samples"] == first["overall"]["n_samples"] + 1


def test_pass_at_k_takes_each_template_as_its_own_task():
    from tuieval.analysis.report import analyze_run

    run = {"id": "r", "suite": "s", "model": "m", "status": "complete", "samples_per_case": 2, "temperature": 1.0,
           "started_at": None, "finished_at": None, "slo_ms": None, "config": {}}
    cases = [{"case_id": "c0", "position": 0, "vars": {}, "targets": ["y"], "metadata": {}, "input_text": "q"}]
    outcomes = {("A", 0): True, ("A", 1): False, ("B", 0): True, ("B", 1): True}
    samples = [{"case_id": "c0", "template": t, "sample_index": i, "dispatch_order": n, "response": "y" if ok else "n",
                "extracted": None, "correct": ok, "score": float(ok), "latency_ms": 10.0, "ttft_ms": 5.0,
                "output_tokens": 1, "error": None, "error_kind": None}
               for n, ((t, i), ok) in enumerate(outcomes.items())]
    o = analyze_run(run, cases, samples)["overall"]
    # task A: n=2, c=1 -> pass@2 = 1, pass^2 = 0; task B: n=2, c=2 -> 1 and 1; the case averages its tasks
    assert o["pass_at_k"] == {"1": 0.75, "2": 1.0}
    assert o["pass_hat_k"] == {"1": 0.75, "2": 0.5}
