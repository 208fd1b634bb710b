"""The repository stands alone: nothing reads outside its tree, and empty fixture globs fail.

A fresh clone has nothing beside it, so a test or module that reaches above the
repository root (a sibling folder of captures, an absolute path on the author's
machine) passes on one machine and fails on every other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import REPO_ROOT, STREAMS_DIR, nonempty_glob, stream_files

SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh", ".txt", ".tcss", ""}

# Path(__file__).resolve() followed by .parent / .parents[N] steps: how far up it climbs
CLIMB = re.compile(r"Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?((?:\.parents?(?:\[\d+\])?)+)")
STEP = re.compile(r"\.parents\[(\d+)\]|\.parent")


def _sources() -> list[Path]:
    out = []
    for path in REPO_ROOT.rglob("*"):
        rel = path.relative_to(REPO_ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and "fixtures" not in rel.parts:
            out.append(path)
    return out


def _levels_up(steps: str) -> int:
    return sum(int(m.group(1)) + 1 if m.group(1) is not None else 1 for m in STEP.finditer(steps))


def test_the_climb_counter_reads_the_old_streams_path() -> None:
    # the expression the tests used before the captures moved into the repository
    old = 'Path(__file__).resolve()' + '.parents[2].parent / "shared"'
    m = CLIMB.search(old)
    assert m is not None and _levels_up(m.group(1)) == 4
    assert _levels_up(".parent.parent") == 2 and _levels_up(".parents[0]") == 1


def test_no_source_climbs_above_the_repository_root() -> None:
    offenders = []
    for path in _sources():
        if path.suffix != ".py":
            continue
        depth = len(path.relative_to(REPO_ROOT).parts)  # levels from the file up to the root
        for m in CLIMB.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if _levels_up(m.group(1)) > depth:
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {m.group(0)}")
    assert offenders == []


def test_no_source_names_a_folder_outside_the_repository() -> None:
    # spelt in pieces so that this file does not match itself
    needles = ["../" + "shared", "/work" + "/", "shared" + "/fixtures", "shared" + "/STATS"]
    offenders = []
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{path.relative_to(REPO_ROOT)}: {n}" for n in needles if n in text]
    assert offenders == []


def test_the_captured_streams_are_inside_the_repository() -> None:
    assert STREAMS_DIR.is_relative_to(REPO_ROOT)
    sse = stream_files("*.sse")
    sidecars = stream_files("*.json")
    assert len(sse) == len(sidecars) == 21
    assert {p.stem for p in sse} == {p.stem for p in sidecars}


def test_a_glob_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    assert nonempty_glob(tmp_path, "*.json") == [tmp_path / "a.json"]
    with pytest.raises(FileNotFoundError, match=r"\*\.sse"):
        nonempty_glob(tmp_path, "*.sse")


def test_a_parametrized_test_over_nothing_fails_collection(tmp_path: Path) -> None:
    # The project's pytest configuration turns an empty parameter set into a collection
    # error; pytest's default would skip it and report success.
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\n\n@pytest.mark.parametrize('x', [])\ndef test_x(x):\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", str(probe), "-q", "-p", "no:cacheprovider",
                           "-c", str(REPO_ROOT / "pyproject.toml"), "--rootdir", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode != 0, proc.stdout
    assert "Empty parameter set" in proc.stdout + proc.stderr


def test_every_cited_statistics_section_exists_in_docs_statistics_md() -> None:
    # code and README cite "docs/statistics.md §x.y" / "docs/statistics.md §x.y" / "§x.y": each must be a heading
    doc = (REPO_ROOT / "docs" / "statistics.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", doc, flags=re.M))
    cited: dict[str, str] = {}
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "tuieval").rglob("*.py"))]:
        for sec in re.findall(r"§(\d+(?:\.\d+)?)", path.read_text(encoding="utf-8")):
            cited.setdefault(sec, str(path.relative_to(REPO_ROOT)))
    assert cited, "no citations found: the pattern is wrong"
    missing = {sec: where for sec, where in cited.items() if sec not in headings}
    assert missing == {}
