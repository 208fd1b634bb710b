"""`tuieval contamination` as a user runs it: a real process, the loopback model server whose
one reply rule is a model that memorised part of the suite, a real SQLite file. Every figure
checked is worked out by hand from that rule."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tuieval.contamination.text import tokens

TUIEVAL = [sys.executable, "-m", "tuieval"]
THINGS = ["lamp", "river", "bridge", "violin", "glacier", "market", "compass", "harbour", "orchard", "lantern",
          "meadow", "beacon"]
N_MEMORISED = 8


def _question(i: int) -> tuple[str, str, str]:
    """(text, target letter, answer word) of case i: the answer sits at a different letter each time."""
    words = [f"w{i}a", f"w{i}b", f"w{i}c", f"w{i}d"]
    letter = "ABCD"[i % 4]
    text = (f"Question number {i}: which of these words names the {THINGS[i]} that the riddle describes best?\n"
            + "\n".join(f"{L}) {w}" for L, w in zip("ABCD", words)))
    return text, letter, words[i % 4]


CASES = {f"{'m' if i < N_MEMORISED else 'f'}{i}": _question(i) for i in range(12)}
MEMORISED = {cid for cid in CASES if cid.startswith("m")}


def memorising_model(body: dict) -> str:
    """Knows the memorised cases' exact text (and so their letter and their continuation); for
    any other text it works the answer out, except that a memorised question in other words or
    another order makes it give the option it did not memorise as right: a wrong one."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    if "Continue it exactly" in system:
        for cid in sorted(MEMORISED):
            text = CASES[cid][0]
            if text.startswith(user):
                return text[len(user):].strip()
        return "zzz"
    i = int(re.search(r"number (\d+)", user, re.IGNORECASE).group(1))
    cid = f"{'m' if i < N_MEMORISED else 'f'}{i}"
    text, letter, answer = CASES[cid]
    options = [(L.upper(), w) for L, w in re.findall(r"^([A-D])\) (.+)$", user, re.MULTILINE | re.IGNORECASE)]
    if cid in MEMORISED:
        if user == text:
            return letter
        return next(L for L, w in options if w.lower() != answer)
    return next(L for L, w in options if w.lower() == answer)


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}


def _run(args):
    return subprocess.run(TUIEVAL + args, capture_output=True, text=True, env=_env(), timeout=120)


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half)


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    suite = {
        "name": "riddles",
        "template": "{{ question }}",
        "cases": [{"id": cid, "question": text, "target": letter,
                   "metadata": {"source": "public" if cid in MEMORISED else "fresh"}}
                  for cid, (text, letter, _) in CASES.items()],
        "scorers": ["choice"],
        "sampling": {"samples": 1, "temperature": 0.0, "seed": 2},
    }
    path = tmp_path / "riddles.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Some page of the web.\n" + CASES["m1"][0].replace("\n", " ") + "\nMore text.\n", encoding="utf-8")
    return path, corpus


def test_probe_run_flags_the_memorised_cases_by_every_probe(tmp_path, model_server):
    suite, corpus = _setup(tmp_path)
    db = tmp_path / "runs.db"
    model_server.reply_rule = memorising_model
    done = _run(["contamination", str(suite), "--model", "openai-compatible/mem", "--base-url",
                 model_server.openai_base_url, "--corpus", str(corpus), "--rewrite", "casing:1", "--db", str(db)])
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    assert "rewrite 12, options 12, verbatim 12, control 12" in done.stderr
    # 12 originals + 4 probe copies each, one request apiece, through the engine
    assert model_server.requests_total == 60
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, n_expected FROM runs WHERE id = ?", (run_id,)).fetchone() == ("complete", 60)
        assert conn.execute("SELECT COUNT(*) FROM samples WHERE run_id = ?", (run_id,)).fetchone()[0] == 60

    report = json.loads(_run(["report", run_id, "--format", "json", "--db", str(db)]).stdout)
    c = report["contamination"]
    assert c["probes"] == ["verbatim", "rewrite", "options", "ngram"]

    # verbatim: the memorised cases reproduce their whole continuation; the controls and the
    # fresh cases get "zzz", which shares nothing: thresholds 0 and 0
    v = c["verbatim"]
    assert (v["n_cases"], v["n_controls"], v["threshold"]) == (12, 12, {"lcs_tokens": 0.0, "overlap": 0.0})
    assert v["n_flagged"] == 8
    flagged = {case["case_id"]: case for case in c["cases"]}
    assert set(flagged) == MEMORISED
    m3 = flagged["m3"]["verbatim"]
    text = CASES["m3"][0]
    words = text.split()          # 23 words: the probe shows round(23 / 2) = 12 of them
    rest = text[text.index(words[12], len(" ".join(words[:12]))):]
    assert m3["continuation"] == rest and m3["response"] == rest
    assert m3["lcs_tokens"] == len(tokens(rest)) and m3["overlap"] == 1.0
    assert m3["span"] == [0, len(rest)] and m3["span_text"] == rest

    # rewrite and options: 8 memorised cases right → wrong, none back: exact McNemar
    # p = 2 · 0.5^8; BH over the slices all / source=fresh / source=public (p 1 for fresh)
    for probe in ("rewrite", "options"):
        p = c[probe]
        rows = {r["slice"]: r for r in p["rows"]}
        assert set(rows) == {"all", "source=fresh", "source=public"}
        assert (rows["all"]["flips_correct_to_wrong"], rows["all"]["flips_wrong_to_correct"]) == (8, 0)
        assert rows["all"]["p_value"] == 2 * 0.5 ** 8
        assert rows["all"]["q_value"] == rows["source=public"]["q_value"] == 2 * 0.5 ** 8 * 3 / 2
        assert rows["source=fresh"]["p_value"] == 1.0
        assert rows["all"]["accuracy_original"] == 1.0 and rows["all"]["accuracy_perturbed"] == 4 / 12
        assert p["significant_drop"] is True

    # ngram: only m1's text is in the corpus (every 13-gram of a case holds its number or its thing)
    g = c["ngram"]
    assert g["n_flagged"] == 1 and flagged["m1"]["probes"] == ["ngram", "options", "rewrite", "verbatim"]

    likely = c["likely"]
    assert (likely["n_flagged"], likely["n_cases"]) == (8, 12)
    by = {r["slice"]: r for r in likely["by_slice"]}
    assert (by["source=public"]["k"], by["source=public"]["n"]) == (8, 8)
    assert by["source=public"]["rate_ci"] == pytest.approx(list(_wilson(8, 8)), abs=1e-12)
    assert (by["source=fresh"]["k"], by["source=fresh"]["n"]) == (0, 4)
    assert by["source=fresh"]["rate_ci"] == pytest.approx(list(_wilson(0, 4)), abs=1e-12)

    # the scoreboard's slice: the 8 likely originals and their 4 probe cases each (here the same
    # cases as source=public, so the scoreboard shows one row with both names)
    def row(name: str) -> dict:
        return next(s for s in report["slices"] if f"{s['key']}={s['value']}" == name or name in s.get("aliases", []))

    assert row("contamination=likely")["n_cases"] == 40
    assert row("contamination=unflagged")["n_cases"] == 20
    assert not any(s["key"] == "probe_of" for s in report["slices"])

    md = _run(["report", run_id, "--db", str(db)]).stdout
    assert "## Contamination probes" in md and "Likely contaminated: 8 of 12 cases" in md
    export = _run(["export", run_id, "--db", str(db)]).stdout.splitlines()
    assert len(export) == 60


def test_bad_input_is_one_line_and_stores_nothing(tmp_path, model_server):
    suite, corpus = _setup(tmp_path)
    db = tmp_path / "runs.db"
    url = model_server.openai_base_url
    cases = [
        (["--probes", "verbatim,psychic"], "--probes: unknown probe 'psychic'"),
        (["--probes", "ngram"], "--probes: ngram needs --corpus FILE"),
        (["--corpus", str(tmp_path / "nope.txt")], "--corpus: "),
        (["--rewrite", "typoz"], "--rewrite: unknown perturbation 'typoz'"),
        (["--template", "other"], "--template: no template 'other'"),
    ]
    for extra, message in cases:
        done = _run(["contamination", str(suite), "--model", "openai-compatible/mem", "--base-url", url,
                     "--db", str(db), *extra])
        assert done.returncode == 2, (extra, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert not db.exists() or sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    assert model_server.requests_total == 0


def test_a_stopped_probe_run_is_finished_by_run_resume(tmp_path, model_server):
    suite, _ = _setup(tmp_path)
    db = tmp_path / "runs.db"
    model_server.reply_rule = memorising_model
    model_server.require_api_key = "k"
    args = ["--base-url", model_server.openai_base_url, "--db", str(db)]
    stopped = _run(["contamination", str(suite), "--model", "openai-compatible/mem", "--probes", "verbatim", *args])
    assert stopped.returncode == 2 and "HTTP 401" in stopped.stderr   # a bad key stops the run, nothing stored
    run_id = stopped.stdout.strip().splitlines()[-1]
    assert f"tuieval run {suite} --resume {run_id}" in stopped.stderr
    env = {**_env(), "PROBE_KEY": "k"}
    done = subprocess.run(TUIEVAL + ["run", str(suite), "--resume", run_id, "--api-key-env", "PROBE_KEY", *args],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(_run(["report", run_id, "--format", "json", "--db", str(db)]).stdout)
    # 12 originals, 12 verbatim, 12 controls; the stored settings still say what the run measures
    assert report["overall"]["n_samples"] == 36
    assert report["contamination"]["probes"] == ["verbatim"]
    assert report["contamination"]["verbatim"]["n_flagged"] == N_MEMORISED
