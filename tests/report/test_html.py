"""`tuieval report RUN --format html` and `compare … --format html`: one self-contained page, model
output escaped, the figures placed from the run's own rows — and a real browser renders it."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support.browser import CHROMIUM, render

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
N_GOOD, N_BAD = 24, 24


def _tuieval(*args, env=None) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))},
           "TUIEVAL_DEMO_SPEED": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tuieval", *map(str, args)], capture_output=True, text=True, env=env)


def _suite(tmp_path: Path) -> Path:
    """The echo server answers "Answer: <token>": group=good cases are right, group=bad ones are asked for
    a token that is not their target, so they are all wrong. Case h01 makes the model answer markup."""
    cases = [{"id": f"g{i:02d}", "token": f"tok{i}", "target": f"tok{i}", "metadata": {"group": "good"}}
             for i in range(N_GOOD)]
    cases += [{"id": f"b{i:02d}", "token": f"wrong{i}", "target": f"tok{i}", "metadata": {"group": "bad"}}
              for i in range(N_BAD)]
    cases[0] = {"id": "h01", "token": HOSTILE, "target": "tok0", "metadata": {"group": "good"}}
    suite = {"name": "echo-html", "template": "Repeat <<{{ token }}>> please.", "cases": cases,
             "scorers": ["contains"],
             "gates": [{"metric": "accuracy", "min": 0.9}], "slo_ms": 500}
    path = tmp_path / "echo.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def runs(tmp_path, model_server):
    model_server.latency_ms = 5
    suite, db = _suite(tmp_path), tmp_path / "runs.db"
    base = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                    "--db", db, "--quiet")
    assert base.returncode == 1, base.stderr  # the accuracy gate fails: half the cases are wrong
    cand = _tuieval("run", suite, "--model", "demo/steady", "--db", db, "--quiet")
    assert cand.returncode in (0, 1), cand.stderr
    return db, base.stdout.strip().splitlines()[-1], cand.stdout.strip().splitlines()[-1]


def _html(*args) -> str:
    done = _tuieval(*args)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def _assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    # attributes are looked for inside tags only: escaped model text may spell "src=" harmlessly
    for pattern in (r"<script", r"<link", r"<iframe", r"<[^>]*\bsrc=", r"<[^>]*\bhref=", r"url\(", r"@import",
                    r"://"):
        assert not re.search(pattern, page, re.I), pattern


def test_run_page_is_self_contained_and_escapes_model_output(runs):
    db, base, _ = runs
    page = _html("report", base, "--db", db, "--format", "html")
    _assert_self_contained(page)
    # the model answered the markup back: it is on the page as text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img" not in page
    assert base in page and "echo-html" in page
    assert "✗ FAILED" in page and "accuracy &gt;= 0.9 on overall" in page


def test_flagged_slices_come_first_in_the_forest_plot(runs):
    db, base, _ = runs
    page = _html("report", base, "--db", db, "--format", "html")
    forest = page.split("aria-label=\"slice accuracy with intervals\"")[1].split("</svg>")[0]
    labels = re.findall(r"text-anchor=\"end\" fill=\"[^\"]+\">([^<]+) <tspan", forest)
    report = json.loads(_html("report", base, "--db", db, "--format", "json"))
    flagged = [f"{s['key']}={s['value']}" for s in report["slices"] if s["flagged"]]
    assert "group=bad" in flagged  # 0 of 24 right against 23 of 24: found by the slice discovery
    assert [lbl.removeprefix("⚑ ") for lbl in labels[:len(flagged)]] == sorted(
        flagged, key=lambda f: next(s["accuracy"] for s in report["slices"] if f"{s['key']}={s['value']}" == f))
    assert labels[0].startswith("⚑ ")
    # group=bad is all wrong by construction: its figure, right of its interval, reads 0.0%
    after = forest.split("⚑ group=bad")[1]
    assert re.search(r"^[^⚑]*?<text x=\"[\d.]+\" y=\"[\d.]+\">0\.0%</text>", after)


def test_histogram_counts_every_sample_with_a_latency(runs):
    db, base, _ = runs
    page = _html("report", base, "--db", db, "--format", "html")
    hist = page.split("aria-label=\"latency histogram\"")[1].split("</svg>")[0]
    counts = [int(c) for c in re.findall(r": (\d+)</title></rect>", hist)]
    with sqlite3.connect(db) as conn:
        n = conn.execute("SELECT COUNT(*) FROM samples WHERE run_id = ? AND latency_ms IS NOT NULL",
                         (base,)).fetchone()[0]
    assert n == N_GOOD + N_BAD and sum(counts) == n
    assert "aria-label=\"accuracy within deadline\"" in page and "SLO 500 ms" in page


def test_comparison_page_shows_paired_deltas(runs):
    db, base, cand = runs
    page = _html("compare", base, cand, "--db", db, "--format", "html")
    _assert_self_contained(page)
    with sqlite3.connect(db) as conn:
        acc = conn.execute("SELECT AVG(s.correct) FROM samples s JOIN cases c USING (run_id, case_id) "
                           "WHERE s.run_id = ? AND json_extract(c.metadata, '$.group') = 'bad'", (cand,)).fetchone()[0]
    # baseline is 0% on group=bad by construction; the delta is the candidate's accuracy there
    row = page.split("<td>group=bad</td>")[1].split("</tr>")[0]
    assert f"<td>+{100 * acc:.1f} [" in row and "▲ improvement" in row
    assert "aria-label=\"paired deltas with intervals\"" in page
    assert "demo/steady" in page and "simulated" in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_a_real_browser_renders_the_pages_without_errors(runs, tmp_path):
    db, base, cand = runs
    for name, args in (("run", ("report", base, "--db", db, "--format", "html")),
                       ("compare", ("compare", base, cand, "--db", db, "--format", "html"))):
        html = tmp_path / f"{name}.html"
        html.write_text(_html(*args), encoding="utf-8")
        pixels, log, dom = render(html, tmp_path / f"{name}.png")
        rgb = pixels[:, :, :3].reshape(-1, 3)
        assert len(np.unique(rgb, axis=0)) > 100, "the screenshot is (nearly) blank"
        assert (rgb.min(axis=1) < 200).mean() > 0.01, "almost nothing drawn"
        assert not re.search(r"Uncaught|console\(\d+\)|CONSOLE", log), log[-2000:]
        assert "<svg" in dom and ("Worst cases" in dom if name == "run" else "paired deltas" in dom)


def test_dataset_text_is_inert_too():
    """Slice values, case ids, targets and inputs come from the dataset: escaped, terminal escapes removed."""
    from tuieval.report.formats.html import report_to_html

    metrics = {"n_cases": 1, "n_samples": 1, "n_errors": 0, "accuracy": 0.0, "accuracy_ci": [0.0, 0.8],
               "error_rate": 0.0, "latency_ms": {"n": 0}, "ttft_ms": {}}
    page = {"report": {"run": {"id": "r1", "suite": "<i>suite</i>", "model": "m", "status": "complete",
                               "samples_per_case": 1, "temperature": 0, "started_at": "t"},
                       "overall": metrics, "gates": []},
            "slices": [{"key": "lang", "value": "<em>de</em>", "flagged": True, "q_value": 0.01, **metrics}],
            "histogram": {}, "deadline": [],
            "worst": [{"id": "c<1>", "accuracy": 0.0, "clusters": [{"size": 1, "correct": False,
                                                                   "representative": "\x1b[2Jgone"}],
                       "targets": ["<t>"], "input_text": "a & b", "answers": [], "n_answers": 0}]}
    html = report_to_html(page)
    for raw in ("<i>", "<em>", "<t>", "c<1>", "\x1b", "[2J"):
        assert raw not in html
    for shown in ("&lt;i&gt;suite&lt;/i&gt;", "&lt;em&gt;de&lt;/em&gt;", "&lt;t&gt;", "c&lt;1&gt;", "a &amp; b",
                  "<pre>gone</pre>"):
        assert shown in html


def test_run_page_shows_what_the_run_cost(runs):
    db, base, cand = runs
    page = _html("report", cand, "--db", db, "--format", "html")
    section = page.split("<h2>Cost")[1].split("<h2>")[0]
    with sqlite3.connect(db) as conn:
        config = json.loads(conn.execute("SELECT config FROM runs WHERE id = ?", (cand,)).fetchone()[0])
        i, o, n, n_cases = conn.execute(
            "SELECT SUM(input_tokens), SUM(output_tokens), COUNT(*), COUNT(DISTINCT case_id) FROM samples "
            "WHERE run_id = ? AND input_tokens IS NOT NULL AND output_tokens IS NOT NULL", (cand,)).fetchone()
    assert n == N_GOOD + N_BAD  # every demo answer has its token counts: nothing estimated
    price = config["prices"]["demo/steady"]
    total = (i * price["input"] + o * price["output"]) / 1e6  # by hand, dollars per million tokens
    digits = max(2, 1 - math.floor(math.log10(total)))
    assert f"${total:.{digits}f}" in section
    assert f"n={n} requests" in section and f"n={n_cases} cases" in section
    assert "made-up price" in section and f"{i:,} / {o:,}" in section
    # the echo server's model has no price: the page says so instead of a figure
    page = _html("report", base, "--db", db, "--format", "html")
    assert "No price for openai-compatible/echo" in page.split("<h2>Cost")[1]
