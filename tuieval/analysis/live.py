"""Live scoreboard: O(1)-per-sample running counts and anytime-valid decisions (docs/statistics.md §7).

The UI feeds samples as they complete.  Two kinds of state are kept per slice:

- running counts (samples, correct, errors, latencies) updated on arrival, for the
  numbers that fill the table;
- sequential statistics fed in DISPATCH order: the normal-mixture confidence sequence
  (§7.2) and the betting e-process for "decisively below θ" (§7.1).  Completion order
  depends on the outcomes (easy answers return first), which would void the
  anytime guarantees, so out-of-order completions wait in a buffer keyed by dispatch
  index until every earlier index has arrived.

A fixed-n Wilson interval recomputed after every sample is shown for orientation but
is NOT a stopping rule; decisions come only from the e-process.
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np

from tuieval.analysis.latency import latency_summary
from tuieval.analysis.slices import column_levels, derive_features, distinct_levels
from tuieval.analysis.stats import normal_mixture_halfwidth, wilson
from tuieval.sample_rules import is_correct, is_error

OVERALL = ("overall", None)


def _lambdas(theta: float, direction: str, J: int, c: float) -> np.ndarray:
    if not 0.0 < theta < 1.0:
        raise ValueError("theta must be in (0, 1)")
    cap = 1.0 / (1.0 - theta) if direction == "below" else 1.0 / theta
    return (np.arange(1, J + 1) / J) * c * cap


def betting_eprocess(x: Sequence[float], theta: float, *, direction: str = "below", J: int = 20,
                     c: float = 0.5) -> np.ndarray:
    """log M_t for t = 1..T of the mixture betting e-process, in one vectorised pass (§7.1).

    direction="below" tests H0: μ ≥ θ with K_t(λ) = Π(1 + λ(θ − X_i)), λ_j = (j/J)·c/(1−θ);
    "above" tests H0: μ ≤ θ with 1 + λ(X_i − θ), λ_j = (j/J)·c/θ.  M_t is the grid average.
    Reject (declare) at the first t with log M_t ≥ log(1/α).
    """
    x = np.asarray(x, dtype=float)
    lam = _lambdas(theta, direction, J, c)
    step = (theta - x) if direction == "below" else (x - theta)
    logk = np.cumsum(np.log1p(np.outer(step, lam)), axis=0)
    mx = logk.max(axis=1, keepdims=True)
    return (mx[:, 0] + np.log(np.exp(logk - mx).sum(axis=1))) - math.log(J)


class EProcess:
    """Incremental form of `betting_eprocess`: O(J) per observation, log space throughout."""

    __slots__ = ("theta", "direction", "lam", "log_k", "t", "log_threshold", "crossed_at", "J")

    def __init__(self, theta: float, alpha: float = 0.05, *, direction: str = "below", J: int = 20,
                 c: float = 0.5) -> None:
        self.theta, self.direction, self.J = theta, direction, J
        self.lam = _lambdas(theta, direction, J, c)
        self.log_k = np.zeros(J)
        self.t = 0
        self.log_threshold = math.log(1.0 / alpha)
        self.crossed_at: int | None = None  # Ville: once crossed, the decision stands

    def update(self, x: float) -> None:
        step = (self.theta - x) if self.direction == "below" else (x - self.theta)
        self.log_k += np.log1p(self.lam * step)
        self.t += 1
        if self.crossed_at is None and self.log_e >= self.log_threshold:
            self.crossed_at = self.t

    @property
    def log_e(self) -> float:
        mx = float(self.log_k.max())
        return mx + math.log(float(np.exp(self.log_k - mx).sum())) - math.log(self.J)


def e_bh(e_values: Mapping[Hashable, float], alpha: float = 0.05) -> set:
    """e-BH (Wang & Ramdas 2022): reject the top k* = max{k : e_(k) ≥ m/(α k)} (any dependence)."""
    items = sorted(e_values.items(), key=lambda kv: -kv[1])
    m = len(items)
    k_star = 0
    for k, (_, e) in enumerate(items, start=1):
        if e >= m / (alpha * k):
            k_star = k
    return {key for key, _ in items[:k_star]}


class _SliceState:
    __slots__ = ("n", "correct", "errors", "lat", "ttft", "t", "sum_x", "below", "above", "planned")

    def __init__(self, planned: int | None, theta: float | None, alpha: float, J: int, c: float) -> None:
        self.n = 0
        self.correct = 0
        self.errors = 0
        self.lat: list[float] = []
        self.ttft: list[float] = []
        self.t = 0          # items completed, in dispatch order
        self.sum_x = 0.0
        self.planned = planned
        self.below = EProcess(theta, alpha, direction="below", J=J, c=c) if theta is not None else None
        self.above = EProcess(theta, alpha, direction="above", J=J, c=c) if theta is not None else None


def slice_keys_for_cases(cases: Sequence[Mapping[str, Any]]) -> dict[Any, list[tuple[str, Any]]]:
    """case_id → its (key, value) slices: metadata levels and derived features, as the report names them."""
    ids = [c["case_id"] for c in cases]
    columns: dict[str, list] = {}
    keys: dict[str, None] = {}
    for c in cases:
        for k in (c.get("metadata") or {}):
            keys.setdefault(k, None)
    for k in keys:
        columns[k] = [(c.get("metadata") or {}).get(k) for c in cases]
    derived = derive_features([c.get("input_text") or "" for c in cases])
    for k in ("input_tokens", "script", "has_digits", "non_ascii_name"):
        columns[k if k not in keys else f"derived.{k}"] = derived[k]
    by_column = {}
    for k, vals in columns.items():
        levels, why = column_levels(k, vals)
        if not why:
            by_column[k] = levels
    # as in the report: no slice that holds every case, one slice per set of cases
    by_column, _ = distinct_levels(by_column, len(ids))
    out: dict[Any, list[tuple[str, Any]]] = {cid: [] for cid in ids}
    for k, levels in by_column.items():
        for lv in levels:
            for i in np.flatnonzero(lv.mask):
                out[ids[i]].append((k, lv.value))
    return out


class LiveScoreboard:
    """Incremental per-slice aggregator for a run in progress.

    case_slices: case_id → slice keys it belongs to (see `slice_keys_for_cases`); every
    case is also in ("overall", None).  samples_per_case: samples one case gets in total
    (templates × N); an item's score X = mean of its samples enters the sequential
    procedures when its last sample is reached in dispatch order.  theta: threshold of
    the "decisively below/above θ" e-processes (None: no tests).  Dispatch indices are
    expected to be unique and contiguous from `start_index`; `skip(i)` declares an index
    that will never arrive, `flush()` drains the buffer at the end of a run.
    """

    def __init__(self, case_slices: Mapping[Any, Iterable[tuple[str, Any]]] | None = None, *,
                 samples_per_case: int = 1, theta: float | None = None, alpha: float = 0.05,
                 planned_cases: int | None = None, start_index: int = 0, J: int = 20, c: float = 0.5) -> None:
        self.alpha, self.theta, self.J, self.c = alpha, theta, J, c
        self.k = max(1, int(samples_per_case))
        self.case_slices: dict[Any, list[tuple[str, Any]]] = {}
        planned: dict[tuple[str, Any], int] = {}
        for cid, keys in (case_slices or {}).items():
            ks = [OVERALL] + [k for k in keys if k != OVERALL]
            self.case_slices[cid] = ks
            for k in ks:
                planned[k] = planned.get(k, 0) + 1
        if planned_cases is not None:
            planned[OVERALL] = planned_cases
        self._planned = planned
        self.slices: dict[tuple[str, Any], _SliceState] = {}
        self._state(OVERALL)
        self.next_index = start_index
        self.buffer: dict[int, tuple[Any, float]] = {}
        self.item_sum: dict[Any, float] = {}
        self.item_count: dict[Any, int] = {}
        self.duplicates = 0

    @classmethod
    def from_cases(cls, cases: Sequence[Mapping[str, Any]], **kw) -> "LiveScoreboard":
        return cls(slice_keys_for_cases(cases), planned_cases=len(cases), **kw)

    def _state(self, key: tuple[str, Any]) -> _SliceState:
        st = self.slices.get(key)
        if st is None:
            st = self.slices[key] = _SliceState(self._planned.get(key), self.theta, self.alpha, self.J, self.c)
        return st

    def _keys(self, case_id: Any) -> list[tuple[str, Any]]:
        ks = self.case_slices.get(case_id)
        if ks is None:
            ks = self.case_slices[case_id] = [OVERALL]
        return ks

    # -- feeding ----------------------------------------------------------------------------------

    def add(self, sample: Mapping[str, Any]) -> None:
        """Record one finished sample: O(#slices of its case) work, plus draining the buffer.

        A dispatch index seen before (the same sample fed twice) is ignored entirely.
        """
        idx = sample.get("dispatch_order")
        if idx is None:
            idx = max(self.next_index, max(self.buffer, default=self.next_index - 1) + 1)
        idx = int(idx)
        if idx < self.next_index or idx in self.buffer:
            self.duplicates += 1
            return
        cid = sample["case_id"]
        err = is_error(sample)
        ok = is_correct(sample)
        lat = sample.get("latency_ms")
        ttft = sample.get("ttft_ms")
        for key in self._keys(cid):
            st = self._state(key)
            st.n += 1
            st.correct += ok
            st.errors += err
            if lat is not None:
                st.lat.append(float(lat))
            if ttft is not None:
                st.ttft.append(float(ttft))
        self.buffer[idx] = (cid, 1.0 if ok else 0.0)
        self._drain()

    def skip(self, index: int) -> None:
        """Declare that dispatch index `index` will never complete (e.g. cancelled)."""
        if index >= self.next_index and index not in self.buffer:
            self.buffer[index] = (None, math.nan)
            self._drain()

    def flush(self) -> None:
        """Sequence everything still buffered, in dispatch order, jumping over gaps (end of run)."""
        for idx in sorted(self.buffer):
            self.next_index = idx
            self._drain()

    def _drain(self) -> None:
        while self.next_index in self.buffer:
            cid, x = self.buffer.pop(self.next_index)
            self.next_index += 1
            if cid is None:
                continue
            s = self.item_sum.get(cid, 0.0) + x
            c = self.item_count.get(cid, 0) + 1
            if c >= self.k:
                item = s / c
                self.item_sum.pop(cid, None)
                self.item_count.pop(cid, None)
                for key in self._keys(cid):
                    st = self._state(key)
                    st.t += 1
                    st.sum_x += item
                    if st.below is not None:
                        st.below.update(item)
                        st.above.update(item)
            else:
                self.item_sum[cid] = s
                self.item_count[cid] = c

    # -- reading ----------------------------------------------------------------------------------

    def _slice_snapshot(self, st: _SliceState, with_latency: bool) -> dict:
        acc = st.correct / st.n if st.n else None
        # item as the unit: k samples of one case are worth one item, not k
        ci = list(wilson(st.correct / self.k, st.n / self.k, self.alpha)) if st.n else None
        out: dict = {"n_samples": st.n, "n_correct": st.correct, "n_errors": st.errors,
                     "accuracy": acc, "accuracy_ci": ci, "planned_cases": st.planned,
                     "error_rate": (st.errors / st.n) if st.n else None}
        live: dict = {"t": st.t, "mean": (st.sum_x / st.t) if st.t else None, "cs": None}
        if st.t:
            v_opt = (st.planned if st.planned else max(st.t, 100)) / 4.0
            hw = normal_mixture_halfwidth(st.t, v_opt, self.alpha)
            m = st.sum_x / st.t
            live["cs"] = [max(0.0, m - hw), min(1.0, m + hw)]
        if st.below is not None:
            live.update(theta=self.theta, e_value_below=math.exp(min(700.0, st.below.log_e)),
                        decisively_below=st.below.crossed_at is not None, below_at=st.below.crossed_at,
                        e_value_above=math.exp(min(700.0, st.above.log_e)),
                        decisively_above=st.above.crossed_at is not None, above_at=st.above.crossed_at)
        out["live"] = live
        if with_latency:
            out["latency_ms"] = latency_summary(st.lat)
            ttft = latency_summary(st.ttft)
            out["ttft_ms"] = {k: ttft[k] for k in ("p50", "p95", "p99", "n")}
        return out

    def snapshot(self, *, with_latency: bool = True) -> dict:
        """Per-slice accuracy with Wilson CI (fixed-n, orientation only), the live confidence
        sequence and e-process decisions; plus e-BH over all slices' "below θ" e-values
        (valid under any dependence between slices).  Slice keys are "key=value" strings."""
        slices = {}
        for key, st in self.slices.items():
            name = "overall" if key == OVERALL else f"{key[0]}={key[1]}"
            slices[name] = {"key": key[0], "value": key[1], **self._slice_snapshot(st, with_latency)}
        out = {"overall": slices.pop("overall"), "slices": slices, "pending": len(self.buffer),
               "next_dispatch": self.next_index, "duplicates": self.duplicates}
        if self.theta is not None:
            e_vals = {name: s["live"]["e_value_below"] for name, s in slices.items()}
            out["below_ebh"] = sorted(e_bh(e_vals, self.alpha))
        return out
