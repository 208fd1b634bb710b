"""The README's nightly CI workflow, its commands run end to end with the demo models.

The workflow block is read from the README itself (so the recipe cannot drift from what is tested),
and each step with a `run:` script is executed by bash as Actions would, with the job's `env:` —
the candidate model swapped for a demo model and no key. Three nights and one promotion:
steady (no production tag yet) → promote latest → brittle (regresses on its tails: exit 1) → steady.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _workflow() -> dict:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(# \.github/workflows/nightly-eval\.yml\n.*?)```", readme, re.S)
    assert len(blocks) == 1, "the README has one nightly-eval workflow"
    return yaml.safe_load(blocks[0])


def _night(tmp: Path, job: dict, *, candidate: str = "", promote: str = "") -> dict[str, subprocess.CompletedProcess]:
    """Run the job's script steps whose `if:` holds for this `promote` input; their results by name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}
    env.update({k: str(v) for k, v in job["env"].items() if "${{" not in str(v)})
    env.update(CANDIDATE=candidate, PROMOTE=promote, TUIEVAL_DEMO_SPEED="0",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    done = {}
    for step in job["steps"]:
        if "run" not in step or step["name"] == "Install tuieval":  # installed already: this venv
            continue
        condition = step.get("if", "")
        if ("promote != ''" in condition and not promote) or ("promote == ''" in condition and promote):
            continue
        done[step["name"]] = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp, env=env,
                                            capture_output=True, text=True, timeout=180)
    return done


def test_the_nightly_workflow_flags_a_regression_against_the_tagged_run(tmp_path):
    workflow = _workflow()
    job = workflow["jobs"]["eval"]
    assert workflow[True]["schedule"][0]["cron"]  # `on:` (YAML 1.1 reads the key as true): scheduled
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/cache/restore") for u in uses) and any(u.startswith("actions/cache/save") for u in uses)
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert {"junit.xml", "tuieval.db"} <= set(upload["with"]["path"].split("\n"))
    (tmp_path / "sample_suites").symlink_to(ROOT / "sample_suites")
    evaluate = "Evaluate against production"

    first = _night(tmp_path, job, candidate="demo/steady")[evaluate]
    assert first.returncode == 0, first.stderr
    assert "compared" not in first.stderr and "against production" not in first.stderr  # no tag yet: just a run
    assert "<testsuite" in (tmp_path / "junit.xml").read_text()
    steady_run = (tmp_path / "run.txt").read_text().split()[-1]

    promoted = _night(tmp_path, job, promote="latest")
    assert list(promoted) == ["Promote a run to production"]
    assert promoted["Promote a run to production"].returncode == 0
    assert f"tagged run {steady_run} as production" in promoted["Promote a run to production"].stderr

    second = _night(tmp_path, job, candidate="demo/brittle")[evaluate]
    assert second.returncode == 1, second.stderr
    assert f"regression against production (run {steady_run})" in second.stderr
    junit = (tmp_path / "junit.xml").read_text()
    assert int(re.search(r'<testsuite [^>]*failures="(\d+)"', junit).group(1)) >= 1  # brittle's tails flagged

    third = _night(tmp_path, job, candidate="demo/steady")[evaluate]
    assert third.returncode == 0, third.stderr
    assert f"no significant regression against production (run {steady_run})" in third.stderr
    trend = (tmp_path / "trend.md").read_text()
    assert "## demo/steady (simulated)" in trend and trend.count("| `2") == 2  # both steady nights
    assert (tmp_path / "tuieval.db").exists()
