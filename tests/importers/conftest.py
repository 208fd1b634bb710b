"""Helpers for the importer tests: the CLI in-process, and an imported suite validated and run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tuieval.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


class Cli:
    def __init__(self, capsys) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
        out, err = self.capsys.readouterr()
        return code, out, err

    def imported(self, tmp_path: Path, *args: str) -> tuple[Path, dict, list[str]]:
        """`tuieval import ARGS > suite.yaml`, then `tuieval validate suite.yaml`: the suite, parsed, and the notes."""
        code, out, err = self("import", *args)
        assert code == 0, err
        suite = tmp_path / "imported.yaml"
        suite.write_text(out, encoding="utf-8")
        vcode, vout, verr = self("validate", suite)
        assert vcode == 0, verr
        assert "ok" in vout
        notes = [line.removeprefix("note: ") for line in err.splitlines() if line.startswith("note: ")]
        return suite, yaml.safe_load(out), notes

    def run_demo(self, suite: Path, tmp_path: Path, monkeypatch) -> dict:
        """The imported suite run with demo/steady; its JSON report."""
        import json

        monkeypatch.setenv("TUIEVAL_DEMO_SPEED", "0")
        db = tmp_path / "runs.db"
        code, out, err = self("run", suite, "--model", "demo/steady", "--db", db, "--quiet")
        assert code in (0, 1), err
        code, out, err = self("report", "latest", "--db", db, "--format", "json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(capsys) -> Cli:
    return Cli(capsys)
