"""`tuieval rescore`: extraction sensitivity of a stored run, with no new requests.

Every stored response is read again by each named extractor (tuieval.scoring.extractors)
and compared with its case's targets; the suite's own scorers take part with the verdicts
stored when the run was scored (`scorer:NAME`). The result is the
`robustness.extractors` section (tuieval.analysis.robustness.extraction) wrapped with the
run it came from (schema `tuieval.rescore/1`).
"""

from __future__ import annotations

import json
from operator import contains, itemgetter
from typing import Any, Sequence

import numpy as np

from tuieval.analysis.report import slice_membership
from tuieval.analysis.robustness.extraction import extraction_sensitivity
from tuieval.gc_pause import paused_gc
from tuieval.scoring.extractors import build_extractor
from tuieval.store import Store

SCHEMA = "tuieval.rescore/1"
#: what a rescore reads of a sample
_COLUMNS = ("case_id", "template", "sample_index", "response", "error")


def extractor_columns(built: Sequence[Any], samples: Sequence[dict[str, Any]], targets: dict[Any, Any], *,
                      keyed: bool = True) -> tuple[list[np.ndarray], list[Sequence[str | None]]]:
    """Per built-in extractor, its verdict on each sample and what it read (one column each);
    `keyed=False`: every verdict by the extractor's `equal` (see `_judge_pairs`)."""
    pair_index: dict[tuple[Any, Any], int] = {}
    pair_of = np.fromiter((pair_index.setdefault((s["case_id"], s.get("response")), len(pair_index))
                           for s in samples), dtype=np.int64, count=len(samples))
    pairs = list(pair_index)
    response_index: dict[Any, int] = {}
    response_of = [response_index.setdefault(r, len(response_index)) for _, r in pairs]
    responses = [None if r is None else str(r) for r in response_index]
    ok_columns: list[np.ndarray] = []
    read_columns: list[Sequence[str | None]] = []
    prepared: dict[Any, dict[Any, Any]] = {}
    for extractor in built:
        ok_pair, shown_pair = _judge_pairs(extractor, pairs, responses, response_of, targets, prepared, keyed=keyed)
        ok_columns.append(ok_pair[pair_of])
        read_columns.append(_gather(shown_pair, pair_of))
    return ok_columns, read_columns


#: the sample columns `read_samples` needs (the app reads one case's samples with them)
SAMPLE_COLUMNS = ("case_id", "template", "sample_index", "response", "error", "scores")


def read_samples(samples: Sequence[dict[str, Any]], targets: dict[Any, Any], extractors: Sequence[str], *,
                 include_scorers: bool = True) -> tuple[list[str], np.ndarray, list[list[str | None]]]:
    """A few samples (the app's inspector: one case) read by the suite's scorers (their stored
    verdicts, `scorer:NAME`) and the built-in `extractors`: (names, verdicts[sample, extractor],
    extracted[sample][extractor]). `samples` hold SAMPLE_COLUMNS; ValueError names a bad extractor."""
    built = [build_extractor(name) for name in extractors]
    stored = [json.loads(s.get("scores") or "{}") or {} for s in samples]
    scorer_names = list(dict.fromkeys(name for sc in stored for name in sc)) if include_scorers else []
    names = [f"scorer:{n}" for n in scorer_names] + [e.name for e in built]
    if len(set(names)) != len(names):
        raise ValueError(f"an extractor is named twice: {', '.join(names)}")
    ok_columns = [np.array([bool((sc.get(n) or {}).get("correct")) for sc in stored], dtype=bool)
                  for n in scorer_names]
    read_columns: list[Sequence[str | None]] = [[(sc.get(n) or {}).get("extracted") for sc in stored]
                                                for n in scorer_names]
    ok_built, read_built = extractor_columns(built, samples, targets)
    ok_columns += ok_built
    read_columns += read_built
    verdicts = (np.column_stack(ok_columns) if ok_columns else np.zeros((len(samples), 0), dtype=bool))
    extracted = [[col[i] for col in read_columns] for i in range(len(samples))]
    return names, verdicts.reshape(len(samples), len(names)), extracted


def rescore(store: Store, run_id: str, extractors: Sequence[str], *, include_scorers: bool = True,
            alpha: float = 0.05) -> dict[str, Any]:
    """Re-read a stored run's responses with `extractors` (built-in names); ValueError names a bad one."""
    # the collector paused: re-scoring builds hundreds of thousands of small containers (sample
    # rows, readings, the disagreement list), none in a cycle (a third of the time on 100,000 samples)
    with paused_gc():
        return _rescore(store, run_id, extractors, include_scorers=include_scorers, alpha=alpha)


def _rescore(store: Store, run_id: str, extractors: Sequence[str], *, include_scorers: bool,
             alpha: float) -> dict[str, Any]:
    built = [build_extractor(name) for name in extractors]
    run = store.get_run(run_id)
    samples = store.get_samples(run["id"], columns=_COLUMNS)
    targets = {cid: t for cid, (t, _) in store.case_targets(run["id"]).items()}
    stored = store.stored_verdicts(run["id"]) if include_scorers else {}
    scorer_names = list(stored)
    names = [f"scorer:{n}" for n in scorer_names] + [e.name for e in built]
    if len(set(names)) != len(names):
        raise ValueError(f"an extractor is named twice: {', '.join(names)}")
    # Columnar: one column of verdicts and one of readings per extractor. What an extractor reads
    # depends on the response alone, so each distinct response is read once per extractor however
    # often it repeats across samples and cases; each distinct (case, response) is judged once
    # against that case's targets, prepared once per case and extractor and only when a reading
    # of that case needs them.
    ok_columns: list[np.ndarray] = []
    read_columns: list[Sequence[str | None]] = []
    for name in scorer_names:
        correct, read = stored[name]
        ok_columns.append(np.array(correct, dtype=bool).reshape(len(samples)))
        read_columns.append(read)
    ok_built, read_built = extractor_columns(built, samples, targets)
    ok_columns += ok_built
    read_columns += read_built
    verdicts = (np.column_stack(ok_columns) if ok_columns else np.zeros((len(samples), 0), dtype=bool))
    cases = store.analysis_cases(run["id"])
    membership = slice_membership(cases, {s["case_id"] for s in samples})
    section = extraction_sensitivity(verdicts, read_columns, names, samples, slices=membership, alpha=alpha,
                                     columns=True)
    return {"schema": SCHEMA, "run": {k: run.get(k) for k in ("id", "suite", "model", "status", "samples_per_case")},
            "extractors_requested": list(extractors), **section}


def _judge_pairs(extractor: Any, pairs: Sequence[tuple[Any, Any]], responses: Sequence[str | None],
                 response_of: Sequence[int], targets: dict[Any, Any],
                 prepared: dict[Any, dict[Any, Any]] | None = None, *,
                 keyed: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """One extractor's (verdict, reading as written) on each distinct (case, response): every
    distinct response read once (`responses`, `response_of[k]` the response of pair k), and
    only the pairs with a reading judged. `prepared` (preparation → {case: prepared targets})
    is shared by the extractors of one rescore, so a case's targets are prepared once per way
    of comparing, not once per extractor (`boxed` compares as `number` and `strict` do).

    An extractor with `member_keys` (every built-in one) is judged by set look-ups: each key
    worked out once per distinct response, then `key in targets` for every pair by
    `operator.contains` mapped in C; `keyed=False` takes the plain loop (`equal` per pair),
    which tests hold the look-ups to."""
    read, show = extractor.reader, extractor.shown
    if prepared is None:
        prepared = {}
    readings = [None if r is None else read(r) for r in responses]
    if keyed and extractor.member_keys:
        return _judge_keyed(extractor, pairs, readings, response_of, targets, prepared)
    equal, prepare, parts = extractor.equal, extractor.prepare, extractor.prepare_parts
    ok = np.zeros(len(pairs), dtype=bool)
    shown: list[str | None] = [None] * len(pairs)
    hits: list[int] = []
    mine: dict[Any, Any] = {}          # this extractor's prepared targets by case
    as_is = show is str
    for k in [k for k, r in enumerate(response_of) if readings[r] is not None]:
        case = pairs[k][0]
        if case in mine:
            target = mine[case]
        else:
            target = mine[case] = _prepare(prepare, parts, case, targets, prepared)
        reading = readings[response_of[k]]
        # `str` of a str is the str itself: the call is skipped for the readers that give text
        shown[k] = reading if as_is and reading.__class__ is str else show(reading)
        if equal(reading, target):
            hits.append(k)
    ok[hits] = True
    return ok, shown


def _judge_keyed(extractor: Any, pairs: Sequence[tuple[Any, Any]], readings: list[Any],
                 response_of: Sequence[int], targets: dict[Any, Any],
                 prepared: dict[Any, dict[Any, Any]]) -> tuple[np.ndarray, list[str | None]]:
    # `_judge_pairs` by look-ups: what is shown and each key are per distinct response; the
    # pairs only gather them and their case's prepared targets
    show = extractor.shown
    as_is = show is str
    shown_of = [None if x is None else (x if as_is and x.__class__ is str else show(x)) for x in readings]
    resp = np.asarray(response_of, dtype=np.int64)
    ok = np.zeros(len(pairs), dtype=bool)
    has = np.fromiter((x is not None for x in readings), dtype=bool, count=len(readings))
    hit = np.flatnonzero(has[resp]) if len(pairs) else np.zeros(0, dtype=np.int64)
    if hit.size:
        hit_resp = resp[hit]
        hit_cases = _gather([c for c, _ in pairs], hit)
        parts = extractor.prepare_parts or (extractor.prepare,)
        verdict = None
        for key, part in zip(extractor.member_keys, parts):
            table = prepared.get(part)
            if table is None:
                table = prepared[part] = _Prepared(part, targets)
            values = readings if key is None else [None if x is None else key(x) for x in readings]
            got = np.fromiter(map(contains, map(table.__getitem__, hit_cases), _gather(values, hit_resp)),
                              dtype=bool, count=hit.size)
            verdict = got if verdict is None else verdict | got
        ok[hit] = verdict
    return ok, _gather(shown_of, resp)


class _Prepared(dict):
    """case → its targets prepared by one preparation, worked out on first use."""

    def __init__(self, part: Any, targets: dict[Any, Any]) -> None:
        super().__init__()
        self.part, self.targets = part, targets

    def __missing__(self, case: Any) -> Any:
        value = self[case] = self.part(list(self.targets.get(case) or []))
        return value


def _prepare(prepare: Any, parts: tuple[Any, ...], case: Any, targets: dict[Any, Any],
             prepared: dict[Any, dict[Any, Any]]) -> Any:
    # a case's targets prepared for one extractor: each part looked up in (or added to) the
    # shared table, so another extractor comparing the same way reuses it
    if not parts:
        parts, whole = (prepare,), True
    else:
        whole = False
    got = []
    for part in parts:
        table = prepared.get(part)
        if table is None:
            table = prepared[part] = _Prepared(part, targets)
        got.append(table[case])
    return got[0] if whole else tuple(got)


def _gather(values: Sequence[Any], index: np.ndarray) -> list[Any]:
    """values[i] for each i of index, as a list (itemgetter does the loop in C)."""
    if index.size == 0:
        return []
    if index.size == 1:
        return [values[int(index[0])]]
    return list(itemgetter(*index.tolist())(values))
