"""`tuieval run` as the program collects young objects less often and freezes its start-up heap
(tuieval.gc_tuning); the CLI called in-process (argv given, as tests and other code do) leaves
the caller's collector alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tuieval.gc_tuning import YOUNG_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]


def _collector_at_exit(tmp_path: Path, as_program: bool) -> dict:
    """Run a small demo run in a child; report its collector's state as the run ends."""
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\ntemplate: 'Say {{ x }}'\ncases:\n  - {id: a, x: one, target: one}\n"
                     "  - {id: b, x: two, target: two}\n")
    args = ["run", str(suite), "--model", "demo/steady", "--quiet", "--db", str(tmp_path / "r.db")]
    code = (
        "import gc, json, os, sys\n"
        "real_exit = os._exit\n"
        "def report(code=0):\n"
        "    print(json.dumps({'threshold': gc.get_threshold(), 'frozen': gc.get_freeze_count(), 'code': code}))\n"
        "    sys.stdout.flush()\n"
        "    real_exit(0)\n"
        "os._exit = report\n"  # main() ends a finished run with os._exit: report there
        "from tuieval import cli\n"
        f"args = {args!r}\n"
        + ("sys.argv = ['tuieval'] + args\ncli.main()\n" if as_program else
           "try:\n    cli.main(args)\nexcept SystemExit as exc:\n    report(exc.code)\n")
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_program_collects_less_and_freezes_its_start(tmp_path: Path) -> None:
    state = _collector_at_exit(tmp_path, as_program=True)
    assert state["code"] == 0
    assert state["threshold"][0] == YOUNG_THRESHOLD == 10_000
    assert state["frozen"] > 10_000  # modules, functions, the suite: the start-up heap


def test_in_process_callers_keep_their_collector(tmp_path: Path) -> None:
    state = _collector_at_exit(tmp_path, as_program=False)
    assert state["code"] == 0
    plain = subprocess.run([sys.executable, "-c", "import gc, json; print(json.dumps(gc.get_threshold()))"],
                           capture_output=True, text=True, check=True)
    assert state["threshold"] == json.loads(plain.stdout) and state["frozen"] == 0
