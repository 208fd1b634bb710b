"""What the store writes per sample, held to the plain rules it stands for: the time text made
once per second, the JSON columns encoded once with the C encoder."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from tuieval.store import db
from tuieval.store.db import SAMPLE_COLUMNS, now_iso, sample_values


def _plain_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def test_now_iso_is_the_plain_text_of_this_second():
    for _ in range(2000):  # runs across at least one second boundary now and then
        before = _plain_now()
        got = now_iso()
        after = _plain_now()
        assert got in (before, after)


def test_now_iso_moves_with_the_clock(monkeypatch):
    clock = iter([1_000_000_000.2, 1_000_000_000.9, 1_000_000_001.0, 1_700_000_000.5])
    monkeypatch.setattr(db.time, "time", lambda: next(clock))
    # 1e9 s after the epoch is 2001-09-09T01:46:40 UTC (hand-checked: 11,574 days and 6,400 s)
    assert now_iso() == "2001-09-09T01:46:40+00:00"
    assert now_iso() == "2001-09-09T01:46:40+00:00"
    assert now_iso() == "2001-09-09T01:46:41+00:00"
    assert now_iso() == "2023-11-14T22:13:20+00:00"


def test_sample_values_encode_as_json_dumps():
    sample = {"run_id": "r", "case_id": "c", "template": "t", "sample_index": 0, "dispatch_order": 3,
              "prompt": [{"role": "user", "content": "Dis « bonjour »\n"}], "response": "bonjour",
              "correct": True, "score": 1.0, "cached": None,
              "scores": {"regex": {"extracted": "bonjour", "correct": True, "score": 1.0}}}
    values = dict(zip(SAMPLE_COLUMNS, sample_values(sample)))
    assert values["prompt"] == json.dumps(sample["prompt"], ensure_ascii=False)
    assert values["scores"] == json.dumps(sample["scores"], ensure_ascii=False)
    assert (values["correct"], values["cached"], values["attempts"]) == (1, 0, 1)
    assert values["created_at"] in (_plain_now(), now_iso())
    # text already encoded is stored as it is
    assert sample_values({**sample, "prompt": "[]"})[SAMPLE_COLUMNS.index("prompt")] == "[]"
