"""The layer rules in pyproject.toml ([tool.importlinter]) hold, and the checker really checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)


def test_layer_contracts_are_kept():
    done = _lint()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_a_broken_contract_is_reported(tmp_path):
    # the app does import Textual: a contract forbidding it must be broken, or the linter saw nothing
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "tuieval"\ninclude_external_packages = true\n\n'
                      '[[tool.importlinter.contracts]]\nname = "canary"\ntype = "forbidden"\n'
                      'source_modules = ["tuieval.tui"]\nforbidden_modules = ["textual"]\n', encoding="utf-8")
    done = _lint("--config", str(config))
    assert done.returncode != 0 and "canary BROKEN" in done.stdout
