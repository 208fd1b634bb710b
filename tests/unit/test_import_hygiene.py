"""The engine runs headless, and `tuieval --help` stays fast by importing heavy modules lazily."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_engine_store_analysis_and_backends_never_import_textual_or_rich():
    mods = _modules_after(
        "import tuieval.engine, tuieval.store, tuieval.suite, tuieval.scoring, tuieval.report, tuieval.progress\n"
        "import tuieval.backends.registry, tuieval.backends.openai, tuieval.backends.anthropic, tuieval.backends.demo\n"
        "import tuieval.analysis.report, tuieval.analysis.live"
    )
    assert not {m for m in mods if m.split(".")[0] == "textual"}
    # httpx imports rich for its own command line when rich is installed, so rich may be in
    # sys.modules; what matters is that no tuieval module outside the app imports it.
    root = Path(__file__).resolve().parents[2] / "tuieval"
    offenders = [
        str(p.relative_to(root)) for p in root.rglob("*.py")
        if "tui" not in p.relative_to(root).parts and re.search(r"^\s*(import|from)\s+(textual|rich)\b", p.read_text(), re.M)
    ]
    assert offenders == []


def test_cli_help_imports_no_heavy_module():
    mods = _modules_after("import sys; sys.argv=['tuieval','--help']\nfrom tuieval import cli\n"
                          "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass")
    heavy = {"numpy", "httpx", "textual", "aiohttp", "yaml", "sqlite3"}
    assert not {m.split(".")[0] for m in mods} & heavy


def test_database_opens_in_sqlite_utils(tmp_path):
    import sqlite_utils

    from tuieval.store import Store

    Store(tmp_path / "x.db").close()
    db = sqlite_utils.Database(tmp_path / "x.db")
    assert {"runs", "cases", "samples", "clusters"} <= set(db.table_names())
    assert {"case_scores", "run_summary"} <= set(db.view_names())
    assert db["samples"].columns_dict["correct"] is int


def test_the_run_path_imports_neither_httpx_nor_numpy_nor_other_commands_before_its_first_request(tmp_path):
    # what `tuieval run` imports up to its first request: the CLI, the engine, a backend on its
    # pool, the suite loader, the store; httpx (which brings rich and pygments for its own CLI),
    # numpy (the analysis, after the run) and the other commands' modules are not among them
    mods = _modules_after(
        "from tuieval import cli\n"
        "from tuieval.engine import Engine, RunOptions\n"
        "from tuieval.backends.registry import create_backend\n"
        "from tuieval.suite import load_suite\n"
        "from tuieval.store import Store\n"
        "from tuieval.progress import Progress\n"
        "cli.price_table(None)\n"
        "b = create_backend('openai-compatible/m', base_url='http://127.0.0.1:9/v1')\n"
        "assert type(b.client).__name__ == 'AiohttpPool'\n"
        "from pathlib import Path\n"
        "from tests.support.suites import write_echo_suite\n"
        f"load_suite(write_echo_suite(Path({str(tmp_path)!r}), 3))"
    )
    roots = {m.split(".")[0] for m in mods}
    assert not roots & {"httpx", "numpy", "rich", "pygments", "textual"}
    # nor what only an error message (difflib's did-you-mean) or importlib.resources (zipfile,
    # for the price table beside its module) would need
    assert not {"difflib", "zipfile"} & mods
    assert not {m for m in mods if m.startswith(("tuieval.commands.", "tuieval.perturb", "tuieval.analysis.report",
                                                 "tuieval.analysis.slices", "tuieval.report", "tuieval.contamination"))}


def test_commands_are_imported_only_when_named():
    mods = _modules_after("from tuieval import cli\ncli.cli.get_command(None, 'tag')")
    commands = {m for m in mods if m.startswith("tuieval.commands.")}
    assert commands == {"tuieval.commands.tag"}


def test_version_is_the_installed_packages():
    from importlib.metadata import version

    from click.testing import CliRunner

    from tuieval.cli import cli

    out = CliRunner().invoke(cli, ["--version"]).output
    assert out.strip() == f"tuieval, version {version('tuieval')}"


def test_a_small_runs_report_does_not_import_numpy_ma(tmp_path):
    # np.unique of a plain array imports numpy.ma (to ask whether it is masked): ~20 ms of
    # every `tuieval run`'s end for nothing; the report of an ordinary run does without it
    mods = _modules_after(
        "from pathlib import Path\n"
        "from tests.support.suites import write_echo_suite\n"
        f"suite = write_echo_suite(Path({str(tmp_path)!r}), 3)\n"
        "from tuieval import cli\n"
        "try:\n"
        f"    cli.main(['run', str(suite), '--model', 'demo/steady', '-n', '2', '--quiet', '--db', "
        f"{str(tmp_path / 'r.db')!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert "numpy" in mods and "tuieval.report.stored" in mods  # the report was built and stored
    assert "numpy.ma" not in mods
