"""`tuieval export` on a judged run: each sample carries its judgements (tests/support/judged.py's rule);
a run without a judge scorer exports no `judgements` key."""

from __future__ import annotations

import json

from tests.support.judged import judged_run
from tests.continuous.runs import store_run
from tuieval.cli import main
from tuieval.store import Store


def test_each_sample_exports_its_judgements_in_judge_order(tmp_path, model_server, capsys):
    db, run_id = judged_run(tmp_path, model_server)
    main(["export", run_id, "--db", db])
    rows = {r["case_id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert len(rows) == 20
    c0 = rows["c000"]["judgements"]
    assert [(j["judge"], j["grade"], j["score"], j["parsed"]) for j in c0] == [
        ("openai-compatible/judge-a", "PASS", 1.0, True), ("openai-compatible/judge-b", "FAIL", 0.0, True)]
    assert c0[1]["reasoning"] == "judge-b read the answer to case 0."
    assert c0[1]["reply"] == "judge-b read the answer to case 0.\nGRADE: FAIL"
    assert c0[0]["judge_sample"] == 0 and c0[0]["orientation"] == "" and c0[0]["error"] is None
    assert rows["c000"]["correct"] is False  # a 1–1 split is no majority
    assert [j["grade"] for j in rows["c001"]["judgements"]] == ["PASS", "PASS"] and rows["c001"]["correct"] is True
    assert "prompt" not in c0[0]  # the judge's prompt is left out of the export


def test_a_run_without_a_judge_exports_no_judgements_key(tmp_path, capsys):
    db = tmp_path / "plain.db"
    with Store(db) as store:
        store_run(store, "20260101-000000-aaaa", 1, set(), 100)
    main(["export", "latest", "--db", str(db)])
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert "judgements" not in first and first["case_id"] == "c00"
