"""The streamed pass of `tuieval drift` counts what a plain row-by-row count of the same log gives.

The plain count here is written out in the test, one record at a time, from `iter_log` (the
reader's full rules) and `slices.derive_features` (the feature rules): per bucket the rows,
the signatures, responses, refusals, canonical answers and their first texts, the first and last
mark; the malformed lines; the metadata keys.  The pass under test reads the file a block at a
time, decodes lines in place and counts in batches — so the logs are fuzzed with what could trip
that: JSON escapes, \\u escapes and surrogate pairs, a lone surrogate, nested metadata, shuffled
key order, white space around values, CRLF line ends, blank lines, lines of another shape,
invalid UTF-8, a last line with no newline, metadata values equal across types (1, 1.0, true),
and blocks of a few hundred bytes so that lines straddle them.
"""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from tuieval.analysis.shadow import is_refusal
from tuieval.analysis.slices import derive_features
from tuieval.analysis.variance.canonical import canonical_answer
from tuieval.traffic import drift as d
from tuieval.traffic.log import TrafficRecord, iter_log, utc_iso

DERIVED = ("input_tokens", "script", "has_digits", "non_ascii_name")
SPEC = d.FeatureSpec(["region", "n", "tags"], {"score": [1.0, 2.5]})
SPEC.metadata_keys.append("score")


def _plain(path, spec, window, total):
    """The counts of the log, row by row, written out without the pass's machinery."""
    recs, problems = [], []
    for item in iter_log(path):
        (recs if isinstance(item, TrafficRecord) else problems).append(item)
    out = {"records": len(recs), "problems": [(p.line, p.message) for p in problems][:d.MAX_PROBLEMS],
           "n_problems": len(problems), "no_ts": 0}
    present, only = Counter(), {}
    for r in recs:
        for k, v in r.metadata.items():
            if k in spec.metadata_keys:
                present[k] += v is not None
            elif len(only) < 50:
                only.setdefault(k, None)
    out["present"] = +present
    out["only"] = list(only)
    rows = []
    for r in recs:
        secs = d.parse_timestamp(r.timestamp)
        if window.kind == "lines":
            back = total - r.line
            bid = 0 if back < window.size else (1 if back < 2 * window.size else 2)
        elif window.kind == "halves":
            bid = 0 if r.line > (total + 1) // 2 else 1
        else:
            if secs is None:
                out["no_ts"] += 1
                continue
            bid = int(secs // window.bucket_s)
        rows.append((bid, r, secs))
    feats = derive_features([r.prompt for _, r, _ in rows])
    seen: dict[str, set] = {}
    buckets: dict[int, dict] = {}
    for i, (bid, r, secs) in enumerate(rows):
        meta = []
        for k in spec.metadata_keys:
            v = r.metadata.get(k)
            v = spec.meta_level(k, v) if (k in spec.edges or not isinstance(v, (str, bool, type(None)))) else v
            s = seen.setdefault(k, set())
            if v not in s:
                s.add(v)   # fewer than MAX_LEVELS values here
            meta.append(v)
        sig = (*meta, *(feats[k][i] for k in DERIVED))
        b = buckets.setdefault(bid, {"n": 0, "sigs": Counter(), "responses": 0, "refusals": 0, "answers": Counter(),
                                     "examples": {}, "marks": []})
        b["n"] += 1
        b["sigs"][sig] += 1
        b["marks"].append((secs, r.timestamp) if window.kind == "time" else r.line)
        if r.response is not None:
            b["responses"] += 1
            b["refusals"] += is_refusal(r.response)
            form = d.LONG_ANSWER if len(r.response) > d.SHORT_ANSWER else canonical_answer(r.response)
            b["examples"].setdefault(form, r.response) if form != d.LONG_ANSWER else None
            b["answers"][form] += 1
    dropped = 0
    newest = max(buckets) if buckets and window.kind == "time" else None
    if newest is not None:
        for bid in [b for b in buckets if b <= newest - 2 * window.buckets]:
            dropped += buckets.pop(bid)["n"]
    out["dropped"], out["newest"] = dropped, newest
    for b in buckets.values():
        marks = b.pop("marks")
        if window.kind == "time":   # the earliest and latest time, the first row of each
            lo, hi = min(m[0] for m in marks), max(m[0] for m in marks)
            b["first"] = next(m for m in marks if m[0] == lo)
            b["last"] = next(m for m in marks if m[0] == hi)
        else:
            b["first"], b["last"] = min(marks), max(marks)
    out["buckets"] = buckets
    return out


def _as_plain(scan: d.Scan) -> dict:
    def mark(m):   # a time mark is the logged value; the report writes it as the record's ISO text
        return (m[0], utc_iso(m[1])) if isinstance(m, tuple) else m

    return {"records": scan.records, "problems": scan.problems, "n_problems": scan.n_problems,
            "no_ts": scan.no_timestamp, "present": +scan.metadata_present, "only": scan.traffic_only_keys,
            "dropped": scan.dropped_old, "newest": scan.newest_bucket,
            "buckets": {bid: {"n": b.n, "sigs": b.sigs, "responses": b.responses, "refusals": b.refusals,
                              "answers": b.answers, "examples": b.examples, "first": mark(b.first), "last": mark(b.last)}
                        for bid, b in scan.buckets.items()}}


_TEXTS = ["Who signed the lease?", "Zoë Müller signed it on 12 March.", "Кто подписал договор?", "请问这份报告是谁写的？",
          'He said "no" \\ twice\ttoday', "emoji 😀 from José", "lone \ud800 surrogate", "line\nbreak and\u2028sep",
          "  spaced  ", "É", "x" * 700 + " and Łukasz", "I'm sorry, but I can't help with that."]
_VALUES = ["eu", "us", 1, 1.0, True, False, None, 2, 3.5, "3", ""]
_NESTED = [[1, 2], {"a": {"b": [1]}}]   # unhashable: now and then, so most batches have none


def _line(rng: random.Random, i: int) -> bytes:
    rec = {"prompt": rng.choice(_TEXTS) + f" {i % 7}" * rng.randint(0, 1)}
    if rng.random() < 0.8:
        rec["response"] = rng.choice([None, "Anna", "anna.", "ANNA", "Zoë", _TEXTS[-1], "y" * 300])
    if rng.random() < 0.85:
        rec["timestamp"] = rng.choice([1_790_000_000 + 37 * i, 1_790_000_000_000 + 37_000 * i, 1_790_000_000.25 + 37 * i,
                                       "2026-09-21T10:00:00Z", "2026-09-21 11:30:00+02:00", "", None])
    if rng.random() < 0.9:
        values = _VALUES + _NESTED if i % 250 == 0 else _VALUES
        rec["metadata"] = {k: rng.choice(values) for k in rng.sample(["region", "n", "tags", "score", "extra", "x"], 3)}
    if rng.random() < 0.1:
        rec["model"] = "m"
    if rng.random() < 0.1:
        rec["latency_ms"] = rng.choice([12, 3.5])
    items = list(rec.items())
    rng.shuffle(items)
    rec = dict(items)
    kind = rng.random()
    if kind < 0.03:
        return b"{broken\n"
    if kind < 0.05:
        return b"\n"
    if kind < 0.07:
        return b'{"prompt": "\xff not\r utf-8"}\n'   # a lone CR: not a line break in a file
    if kind < 0.09:
        return (json.dumps({"messages": [{"role": "user", "content": rec["prompt"]}], "response": "ok"}) + "\n").encode()
    if kind < 0.11:   # a value that runs on to the next line: two malformed lines, not one record
        return b'{"prompt": "split",\n "response": "x"}\n'
    sep = rng.choice([(", ", ": "), (",", ":"), (" ,  ", " : ")])
    text = json.dumps(rec, ensure_ascii=rng.random() < 0.4, separators=sep)
    if rng.random() < 0.05:
        text = "  " + text
    if rng.random() < 0.05:
        text = text + "  "
    end = "\r\n" if rng.random() < 0.1 else "\n"
    return (text + end).encode("utf-8", "surrogatepass")


@pytest.fixture
def fuzzed_log(tmp_path):
    rng = random.Random(5)
    path = tmp_path / "log.jsonl"
    data = b"".join(_line(rng, i) for i in range(1500)) + b'{"prompt": "last, no newline", "timestamp": 1790055000}'
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("spec", ["1h", "200", None, "30m"])
def test_the_pass_counts_what_a_plain_count_gives(fuzzed_log, monkeypatch, spec):
    window = d.parse_window(spec)
    total = d.count_lines(str(fuzzed_log))
    want = _plain(fuzzed_log, SPEC, window, total)
    assert want["n_problems"] > 50 and len(want["buckets"]) >= 2
    if window.kind == "time":
        assert want["no_ts"] > 0 and want["dropped"] > 0
    monkeypatch.setattr(d, "BLOCK_BYTES", 300)   # lines straddle blocks
    monkeypatch.setattr(d, "_BATCH", 97)         # batches cut anywhere
    one = d.scan_file(str(fuzzed_log), {}, SPEC, window, workers=1)
    assert _as_plain(one) == want
    three = d.scan_file(str(fuzzed_log), {}, SPEC, window, workers=3)   # byte ranges, counts added
    assert _as_plain(three) == want
    assert _as_plain(d.scan(iter_log(fuzzed_log), SPEC, window, total)) == want


def test_a_field_mapping_and_a_gzipped_log_count_the_same(tmp_path, monkeypatch):
    import gzip

    rows = [{"input": {"text": t}, "response": "Anna", "timestamp": 1_790_000_000 + i, "metadata": {"region": "eu"}}
            for i, t in enumerate(_TEXTS * 5)]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    plain, gz = tmp_path / "m.jsonl", tmp_path / "m.jsonl.gz"
    plain.write_bytes(data)
    gz.write_bytes(gzip.compress(data))
    monkeypatch.setattr(d, "BLOCK_BYTES", 256)
    window = d.parse_window("1d")
    mapping = {"prompt": ("input", "text")}
    a = d.scan_file(str(plain), mapping, SPEC, window, workers=1)
    b = d.scan_file(str(gz), mapping, SPEC, window)
    assert a.records == b.records == len(rows) and _as_plain(a) == _as_plain(b)
    assert sum(a.buckets[k].n for k in a.buckets) == len(rows)


def test_metadata_values_equal_across_types_are_not_taken_for_text(tmp_path):
    # 1, 1.0 and true compare equal in Python (so a count of levels holds them as one, as it always
    # has); the pass remembers levels by value only for text, so "1" is never taken for 1
    lines = [{"prompt": "Who?", "metadata": {"region": v}} for v in ["1", 1, 1.0, True, "1", True]]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    spec = d.FeatureSpec(["region"])
    got = d.scan_file(str(path), {}, spec, d.parse_window(None), workers=1)
    levels = Counter()
    for bk in got.buckets.values():
        for sig, n in bk.sigs.items():
            levels[(type(sig[0]).__name__, sig[0])] += n
    assert levels == Counter({("str", "1"): 2, ("int", 1): 4})


def test_problems_in_later_byte_ranges_keep_their_line_numbers(tmp_path):
    # a time window reads the ranges without counting lines first: each numbers from 1 and its
    # problems are renumbered after; the broken lines here sit in the second and third thirds
    good = [json.dumps({"prompt": f"Who wrote report {i}?", "timestamp": 1_790_000_000 + i}) for i in range(300)]
    lines = good[:150] + ["{broken"] + good[150:250] + ["", "[1]"] + good[250:] + ['{"prompt": ""}']
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")   # and no newline after the last line
    want = [151, 253, len(lines)]   # "{broken", "[1]" (the blank line before it is no problem), the empty prompt
    for workers in (1, 3):
        got = d.scan_file(str(path), {}, SPEC, d.parse_window("1h"), workers=workers)
        assert [ln for ln, _ in got.problems] == want
        assert got.lines == len(lines) and got.records == 300
