"""A multi-template run's report carries `robustness.templates`, recomputed here from `tuieval export`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TUIEVAL_DEMO_SPEED": "0"}


def _tuieval(*args):
    done = subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, env=ENV)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def test_template_section_matches_the_exported_samples(tmp_path):
    db = str(tmp_path / "t.db")
    _tuieval("run", str(ROOT / "sample_suites" / "qa.yaml"), "--model", "demo/flaky", "--db", db, "--quiet")
    section = json.loads(_tuieval("report", "latest", "--db", db, "--format", "json"))["robustness"]["templates"]
    rows = [json.loads(line) for line in _tuieval("export", "latest", "--db", db).splitlines()]
    acc: dict = defaultdict(list)
    for r in rows:
        acc[(r["case_id"], r["template"])].append(bool(r["correct"]) and r["error"] is None)
    templates = sorted({t for _, t in acc})
    cases = sorted({c for c, _ in acc})
    per = {t: sum(sum(acc[(c, t)]) / len(acc[(c, t)]) for c in cases) / len(cases) for t in templates}
    got = {t["template"]: t["accuracy"] for t in section["templates"]}
    assert got == pytest.approx(per)
    assert section["spread"]["value"] == pytest.approx(max(per.values()) - min(per.values()))
    flipped = [c for c in cases if len({sum(acc[(c, t)]) / len(acc[(c, t)]) >= 0.5 for t in templates}) > 1]
    assert [d["id"] for d in section["dependent_cases"]] == [c for c in section_order(rows) if c in flipped]
    assert section["test"]["name"] == "permutation"  # five samples per (case, template)
    md = _tuieval("report", "latest", "--db", db)
    assert "## Template sensitivity (3 templates" in md and f"for {len(flipped)} of {len(cases)} cases" in md


def section_order(rows):
    return list(dict.fromkeys(r["case_id"] for r in sorted(rows, key=lambda r: r["case_id"])))


def test_a_suite_with_two_scorers_reports_their_extraction_sensitivity(tmp_path):
    db = str(tmp_path / "t.db")
    _tuieval("run", str(ROOT / "sample_suites" / "extraction.yaml"), "--model", "demo/brittle", "--db", db, "--quiet",
             "--limit", "40")
    report = json.loads(_tuieval("report", "latest", "--db", db, "--format", "json"))
    section = report["robustness"]["extractors"]
    names = [e["name"] for e in section["extractors"]]
    assert names == ["scorer:normalized", "scorer:contains"]
    # the first scorer is the one the run is scored by: its accuracy is the report's
    assert section["extractors"][0]["accuracy"] == pytest.approx(report["overall"]["accuracy"])
    rows = [json.loads(line) for line in _tuieval("export", "latest", "--db", db).splitlines()]
    assert section["n_samples"] == len(rows)
    md = _tuieval("report", "latest", "--db", db)
    assert "## Extraction sensitivity" in md
