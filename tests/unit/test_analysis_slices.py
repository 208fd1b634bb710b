"""Derived slice features and automatic slice discovery (docs/statistics.md §8)."""

from __future__ import annotations

import numpy as np
import pytest

from tuieval.analysis.slices import (
    Level,
    column_levels,
    distinct_levels,
    derive_features,
    detect_script,
    discover_slices,
    discover_slices_columns,
    estimate_tokens,
    has_digits,
    has_non_ascii_name,
    min_support,
    token_bucket,
)


@pytest.mark.parametrize("text,script", [
    ("What is the capital of France?", "latin"), ("Какая столица Франции?", "cyrillic"),
    ("Ποια είναι η πρωτεύουσα;", "greek"), ("ما هي عاصمة فرنسا؟", "arabic"), ("מהי בירת צרפת?", "hebrew"),
    ("फ्रांस की राजधानी क्या है?", "devanagari"), ("法国的首都是哪里？", "cjk"),
    ("フランスの首都はどこですか？", "japanese"), ("프랑스의 수도는 어디입니까?", "korean"),
    ("12345 ?!", "none"), ("", "none"), ("ሰላም ልዑል", "other"),
    ("Translate: Привет, как дела у тебя сегодня?", "cyrillic"),
])
def test_detect_script(text, script):
    assert detect_script(text) == script


def test_token_estimate_and_buckets():
    assert estimate_tokens("") == 0
    prose = "The quick brown fox jumps over the lazy dog. " * 10  # ~100 BPE tokens
    assert 80 <= estimate_tokens(prose) <= 125
    assert estimate_tokens("日本語のテキスト") >= 8  # ~1 token per CJK character
    assert token_bucket(64) == "short" and token_bucket(65) == "medium" and token_bucket(513) == "long"


@pytest.mark.parametrize("text, expected", [
    # 0.5 × (characters − CJK) / 4 + 0.5 × words × 4/3 + CJK, rounded (docs/statistics.md):
    ("日本語 abc", 5),               # 7 chars, 3 CJK, 2 words: 0.5 + 1.333 + 3 = 4.83
    ("한국어 Müller", 5),            # 10 chars, 3 hangul, 2 words: 0.875 + 1.333 + 3 = 5.21
    ("Ärger über Öl", 4),            # 13 chars, no CJK, 3 words: 1.625 + 2 = 3.63
    ("\U00020001\U00020002 x", 4),  # astral han counts: 4 chars, 2 CJK, 2 words: 0.25 + 1.333 + 2 = 3.58
])
def test_token_estimate_counts_cjk_characters_exactly(text, expected):
    assert estimate_tokens(text) == expected


def test_digits_and_names():
    assert has_digits("room 101") and has_digits("٣ apples") and not has_digits("no digits")
    assert has_non_ascii_name("Ask José about it")
    assert has_non_ascii_name("Er traf gestern Jürgen.")
    assert not has_non_ascii_name("Ask Joe about it")
    assert not has_non_ascii_name("Élise came home")  # sentence-initial
    assert not has_non_ascii_name("The café was open")  # lower-case
    assert not has_non_ascii_name("Report from the ÖBB")  # acronym


def test_derive_features_columns():
    f = derive_features(["Ask José 2 questions", "Привет", None])
    assert f["script"] == ["latin", "cyrillic", "none"]
    assert f["has_digits"] == [True, False, False]
    assert f["non_ascii_name"] == [True, False, False]
    assert f["input_tokens"] == ["short"] * 3


def test_column_levels_categorical_numeric_missing_and_ids():
    lv, why = column_levels("lang", ["en", "de", None, "en"])
    assert why is None
    assert [(x.value, int(x.mask.sum())) for x in lv] == [("en", 2), ("de", 1), (None, 1)]
    vals = list(np.arange(100.0)) + [None]
    lv, _ = column_levels("len", vals)
    assert len(lv) == 11 and lv[-1].value is None  # ten decile bins + missing
    assert sum(int(x.mask.sum()) for x in lv) == 101
    assert all(x.bin is not None for x in lv[:-1])
    lv, why = column_levels("id", [f"id{i}" for i in range(1000)])
    assert lv == [] and "identifier" in why
    lv, _ = column_levels("tags", [["a", "b"], ["a", "b"], ["c"]])
    assert len(lv) == 2


def _synthetic(n, rng, planted=None):
    lang = rng.choice(["en", "de", "fr", "ru", "ja"], n, p=[0.4, 0.15, 0.2, 0.15, 0.1])
    diff = rng.choice(["easy", "medium", "hard"], n, p=[0.4, 0.35, 0.25])
    cat = rng.choice([f"c{i}" for i in range(8)], n)
    length = rng.lognormal(4, 1, n)
    p = np.full(n, 0.2)
    if planted == "single":
        p[lang == "de"] = 0.45
    elif planted == "conjunction":
        fr, hard = lang == "fr", diff == "hard"
        p[fr & hard] = 0.6
        p[fr & ~hard] = (0.2 - 0.6 * (fr & hard).sum() / fr.sum()) / (1 - (fr & hard).sum() / fr.sum())
        p[hard & ~fr] = (0.2 - 0.6 * (fr & hard).sum() / hard.sum()) / (1 - (fr & hard).sum() / hard.sum())
    f = (rng.random(n) < p).astype(float)
    cols = {"lang": lang.tolist(), "difficulty": diff.tolist(), "category": cat.tolist(),
            "length": length.tolist()}
    return cols, f


def test_planted_single_slice_is_flagged():
    rng = np.random.default_rng(11)
    cols, f = _synthetic(1000, rng, "single")
    res = discover_slices_columns(cols, f)
    flagged = [r for r in res["results"] if r.flagged]
    assert res["split"] and not res["exploratory"]
    assert flagged and (flagged[0].key, flagged[0].value) == ("lang", "de")
    top = flagged[0]
    assert top.estimates_from == "confirmation"
    assert top.delta_ci[0] < top.delta < top.delta_ci[1]
    assert top.q_value <= 0.05 and top.test == "fisher" and top.lift > 1
    assert res["m"] >= len(res["results"]) - 0  # every test performed counts


def test_planted_conjunction_found_through_unflagged_parents():
    rng = np.random.default_rng(5)
    cols, f = _synthetic(4000, rng, "conjunction")
    res = discover_slices_columns(cols, f)
    flagged = {(r.key, r.value) for r in res["results"] if r.flagged}
    assert ("lang & difficulty", "fr & hard") in flagged
    assert ("lang", "fr") not in flagged and ("difficulty", "hard") not in flagged


def test_null_data_flags_nothing_in_at_least_19_of_20_seeds():
    false_alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(1000 + seed)
        cols, f = _synthetic(600, rng, None)
        res = discover_slices_columns(cols, f, rng_seed=seed)
        false_alarms += any(r.flagged for r in res["results"])
    assert false_alarms <= 1, false_alarms


def test_small_n_is_exploratory_and_uses_all_items():
    rng = np.random.default_rng(2)
    cols, f = _synthetic(300, rng, "single")
    res = discover_slices_columns(cols, f)
    assert res["exploratory"] and not res["split"]
    assert all(r.exploratory and r.estimates_from == "all" for r in res["results"])
    assert res["n_min"] == min_support(300) == 20
    assert all(r.n >= 20 for r in res["results"])


def test_fractional_failures_use_welch():
    rng = np.random.default_rng(3)
    n = 500
    lang = rng.choice(["en", "de"], n, p=[0.8, 0.2])
    f = np.clip(rng.normal(0.2, 0.1, n) + (lang == "de") * 0.15, 0, 1)
    res = discover_slices_columns({"lang": lang.tolist()}, f)
    top = res["results"][0]
    assert top.test == "welch" and (top.key, top.value) == ("lang", "de") and top.flagged


def test_clustered_items_use_clustered_test():
    rng = np.random.default_rng(4)
    n = 300
    passage = np.arange(n) // 3
    lang = np.where(passage % 4 == 0, "de", "en")
    f = (rng.random(n) < np.where(lang == "de", 0.5, 0.2)).astype(float)
    res = discover_slices_columns({"lang": lang.tolist()}, f, cluster_ids=passage.tolist())
    assert res["results"][0].test == "clustered-z"


def test_identical_slices_are_one_slice_with_aliases_and_one_test():
    rng = np.random.default_rng(6)
    n = 300
    lang = rng.choice(["en", "ru"], n, p=[0.7, 0.3])
    script = np.where(lang == "ru", "cyrillic", "latin")
    f = (rng.random(n) < np.where(lang == "ru", 0.6, 0.2)).astype(float)
    res = discover_slices_columns({"lang": lang.tolist(), "script": script.tolist()}, f)
    rows = {(r.key, r.value): r for r in res["results"]}
    # two distinct item sets (ru, en): two tests, each listed once under the first column's name
    assert set(rows) == {("lang", "ru"), ("lang", "en")}
    assert res["m"] == 2
    assert rows[("lang", "ru")].aliases == ["script=cyrillic"]
    assert rows[("lang", "en")].aliases == ["script=latin"]
    assert rows[("lang", "ru")].flagged and not rows[("lang", "en")].flagged
    assert "script" in res["skipped_columns"]


def test_a_level_holding_every_item_is_not_a_slice():
    rng = np.random.default_rng(3)
    n = 200
    lang = rng.choice(["en", "de"], n, p=[0.8, 0.2])
    f = (rng.random(n) < 0.2).astype(float)
    res = discover_slices_columns({"lang": lang.tolist(), "script": ["latin"] * n}, f)
    assert all(r.key != "script" for r in res["results"])
    assert "every case" in res["skipped_columns"]["script"]
    assert res["m"] == 2


def test_distinct_levels_merges_in_column_order_and_keeps_the_input():
    a = np.array([1, 1, 0, 0, 0], dtype=bool)
    levels = {"name_origin": [Level("name_origin", "non_english", a), Level("name_origin", "english", ~a)],
              "non_ascii_name": [Level("non_ascii_name", True, a.copy()), Level("non_ascii_name", False, ~a)],
              "script": [Level("script", "latin", np.ones(5, dtype=bool))]}
    out, skipped = distinct_levels(levels, 5)
    assert list(out) == ["name_origin"]
    assert [(lv.value, lv.aliases) for lv in out["name_origin"]] == [
        ("non_english", ["non_ascii_name=True"]), ("english", ["non_ascii_name=False"])]
    assert set(skipped) == {"non_ascii_name", "script"}
    assert levels["name_origin"][0].aliases == []  # the caller's levels are not modified


def test_a_conjunction_equal_to_a_listed_slice_is_not_tested_again():
    # region=north & tier=gold holds exactly the cases of segment=x: the same slice
    n = 240
    region = ["north" if i < 120 else "south" for i in range(n)]
    tier = ["gold" if (i % 120) < 40 else "basic" for i in range(n)]
    segment = ["x" if (r == "north" and t == "gold") else ("y" if i % 2 else "z")
               for i, (r, t) in enumerate(zip(region, tier))]
    f = np.zeros(n)
    res = discover_slices_columns({"region": region, "tier": tier, "segment": segment}, f)
    names = [tuple(map(tuple, r.conditions)) for r in res["results"]]
    assert (("region", "north"), ("tier", "gold")) not in names
    assert (("segment", "x"),) in names


def test_rows_interface():
    rng = np.random.default_rng(8)
    cols, f = _synthetic(300, rng, "single")
    rows = [{"lang": cols["lang"][i], "difficulty": cols["difficulty"][i], "failure": f[i]} for i in range(300)]
    results = discover_slices(rows)
    assert {r.key for r in results} <= {"lang", "difficulty", "lang & difficulty"}
    d = results[0].to_dict()
    for k in ("key", "value", "n", "failure_rate", "delta", "delta_ci", "p_value", "q_value", "flagged"):
        assert k in d
    with pytest.raises(ValueError):
        discover_slices([{"a": "x", "failure": 2.0}])


def test_report_markdown_lists_a_merged_slice_once_and_the_mde_of_unflagged_slices():
    from tuieval.analysis.report import analyze_run
    from tuieval.report.formats.markdown import to_markdown

    n = 120
    texts = [("Yesterday the clerk met José at the office." if i % 4 == 0 else "The clerk met Tom at the office.")
             for i in range(n)]
    cases = [{"case_id": f"c{i}", "position": i, "metadata": {"name_origin": "non_english" if i % 4 == 0 else "english"},
              "input_text": texts[i], "targets": [], "vars": {}} for i in range(n)]
    samples = [{"case_id": f"c{i}", "template": "t", "sample_index": 0, "correct": i % 10 != 0, "error": None,
                "response": "x", "extracted": "x", "latency_ms": 100.0} for i in range(n)]
    run = {"id": "r", "suite": "s", "model": "demo/x", "status": "complete", "samples_per_case": 1,
           "config": {}, "started_at": "2026-01-01T00:00:00", "finished_at": "2026-01-01T00:01:00"}
    rep = analyze_run(run, cases, samples)
    names = [(s["key"], s["value"]) for s in rep["slices"]]
    assert names.count(("name_origin", "non_english")) == 1 and ("non_ascii_name", True) not in names
    md = to_markdown(rep)
    assert md.count("non_ascii_name=True") == 1 and "name_origin=non_english (also non_ascii_name=True)" in md
    s = {x["value"]: x for x in rep["slices"]}["non_english"]
    assert not s["flagged"] and s["mde"] is not None
    assert f"no (MDE {100 * s['mde']:.0f} pts)" in md
    assert "could not have shown a smaller one" in md


def test_slice_membership_names_each_set_of_cases_once_as_the_report_does():
    from tuieval.analysis.report import slice_membership

    cases = [{"case_id": f"c{i}", "position": i, "metadata": {"name_origin": "non_english" if i % 4 == 0 else "english"},
              "input_text": "Yesterday the clerk met José." if i % 4 == 0 else "The clerk met Tom."} for i in range(40)]
    m = slice_membership(cases)
    assert m[("name_origin", "non_english")] == {f"c{i}" for i in range(0, 40, 4)}
    assert ("non_ascii_name", True) not in m and ("non_ascii_name", False) not in m
    assert ("script", "latin") not in m  # every case


def _memo_cases(n=60):
    return [{"case_id": f"c{i}", "position": i,
             "metadata": {"lang": ["en", "de", "ru"][i % 3], "size": i % 13, "tag": ["a", "b"][i % 2]},
             "input_text": "Wie viel kostet es, Jürgen?" if i % 3 == 1 else "What is 12 plus 7?"} for i in range(n)]


def _fresh_membership(cases, analyzed=None):
    import tuieval.analysis.report as report_mod

    report_mod._LAST_LEVELS = None  # nothing remembered: computed from the cases
    return report_mod.slice_membership(cases, analyzed)


def test_slice_levels_asked_again_are_the_ones_computed_fresh_and_follow_a_change():
    # the report, its stored membership and the cost section ask for the same cases' levels in
    # turn: the second answer comes from the first, and a changed case is never answered stale
    from tuieval.analysis.report import slice_membership

    cases = _memo_cases()
    sampled = {c["case_id"] for c in cases[:50]}
    want = _fresh_membership(cases, sampled)
    assert slice_membership(cases, sampled) == want
    assert want[("lang", "de")] == {f"c{i}" for i in range(1, 50, 3)}
    # a metadata value changed in place, a case's text changed, another set of cases
    cases[4]["metadata"]["lang"] = "de"
    got = slice_membership(cases, sampled)
    assert "c4" in got[("lang", "de")] and got == _fresh_membership(cases, sampled)
    cases[7]["input_text"] = "Сколько стоит?"
    got = slice_membership(cases, sampled)
    assert got == _fresh_membership(cases, sampled) and "c7" in got[("script", "cyrillic")]
    assert slice_membership(cases, sampled - {"c0"}) == _fresh_membership(cases, sampled - {"c0"})


def test_report_slices_are_those_of_the_fresh_levels_after_the_memo_served_them():
    # the analysis names columns from every case (a key only unsampled cases carry is still a
    # column, skipped) and drops the cluster key: its levels are not the membership's when the
    # keys differ, and each call gets its own
    import tuieval.analysis.report as report_mod

    cases = _memo_cases()
    cases[55]["metadata"]["only_unsampled"] = "x"
    sampled = [c for c in cases if int(c["case_id"][1:]) < 50]
    report_mod._LAST_LEVELS = None
    a = report_mod.slice_levels(sampled, keys=report_mod.metadata_keys(cases), drop="tag")
    b = report_mod.slice_levels(sampled)
    assert "only_unsampled" in a.skipped and "only_unsampled" not in b.cols
    assert "tag" in b.levels and "tag" not in a.levels and "tag" not in a.skipped
    assert report_mod.slice_levels(sampled, keys=report_mod.metadata_keys(cases), drop="tag").levels.keys() == \
        a.levels.keys()


def test_slice_masks_over_case_ids_in_any_order_are_the_membership_sets():
    from tuieval.analysis.report import slice_masks

    cases = _memo_cases()
    case_ids = [f"c{i}" for i in range(49, -1, -1)] + ["stray"]  # reversed, and an id with no case row
    want = _fresh_membership(cases, set(case_ids))
    got = slice_masks(cases, case_ids)
    assert list(got) == list(want)
    for level, members in want.items():
        assert {c for c, m in zip(case_ids, got[level].tolist()) if m} == members, level
    assert not any(m[-1] for m in got.values())


def _column_levels_value_by_value(key, values):
    """column_levels's rule one value at a time (as it was written before it read the values'
    types in one pass): the reference for the fast path."""
    import math as _math

    from tuieval.analysis.slices import HARD_MAX_LEVELS, MAX_CATEGORICAL_LEVELS, NUMERIC_BINS, Level, hashable

    def is_number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and _math.isnan(v))

    n = len(values)
    vals = [hashable(v) for v in values]
    present = [v for v in vals if v is not None]
    distinct = set(present)
    if present and all(is_number(v) for v in present) and len(distinct) > NUMERIC_BINS:
        arr = np.array([np.nan if v is None else float(v) for v in vals])
        ok = ~np.isnan(arr)
        srt = np.sort(arr[ok])
        edges = np.unique([srt[max(0, _math.ceil(q * srt.size) - 1)] for q in np.arange(1, NUMERIC_BINS) / NUMERIC_BINS])
        bins = np.searchsorted(edges, arr, side="left")
        bounds = np.r_[srt[0], edges, srt[-1]]
        levels = []
        for b in range(edges.size + 1):
            mask = ok & (bins == b)
            if mask.any():
                lo, hi = (float(bounds[b]) if b > 0 else float(srt[0])), float(bounds[b + 1])
                levels.append(Level(key, f"[{lo:g}, {hi:g}]" if b == 0 else f"({lo:g}, {hi:g}]", mask, (lo, hi)))
        if (~ok).any():
            levels.append(Level(key, None, ~ok))
        return levels, None
    if (len(distinct) > MAX_CATEGORICAL_LEVELS and len(distinct) > n / 10) or len(distinct) > HARD_MAX_LEVELS:
        return [], f"{len(distinct)} distinct values: looks like an identifier"
    codes = {}
    code = np.array([codes.setdefault(v, len(codes)) for v in vals], dtype=np.int64)
    levels = [Level(key, v, code == c) for v, c in codes.items()]
    levels.sort(key=lambda lv: (lv.value is None, -int(lv.mask.sum()), str(lv.value)))
    return levels, None


def test_column_levels_read_by_type_equal_the_value_by_value_rule():
    # numbers (ints, floats, NaN, inf, numpy scalars), bools, strings, lists, dicts and None mixed
    import random

    rng = random.Random(5)
    pool = [None, 1, 2.5, float("nan"), True, False, "a", "b", [1, 2], {"x": 1}, np.float64(3.0), np.int64(4),
            7, 0, -1.5, 1e300, float("inf")]
    kinds_seen = set()
    for _ in range(1500):
        kinds = rng.sample(pool, rng.randint(1, 5))
        share = rng.random()
        values = [rng.choice(kinds) if rng.random() < share else (rng.randint(0, 30) if rng.random() < 0.5
                                                                    else rng.random()) for _ in range(rng.randint(1, 60))]
        got, why = column_levels("k", values)
        want, why_want = _column_levels_value_by_value("k", values)
        assert why == why_want
        assert [(lv.value, lv.mask.tolist(), lv.bin) for lv in got] == \
            [(lv.value, lv.mask.tolist(), lv.bin) for lv in want], values
        kinds_seen.add("binned" if any(lv.bin for lv in got) else "categorical")
    assert kinds_seen == {"binned", "categorical"}
    ids = [f"id{i}" for i in range(120)] + [None]  # an identifier-like column is skipped by both
    assert column_levels("k", ids)[1] == _column_levels_value_by_value("k", ids)[1] is not None
