"""How a finished run's report is kept in the store and read back, whole or in parts.

`store_report` splits the tuieval.report/1 document: the per-case list (most of its bytes: at a
million samples, 100,000 entries) goes one row per case, the rest is one JSON text with `cases`
null, and the per-sample arrays the app's charts draw are packed beside it. `load_report` puts
the document back together exactly (`tuieval report --format json` prints what the first build
printed); `load_report(..., with_cases=False)` is the scoreboard's read, which never decodes the
cases. Given the analysis's cases, the slice membership of every case is kept beside it
(tuieval.report.slice_membership_store). The arrays are kept in latency order, so the charts
draw any slice's samples without sorting a million numbers on the app's event loop. The SQL is
tuieval.store.report_parts'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from tuieval.sample_columns import SampleColumns
from tuieval.sample_rules import is_error
from tuieval.store import Store
from tuieval.store import report_parts


@dataclass
class SampleArrays:
    """One entry per sample: in the analysis rows' order (case, template, sample index) from
    `sample_arrays`, in latency order (`by_latency`) as stored and read back."""

    case_ids: list[str]          # the run's sampled case ids, sorted
    sample_case: np.ndarray      # index into case_ids
    latency: np.ndarray          # ms, NaN when unknown (a cached sample's too)
    correct: np.ndarray          # bool, the sample rules applied
    error: np.ndarray            # bool


def sample_arrays(samples: Sequence[dict[str, Any]]) -> SampleArrays:
    """The arrays of the analysis rows (Store.analysis_samples); from the columns themselves when
    the rows are a SampleColumns (no dictionary per sample: a million of them cost seconds)."""
    if isinstance(samples, SampleColumns):
        return _column_arrays(samples)
    case_ids = sorted({s["case_id"] for s in samples})
    index = {c: i for i, c in enumerate(case_ids)}
    n = len(samples)
    return SampleArrays(
        case_ids=case_ids,
        sample_case=np.fromiter((index[s["case_id"]] for s in samples), dtype=np.int64, count=n),
        latency=np.fromiter((np.nan if s["latency_ms"] is None else s["latency_ms"] for s in samples),
                            dtype=float, count=n),
        correct=np.fromiter((s["correct"] for s in samples), dtype=bool, count=n),
        error=np.fromiter((is_error(s) for s in samples), dtype=bool, count=n),
    )


def by_latency(arrays: SampleArrays) -> SampleArrays:
    """The same samples ordered by latency, unknown latencies last (a stable sort: ties keep
    the analysis rows' order). Then `latency[mask]` is in order for any mask: what the charts
    of a slice need."""
    order = np.argsort(arrays.latency, kind="stable")  # numpy sorts NaN after every number
    return SampleArrays(case_ids=arrays.case_ids, sample_case=arrays.sample_case[order],
                        latency=arrays.latency[order], correct=arrays.correct[order], error=arrays.error[order])


def is_by_latency(latency: np.ndarray) -> bool:
    """Whether the latencies are ascending with every NaN at the end (arrays stored before they
    were kept in this order are not)."""
    known = ~np.isnan(latency)
    k = int(known.sum())
    return bool(known[:k].all() and (latency[1:k] >= latency[:k - 1]).all()) if k else True


def _column_arrays(samples: SampleColumns) -> SampleArrays:
    """`sample_arrays` of columns: the same arrays, read with numpy (held to the row path by
    tests/report/test_columnar_analysis.py)."""
    if len(samples) == 0:
        return SampleArrays(case_ids=[], sample_case=np.zeros(0, dtype=np.int64), latency=np.zeros(0),
                            correct=np.zeros(0, dtype=bool), error=np.zeros(0, dtype=bool))
    case_ids, sample_case = samples.case_codes()
    return SampleArrays(case_ids=case_ids, sample_case=sample_case,
                        latency=samples.floats("latency_ms").copy(), correct=samples.correct_mask.copy(),
                        error=samples.errors.copy())


def _pack(arrays: SampleArrays) -> dict[str, Any]:
    return {"n": int(arrays.latency.size), "case_ids": json.dumps(arrays.case_ids, ensure_ascii=False),
            "sample_case": arrays.sample_case.astype("<i4").tobytes(),
            "latency": arrays.latency.astype("<f8").tobytes(),
            "correct": arrays.correct.astype(np.uint8).tobytes(), "error": arrays.error.astype(np.uint8).tobytes()}


def _unpack(row: dict[str, Any]) -> SampleArrays:
    """Read-only views of the stored bytes, no copies (numpy indexes with int32 as well, and a
    stored 0/1 byte is a bool): at a million samples each copy is a few megabytes more before
    the scoreboard's first frame."""
    n = int(row["n"])
    return SampleArrays(case_ids=json.loads(row["case_ids"]),
                        sample_case=np.frombuffer(row["sample_case"], dtype="<i4", count=n),
                        latency=np.frombuffer(row["latency"], dtype="<f8", count=n),
                        correct=np.frombuffer(row["correct"], dtype=np.bool_, count=n),
                        error=np.frombuffer(row["error"], dtype=np.bool_, count=n))


def _num(x: Any) -> float | None:
    """A sort key column: a finite number, else NULL (listed last, as the app's worst_first does)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != x:
        return None
    return float(x)


def store_report(store: Store, run_id: str, fingerprint: str, report: dict[str, Any],
                 samples: Sequence[dict[str, Any]] | None,
                 cases: Sequence[dict[str, Any]] | None = None, *,
                 arrays: SampleArrays | None = None, masks: Any = None, before_write=None) -> None:
    """Keep a finished run's report (and, given its analysis rows, the charts' arrays; given
    the analysis's cases as well, which cases each slice holds). `arrays` (`sample_arrays` of
    `samples`) and `masks` (`masks_from_cases` over its case ids) when the caller made them
    already; `before_write` is called once everything is encoded, just before the write
    transaction (tuieval.report.build waits there for its clusters' write-back)."""
    from tuieval.report.slice_membership_store import masks_from_cases, write_membership

    if arrays is None and samples is not None:
        arrays = sample_arrays(samples)
    arrays = by_latency(arrays) if arrays is not None else None
    packed = _pack(arrays) if arrays is not None else None
    # computed before the write transaction opens, so another writer of the file never waits on it
    if masks is None:
        masks = masks_from_cases(cases, arrays.case_ids) if arrays is not None and cases is not None else None
    listed = report.get("cases")
    if not isinstance(listed, list):  # nothing to keep apart: the document as it is
        head, rows = json.dumps(report, ensure_ascii=False), None
    else:
        head = json.dumps({**report, "cases": None}, ensure_ascii=False)
        if len(listed) >= _PIPELINE_FROM and store._can_write_beside():
            return _store_pipelined(store, run_id, fingerprint, head, listed, packed, masks,
                                    len(arrays.case_ids) if arrays is not None else 0, before_write)
        rows = _case_rows(listed, _entry_encoder())
    if before_write is not None:
        before_write()
    with report_parts.writing(store):
        report_parts.write_report(store, run_id, fingerprint, head, rows, packed)
        if masks is not None:  # (write_report dropped the previous report's)
            write_membership(store, run_id, fingerprint, masks, len(arrays.case_ids))


#: case entries from which the report is written by a thread while this one encodes them
_PIPELINE_FROM = 5_000
#: entries encoded per batch handed to the writing thread
_PIPELINE_BATCH = 2_048


def _case_rows(entries, encode) -> list[tuple[str, float | None, float | None, str]]:
    """(case id, accuracy, consistency, entry JSON) per entry: report_parts.write_report's rows."""
    num = _num
    return [(str(c.get("id")),
             a if (a := c.get("accuracy")).__class__ is float and a == a else num(a),
             k if (k := c.get("consistency")).__class__ is float and k == k else num(k),
             encode(c)) for c in entries]


class _Abandoned(Exception):
    """The encoding thread failed: the writing thread rolls the report back."""


def _store_pipelined(store: Store, run_id: str, fingerprint: str, head: str, listed: list, packed, masks,
                     n_cases: int, before_write) -> None:
    """The write of `store_report` on a second connection in a thread (Store.write_beside), its
    case rows taken from a queue as this thread encodes them a batch at a time: the SQLite insert
    of 100,000 rows (a second or two, most of it inside SQLite, which releases the GIL) goes on
    beside the encoding instead of after it. One transaction as before (after `before_write`,
    which waits for the clusters' write-back); an error on either side stores nothing."""
    import queue

    from tuieval.report.slice_membership_store import write_membership

    batches: queue.SimpleQueue = queue.SimpleQueue()  # unbounded: the writer may wait on the write-back

    def rows():
        while True:
            batch = batches.get()
            if batch is None:
                return
            if batch is _Abandoned:
                raise _Abandoned()
            yield from batch

    def write(other: Store) -> None:
        if before_write is not None:
            before_write()
        with report_parts.writing(other):
            report_parts.write_report(other, run_id, fingerprint, head, rows(), packed)
            if masks is not None:
                write_membership(other, run_id, fingerprint, masks, n_cases)

    writer = store.write_beside(write)
    try:
        encode = _entry_encoder()
        for i in range(0, len(listed), _PIPELINE_BATCH):
            batches.put(_case_rows(listed[i:i + _PIPELINE_BATCH], encode))
    except BaseException:
        batches.put(_Abandoned)
        try:
            writer.wait()
        except _Abandoned:
            pass
        raise
    batches.put(None)
    writer.wait()


def _entry_encoder():
    """`json.dumps(entry, ensure_ascii=False)` for many entries: the json module's C encoder made
    once (json.dumps builds an encoder per call, a third of the time for 100,000 small entries),
    by the one maker of such encoders (tuieval.json_text). The same text (a test holds it to dumps)."""
    from tuieval.json_text import encoder

    return encoder(ensure_ascii=False)


def _decode_list(bodies: list[str]) -> list[Any]:
    """The entries as one JSON array, decoded in one call: as fast as the single text the report
    was before (a call per entry costs the interpreter's overhead 100,000 times)."""
    return json.loads("[" + ",".join(bodies) + "]")


def load_report(store: Store, run_id: str, fingerprint: str, *, with_cases: bool = True) -> dict[str, Any] | None:
    """The report stored under `fingerprint` (None when none is, or it is stale). Without
    `with_cases` a report kept in parts comes back without its `cases` key."""
    head = report_parts.read_head(store, run_id, fingerprint)
    if head is None:
        return None
    body, apart = head
    report = json.loads(body)
    if apart:
        if with_cases:
            report["cases"] = _decode_list(report_parts.read_case_bodies(store, run_id))
        else:
            del report["cases"]
    return report


def load_cases(store: Store, run_id: str) -> list[dict[str, Any]] | None:
    """The stored report's cases list in order, when it is kept apart; None otherwise."""
    if not report_parts.has_cases_apart(store, run_id):
        return None
    return _decode_list(report_parts.read_case_bodies(store, run_id))


def load_arrays(store: Store, run_id: str, fingerprint: str) -> SampleArrays | None:
    """The charts' arrays stored with the report under `fingerprint`, or None."""
    row = report_parts.read_arrays(store, run_id, fingerprint)
    if row is None:
        return None
    arrays = _unpack(row)
    # kept in the analysis rows' order before they were kept in latency order: sorted here, in the
    # reader's thread, once
    return arrays if is_by_latency(arrays.latency) else by_latency(arrays)
