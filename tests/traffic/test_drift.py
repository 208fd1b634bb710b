"""`tuieval drift SUITE LOG`: windows, coverage, refusals, the case draw and bad input, on small
hand-built logs whose figures are worked out in the comments."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tuieval.commands.drift import compute_drift
from tuieval.suite import load_suite

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}
REFUSAL = "I'm sorry, but I can't help with that."
LATIN = "Who signed the lease for the flat?"


def _tuieval(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuieval", *map(str, args)], capture_output=True, text=True,
                          env=ENV)


def _suite(tmp_path: Path) -> Path:
    # 30 short Latin questions without digits: 20 tier=free, 10 tier=pro; `topic` only in the suite
    cases = [{"id": f"c{i}", "q": "Who wrote the report about the harbour?", "target": "Ann",
              "metadata": {"tier": "free" if i < 20 else "pro", "topic": "docs"}} for i in range(30)]
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "hand", "template": "{{ q }}", "cases": cases, "scorers": ["contains"]}),
                    encoding="utf-8")
    return path


def _cyrillic(i: int) -> str:
    # distinct texts without digits (a digit would move has_digits)
    return "Кто подписал договор аренды " + "а" * (i + 1) + "?"


def _log(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "traffic.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                    encoding="utf-8")
    return path


def _windowed_log(tmp_path: Path) -> Path:
    # lines 1–20 (previous window of --window 20): Latin, 15 free / 5 pro, 2 refusals of 20;
    # lines 21–40 (current): 10 Latin free, 10 Cyrillic pro, 8 refusals of 20
    rows = []
    for i in range(20):
        rows.append({"prompt": LATIN, "response": REFUSAL if i < 2 else "Anna Berg",
                     "metadata": {"tier": "free" if i < 15 else "pro", "region": "eu"}})
    for i in range(10):
        rows.append({"prompt": LATIN, "response": REFUSAL if i < 4 else "Anna Berg", "metadata": {"tier": "free"}})
    for i in range(10):
        rows.append({"prompt": _cyrillic(i), "response": REFUSAL if i < 4 else "\x1b[2JИван|Петров",
                     "metadata": {"tier": "pro"}})
    return _log(tmp_path, rows)


def _feature(report: dict, key: str) -> dict:
    return next(f for f in report["features"] if f["key"] == key)


def test_suite_against_the_current_window_by_hand(tmp_path):
    report, _ = compute_drift(str(_suite(tmp_path)), str(_windowed_log(tmp_path)), "20", 20)
    assert report["window"]["current"]["n"] == 20 and report["window"]["previous"]["n"] == 20
    script = _feature(report, "script")["suite_vs_traffic"]
    # suite (30 latin, 0 cyrillic) against the current window (10, 10), ε = 1e-4 per share, /1.0002
    expected = ((0.5001 - 1.0001) / 1.0002 * math.log(0.5001 / 1.0001)
                + (0.5001 - 0.0001) / 1.0002 * math.log(0.5001 / 0.0001))
    assert script["psi"] == pytest.approx(expected, rel=1e-12)
    assert script["psi_band"] == "shifted"
    # table (30, 0) / (10, 10), N 50: expected 24, 6 / 16, 4 → 36/24 + 36/6 + 36/16 + 36/4 = 18.75,
    # one expected count below 5 with no column left to merge: marked sparse
    assert script["chi2"]["statistic"] == pytest.approx(18.75)
    assert script["chi2"]["df"] == 1 and script["chi2"]["sparse"] is True
    # between windows: 20 latin before, 10/10 now
    between = _feature(report, "script")["between_windows"]
    assert [(lv["value"], lv["reference"], lv["current"]) for lv in between["levels"]] == [
        ("latin", 20, 10), ("cyrillic", 0, 10)]
    # metadata in both sides is compared; the suite's `topic` and the traffic's `region` are not
    keys = [f["key"] for f in report["features"]]
    assert keys == ["tier", "input_tokens", "script", "has_digits", "non_ascii_name"]
    assert report["log"]["suite_only_metadata"] == ["topic"]
    assert report["log"]["traffic_only_metadata"] == ["region"]
    # --window 15: lines 26–40 now, 11–25 before, the first 10 in neither
    report15, _ = compute_drift(str(_suite(tmp_path)), str(_windowed_log(tmp_path)), "15 lines", 20)
    assert report15["window"]["current"]["lines"] == [26, 40] and report15["window"]["previous"]["lines"] == [11, 25]
    assert report15["log"]["dropped_older"] == 10


def test_coverage_counts_traffic_in_slices_with_few_suite_cases(tmp_path):
    report, _ = compute_drift(str(_suite(tmp_path)), str(_windowed_log(tmp_path)), "20", 20)
    cov = report["coverage"]
    # script=cyrillic has 0 suite cases, tier=pro 10 (< 20); each holds 10 of the current 20 prompts,
    # and they are the same 10, so the union is 10 / 20
    assert [(r["key"], r["value"], r["suite_cases"], r["traffic"]) for r in cov["under_covered"]] == [
        ("script", "cyrillic", 0, 10), ("tier", "pro", 10, 10)]
    assert cov["traffic_in_under_covered"] == 10 and cov["share"] == pytest.approx(0.5)
    assert report["recommendations"][0].startswith("grow script=cyrillic: 50.0% of traffic, 0 suite case(s)")
    # with --min-cases 5 the pro tier (10 cases) is covered
    report5, _ = compute_drift(str(_suite(tmp_path)), str(_windowed_log(tmp_path)), "20", 5)
    assert [r["value"] for r in report5["coverage"]["under_covered"]] == ["cyrillic"]


def test_refusal_rate_between_windows_by_hand(tmp_path):
    report, _ = compute_drift(str(_suite(tmp_path)), str(_windowed_log(tmp_path)), "20", 20)
    ref = report["responses"]["refusal"]
    assert (ref["previous"]["refusals"], ref["previous"]["n"]) == (2, 20)
    assert (ref["current"]["refusals"], ref["current"]["n"]) == (8, 20)
    assert ref["delta"] == pytest.approx(0.3)
    # 2 × 2 table (2, 18) / (8, 12), expected 5 and 15 in each row: 9/5 + 9/15 + 9/5 + 9/15 = 4.8
    assert ref["p_value"] == pytest.approx(math.erfc(math.sqrt(2.4)), rel=1e-9)
    mix = report["responses"]["answer_mix"]
    counts = {lv["value"]: (lv["reference"], lv["current"]) for lv in mix["levels"]}
    assert counts["anna berg"] == (18, 6) and counts["im sorry but i cant help with that"] == (2, 8)


def test_time_windows_are_whole_hours_back_from_the_newest(tmp_path):
    # newest 2026-11-03T10:30 → current = the 24 hour-buckets 11-02 11:00 … 11-03 10:59, previous the
    # 24 before (from 11-01 11:00); the newest line comes first, so older lines arrive after it
    at = [("2026-11-03T10:30:00Z", 4), ("2026-11-02T11:00:00Z", 2), ("2026-11-02T10:59:59Z", 1),
          ("2026-11-01T12:00:00Z", 3), ("2026-11-01T10:00:00Z", 2)]
    rows = [{"prompt": LATIN, "timestamp": ts} for ts, k in at for _ in range(k)]
    rows.append({"prompt": LATIN})
    report, _ = compute_drift(str(_suite(tmp_path)), str(_log(tmp_path, rows)), "1d", 20)
    assert report["window"]["current"]["n"] == 6
    assert report["window"]["previous"]["n"] == 4
    assert report["log"]["no_timestamp"] == 1 and report["log"]["dropped_older"] == 2
    assert report["window"]["suite_compared_with"]["n"] == 6


def test_sample_cases_are_the_smallest_prompt_hashes_of_the_under_covered_slices(tmp_path):
    suite, log = _suite(tmp_path), _windowed_log(tmp_path)
    report, sample = compute_drift(str(suite), str(log), "20", 20)
    cases = sample(4)
    # both under-covered slices hold the same ten Cyrillic prompts (lines 31–40): the slices take
    # turns, each taking its smallest hash not drawn yet, so the draw is the 4 smallest hashes
    hashes = sorted((hashlib.sha256(_cyrillic(i).encode()).hexdigest(), 31 + i) for i in range(10))
    assert [c["id"] for c in cases] == [f"traffic-L{line}-{h[:8]}" for h, line in hashes[:4]]
    assert [c["metadata"]["drift_slice"] for c in cases] == ["script=cyrillic", "tier=pro"] * 2
    assert all(c["target"] is None and c["metadata"]["tier"] == "pro" for c in cases)
    assert sample(4) == cases  # deterministic

    # the case file tuieval reads: once the targets are filled in, it loads as a dataset
    path = tmp_path / "new_cases.jsonl"
    path.write_text("".join(json.dumps({**c, "target": "x"}, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    loaded = load_suite(path)
    assert [c.id for c in loaded.cases] == [c["id"] for c in cases]
    assert loaded.cases[0].input_text() == next(_cyrillic(i) for i in range(10)
                                                if hashlib.sha256(_cyrillic(i).encode()).hexdigest() == hashes[0][0])


def test_cli_sample_cases_writes_jsonl_to_stdout(tmp_path):
    done = _tuieval("drift", _suite(tmp_path), _windowed_log(tmp_path), "--window", "20", "--sample-cases", "3")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 3 and all(r["input"].startswith("Кто") for r in rows)
    assert "drew 3 case(s) from 2 of 2 under-covered slice(s)" in done.stderr


def test_malformed_lines_are_reported_by_number_and_the_rest_is_read(tmp_path):
    log = _log(tmp_path, [{"prompt": LATIN}, "{not json", {"prompt": LATIN}, "[1, 2]", "", {"response": "x"},
                          {"prompt": LATIN}])
    done = _tuieval("drift", _suite(tmp_path), log, "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["log"]["records"] == 3 and report["log"]["malformed"] == 3
    assert [p["line"] for p in report["log"]["problems"]] == [2, 4, 6]
    md = _tuieval("drift", _suite(tmp_path), log)
    assert "- line 2: not JSON" in md.stdout and "- line 6: no prompt" in md.stdout


def test_markdown_keeps_model_text_inert(tmp_path):
    done = _tuieval("drift", _suite(tmp_path), _windowed_log(tmp_path), "--window", "20")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    # answers are shown as first written, escapes removed, the pipe unable to split the table cell
    assert "| Иван\\|Петров | 0 (0.0%) | 6 (30.0%) |" in done.stdout


@pytest.mark.parametrize("args, flag", [
    (["--window", "7x"], "--window"),
    (["--window", "0"], "--window"),
    (["--field", "nonsense"], "--field"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, args, flag):
    done = _tuieval("drift", _suite(tmp_path), _windowed_log(tmp_path), *args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"tuieval: {flag}")
    assert "Traceback" not in done.stderr


def test_missing_log_and_bad_suite_exit_2(tmp_path):
    done = _tuieval("drift", _suite(tmp_path), tmp_path / "nope.jsonl")
    assert done.returncode == 2 and done.stderr.startswith("tuieval: LOG:") and "nope.jsonl" in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases: 3\n", encoding="utf-8")
    done = _tuieval("drift", bad, _windowed_log(tmp_path))
    assert done.returncode == 2 and "bad.yaml" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("window_spec", ["20", None, "1h"])
def test_split_over_processes_counts_the_same_as_one_pass(tmp_path, window_spec):
    from tuieval.traffic import drift as d

    rows = []
    for i in range(41):
        rows.append({"prompt": _cyrillic(i) if i % 3 else LATIN, "response": REFUSAL if i % 4 == 0 else "Anna Berg",
                     "timestamp": f"2026-11-03T{(i * 7) % 24:02d}:{i % 60:02d}:00Z", "metadata": {"tier": "pro"}})
        if i % 10 == 5:
            rows.append("{broken")
    log = _log(tmp_path, rows)
    suite = load_suite(_suite(tmp_path))
    spec, window = d.feature_spec(suite.cases), d.parse_window(window_spec)
    one = d.scan_file(str(log), {}, spec, window, workers=1)
    three = d.scan_file(str(log), {}, spec, window, workers=3)
    assert three.lines == one.lines == 45
    a = d.build_report(suite, "s", "l", one, spec, window, 20)
    b = d.build_report(suite, "s", "l", three, spec, window, 20)
    assert b == a
    assert [p["line"] for p in a["log"]["problems"]] == [7, 18, 29, 40]
