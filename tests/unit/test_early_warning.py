"""Anytime-valid early warnings for accuracy gates (docs/statistics.md §7.1), fed in dispatch order."""

from __future__ import annotations

import random

from tuieval.early_warning import GateWatch


def _cases(n):
    return [{"case_id": f"c{i}", "metadata": {"lang": "de" if i % 4 == 0 else "en"}, "input_text": "x"}
            for i in range(n)]


def _feed(watch, n, p_by_lang, seed):
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    warnings = []
    for dispatch, i in enumerate(order):
        lang = "de" if i % 4 == 0 else "en"
        warnings += watch.add({"case_id": f"c{i}", "dispatch_order": dispatch, "correct": rng.random() < p_by_lang[lang],
                               "error": None, "latency_ms": 10.0})
    return warnings


def test_warns_once_when_a_gated_slice_is_far_below_its_threshold():
    watch = GateWatch([{"metric": "accuracy", "min": 0.8, "slice": "lang=de"}], _cases(400), 1)
    warnings = _feed(watch, 400, {"de": 0.4, "en": 0.95}, seed=1)
    assert len(warnings) == 1 and "lang=de" in warnings[0] and "decisively below 0.8" in warnings[0]


def test_rarely_warns_when_the_slice_sits_at_the_threshold():
    false_alarms = 0
    for seed in range(40):
        watch = GateWatch([{"metric": "accuracy", "min": 0.7}], _cases(300), 1)
        false_alarms += bool(_feed(watch, 300, {"de": 0.7, "en": 0.7}, seed=seed))
    # alpha = 0.05 bounds the false-alarm probability under H0 (mu >= theta) at any stopping time
    assert false_alarms <= 6


def test_out_of_order_completions_wait_for_dispatch_order():
    watch = GateWatch([{"metric": "accuracy", "min": 0.9}], _cases(50), 1)
    # dispatch 1.. arrive before 0: nothing is sequenced until 0 arrives
    for d in range(1, 50):
        watch.add({"case_id": f"c{d}", "dispatch_order": d, "correct": False, "error": None})
    board = watch.watched[0][1]
    assert board.slices[("overall", None)].t == 0
    watch.add({"case_id": "c0", "dispatch_order": 0, "correct": False, "error": None})
    assert board.slices[("overall", None)].t == 50


def test_no_accuracy_gate_means_no_watch():
    assert not GateWatch([{"metric": "p99_ms", "max": 100}], _cases(5), 1)
