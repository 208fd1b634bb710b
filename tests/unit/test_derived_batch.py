"""The derived features of a batch (`derive_features`, one pass: tuieval.analysis.derived_batch) are
the one-text rules' values, text for text: fuzzed texts of every length and script, chunk cuts in
odd places, and texts long enough that their per-text sums leave 16 bits."""

from __future__ import annotations

import random

import pytest

from tuieval.analysis import derived_batch
from tuieval.analysis import slices
from tuieval.analysis.slices import (_CJK_IDS, _script_counts, _token_estimate, derive_features, detect_script,
                                     has_digits, has_non_ascii_name, token_bucket)

_MARKS = ["a", "Z", "Ł", "É", "é", ".", "!", "?", ":", ";", "\n", " ", "\t", "\u00a0", "\u3000", "\u2003", "\x1c",
          "\x85", "9", "٣", "Jos", "ÉÉ", "ǅ", "Ж", "ж", "中", "か", "한", "😀", "𝟘", "\ud800", "Müller", "AÉ", "x.  ",
          "\u2028", "_", "²"]


def _rule(t: str) -> dict:
    cjk = int(_script_counts([t])[0][_CJK_IDS].sum())
    est = _token_estimate(len(t), cjk, len(t.split()))
    return {"input_tokens_estimate": est, "input_tokens": token_bucket(est), "script": detect_script(t),
            "has_digits": has_digits(t), "non_ascii_name": has_non_ascii_name(t)}


def _texts() -> list[str]:
    rng = random.Random(23)
    out = ["".join(rng.choice(_MARKS) for _ in range(rng.choice([0, 1, 3, 12, 40, 300, 700]))) for _ in range(900)]
    out += [" " * k + "Łukasz" for k in range(10)] + ["a." + " " * k + "Łukasz" for k in range(10)]
    out += ["x" * 600 + " and Zoë", "A" * 600 + ". Zoë", "ÉCOLE de x", "", " ", "plain ascii 12", "Привет мир"]
    # past the 16-bit sums: more than 2**16 / 4 letters and 2**14 words in one text, beside short ones
    out += ["ab " * 9000 + "Zoë", "é " * 20000, "Ж" * 17000 + " 5"]
    return out


@pytest.mark.parametrize("chunk", [None, 97, 5000])
def test_the_batch_is_the_one_text_rules(monkeypatch, chunk):
    texts = _texts()
    if chunk is not None:
        monkeypatch.setattr(derived_batch, "CHUNK_UNITS", chunk)
    slices._LAST_FEATURES = None
    got = derive_features(texts)
    for i, t in enumerate(texts):
        want = _rule(t)
        assert {k: got[k][i] for k in want} == want, repr(t[:80])


def test_the_16_bit_sums_are_taken_only_where_they_cannot_overflow():
    # 70,000 one-letter words: more word starts than 16 bits count; and a Cyrillic text whose
    # 70,000 Latin letters outvote its 20,000 Cyrillic ones only when counted in full
    text = "a " * 70000
    mixed = "ab" * 35000 + " " + "Ж" * 20000
    est, script, _, _ = derived_batch.derived_columns([text, "b c", mixed])
    assert est.tolist() == [_token_estimate(len(text), 0, 70000), _token_estimate(3, 0, 2),
                            _token_estimate(len(mixed), 0, 2)]
    assert [derived_batch.SCRIPTS[s] for s in script.tolist()] == ["latin", "latin", "latin"]


def test_latin1_texts_are_read_from_the_latin1_table_with_the_one_text_rules(monkeypatch):
    # a fresh process: neither table built; text below U+0100 builds only the 256-entry one
    monkeypatch.setattr(derived_batch, "_TABLE", None)
    monkeypatch.setattr(derived_batch, "_LATIN1_TABLE", None)
    monkeypatch.setattr(slices, "_FLAGS", None)
    rng = random.Random(5)
    latin1 = [m for m in _MARKS if all(ord(c) < 0x100 for c in m)]
    texts = ["".join(rng.choice(latin1) for _ in range(rng.choice([0, 1, 5, 40]))) for _ in range(300)]
    texts += ["Zoë Müller, 12 ans", "\u00a0x\u00a0", "²½ ÿ", ""]
    got = derive_features(texts)
    assert derived_batch._TABLE is None and derived_batch._LATIN1_TABLE is not None
    assert derived_batch._LATIN1_TABLE.size == 0x100
    for i, t in enumerate(texts):
        assert {k: got[k][i] for k in got} == _rule(t), t
    # one text above U+00FF, and the whole table is built and used from then on
    got = derive_features(texts + ["Łukasz"])
    assert derived_batch._TABLE is not None and derived_batch._TABLE.size == 0x10000
    assert {k: got[k][-1] for k in got} == _rule("Łukasz")
