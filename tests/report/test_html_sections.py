"""The HTML page shows the sections a run's Markdown report has: perturbations, extraction,
contamination, shadow and red team — with the JSON report's figures, model and dataset text
inert, and a real browser rendering the page."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.browser import CHROMIUM, render
from tuieval.report.formats import cells
from tuieval.report.formats.sections_html import markdown_to_html

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "sample_suites"
HOSTILE = '**bold** `tick` a|b <script>alert(1)</script> \ue001</td><td>x \\| y'


def _tuieval(*args) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))},
           "TUIEVAL_DEMO_SPEED": "0"}
    done = subprocess.run([sys.executable, "-m", "tuieval", *map(str, args)], capture_output=True, text=True, env=env)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def _cells(row_html: str) -> list[str]:
    return re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html)


def _rows(table_html: str) -> list[list[str]]:
    return [_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", table_html)]


def _section(page: str, heading: str) -> str:
    """From the `<h2>` that starts with `heading` to the next `<h2>`."""
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 4)
    return page[start:end if end >= 0 else len(page)]


def test_data_text_is_shown_as_it_is_never_read_as_markup():
    """What a builder writes: its own bold and code, and data through `cell`."""
    with cells.data_marked():
        lines = [f"## Section `{cells.cell('id<1>')}`", "",
                 f"**Headline** for {cells.cell(HOSTILE)}.", "",
                 "| name | value |", "|---|---:|", f"| {cells.cell(HOSTILE)} | 3 |", "",
                 f"- an item naming {cells.cell('x**y**')}"]
    html = "".join(markdown_to_html(lines))
    assert html.startswith("<h2>Section <code>id&lt;1&gt;</code></h2>")
    # the builder's bold is bold; the data's asterisks, backticks and pipes are characters
    assert html.count("<strong>") == 1 and "<strong>Headline</strong>" in html
    assert "<code>" in html and html.count("<code>") == 1
    rows = _rows(html.split("<table>")[1])
    assert rows[0] == ["name", "value"] and len(rows) == 2 and len(rows[1]) == 2
    shown = rows[1][0]
    assert "**bold** `tick` a|b &lt;script&gt;alert(1)&lt;/script&gt;" in shown
    # the data cannot close its own mark or a cell: the mark is dropped, the tags escaped
    assert "\ue001" not in html and "&lt;/td&gt;&lt;td&gt;x" in shown
    assert rows[1][1] == "3" and '<td class=n>3</td>' in html
    assert "<li>an item naming x**y**</li>" in html
    for raw in ("<script", "<td>x"):
        assert raw not in html


def test_markdown_cells_are_unchanged_outside_the_html_page():
    assert cells.cell("a|b\x1b[2J") == "a\\|b"
    with cells.data_marked():
        assert cells.cell("a|b") == "\ue000a|b\ue001"
    assert cells.cell("a|b") == "a\\|b"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sections")
    db = tmp / "runs.db"
    last = lambda out: out.strip().splitlines()[-1]  # noqa: E731 — every command prints its id last
    hidden = last(_tuieval("run", SUITES / "hidden_variables.yaml", "--model", "demo/brittle", "--db", db, "--quiet"))
    probe = last(_tuieval("contamination", SUITES / "contamination.yaml", "--model", "demo/memorised", "--corpus",
                          SUITES / "data" / "contamination_corpus.txt", "--db", db, "-q"))
    _tuieval("shadow", SUITES / "data" / "traffic.jsonl", "--candidate", "demo/steady", "--budget", "60", "--db", db,
             "-q")
    redteam = last(_tuieval("redteam", SUITES / "qa.yaml", "--target", "demo/brittle", "--attacker", "demo/attacker",
                            "--strategies", "paraphrase,distractors", "--db", db, "-q"))
    with sqlite3.connect(db) as conn:
        shadow = conn.execute("SELECT run_id FROM shadow_runs").fetchone()[0]
        target = json.loads(conn.execute("SELECT run_ids FROM redteams WHERE id = ?", (redteam,)).fetchone()[0])[0]
    out = {}
    for name, run in (("hidden", hidden), ("probe", probe), ("shadow", shadow)):
        out[name] = (_tuieval("report", run, "--db", db, "--format", "html"),
                     json.loads(_tuieval("report", run, "--db", db, "--format", "json")))
    out["redteam"] = (_tuieval("report", target, "--db", db, "--format", "html"),
                      json.loads(_tuieval("report", target, "--db", db, "--format", "json")))
    out["dir"] = tmp
    return out


def test_perturbations_and_extractors_have_their_json_figures(pages):
    html, report = pages["hidden"]
    section = report["robustness"]["perturbations"]
    table = _rows(_section(html, "Perturbations").split("<table>")[1])
    assert table[0][:4] == ["perturbation", "pairs", "original", "perturbed"]
    overall = [r for r in section["rows"] if r["slice"] == "all"]
    assert len(overall) >= 1 and len(table) - 1 == len(overall)
    for shown, row in zip(table[1:], overall):
        assert shown[0] == row["label"] and shown[1] == str(row["n_pairs"])
        assert shown[2:4] == [f"{row['accuracy_original']:.1%}", f"{row['accuracy_perturbed']:.1%}"]
    extraction = _rows(_section(html, "Extraction sensitivity").split("<table>")[1])
    names = [r[0] for r in extraction[1:]]
    assert names == [e["name"] for e in report["robustness"]["extractors"]["extractors"]]
    for r, e in zip(extraction[1:], report["robustness"]["extractors"]["extractors"]):
        if e.get("applicable", True):
            assert r[1].startswith(f"{e['accuracy']:.1%}")
        else:
            assert r[1].startswith("not applicable")


def test_contamination_shadow_and_red_team_sections(pages):
    html, report = pages["probe"]
    likely = report["contamination"]["likely"]
    assert (likely["n_flagged"], likely["n_cases"]) == (12, 24)  # half the demo suite is memorised
    assert f"<strong>Likely contaminated: 12 of 24 cases, {likely['rate']:.1%}" in _section(html, "Contamination")

    html, report = pages["shadow"]
    sec = _section(html, "Shadow")
    assert report["shadow"]["disagreement"]["n"] == 60  # the budget
    assert "(n=60;" in sec
    slices = _rows(sec.split("<table>")[1])
    assert len(slices) - 1 == len(report["shadow"]["slices"])
    assert [r[0] for r in slices[1:]] == [f"{s['key']}={s['value']}" for s in report["shadow"]["slices"]]

    html, report = pages["redteam"]
    sec = _section(html, "Red team")
    assert f"<code>{report['redteam']['id']}</code>" in sec
    strategies = _rows(sec.split("<table>")[1])
    assert [r[0] for r in strategies[1:]] == ["paraphrase", "distractors", "<strong>all</strong>"]
    for r, s in zip(strategies[1:], report["redteam"]["strategies"]):
        assert r[1].endswith(f"({s['n_broken']}/{s['n']})")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_a_real_browser_renders_the_section_pages(pages):
    for name in ("hidden", "redteam"):
        path = pages["dir"] / f"{name}.html"
        path.write_text(pages[name][0], encoding="utf-8")
        pixels, log, dom = render(path, pages["dir"] / f"{name}.png")
        rgb = pixels[:, :, :3].reshape(-1, 3)
        assert len(np.unique(rgb, axis=0)) > 100, "the screenshot is (nearly) blank"
        assert not re.search(r"Uncaught|console\(\d+\)|CONSOLE", log), log[-2000:]
        assert ("Perturbations" if name == "hidden" else "Red team") in dom


def test_the_judge_section_has_the_hand_computed_figures(tmp_path, model_server, capsys):
    """tests/support/judged.py's panel: judge-a passes all 20 answers, judge-b fails cases 0, 5, 10, 15."""
    from tests.support.judged import judged_run
    from tuieval.cli import main

    db, run_id = judged_run(tmp_path, model_server)
    main(["report", run_id, "--db", db, "--format", "html"])
    sec = _section(capsys.readouterr().out, "Judge")
    assert sec.startswith("<h2>Judge <code>judge</code> (reference; openai-compatible/judge-a, "
                          "openai-compatible/judge-b; 1 sample(s) per response)</h2>")
    tables = sec.split("<table>")[1:]
    metrics = dict(r for r in _rows(tables[0])[1:])
    # once = judge-a's vote, 20/20: Wilson 95% [83.9%, 100%]; majority: the four 1–1 splits are no
    # majority, 16/20: Wilson [58.4%, 91.9%] (STATS.md's golden vector for 16/20)
    assert metrics["accuracy judged once (95% CI)"] == "100.0% [83.9%, 100.0%] (20/20)"
    assert metrics["accuracy by majority of all votes (95% CI)"] == "80.0% [58.4%, 91.9%] (16/20)"
    assert metrics["judge requests / unparsed / failed"] == "40 / 0 / 0"
    assert metrics["responses where judges disagree"] == "4"
    # Fleiss κ = −1/9 and Krippendorff α = −1/12 (worked out in tests/engine/test_judge_engine.py);
    # human labels: p_o = 18/20, p_e = 0.7·0.8 + 0.3·0.2 = 0.62, κ = 0.28/0.38 = 0.737
    assert metrics["agreement: Fleiss&#x27; κ / Krippendorff&#x27;s α"] == "-0.111 / -0.083 (n=20)"
    assert metrics["vs human labels: Cohen&#x27;s κ / agreement"] == "0.737 / 90.0% (n=20)"
    per_judge = _rows(tables[1])[1:]
    assert [(r[0], r[1]) for r in per_judge] == [
        ("openai-compatible/judge-a", "100.0% [83.9%, 100.0%] (20/20)"),
        ("openai-compatible/judge-b", "80.0% [58.4%, 91.9%] (16/20)")]
    assert _rows(tables[2])[1:] == [["correct", "14", "0"], ["incorrect", "2", "4"]]
    flagged = re.findall(r"<li><code>(c\d+)</code>", sec)
    assert flagged == ["c000", "c005", "c010", "c015"]
