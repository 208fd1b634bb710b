"""Store access for shadow evaluations: the link between a candidate run and its baseline run,
and cases added to a run while it grows batch by batch (a shadow replay may stop early, so it
stores only the prompts it reached)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable, Sequence

from tuieval.store.db import Store, now_iso


def add_cases(store: Store, run_id: str, cases: Iterable[dict[str, Any]]) -> int:
    """Append cases (case_id, vars, targets, metadata, input_text) to a run and raise its
    n_cases / n_expected to match; returns how many were added (a case already there is kept)."""
    return add_encoded_cases(store, run_id, ((c["case_id"], json.dumps(c["vars"], ensure_ascii=False),
                                              json.dumps(c["targets"], ensure_ascii=False),
                                              json.dumps(c["metadata"], ensure_ascii=False), c["input_text"])
                                             for c in cases))


def add_encoded_cases(store: Store, run_id: str, rows: Iterable[tuple[str, str, str, str, str]]) -> int:
    """`add_cases` with the columns already encoded: (case_id, vars JSON, targets JSON, metadata
    JSON, input_text). A shadow replay encodes a prompt once for both of its runs."""
    return len(append_encoded_cases(store, run_id, rows))


def append_encoded_cases(store: Store, run_id: str, rows: Iterable[tuple[str, str, str, str, str]]) -> list[str]:
    """`add_encoded_cases`, returning the ids of the cases it added (in order; those already
    stored are kept and left out).

    One look-up of the batch's ids that are already stored, then one executemany: a replay
    batch costs what it holds, whatever the run holds. Inside the caller's transaction when one is
    open (tuieval.store.bulk.joined_transaction)."""
    from tuieval.store.bulk import joined_transaction

    rows = list(rows)
    ids = json.dumps([r[0] for r in rows])
    with joined_transaction(store):
        position = int(store.conn.execute("SELECT n_cases FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
        seen = {r[0] for r in store.conn.execute(
            "SELECT case_id FROM cases WHERE run_id = ? AND case_id IN (SELECT value FROM json_each(?))",
            (run_id, ids))}
        new = []
        for case_id, vars_json, targets_json, metadata_json, input_text in rows:
            if case_id in seen:
                continue
            seen.add(case_id)
            new.append((run_id, case_id, position + len(new), vars_json, targets_json, metadata_json, input_text))
        store.conn.executemany(
            "INSERT INTO cases (run_id, case_id, position, vars, targets, metadata, input_text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", new)
        position += len(new)
        store.conn.execute("UPDATE runs SET n_cases = ?, n_expected = ? * n_templates * samples_per_case "
                           "WHERE id = ?", (position, position, run_id))
    return [r[1] for r in new]


def case_positions(store: Store, run_id: str, case_ids: Sequence[str]) -> list[tuple[str, int]]:
    """(case_id, position) of the stored cases among `case_ids`, in position order: `get_cases`
    without reading or decoding their columns (the engine planning a batch it was handed)."""
    return [(r[0], r[1]) for r in store.conn.execute(
        "SELECT case_id, position FROM cases WHERE run_id = ? AND case_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY position", (run_id, json.dumps(list(case_ids))))]


def save_shadow(store: Store, run_id: str, baseline_run_id: str, baseline_kind: str, log_path: str,
                config: dict[str, Any]) -> None:
    """Record (or update) the shadow link of a candidate run."""
    store.conn.execute(
        "INSERT INTO shadow_runs (run_id, baseline_run_id, baseline_kind, log_path, config, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET config = excluded.config",
        (run_id, baseline_run_id, baseline_kind, log_path, json.dumps(config, ensure_ascii=False), now_iso()))


def get_shadow(store: Store, run_id: str) -> dict[str, Any] | None:
    """The shadow link of a run ({run_id, baseline_run_id, baseline_kind, log_path, config}), None if
    the run is not a shadow candidate (or the database predates shadow runs)."""
    try:
        row = store.conn.execute("SELECT run_id, baseline_run_id, baseline_kind, log_path, config, created_at "
                                 "FROM shadow_runs WHERE run_id = ?", (run_id,)).fetchone()
    except sqlite3.OperationalError:   # a read-only database of an older schema has no shadow_runs table
        return None
    if row is None:
        return None
    out = dict(zip(("run_id", "baseline_run_id", "baseline_kind", "log_path", "config", "created_at"), row))
    out["config"] = json.loads(out["config"] or "{}")
    return out


def is_shadow_baseline(store: Store, run_id: str) -> bool:
    """Whether a run holds the baseline answers of some shadow evaluation."""
    try:
        return store.conn.execute("SELECT 1 FROM shadow_runs WHERE baseline_run_id = ? LIMIT 1",
                                  (run_id,)).fetchone() is not None
    except sqlite3.OperationalError:
        return False


def add_run_scorer(store: Store, run_id: str, scorer: dict[str, Any]) -> None:
    """Append a scorer spec to a stored run's config (a shadow run's pairwise judge, added once
    the replay is over so that only the disagreements are judged)."""
    with store._transaction():
        row = store.conn.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
        config = json.loads(row[0] or "{}")
        scorers = [s for s in config.get("scorers") or [] if s.get("name") != scorer.get("name")]
        config["scorers"] = [*scorers, scorer]
        store.conn.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(config, ensure_ascii=False), run_id))


def add_run_prices(store: Store, run_id: str, prices: dict[str, Any]) -> None:
    """Record prices (spec → Price.to_json()) with a stored run for the specs it has none for yet
    (a shadow run's judge, priced when the run starts: a later price change does not rewrite it)."""
    with store._transaction():
        row = store.conn.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
        config = json.loads(row[0] or "{}")
        stored = dict(config.get("prices") or {})
        if all(spec in stored for spec in prices):
            return
        for spec, price in prices.items():
            stored.setdefault(spec, price)
        config["prices"] = stored
        store.conn.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(config, ensure_ascii=False), run_id))


def add_samples(store: Store, rows: Iterable[dict[str, Any]]) -> int:
    """Store many finished samples in one transaction (the logged baseline's answers), their
    full-text index rows in one statement (tuieval.store.bulk); returns how many were new."""
    from tuieval.store.bulk import add_samples_bulk

    return add_samples_bulk(store, rows)


def set_verdicts(store: Store, run_id: str, verdicts: Iterable[tuple[tuple[str, str, int], str, dict]],
                 replaces: str) -> None:
    """Write many samples' verdicts in one statement: (key, name, {extracted, correct, score}) sets
    `scores[name]` in place of the run-time scorer's entry `replaces`, and the sample's correct and
    score from it. Other entries are kept: a judge's verdict stored before a resume is not lost when
    the resumed replay writes the agreement again. An error sample keeps correct = 0 (as
    `Store.set_sample_verdict`)."""
    gone = json.dumps(replaces)
    names: dict[str, str] = {}   # a few names for many rows: each encoded once
    # a few distinct verdicts for many rows too (a shadow replay's: agree or not): each verdict
    # mapping given again is encoded once, by identity (the caller's mappings are not changed)
    encoded: dict[int, tuple[Any, str]] = {}

    def verdict_json(v: dict) -> str:
        hit = encoded.get(id(v))
        if hit is None:
            hit = encoded[id(v)] = (v, json.dumps(v, ensure_ascii=False))   # v kept: its id stays its own
        return hit[1]

    rows = [(gone, names.get(name) or names.setdefault(name, json.dumps(name)), verdict_json(v),
             int(bool(v["correct"])), float(v["score"]), run_id, *key) for key, name, v in verdicts]
    with store._transaction():
        store.conn.executemany(
            "UPDATE samples SET scores = json_set(json_remove(COALESCE(scores, '{}'), '$.' || ?), '$.' || ?, json(?)), "
            "correct = ?, score = ? WHERE run_id = ? AND case_id = ? AND template = ? AND sample_index = ? "
            "AND error IS NULL", rows)


def lean_samples(store: Store, run_id: str, case_ids: list[str]) -> list[dict[str, Any]]:
    """`Store.analysis_samples` restricted to some cases (one replay batch), in the same order and
    with the same sample rules: a batch reads its own rows, not the whole run again."""
    from tuieval.sample_rules import is_correct
    from tuieval.store.db import ANALYSIS_COLUMNS, LEAN_SELECT

    rows = store.conn.execute(
        f"SELECT {', '.join(LEAN_SELECT)} FROM samples WHERE run_id = ? "
        "AND case_id IN (SELECT value FROM json_each(?)) ORDER BY case_id, template, sample_index",
        (run_id, json.dumps(case_ids))).fetchall()
    out = [dict(zip(ANALYSIS_COLUMNS, r)) for r in rows]
    for s in out:
        s["correct"] = is_correct(s)
    return out

