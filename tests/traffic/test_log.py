"""The traffic-log reader: each logged shape, field mappings, and malformed lines by number."""

from __future__ import annotations

import gzip
import json
import tracemalloc

import pytest

from tuieval.traffic.log import LogProblem, TrafficLogError, TrafficRecord, iter_log, parse_field_mapping


def _write(tmp_path, lines, name="log.jsonl"):
    p = tmp_path / name
    p.write_text("".join((l if isinstance(l, str) else json.dumps(l, ensure_ascii=False)) + "\n" for l in lines),
                 encoding="utf-8")
    return p


def test_flat_shape(tmp_path):
    p = _write(tmp_path, [{"prompt": "Who signed?", "response": "Ana", "model": "gpt-x", "latency_ms": 412.5,
                           "timestamp": "2026-11-30T10:00:00Z", "metadata": {"region": "eu"}}])
    [r] = list(iter_log(p))
    assert r == TrafficRecord(line=1, prompt="Who signed?", messages=None, response="Ana", model="gpt-x",
                              latency_ms=412.5, timestamp="2026-11-30T10:00:00+00:00", metadata={"region": "eu"})


def test_messages_with_response_string_message_and_completion(tmp_path):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"}, {"role": "user", "content": [{"type": "text", "text": "Who led?"},
                                                                                  {"type": "image_url", "image_url": {}}]}]
    p = _write(tmp_path, [
        {"messages": msgs, "response": "Jo"},
        {"messages": msgs, "response": {"role": "assistant", "content": "Kim"}},
        {"messages": msgs, "response": {"choices": [{"message": {"role": "assistant", "content": "Lee"}}]}},
    ])
    recs = list(iter_log(p))
    assert [r.prompt for r in recs] == ["Who led?"] * 3      # the last user message's text parts
    assert [r.response for r in recs] == ["Jo", "Kim", "Lee"]
    assert recs[0].messages == msgs                           # the whole conversation is kept for replay


def test_chat_completions_request_response_pair(tmp_path):
    p = _write(tmp_path, [{
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Who won?"}],
                    "metadata": {"team": "support", "region": "us"}},
        "response": {"id": "c1", "model": "gpt-4o-mini-2024-07-18", "created": 1764496800,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Zoë Müller"}}]},
        "latency_ms": 980, "metadata": {"region": "eu"},
    }])
    [r] = list(iter_log(p))
    assert r.prompt == "Who won?"
    assert r.response == "Zoë Müller"
    assert r.model == "gpt-4o-mini-2024-07-18"               # what answered, from the response
    assert r.latency_ms == 980.0
    # 1764496800 s after the epoch = 2025-11-30 10:00:00 UTC (hand computed: 20422 days + 36000 s)
    assert r.timestamp == "2025-11-30T10:00:00+00:00"
    assert r.metadata == {"team": "support", "region": "eu"}  # the line's own metadata wins


def test_epoch_milliseconds_and_offsets_are_normalised_to_utc(tmp_path):
    p = _write(tmp_path, [{"prompt": "a", "timestamp": 1764496800000},
                          {"prompt": "b", "timestamp": "2025-11-30T12:00:00+02:00"},
                          {"prompt": "c", "timestamp": "2025-11-30 10:00:00"}])
    assert [r.timestamp for r in iter_log(p)] == ["2025-11-30T10:00:00+00:00"] * 3


def test_field_mapping_for_another_shape(tmp_path):
    line = {"input": {"turns": [{"text": "hello"}, {"text": "Who repaired the bridge?"}]},
            "output": {"text": "Iñaki"}, "meta": {"ms": 120, "at": "2026-01-01T00:00:00Z", "tenant": "acme"}}
    p = _write(tmp_path, [line])
    mapping = ["prompt=input.turns.-1.text", "response=output.text", "latency_ms=meta.ms",
               "timestamp=meta.at", "metadata.tenant=meta.tenant"]
    [r] = list(iter_log(p, mapping))
    assert (r.prompt, r.response, r.latency_ms, r.metadata) == ("Who repaired the bridge?", "Iñaki", 120.0,
                                                                {"tenant": "acme"})
    assert r.timestamp == "2026-01-01T00:00:00+00:00"
    # the same as a dict
    [r2] = list(iter_log(p, {"prompt": "input.turns.1.text", "response": "output.text"}))
    assert r2.prompt == "Who repaired the bridge?" and r2.response == "Iñaki"


@pytest.mark.parametrize("spec,needle", [(["promt=a"], "unknown field 'promt'"), (["prompt"], "not FIELD=PATH"),
                                         (["prompt=a..b"], "empty segment")])
def test_bad_mapping_names_the_flag(spec, needle):
    with pytest.raises(TrafficLogError) as exc:
        parse_field_mapping(spec)
    assert "--field" in str(exc.value) and needle in str(exc.value)


def test_malformed_lines_are_reported_with_their_numbers_and_reading_goes_on(tmp_path):
    p = tmp_path / "log.jsonl"
    lines = [
        json.dumps({"prompt": "ok one"}).encode(),                     # 1
        b"{not json",                                                  # 2
        b"",                                                           # 3 blank: skipped, still counted
        b"[1, 2]",                                                     # 4
        json.dumps({"response": "no prompt"}).encode(),                # 5
        json.dumps({"prompt": "x", "latency_ms": "fast"}).encode(),    # 6
        json.dumps({"prompt": "x", "timestamp": "yesterday"}).encode(),  # 7
        b'{"prompt": "\xff\xfe"}',                                     # 8 not UTF-8
        json.dumps({"messages": [{"role": "assistant", "content": "hi"}]}).encode(),  # 9 no user turn
        json.dumps({"prompt": "x", "metadata": [1]}).encode(),         # 10
        json.dumps({"prompt": "   "}).encode(),                        # 11
        json.dumps({"prompt": "ok two", "response": None}).encode(),   # 12
    ]
    p.write_bytes(b"\n".join(lines) + b"\n")
    items = list(iter_log(p))
    assert [i.line for i in items if isinstance(i, TrafficRecord)] == [1, 12]
    problems = {i.line: i.message for i in items if isinstance(i, LogProblem)}
    assert sorted(problems) == [2, 4, 5, 6, 7, 8, 9, 10, 11]
    assert problems[2].startswith("not JSON")
    assert "latency_ms" in problems[6] and "timestamp" in problems[7] and "UTF-8" in problems[8]
    assert "user message" in problems[9] and "metadata" in problems[10]
    assert str(items[1]) == f"line 2: {problems[2]}"


def test_missing_mapped_path_is_a_problem_for_that_line(tmp_path):
    p = _write(tmp_path, [{"q": "a"}, {"other": 1}])
    items = list(iter_log(p, ["prompt=q"]))
    assert isinstance(items[0], TrafficRecord) and items[0].prompt == "a"
    assert isinstance(items[1], LogProblem) and items[1].line == 2 and "q (mapped to prompt)" in items[1].message


def test_missing_file_is_one_error_naming_the_path(tmp_path):
    with pytest.raises(TrafficLogError) as exc:
        iter_log(tmp_path / "nope.jsonl")     # raised at the call, before iteration
    assert "nope.jsonl" in str(exc.value)


def test_gzip_log(tmp_path):
    p = tmp_path / "log.jsonl.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"prompt": "zipped"}) + "\n")
    assert [r.prompt for r in iter_log(p)] == ["zipped"]


def test_streamed_in_bounded_memory(tmp_path):
    # 10,000 lines (~0.7 MB); the reader holds one line at a time, so the peak traced memory while
    # consuming it stays far below the file's size (a list of the records would be ~5 MB).
    p = tmp_path / "big.jsonl"
    line = json.dumps({"prompt": "Who signed the lease? " + "x" * 20, "response": "Ana", "latency_ms": 1}) + "\n"
    bad = "{oops\n"
    with p.open("w") as fh:
        for i in range(10_000):
            fh.write(bad if i % 1000 == 999 else line)
    tracemalloc.start()
    n_rec = n_bad = 0
    for item in iter_log(p):
        if isinstance(item, TrafficRecord):
            n_rec += 1
        else:
            n_bad += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (n_rec, n_bad) == (9_990, 10)
    assert peak < 300_000


def test_the_shipped_traffic_log_reads_cleanly_and_is_drifted_from_the_suite():
    from pathlib import Path

    from tuieval.analysis.slices import derive_features

    root = Path(__file__).resolve().parents[2] / "sample_suites"
    items = list(iter_log(root / "data" / "traffic.jsonl"))
    assert len(items) >= 200 and all(isinstance(i, TrafficRecord) for i in items)
    assert all(i.response and i.latency_ms and i.timestamp and i.model for i in items)
    suite = [json.loads(l) for l in (root / "data" / "extraction.jsonl").read_text(encoding="utf-8").splitlines()]
    traffic_names = derive_features([i.prompt for i in items])["non_ascii_name"]
    suite_names = derive_features([c["text"] for c in suite])["non_ascii_name"]
    # the suite has 32 of 200 non-English names (16%); the log is built with 35–65%
    assert sum(traffic_names) / len(items) > 0.35 > sum(suite_names) / len(suite)


def test_the_flat_fast_path_reads_as_the_general_rules_do(tmp_path):
    # the same flat line read with and without a (trivial) mapping takes both code paths
    lines = [{"prompt": "Who?", "response": "Ana", "model": "m", "latency_ms": 5, "timestamp": 1764496800,
              "metadata": {"a": 1}},
             {"prompt": "Who?", "completion": {"choices": [{"text": "Bo"}]}, "duration_ms": 7.5},
             {"prompt": "Who?", "model": 3}, {"prompt": "Who?", "latency_ms": -1}, {"prompt": "Who?", "metadata": 2},
             {"prompt": "Who?", "timestamp": "soon"}]
    p = _write(tmp_path, lines)
    fast = list(iter_log(p))
    general = list(iter_log(p, ["prompt=prompt"]))   # any mapping sends every line the general way

    def same(a, b):
        if isinstance(a, LogProblem):
            return isinstance(b, LogProblem) and a.line == b.line
        return (a.prompt, a.response, a.latency_ms, a.timestamp, a.metadata) == \
            (b.prompt, b.response, b.latency_ms, b.timestamp, b.metadata)

    assert [same(a, b) for a, b in zip(fast[:2] + fast[3:], general[:2] + general[3:])] == [True] * 5
    assert fast[1].response == "Bo" and fast[1].latency_ms == 7.5
    assert [type(x).__name__ for x in fast] == ["TrafficRecord", "TrafficRecord"] + ["LogProblem"] * 4
