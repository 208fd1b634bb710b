"""Live scoreboard: dispatch-order sequencing, confidence sequence, betting e-process (docs/statistics.md §7)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuieval.analysis.live import EProcess, LiveScoreboard, betting_eprocess, e_bh, slice_keys_for_cases
from tuieval.analysis.stats import normal_mixture_halfwidth, wilson

LOG20 = math.log(20.0)


def _runs(p: float, runs: int, T: int, seed: int, theta: float = 0.7) -> np.ndarray:
    """Index of the first crossing of log M_t ≥ log(1/α) per run (T if never), all runs at once."""
    rng = np.random.default_rng(seed)
    x = (rng.random((runs, T)) < p).astype(float)
    lam = (np.arange(1, 21) / 20) * 0.5 / (1 - theta)
    logk = np.cumsum(np.log1p((theta - x)[:, :, None] * lam), axis=1)
    mx = logk.max(axis=2, keepdims=True)
    logm = mx[..., 0] + np.log(np.exp(logk - mx).sum(axis=2)) - math.log(20)
    crossed = logm >= LOG20
    return np.where(crossed.any(axis=1), crossed.argmax(axis=1), T)


def test_batch_and_incremental_agree():
    x = np.random.default_rng(0).random(200)
    batch = betting_eprocess(x, 0.6)
    ep = EProcess(0.6)
    for i, xi in enumerate(x):
        ep.update(xi)
        assert ep.log_e == pytest.approx(batch[i], abs=1e-9)
    up = betting_eprocess(x, 0.3, direction="above")
    assert up[-1] > LOG20  # mean ≈ 0.5 is decisively above 0.3


def test_false_alarm_rate_at_the_threshold():
    # H0 true (p = θ = 0.7): Ville bounds P(ever crossing) by α = 0.05 (docs/statistics.md §7.1 reports 0.030)
    stops = _runs(0.7, runs=400, T=500, seed=1)
    rate = float((stops < 500).mean())
    assert rate <= 0.06, rate


def test_detects_rates_well_below_threshold():
    stops = _runs(0.5, runs=100, T=400, seed=2)
    assert (stops < 400).all()
    assert np.median(stops) < 80
    stops = _runs(0.6, runs=100, T=1000, seed=3)  # docs/statistics.md §7.1: every run rejected, median stop ≈ 130
    assert (stops < 1000).mean() >= 0.97 and 80 <= np.median(stops) <= 200


def test_e_bh():
    assert e_bh({"a": 100.0, "b": 30.0, "c": 1.0}, 0.05) == {"a", "b"}  # m/(αk): 60, 30, 20
    assert e_bh({"a": 50.0, "b": 1.0}, 0.05) == {"a"}
    assert e_bh({}, 0.05) == set()


def _sample(case_id, idx, correct, *, error=None, latency=100.0):
    return {"case_id": case_id, "dispatch_order": idx, "correct": correct, "error": error,
            "latency_ms": latency, "ttft_ms": latency / 4}


def test_out_of_order_completions_wait_for_dispatch_order():
    sb = LiveScoreboard({f"c{i}": [("lang", "en")] for i in range(10)}, theta=0.7)
    for i in reversed(range(1, 10)):
        sb.add(_sample(f"c{i}", i, True))
    snap = sb.snapshot()
    assert snap["overall"]["n_samples"] == 9 and snap["overall"]["live"]["t"] == 0  # counted, not sequenced
    assert snap["pending"] == 9
    sb.add(_sample("c0", 0, False))
    snap = sb.snapshot()
    assert snap["overall"]["live"]["t"] == 10 and snap["pending"] == 0
    assert snap["slices"]["lang=en"]["live"]["t"] == 10


def test_sequencing_order_is_dispatch_order():
    fed = []

    class Spy(EProcess):
        def update(self, x):
            fed.append(x)
            super().update(x)

    sb = LiveScoreboard({"a": [], "b": [], "c": []}, theta=0.5)
    sb.slices[("overall", None)].below = Spy(0.5)
    sb.add(_sample("c", 2, True))
    sb.add(_sample("a", 0, False))
    sb.add(_sample("b", 1, True))
    assert fed == [0.0, 1.0, 1.0]


def test_snapshot_figures():
    rng = np.random.default_rng(7)
    cases = {f"c{i}": [("lang", "de" if i % 3 == 0 else "en")] for i in range(400)}
    sb = LiveScoreboard(cases, theta=0.8, planned_cases=400)
    outcomes = rng.random(400) < 0.6
    for i in range(400):
        err = "timeout" if i % 50 == 0 else None
        sb.add(_sample(f"c{i}", i, bool(outcomes[i]), error=err, latency=float(i)))
    snap = sb.snapshot()
    ov = snap["overall"]
    ok = outcomes & (np.arange(400) % 50 != 0)  # errors count as incorrect
    assert ov["n_samples"] == 400 and ov["n_errors"] == 8 and ov["n_correct"] == int(ok.sum())
    assert ov["accuracy_ci"] == pytest.approx(list(wilson(int(ok.sum()), 400)))
    hw = normal_mixture_halfwidth(400, 100)
    assert ov["live"]["cs"] == pytest.approx([ok.mean() - hw, ok.mean() + hw])
    assert ov["live"]["decisively_below"] is True  # 0.6 vs θ = 0.8
    assert ov["latency_ms"]["p50"] == 199.0 and ov["latency_ms"]["n"] == 400
    de = snap["slices"]["lang=de"]
    assert de["n_samples"] == 134 and de["planned_cases"] == 134
    assert "lang=de" in snap["below_ebh"]


def test_items_with_several_samples_complete_on_their_last_sample():
    sb = LiveScoreboard({"a": [], "b": []}, samples_per_case=2, theta=0.5)
    sb.add(_sample("a", 0, True))
    sb.add(_sample("b", 1, False))
    assert sb.snapshot()["overall"]["live"]["t"] == 0
    sb.add(_sample("a", 2, False))
    live = sb.snapshot()["overall"]["live"]
    assert live["t"] == 1 and live["mean"] == 0.5
    sb.add(_sample("b", 3, False))
    assert sb.snapshot()["overall"]["live"]["mean"] == 0.25
    # Wilson treats the item, not the sample, as the unit: 4 samples = 2 items
    assert sb.snapshot(with_latency=False)["overall"]["accuracy_ci"] == pytest.approx(list(wilson(0.5, 2)))


def test_duplicates_gaps_and_flush():
    sb = LiveScoreboard({"a": [], "b": [], "c": []})
    sb.add(_sample("a", 0, True))
    sb.add(_sample("a", 0, True))  # the same sample fed twice
    assert sb.snapshot()["overall"]["n_samples"] == 1 and sb.duplicates == 1
    sb.add(_sample("c", 2, True))
    sb.skip(1)
    assert sb.snapshot()["overall"]["live"]["t"] == 2
    sb.add(_sample("b", 5, True))
    sb.flush()
    assert sb.snapshot()["overall"]["live"]["t"] == 3 and sb.snapshot()["pending"] == 0


def test_slice_keys_for_cases_match_report_naming():
    cases = [{"case_id": "x", "metadata": {"lang": "de"}, "input_text": "Wie heißt Jürgen?"},
             {"case_id": "y", "metadata": {"lang": "en"}, "input_text": "What is 2+2?"},
             {"case_id": "z", "metadata": {"lang": "en"}, "input_text": "Who met José today?"}]
    keys = slice_keys_for_cases(cases)
    assert ("lang", "de") in keys["x"] and ("has_digits", True) in keys["y"]
    # every case is short Latin text: those levels are the overall line, not slices
    assert not any(k in ("script", "input_tokens") for ks in keys.values() for k, _ in ks)
    # non_ascii_name=True holds x and z, exactly has_digits=False: one slice, the first name
    assert ("has_digits", False) in keys["z"] and ("non_ascii_name", True) not in keys["z"]
    sb = LiveScoreboard.from_cases(cases, theta=0.5)
    sb.add(_sample("x", 0, True))
    assert sb.snapshot()["slices"]["lang=de"]["n_samples"] == 1
