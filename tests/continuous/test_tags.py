"""Run tags: a name points at one run, moving it is explicit and logged, every RUN argument takes it;
`compare --baseline TAG` and `run --compare-to TAG` compare against the tagged run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.continuous.runs import store_run
from tuieval.cli import main
from tuieval.store import RunNotFound, Store
from tuieval.store.tags import TagError, check_tag_name, delete_tag, list_tags, set_tag, tag_history

ROOT = Path(__file__).resolve().parents[2]
A, B = "20260101-000000-aaaa", "20260102-000000-bbbb"
ODD = set(range(1, 20, 2))


@pytest.fixture
def two_runs(tmp_path):
    db = tmp_path / "t.db"
    store = Store(db)
    store_run(store, A, 1, {1, 3}, 100)
    store_run(store, B, 2, ODD, 100)
    yield store, db
    store.close()


@pytest.mark.parametrize("name", ["production", "nightly-2026.12", "v1_2", "P"])
def test_tag_names_that_are_allowed(name):
    check_tag_name(name)


@pytest.mark.parametrize("name", ["latest", "2026prod", "-x", "with space", "a/b", "", "x" * 65, "prod;drop"])
def test_tag_names_that_are_refused(name):
    with pytest.raises(TagError):
        check_tag_name(name)


def test_a_tag_points_at_one_run_and_moves_only_when_asked(two_runs):
    store, _ = two_runs
    assert set_tag(store, "production", A) is None
    assert store.resolve_run_id("production") == A
    with pytest.raises(TagError, match=f"points at run {A}; pass --move"):
        set_tag(store, "production", B)
    assert store.resolve_run_id("production") == A  # a refused move changes nothing
    assert set_tag(store, "production", A) == A  # the same run again: nothing to log
    assert set_tag(store, "production", B, move=True) == A
    assert store.resolve_run_id("production") == B
    assert [(e["action"], e["previous_run_id"], e["run_id"]) for e in tag_history(store, "production")] == [
        ("set", None, A), ("move", A, B)]
    assert list_tags(store)[0]["n_moves"] == 1
    assert delete_tag(store, "production") == B
    with pytest.raises(RunNotFound, match="no run or tag 'production'"):
        store.resolve_run_id("production")
    assert tag_history(store)[-1]["action"] == "delete"
    assert store.get_run(B)["id"] == B  # deleting a tag keeps its run


def test_the_tag_command_sets_lists_moves_and_refuses_in_one_line(two_runs, capsys):
    _, db = two_runs
    d = ["--db", str(db)]
    main(["tag", A, "production", *d])
    assert capsys.readouterr().out.strip() == A
    main(["runs", "--json", *d])
    assert {r["id"]: r["tags"] for r in json.loads(capsys.readouterr().out)} == {A: ["production"], B: []}
    main(["tag", "--list", "--json", *d])
    assert [(t["name"], t["run_id"]) for t in json.loads(capsys.readouterr().out)] == [("production", A)]
    refusals = [
        (["tag", B, "production"], f"tuieval: NAME: tag 'production' points at run {A}; pass --move"),
        (["tag", B, "latest"], "tuieval: NAME: 'latest' is reserved"),
        (["tag", B, "9lives"], "tuieval: NAME: '9lives' is not a tag name"),
        (["tag", "nope", "x"], "tuieval: RUN: no run or tag 'nope'"),
        (["tag", "--delete", "staging"], "tuieval: --delete: no tag 'staging'"),
        (["compare", "--baseline", "staging", B], "tuieval: --baseline: no run or tag 'staging'"),
        (["report", "staging"], "tuieval: RUN_ID: no run or tag 'staging'"),
    ]
    for argv, line in refusals:
        with pytest.raises(SystemExit) as exc:
            main(argv + d)
        err = capsys.readouterr().err
        assert exc.value.code == 2, argv
        assert err.startswith(line) and err.count("\n") == 1, err
    main(["tag", B, "production", "--move", *d])
    assert "moved tag production: run " + A + " -> run " + B in capsys.readouterr().err
    main(["tag", "--log", "production", *d])
    log = capsys.readouterr().out.splitlines()
    assert len(log) == 2 and log[1].endswith(f"moved run {A} -> run {B}")


def test_compare_baseline_tag_is_the_comparison_of_the_tagged_run(two_runs, capsys):
    store, db = two_runs
    set_tag(store, "production", A)
    d = ["--db", str(db)]
    with pytest.raises(SystemExit) as exc:  # B lost 8 cases A had right: McNemar p = 2 · 0.5^8
        main(["compare", "--baseline", "production", B, "--format", "json", *d])
    assert exc.value.code == 1
    cmp = json.loads(capsys.readouterr().out)
    assert cmp["baseline"]["id"] == A and cmp["candidate"]["id"] == B
    assert cmp["overall"]["p_value"] == pytest.approx(2 * 0.5 ** 8)
    main(["compare", "--baseline", B, B, *d])  # a run against itself: no regression, exit 0
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--baseline", "production", A, B, *d])
    assert exc.value.code == 2


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}
    env.update(TUIEVAL_DB=str(db), TUIEVAL_DEMO_SPEED="0")
    return env


def test_run_compare_to_refuses_an_unknown_tag_or_another_suite_before_any_request(two_runs):
    store, db = two_runs
    set_tag(store, "other", A)  # a run of suite "s", not of the extraction suite
    suite = str(ROOT / "sample_suites" / "extraction.yaml")
    tuieval = [sys.executable, "-m", "tuieval", "run", suite, "--model", "demo/steady", "--limit", "5"]
    before = len(store.list_runs())
    for target, line in [("production", "tuieval: --compare-to: no run or tag 'production'"),
                         ("other", f"tuieval: --compare-to: other is run {A} of suite 's', not 'extraction'")]:
        proc = subprocess.run(tuieval + ["--compare-to", target], env=_env(db), capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2 and proc.stderr.startswith(line) and proc.stderr.count("\n") == 1
    assert len(store.list_runs()) == before  # no run row was made
