"""A sample's stored row, built as one literal, is the row the plain rule builds: the same keys in
the same order, the same values, for answered, judged and failed requests."""

from __future__ import annotations

from tuieval.backends.base import BackendError, ChatResult
from tuieval.engine import judging
from tuieval.engine.events import SampleKey
from tuieval.engine.runner import WorkItem, sample_row
from tuieval.scoring import build_scorers
from tuieval.suite.model import Case, Template
from tuieval.store.db import SAMPLE_COLUMNS, sample_values


def _plain_row(run_id, item, messages, scorers, result, error, attempts, latency_ms):
    """The rule written out step by step (the row first, then what the answer or the error adds)."""
    import json

    row = {"run_id": run_id, "case_id": item.case.id, "template": item.template.id,
           "sample_index": item.key.sample_index, "dispatch_order": item.dispatch_order,
           "prompt": json.dumps(messages, ensure_ascii=False), "attempts": attempts}
    if error is None:
        scores = [s.score(result.text, item.case.targets) for s in scorers]
        by_scorer = {s.name: {"extracted": sc.extracted, "correct": sc.correct, "score": sc.score}
                     for s, sc in zip(scorers, scores)}
        for s in judging.judge_scorers(scorers):
            by_scorer[s.name]["pending"] = True
        row.update(response=result.text, reasoning=result.reasoning or None, extracted=scores[0].extracted,
                   correct=scores[0].correct, score=scores[0].score, scores=by_scorer,
                   latency_ms=(result.latency_ms or latency_ms) if latency_ms is not None else None,
                   ttft_ms=result.ttft_ms if latency_ms is not None else None,
                   output_tokens=result.output_tokens, input_tokens=result.input_tokens,
                   cached_tokens=result.cached_tokens, cache_write_tokens=result.cache_write_tokens,
                   cache_write_1h_tokens=result.cache_write_1h_tokens, finish_reason=result.finish_reason,
                   cached=result.cached)
    else:
        row.update(response=error.partial_text or None, correct=False, score=0.0, error=error.reason,
                   error_kind=error.kind, ttft_ms=error.ttft_ms, output_tokens=error.output_tokens,
                   input_tokens=error.input_tokens, cached_tokens=error.cached_tokens,
                   cache_write_tokens=error.cache_write_tokens, cache_write_1h_tokens=error.cache_write_1h_tokens,
                   latency_ms=(error.latency_ms or latency_ms) if error.kind == "timeout" else None)
    return row


_CASE = Case(id="c7", vars={"q": "Capitale ?"}, targets=["Paris", "paris"], metadata={"lang": "fr"})
_ITEM = WorkItem(SampleKey("c7", "t1", 2), _CASE, Template(id="t1", prompt="{{ q }}"), 11)
_MESSAGES = [{"role": "system", "content": "Réponds."}, {"role": "user", "content": "Capitale ?"}]


def _same(*args):
    got, want = sample_row(*args), _plain_row(*args)
    assert list(got) == list(want)  # the key order too (the app and exports read rows as dicts)
    assert got == want
    assert sample_values(got) == sample_values(want)
    return got


def test_answered_rows():
    scorers = build_scorers([{"type": "regex", "pattern": r"Answer: (\w+)", "then": "exact"},
                             {"type": "contains", "name": "has_paris"}, {"type": "numeric"}])
    result = ChatResult(text="Answer: Paris", reasoning="", finish_reason="stop", output_tokens=2, input_tokens=9,
                        ttft_ms=12.5, latency_ms=40.0, cached_tokens=3)
    row = _same("r1", _ITEM, _MESSAGES, scorers, result, None, 1, 41.0)
    assert row["correct"] is True and row["extracted"] == "Paris"
    assert row["scores"]["numeric"] == {"extracted": None, "correct": False, "score": 0.0}
    assert row["latency_ms"] == 40.0
    # a batch sample (no latency), a result without its own latency, a cached answer
    _same("r1", _ITEM, _MESSAGES, scorers, result, None, 3, None)
    _same("r1", _ITEM, _MESSAGES, scorers, ChatResult(text="Answer: Lyon", latency_ms=0.0), None, 1, 55.0)
    cached = ChatResult(text=" Answer: Paris ", reasoning="because", cached=True)
    assert _same("r1", _ITEM, _MESSAGES, scorers, cached, None, 1, 5.0)["cached"] is True


def test_judged_rows_are_pending():
    scorers = build_scorers([{"type": "exact"}, {"type": "judge", "model": "demo/judge"}])
    row = _same("r1", _ITEM, _MESSAGES, scorers, ChatResult(text="Paris"), None, 1, 10.0)
    assert row["scores"]["judge"]["pending"] is True
    assert "pending" not in row["scores"]["exact"]


def test_failed_rows():
    scorers = build_scorers([{"type": "exact"}])
    timeout = BackendError("total timeout (5s)", kind="timeout", partial_text="Par", ttft_ms=80.0)
    timeout.latency_ms = 5000.0
    row = _same("r1", _ITEM, _MESSAGES, scorers, None, timeout, 2, 5001.0)
    assert (row["correct"], row["latency_ms"], row["response"]) == (False, 5000.0, "Par")
    refused = BackendError("connection refused", kind="transport")
    assert _same("r1", _ITEM, _MESSAGES, scorers, None, refused, 7, 3.0)["latency_ms"] is None
    assert set(_same("r1", _ITEM, _MESSAGES, scorers, None, refused, 7, 3.0)) <= set(SAMPLE_COLUMNS)
