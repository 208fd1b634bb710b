"""A shadow replay's short encodings hold to the plain ones: the cases, the logged answers' rows
and the verdicts it stores are, column for column, what json.dumps and the batch's separate
transactions stored before, with the engine planning each batch from the cases it decodes (the
short paths are in tuieval/traffic/shadow.py, tuieval/store/shadow.py and
`Engine.remember_appended`)."""

from __future__ import annotations

import asyncio
import json

from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.store import Store
from tuieval.store.shadow import get_shadow
from tuieval.suite.model import input_text_of

# prompts and answers json.dumps escapes (quotes, backslashes, control characters, line
# separators) or writes as they are (accents, CJK, emoji); each prompt holds the <<X>> the
# loopback server answers
_TEXTS = ['say "hi" \\ back', "tab\there\nnew line", "\u2028 line sep \x00 nul \x1f", "José García",
          "東京タワー", "emoji 😀", "   spaced   ", "plain"]


def _log(tmp_path):
    lines = []
    for i, text in enumerate(_TEXTS):
        prompt = f"{text} <<N{i}>>"
        record = {"prompt": prompt, "latency_ms": 50.0 + i}
        if i % 4 != 3:
            # the logged answer: the server's (agree), another (disagree), or one that normalises to nothing
            record["response"] = (f"Answer: N{i}", f"{text}!", "The")[i % 4]
        if i % 2:
            record["metadata"] = {"team": "ü" if i % 3 else "b", "n": i}
        if i == 5:   # a logged conversation, not a flat prompt
            record = {"messages": [{"role": "system", "content": f'Be "brief"\n{text}'},
                                   {"role": "user", "content": prompt}], "response": f"Answer: N{i}",
                      "metadata": {"team": "ü"}}
        lines.append(json.dumps(record, ensure_ascii=i % 2 == 0))
    p = tmp_path / "traffic.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _plain_prompt(ch):
    """The encoding of a prompt as it was written before the short path: json.dumps of each column."""
    from tuieval.traffic.shadow import _Prompt

    rec = ch.record
    messages = rec.messages if rec.messages is not None else [{"role": "user", "content": rec.prompt}]
    return _Prompt(ch.case_id, json.dumps(messages, ensure_ascii=False),
                   json.dumps({"messages": messages}, ensure_ascii=False),
                   json.dumps(dict(rec.metadata), ensure_ascii=False), input_text_of({"messages": messages}),
                   messages, dict(rec.metadata))


def _plain_case_row(p, target):
    return (p.case_id, p.vars_json, json.dumps([target] if target else [], ensure_ascii=False), p.metadata_json,
            p.input_text)


def _plain_scores(extracted):
    # a mapping: the store's sample_values encodes it with json.dumps
    correct = extracted is not None
    return {"normalized": {"extracted": extracted, "correct": correct, "score": float(correct)}}


def _plain_set_verdicts(store, run_id, verdicts, replaces):
    """set_verdicts as it was: every verdict encoded by json.dumps, one transaction."""
    rows = [(json.dumps(replaces), json.dumps(name), json.dumps(v, ensure_ascii=False), int(bool(v["correct"])),
             float(v["score"]), run_id, *key) for key, name, v in verdicts]
    with store.transaction():
        store.conn.executemany(
            "UPDATE samples SET scores = json_set(json_remove(COALESCE(scores, '{}'), '$.' || ?), '$.' || ?, json(?)), "
            "correct = ?, score = ? WHERE run_id = ? AND case_id = ? AND template = ? AND sample_index = ? "
            "AND error IS NULL", rows)


def _replay(tmp_path, name, log, server):
    from tuieval.traffic.shadow import ShadowSettings, make_plan, run_shadow

    timeouts = Timeouts(connect=2, read=5, total=10)
    settings = ShadowSettings(log_path=str(log), candidate="openai-compatible/cand", budget=100, concurrency=2,
                              max_retries=0, timeouts=timeouts, batch=3, candidate_base_url=server.openai_base_url)
    backend = create_backend("openai-compatible/cand", base_url=server.openai_base_url, timeouts=timeouts)

    async def go():
        try:
            return await run_shadow(store, settings, make_plan(settings), backend, None)
        finally:
            await backend.aclose()

    store = Store(tmp_path / f"{name}.db")
    out = asyncio.run(go())
    link = get_shadow(store, out.run_id)
    rows = {}
    for role, rid in (("candidate", out.run_id), ("baseline", link["baseline_run_id"])):
        run = store.get_run(rid)
        rows[role] = {
            "run": (run["status"], run["n_cases"], run["n_expected"]),
            "cases": store.conn.execute("SELECT case_id, position, vars, targets, metadata, input_text FROM cases "
                                        "WHERE run_id = ? ORDER BY position", (rid,)).fetchall(),
            # what the replay wrote: the timings measured and the run id differ between two replays
            "samples": store.conn.execute(
                "SELECT case_id, template, sample_index, dispatch_order, prompt, response, extracted, correct, "
                "score, scores, error, error_kind, attempts FROM samples WHERE run_id = ? ORDER BY case_id",
                (rid,)).fetchall(),
            "fts": store.conn.execute("SELECT COUNT(*) FROM samples_fts WHERE samples_fts MATCH 'N1' AND rowid IN "
                                      "(SELECT id FROM samples WHERE run_id = ?)", (rid,)).fetchone()[0],
        }
    store.close()
    return rows


def test_the_short_encodings_store_what_the_plain_ones_stored(tmp_path, model_server, monkeypatch):
    import tuieval.traffic.shadow as shadow

    log = _log(tmp_path)
    fast = _replay(tmp_path, "fast", log, model_server)
    with monkeypatch.context() as m:
        m.setattr(shadow, "_prompt", _plain_prompt)
        m.setattr(shadow, "_case_row", _plain_case_row)
        m.setattr(shadow, "_logged_scores", _plain_scores)
        m.setattr(shadow, "set_verdicts", _plain_set_verdicts)
        # and the engine plans each batch from the cases it reads back, not from memory
        m.setattr(shadow.Engine, "remember_appended", lambda self, run_id, cases: None)
        plain = _replay(tmp_path, "plain", log, model_server)
    assert [tuple(r) for r in fast["baseline"]["cases"]] == [tuple(r) for r in plain["baseline"]["cases"]]
    for role in ("baseline", "candidate"):
        for what in ("run", "cases", "samples", "fts"):
            got = fast[role][what]
            want = plain[role][what]
            if isinstance(got, list):
                got, want = [tuple(r) for r in got], [tuple(r) for r in want]
            if role == "candidate" and what == "samples":
                # the engine shuffles a batch's dispatch positions seeded by the run id, which
                # differs between two replays: the same positions, not the same order
                assert sorted(r[3] for r in got) == sorted(r[3] for r in want)
                got, want = [r[:3] + r[4:] for r in got], [r[:3] + r[4:] for r in want]
            assert got == want, (role, what)
    # and by hand, so the comparison is not of two empty sets: 8 prompts in each run, the baseline
    # holds every logged one (two without a response: error rows), the candidate answered all 8
    assert fast["baseline"]["run"] == ("complete", 8, 8) and len(fast["candidate"]["samples"]) == 8
    assert sum(r[10] is not None for r in fast["baseline"]["samples"]) == 2
    scores = {r[0]: json.loads(r[9]) for r in fast["candidate"]["samples"]}
    assert all(list(s) == ["agreement"] for s in scores.values())
    # N0 logged the server's answer (agrees); N1 logged "<text>!" (disagrees)
    by_prompt = {json.loads(r[4])[-1]["content"]: r for r in fast["candidate"]["samples"]}
    assert by_prompt[f"{_TEXTS[0]} <<N0>>"][7] == 1 and by_prompt[f"{_TEXTS[1]} <<N1>>"][7] == 0


def test_a_prompt_encoded_the_short_way_is_the_plain_encoding():
    from tuieval.traffic.log import TrafficRecord
    from tuieval.traffic.sample import Chosen
    from tuieval.traffic.shadow import _case_row, _logged_scores, _prompt

    for i, text in enumerate(_TEXTS + ["", "\\", '"', "\ud7ff\ue000"]):
        meta = ({}, {"team": "ü", "n": [1, None]}, {"k": 'q"'})[i % 3]
        ch = Chosen(TrafficRecord(line=1, prompt=text, metadata=meta), "k", 0.5, ())
        assert _prompt(ch) == _plain_prompt(ch), text
        for target in (None, "", text, "Sí"):
            assert _case_row(_prompt(ch), target) == _plain_case_row(_plain_prompt(ch), target)
        for extracted in (None, text):
            assert _logged_scores(extracted) == json.dumps(_plain_scores(extracted), ensure_ascii=False)
