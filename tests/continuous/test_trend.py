"""`tuieval trend`: figures and marks of a hand-built history, each checked against a hand calculation.

History (suite "s", 20 cases, one sample each, parity = even/odd):
  A (day 1): wrong on c01, c03                     -> 18/20
  B (day 2): wrong on every odd case               -> 10/20; A better on 8 cases, B on none
  C (day 3): the same verdicts as B                -> 10/20
"""

from __future__ import annotations

import json

import pytest

from tests.continuous.runs import store_run
from tuieval.analysis.trend import series_steps
from tuieval.cli import main
from tuieval.report.trend import TrendError, build_trend
from tuieval.store import Store

A, B, C = "20260101-000000-aaaa", "20260102-000000-bbbb", "20260103-000000-cccc"
ODD = set(range(1, 20, 2))


@pytest.fixture
def history(tmp_path):
    db = tmp_path / "h.db"
    store = Store(db)
    store_run(store, A, 1, {1, 3}, 100)
    store_run(store, B, 2, ODD, 1000)
    store_run(store, C, 3, ODD, 1000)
    store_run(store, "20260104-000000-dddd", 4, set(), 100, status="partial")
    store_run(store, "20260105-000000-eeee", 5, set(), 100, model="demo/brittle")
    yield store, db
    store.close()


def test_the_figures_of_each_run_are_the_hand_computed_ones(history):
    store, _ = history
    trend = build_trend(store, "s", "demo/steady", B=2000)
    assert trend["schema"] == "tuieval.trend/1" and trend["n_runs"] == 3
    (series,) = trend["series"]
    a, b, c = series["runs"]
    assert [p["id"] for p in series["runs"]] == [A, B, C]  # time order; the partial run is left out
    assert trend["skipped_runs"][0]["id"] == "20260104-000000-dddd"
    assert a["accuracy"]["value"] == pytest.approx(0.9) and a["accuracy"]["n"] == 20
    # Wilson 95% for 18/20: (0.9 + z²/40 ± z·sqrt(0.0045 + z²/1600)) / (1 + z²/20), z = 1.959964
    assert a["accuracy"]["ci"] == pytest.approx([0.698966, 0.972134], abs=1e-5)
    assert b["accuracy"]["value"] == pytest.approx(0.5)
    # worst slice: parity=odd, 8/10 in A and 0/10 in B
    assert (a["worst_slice"]["key"], a["worst_slice"]["value"]) == ("parity", "odd")
    assert a["worst_slice"]["accuracy"] == pytest.approx(0.8) and a["worst_slice"]["n_cases"] == 10
    assert b["worst_slice"]["accuracy"] == 0.0
    # p99 of 20 latencies 100..119 is the largest, 119; order-statistic ranks: floor(19.8 - 1.96·√0.198)
    # = 18 -> 117, and ceil(19.8 + 0.872) + 1 = 22 > 20 -> no upper bound
    assert a["p99_ms"] == {"value": 119.0, "ci": [117.0, None], "n": 20}
    assert b["p99_ms"]["value"] == 1019.0
    assert a["consistency"]["value"] == 1.0 and a["consistency"]["n"] == 20  # one sample per case


def test_consecutive_runs_are_paired_and_only_the_real_drop_is_marked(history):
    store, _ = history
    (series,) = build_trend(store, "s", "demo/steady", B=2000)["series"]
    ab, bc = series["steps"]
    acc = ab["accuracy"]
    # exact McNemar, b = 8 discordant for A, c = 0: p = 2 · 0.5^8
    assert acc["test"] == "mcnemar" and acc["n_paired"] == 20
    assert acc["delta"] == pytest.approx(-0.4)
    assert acc["p_value"] == pytest.approx(2 * 0.5 ** 8)
    # BH over the two steps' p-values (0.0078125, 1): q = (2 · 0.0078125 / 1, 1)
    assert acc["q_value"] == pytest.approx(0.015625)
    assert acc["significant"] is True and acc["direction"] == "down"
    assert bc["accuracy"]["p_value"] == 1.0 and bc["accuracy"]["significant"] is False
    # 10 odd cases are fewer than compare's n_min = 20: the worst slice's step is untested, not a mark
    assert ab["worst_slice"]["tested"] is False and ab["worst_slice"]["significant"] is False
    # p99 moved by 900 ms, but with 20 samples neither interval has an upper end: not marked
    assert ab["p99_ms"]["delta"] == 900.0 and ab["p99_ms"]["significant"] is False


def test_a_step_is_marked_for_p99_only_when_the_intervals_are_disjoint():
    def point(i, p99_ci):
        return {"id": f"r{i}", "worst_slice": None, "consistency": {"value": 1.0, "ci": [0.9, 1.0]},
                "p99_ms": {"value": 1.0, "ci": p99_ci}}

    steps = series_steps([point(0, [10, 20]), point(1, [30, 40]), point(2, [35, None])], [None, None])
    assert [s["p99_ms"]["significant"] for s in steps] == [True, False]
    assert steps[0]["accuracy"]["tested"] is False  # no comparison: said, not guessed


def test_the_cli_prints_markdown_and_json_and_refuses_unknown_suites(history, capsys):
    _, db = history
    main(["trend", "s", "--db", str(db)])
    md = capsys.readouterr().out
    assert "## demo/steady (simulated)" in md and "## demo/brittle (simulated)" in md
    assert "▼ Δ -40.0 pts" in md and "exact McNemar, 20 paired" in md and "**significant**" in md
    assert "left out: `20260104-000000-dddd`" in md
    main(["trend", "s", "--model", "demo/steady", "--format", "json", "--db", str(db)])
    out = json.loads(capsys.readouterr().out)
    assert [s["model"] for s in out["series"]] == ["demo/steady"]
    for argv, line in [(["trend", "nope"], "tuieval: SUITE: no runs of suite 'nope' in"),
                       (["trend", "s", "--model", "demo/x"], "tuieval: --model: no runs of demo/x on suite 's' in")]:
        with pytest.raises(SystemExit) as exc:
            main(argv + ["--db", str(db)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err


def test_no_finished_run_is_a_trend_error(tmp_path):
    store = Store(tmp_path / "p.db")
    store_run(store, A, 1, set(), 100, status="partial")
    with pytest.raises(TrendError, match="no finished run"):
        build_trend(store, "s")
