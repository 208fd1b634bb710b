"""Slice membership kept with a stored report, so the app reads a slice's cases instead of
deriving every case's features again.

A report lists its slices by (key, value); which cases each holds is the analysis's rule
(`tuieval.analysis.report.slice_membership`: metadata values, numeric bins, derived features,
levels with the same cases listed once). At 100,000 cases that rule costs the app seconds (the
derived features of every input text). When a finished run's report is stored, the analysis
has just derived those features (`derive_features` answers a repeated call from memory), so the
membership is computed then and kept as one boolean row per level over the run's sampled case
ids — the order of the stored per-sample arrays (`tuieval.report.stored.SampleArrays.case_ids`),
so a slice's samples are `mask[sample_case]`. The bits are packed (numpy `packbits`) in one row
of `report_slices` (tuieval.store.report_slices), under the report's fingerprint: a report
stored again replaces it, a stale one is never read, and a report stored before this existed
has none (the app then computes it as before, `masks_from_cases`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.report import slice_masks
from tuieval.store import Store
from tuieval.store import report_slices

#: (key, slice_value_key(value)) → one bool per case id, in the order of the case ids given
Masks = dict[tuple[str, Any], np.ndarray]


def masks_from_cases(cases: Sequence[Mapping[str, Any]], case_ids: Sequence[str]) -> Masks:
    """The membership of every slice level over `case_ids` (the run's sampled cases), by the
    analysis's rule (`slice_masks`: the analysis's own level masks, reordered)."""
    return slice_masks(cases, case_ids)


def _json_key(value: Any) -> Any:
    """A level's value as JSON can hold it (slice_value_key gives str, int, float, bool or None;
    a numpy number is turned into its Python twin so it reads back as the report's JSON does)."""
    return value.item() if isinstance(value, np.generic) else value


def pack(masks: Masks) -> tuple[str, bytes]:
    """(levels JSON, bits): the levels in insertion order and their masks packed, one row each."""
    levels = [[k, _json_key(v)] for k, v in masks]
    if not masks:
        return json.dumps(levels), b""
    matrix = np.vstack([np.asarray(m, dtype=bool) for m in masks.values()])
    return json.dumps(levels, ensure_ascii=False), np.packbits(matrix, axis=1).tobytes()


def unpack(n_cases: int, levels_json: str, bits: bytes) -> Masks:
    """The masks `pack` packed."""
    levels = json.loads(levels_json)
    if not levels:
        return {}
    width = (n_cases + 7) // 8
    rows = np.frombuffer(bits, dtype=np.uint8, count=len(levels) * width).reshape(len(levels), width)
    matrix = np.unpackbits(rows, axis=1, count=n_cases).astype(bool)
    return {(str(k), v): matrix[i] for i, (k, v) in enumerate(levels)}


def write_membership(store: Store, run_id: str, fingerprint: str, masks: Masks, n_cases: int) -> None:
    """Keep the run's slice membership (`masks_from_cases` over the arrays' `n_cases` case ids),
    inside the report's write transaction."""
    levels, bits = pack(masks)
    report_slices.write_slices(store, run_id, fingerprint, n_cases, levels, bits)


def load_membership(store: Store, run_id: str, fingerprint: str, case_ids: Sequence[str]) -> Masks | None:
    """The membership stored with the report under `fingerprint`, over `case_ids` (the stored
    arrays' case ids); None when there is none, it is stale, or it was kept over other cases."""
    row = report_slices.read_slices(store, run_id, fingerprint)
    if row is None or row["n_cases"] != len(case_ids):
        return None
    return unpack(row["n_cases"], row["levels"], row["bits"])
