"""The offline demo: demo/memorised on the sample suite shows what each probe is for, and a
model that memorised nothing (demo/steady) is flagged by none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "sample_suites" / "contamination.yaml"
CORPUS = REPO / "sample_suites" / "data" / "contamination_corpus.txt"


def _run(args):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TUIEVAL_")}, "TUIEVAL_DEMO_SPEED": "0"}
    return subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, env=env, timeout=120)


def _section(tmp_path: Path, model: str) -> dict:
    db = tmp_path / "demo.db"
    done = _run(["contamination", str(SUITE), "--model", model, "--corpus", str(CORPUS), "--db", str(db), "-q"])
    assert done.returncode == 0, done.stderr
    report = _run(["report", done.stdout.strip().splitlines()[-1], "--format", "json", "--db", str(db)])
    return json.loads(report.stdout)["contamination"]


def test_memorised_model_is_caught_on_the_public_half_only(tmp_path):
    cases = yaml.safe_load(SUITE.read_text(encoding="utf-8"))["cases"]
    public = {c["id"] for c in cases if c["metadata"]["source"] == "public"}
    c = _section(tmp_path, "demo/memorised")
    assert {x["case_id"] for x in c["cases"]} == public and len(public) == 12
    by = {r["slice"]: (r["k"], r["n"]) for r in c["likely"]["by_slice"]}
    assert by["source=public"] == (12, 12) and by["source=fresh"] == (0, 12)
    # it reproduces every memorised text and no other
    assert c["verbatim"]["n_flagged"] == 12
    # the corpus file quotes the first three questions
    assert {x["case_id"] for x in c["cases"] if "ngram" in x["probes"]} == {"k01", "k02", "k03"}
    for probe in ("rewrite", "options"):
        rows = {r["slice"]: r for r in c[probe]["rows"]}
        assert rows["source=public"]["significant"] and rows["source=public"]["delta"] < 0
        # an honest 70% model on the fresh half: the same verdict whatever the wording
        assert rows["source=fresh"]["delta"] == 0


def test_a_model_that_memorised_nothing_is_not_flagged_by_the_model_probes(tmp_path):
    c = _section(tmp_path, "demo/steady")
    assert c["verbatim"]["n_flagged"] == 0
    assert c["rewrite"]["significant_drop"] is False and c["options"]["significant_drop"] is False
    # the corpus probe reads the cases, not the model: the same three
    assert {x["case_id"] for x in c["cases"]} == {"k01", "k02", "k03"}
