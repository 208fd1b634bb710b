"""`tuieval run --perturb` and a suite's `perturbations:` as a user runs them: a real process,
the loopback model server, a real SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

from tuieval.analysis.report import NOT_SLICES
from tuieval.perturb import LINK_KEYS
from tuieval.suite import load_suite, validate

TUIEVAL = [sys.executable, "-m", "tuieval"]
PASSAGES = [
    "The night shift wrote down the code <<tok{i}>> after 25 minutes. Nobody is not sure why, but it's done.",
    "In the archive, box {i} holds the key <<tok{i}>>; the clerk didn't label it. It is 1000 pages long!",
]


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}


def _suite(tmp_path: Path, n: int = 8, extra: dict | None = None) -> Path:
    # the server answers "Answer: X" for the <<X>> in the prompt: a perturbed copy is answered
    # correctly exactly when the answer span reached the server unchanged
    suite = {
        "name": "perturb-echo",
        "template": "Read this and give the code.\n{{ passage }}",
        "cases": [{"id": f"c{i}", "passage": PASSAGES[i % 2].format(i=i), "target": f"tok{i}",
                   "metadata": {"kind": "a" if i % 2 == 0 else "b"}} for i in range(n)],
        "scorers": [{"type": "regex", "pattern": r"Answer: (\w+)", "then": "exact"}],
        "sampling": {"samples": 1, "temperature": 0.0, "seed": 4},
    }
    suite.update(extra or {})
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


def _run(args, **kw):
    return subprocess.run(TUIEVAL + args, capture_output=True, text=True, env=_env(), timeout=120, **kw)


def _rows(db: Path, sql: str):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_run_perturb_stores_linked_copies_and_every_copy_stays_correct(tmp_path, model_server):
    suite = _suite(tmp_path)
    db = tmp_path / "runs.db"
    specs = "typos:0.2,casing:0.5,whitespace,punctuation:1,contractions,numbers,homoglyphs:0.3,distractors"
    done = _run(["run", str(suite), "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                 "--db", str(db), "--perturb", specs, "--perturb", "names,options"])
    assert done.returncode == 0, done.stderr
    assert "perturbations: 64 perturbed copies of 8 cases" in done.stderr
    assert "names:0.5 8 (no person's name" in done.stderr and "options 8 (not multiple choice" in done.stderr
    cases = {cid: (json.loads(v), json.loads(m)) for cid, v, m in _rows(db, "SELECT case_id, vars, metadata FROM cases")}
    assert len(cases) == 8 + 64
    for cid, (vars_, meta) in cases.items():
        if "~" not in cid:
            assert not set(LINK_KEYS) & set(meta)
            continue
        original = meta["original_case"]
        label = cid.split("~", 1)[1]
        assert cid == f"{original}~{label}" and meta["perturbation"] == label.split(":")[0]
        assert meta["kind"] == cases[original][1]["kind"]
        assert vars_["passage"] != cases[original][0]["passage"]
    # every sample correct: the answer spans were protected all the way to the server
    samples = _rows(db, "SELECT case_id, correct FROM samples")
    assert len(samples) == 72 and all(ok == 1 for _, ok in samples)
    # and the perturbed prompts are what the server saw
    passage = cases["c1~distractors:0.5"][0]["passage"]
    assert len(passage) > 2 * len(cases["c1"][0]["passage"])
    run_config = json.loads(_rows(db, "SELECT config FROM runs")[0][0])
    assert run_config["perturbations"][0] == "typos:0.2" and len(run_config["perturbations"]) == 10
    report = json.loads(_run(["report", "latest", "--db", str(db), "--format", "json"]).stdout)
    keys = {s.get("key") for s in report.get("slices", [])}
    assert "perturbation" in keys and not keys & NOT_SLICES
    section = report["robustness"]["perturbations"]
    assert (section["n_originals"], section["n_perturbed"], section["n_unpaired"]) == (8, 64, 0)
    overall = [r for r in section["rows"] if r["slice"] == "all"]
    assert len(overall) == 8 and all(r["flip_rate"] == 0 and r["accuracy_perturbed"] == 1 for r in overall)
    assert section["worst_case"]["accuracy"] == 1.0


def test_suite_perturbations_apply_and_limit_counts_original_cases(tmp_path, model_server):
    suite = _suite(tmp_path, extra={"perturbations": ["typos:0.1", {"casing": [0.2, 0.6]}]})
    db = tmp_path / "runs.db"
    done = _run(["run", str(suite), "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                 "--db", str(db), "--limit", "3", "--quiet"])
    assert done.returncode == 0, done.stderr
    ids = [cid for (cid,) in _rows(db, "SELECT case_id FROM cases ORDER BY position")]
    assert ids[:3] == ["c0", "c1", "c2"]
    assert sorted(ids[3:]) == sorted(f"c{i}~{p}" for i in range(3) for p in ("typos:0.1", "casing:0.2", "casing:0.6"))


def test_bad_perturb_is_one_line_exit_2_and_nothing_stored(tmp_path, model_server):
    suite = _suite(tmp_path)
    db = tmp_path / "runs.db"
    done = _run(["run", str(suite), "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                 "--db", str(db), "--perturb", "typos:2"])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tuieval: --perturb: typos: severity must be a number in [0, 1] (the share of eligible letters changed), got 2.0"]
    assert not db.exists() and model_server.requests_total == 0


def test_suite_perturbations_are_validated_with_file_field_and_line(tmp_path):
    suite = _suite(tmp_path, extra={"perturbations": ["typos:0.1", "typoz", {"name": "options", "severity": 0.5}]})
    problems = validate(suite)
    text = suite.read_text()
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "typoz" in l)
    [p] = problems
    assert (p.field, p.line) == ("perturbations[1]", line)
    assert p.message.startswith("unknown perturbation 'typoz' (known: casing")
    done = _run(["validate", str(suite)])
    assert done.returncode == 2 and "perturbations[1]" in done.stdout + done.stderr


def test_suite_perturbations_load_as_frozen_specs():
    from tuieval.perturb import PerturbSpec

    root = Path(__file__).resolve().parents[2]
    assert load_suite(root / "sample_suites" / "qa.yaml").perturbations == ()
    assert "original_case" in NOT_SLICES and "original_case" in LINK_KEYS
    spec = PerturbSpec("typos", 0.1)
    try:
        spec.severity = 0.2  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("PerturbSpec must be frozen")
