"""A perturbed run resumes with the --limit it was started with (which counts the originals)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TUIEVAL_DEMO_SPEED": "0"}


def _tuieval(*args):
    return subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, env=ENV)


def test_resume_of_a_perturbed_run_takes_the_same_limit(tmp_path):
    db = str(tmp_path / "p.db")
    suite = str(ROOT / "sample_suites" / "extraction.yaml")
    first = _tuieval("run", suite, "--model", "demo/brittle", "--perturb", "names:1", "--limit", "10", "--db", db,
                     "--quiet")
    assert first.returncode in (0, 1), first.stderr
    run_id = first.stdout.strip().splitlines()[-1]
    again = _tuieval("run", suite, "--model", "demo/brittle", "--limit", "10", "--resume", run_id, "--db", db, "--quiet")
    assert again.returncode in (0, 1), again.stderr
    other = _tuieval("run", suite, "--model", "demo/brittle", "--limit", "12", "--resume", run_id, "--db", db, "--quiet")
    assert other.returncode == 2
    assert "was started with --limit 10; resuming it with --limit 12" in other.stderr
    runs = json.loads(_tuieval("runs", "--db", db, "--json").stdout)
    assert len(runs) == 1
