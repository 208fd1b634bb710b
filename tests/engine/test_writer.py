"""Finished samples are committed in small batches, and each is reported only once committed."""

from __future__ import annotations

import asyncio
import sqlite3

from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions, SampleFinished
from tuieval.engine.writer import SampleWriter, batch_rows_for
from tuieval.store import Store
from tuieval.suite import load_suite


def _row(run_id: str, i: int) -> dict:
    return {"run_id": run_id, "case_id": f"c{i:03d}", "template": "default", "sample_index": 0,
            "dispatch_order": i, "prompt": "[]", "response": f"Answer: tok{i}", "correct": True, "score": 1.0}


def _store_with_run(tmp_path, n_cases: int) -> tuple[Store, str]:
    suite = load_suite(write_echo_suite(tmp_path, n_cases))
    store = Store(tmp_path / "w.db")
    engine = Engine(store, create_backend("demo/steady"))
    return store, engine.create_run(suite, RunOptions(model="demo/steady"))


def _count_commits(store: Store) -> list[str]:
    """Every transaction the store's connection commits, seen through SQLite's trace hook (not
    the writer's own count): each COMMIT, and each sample INSERT run outside a transaction
    (autocommit: a transaction of its own)."""
    seen: list[str] = []
    conn = store.conn

    def trace(sql: str) -> None:
        text = sql.strip().upper()
        if text == "COMMIT" or (text.startswith("INSERT INTO SAMPLES ") and not conn.in_transaction):
            seen.append(text)

    conn.set_trace_callback(trace)
    return seen


def test_ten_samples_at_four_per_commit_take_three_transactions(tmp_path):
    store, run_id = _store_with_run(tmp_path, 10)
    commits = _count_commits(store)
    writer = SampleWriter(store, max_rows=4, max_delay_s=0.01)

    async def go():
        return await asyncio.gather(*(writer.add(_row(run_id, i)) for i in range(10)))

    stored = asyncio.run(go())
    # 4 + 4 when the batch fills, the last 2 when the timer fires: 3 transactions, not 10
    assert len(commits) == 3
    assert stored == [True] * 10
    assert store.conn.execute("SELECT COUNT(*) FROM samples WHERE run_id = ?", (run_id,)).fetchone()[0] == 10


def test_a_key_stored_twice_is_reported_as_not_stored(tmp_path):
    store, run_id = _store_with_run(tmp_path, 2)
    writer = SampleWriter(store, max_rows=3, max_delay_s=0.01)

    async def go():
        return await asyncio.gather(writer.add(_row(run_id, 0)), writer.add(_row(run_id, 1)),
                                    writer.add(_row(run_id, 0)))

    assert asyncio.run(go()) == [True, True, False]


def test_a_cancelled_wait_leaves_its_sample_to_the_final_flush(tmp_path):
    store, run_id = _store_with_run(tmp_path, 2)
    writer = SampleWriter(store, max_rows=10, max_delay_s=60.0)  # nothing would commit on its own

    async def go():
        tasks = [asyncio.create_task(writer.add(_row(run_id, i))) for i in range(2)]
        await asyncio.sleep(0)  # both rows handed to the writer
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert store.conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 0
        writer.flush()  # what Engine.run does in its finally

    asyncio.run(go())
    assert store.conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 2


def test_batch_size_follows_the_concurrency():
    # every sample alone below concurrency 16, then half the slots, at most 64
    assert [batch_rows_for(c) for c in (1, 8, 15, 16, 64, 500)] == [1, 1, 1, 8, 32, 64]


def test_every_sample_is_on_disk_when_its_finished_event_arrives(tmp_path, model_server):
    n = 48
    suite = load_suite(write_echo_suite(tmp_path, n))
    db = tmp_path / "e.db"
    store = Store(db)
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/m", base_url=model_server.openai_base_url, timeouts=timeouts)
    options = RunOptions(model="openai-compatible/m", base_url=model_server.openai_base_url, concurrency=16,
                         timeouts=timeouts)
    reader = sqlite3.connect(db)  # another connection sees only what is committed
    seen_on_disk: list[bool] = []

    def on_event(event) -> None:
        if isinstance(event, SampleFinished):
            key = (event.key.case_id, event.key.template, event.key.sample_index)
            seen_on_disk.append(reader.execute(
                "SELECT COUNT(*) FROM samples WHERE case_id = ? AND template = ? AND sample_index = ?",
                key).fetchone()[0] == 1)

    engine = Engine(store, backend, on_event)
    run_id = engine.create_run(suite, options)
    commits = _count_commits(store)

    async def go():
        try:
            return await engine.run(run_id, options)
        finally:
            await backend.aclose()

    finished = asyncio.run(go())
    reader.close()
    assert finished.status == "complete" and finished.n_done == n
    assert seen_on_disk == [True] * n
    # at most 8 samples per commit at concurrency 16: at least 6 transactions; one per sample is 48
    assert 6 <= len(commits) < n
