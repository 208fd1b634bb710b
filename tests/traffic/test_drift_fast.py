"""The fast paths of `tuieval drift` read what the plain rules read.

* `derive_features` (a batch, numpy tables) against the one-text rules: `len(text.split())` in
  the token estimate, the `\\d` regex, `has_non_ascii_name`, `detect_script`;
* `tuieval.traffic.features` (what drift reads traffic prompts with) against `derive_features`;
* `lean_rows` (no record built) against `iter_log` + `record_row`, line by line, on lines of
  every kind, good and bad;
* a lone surrogate (a `\\ud800` escape in the log) is read, not a crash.
"""

from __future__ import annotations

import json
import random

from tuieval.analysis.slices import (_CJK_IDS, _script_counts, _token_estimate, derive_features, detect_script,
                                     has_digits, has_non_ascii_name, token_bucket)
from tuieval.traffic.drift import lean_rows, record_row
from tuieval.traffic.log import TrafficRecord, iter_log, utc_iso

_ALPHABET = (["a", "Z", "é", "É", "Ł", "ж", "Ж", "中", "か", "한", "٣", "੭", "𝟘", "😀", "𐐀", "\ud800", "5", "_", ".",
              "?", "\n", " ", "\t", "\u00a0", "\u2003", "\u3000", "\x1c", "\x85", "Jos", "é ", "Müller"])


def _random_text(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return ""
    n = rng.choice([1, 3, 10, 40, 700])
    return "".join(rng.choice(_ALPHABET) for _ in range(n))


def test_the_batch_features_are_the_one_text_rules():
    rng = random.Random(7)
    texts = [_random_text(rng) for _ in range(600)] + ["", " ", "  a  b ", "Zoë met José", "x\U0001F600 9"]
    got = derive_features(texts)
    for i, t in enumerate(texts):
        cjk = int(_script_counts([t])[0][_CJK_IDS].sum())
        est = _token_estimate(len(t), cjk, len(t.split()))
        assert got["input_tokens_estimate"][i] == est, t
        assert got["input_tokens"][i] == token_bucket(est)
        assert got["has_digits"][i] == has_digits(t), t
        assert got["non_ascii_name"][i] == has_non_ascii_name(t), t
        assert got["script"][i] == detect_script(t), t


def _lines() -> list[str]:
    rng = random.Random(3)
    good = []
    for i in range(300):
        rec = {"prompt": _random_text(rng) or "x", "response": rng.choice([None, "Answer: 1", "No"]),
               "metadata": rng.choice([None, {}, {"region": rng.choice(["eu", "us"]), "n": i}])}
        ts = rng.choice([None, "", 1_790_000_000 + i, 1_790_000_000_123 + i, 1_790_000_000.5 + i,
                         "2026-01-02T03:04:05Z", "2026-01-02 03:04:05.123456+02:00", "2026-01-02"])
        if ts is not None:
            rec[rng.choice(["timestamp", "created_at"])] = ts
        if rng.random() < 0.2:
            rec["latency_ms"] = rng.choice([12, 3.5, None])
        if rng.random() < 0.1:
            rec["model"] = "m"
        good.append(json.dumps(rec, ensure_ascii=rng.random() < 0.5))
    odd = ['{broken', '[1, 2]', '', '   ', '{"prompt": ""}', '{"prompt": "  "}', '{"prompt": 5}',
           '{"prompt": "p", "response": 5}', '{"prompt": "p", "model": 3}', '{"prompt": "p", "latency_ms": -1}',
           '{"prompt": "p", "latency_ms": true}', '{"prompt": "p", "duration_ms": 7}', '{"prompt": "p", "duration_ms": "x"}',
           '{"prompt": "p", "timestamp": "yesterday"}', '{"prompt": "p", "timestamp": true}',
           '{"prompt": "p", "timestamp": -5}', '{"prompt": "p", "timestamp": 1e300}', '{"prompt": "p", "timestamp": [1]}',
           '{"prompt": "p", "metadata": [1]}', '{"prompt": "p", "completion": "c"}', '{"prompt": "p\\ud800 q"}',
           '{"messages": [{"role": "user", "content": "hi"}], "response": "yo"}', '{"prompt": "p", "timestamp": 1e13}',
           '{"prompt": "p", "timestamp": 99999999999999}', '{"prompt": "p", "created_at": "2026-13-01"}']
    return good + odd


def test_lean_rows_read_what_iter_log_reads(tmp_path):
    lines = _lines()
    path = tmp_path / "log.jsonl"
    with path.open("wb") as fh:
        for ln in lines:
            fh.write(ln.encode("utf-8", "surrogatepass") + b"\n")
        fh.write(b'{"prompt": "\xff bad utf-8"}\n')
    plain = [record_row(r) if isinstance(r, TrafficRecord) else (r.line, r.message) for r in iter_log(path)]
    with path.open("rb") as fh:
        lean = [r if isinstance(r, tuple) else (r.line, r.message) for r in lean_rows(fh, 1, {})]
    assert len(lean) == len(plain) > 300
    for a, b in zip(lean, plain):
        if len(b) == 2:              # a problem: the same line and message
            assert a == b
            continue
        assert a[:4] == b[:4] and a[5] == b[5], (a, b)
        assert utc_iso(a[4]) == b[4]  # the mark becomes the record's timestamp text


def test_a_lone_surrogate_in_a_prompt_is_read_not_a_crash():
    got = derive_features(["a\ud800 b é x", "ok"])
    assert got["script"] == ["latin", "latin"] and got["input_tokens_estimate"][0] == _token_estimate(7, 0, 4)


def test_the_bmp_pattern_finds_the_same_words_as_the_rule_pattern():
    from tuieval.analysis.slices import _non_ascii_capitalised, _non_ascii_capitalised_bmp

    rng = random.Random(11)
    bmp = [c for c in _ALPHABET if all(ord(ch) <= 0xFFFF for ch in c)] + ["McDonald", "ÉCOLE", "aÉ", "Ǆ", "ǅ", "ß"]
    for _ in range(400):
        t = "".join(rng.choice(bmp) for _ in range(rng.choice([1, 5, 30, 200])))
        assert [m.span() for m in _non_ascii_capitalised_bmp().finditer(t)] == \
            [m.span() for m in _non_ascii_capitalised().finditer(t)], t


def test_the_drift_features_are_the_slices_features(monkeypatch):
    # traffic prompts take tuieval.traffic.features (one numpy pass, a regex holding the whole name
    # rule); it must give what slices.derive_features gives, text for text: fuzzed texts of every
    # length (long ones take the located-words path), emoji (set aside for the slices batch),
    # sentence marks at every distance before a capitalised non-ASCII word, acronyms, a newline
    from tuieval.traffic.features import KEYS, SCRIPTS, derived_columns, derived_levels

    rng = random.Random(19)
    marks = ["a", "Ł", "É", ".", "!", "?", ":", ";", "\n", " ", "\t", "\u00a0", "\u3000", "9", "Jos", "é", "ÉÉ",
             "ǅ", "Ж", "ж", "中", "😀", "Müller", "AÉ", "x.  ", "\u2028", "\x1f", "\x1c", "\x85", "٣"]
    texts = [_random_text(rng) for _ in range(1500)]
    texts += ["".join(rng.choice(marks) for _ in range(rng.choice([2, 6, 12, 30, 600]))) for _ in range(1500)]
    texts += [" " * k + "Łukasz" for k in range(11)] + ["a." + " " * k + "Łukasz" for k in range(10)]
    texts += ["ab" + " " * k + "Łukasz" for k in range(11)] + ["ab\n" + " " * k + "Łukasz" for k in range(10)]
    texts += ["x" * 600 + " and Zoë", "A" * 600 + ". Zoë", "Ab\nÉcole", "ÉCOLE de x", "x ÉCOLE", "x É", None, "",
              "y" * 600 + " x ÉCOLE y", "y" * 600 + " x ÉCOLE and Zoë", "a\x1fb", "ab", "a b", "é"]
    want = derive_features([t or "" for t in texts])
    got = derived_levels(texts)
    est, script, _, _ = derived_columns(texts)
    for i, t in enumerate(texts):
        assert got[i] == tuple(want[k][i] for k in KEYS), repr(t)
        assert est[i] == want["input_tokens_estimate"][i] and SCRIPTS[script[i]] == want["script"][i], repr(t)
    # a batch cut in small chunks (each numpy pass reads one) gives what it gives whole
    import tuieval.traffic.features as features

    monkeypatch.setattr(features, "_CHUNK_UNITS", 500)
    assert derived_levels(texts) == got
