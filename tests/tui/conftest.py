"""Fixtures for the app tests: a deterministic database and an app factory.

The database is built once per session by the real engine (demo/steady and demo/brittle on the
extraction suite, TUIEVAL_DEMO_SPEED=0 so the simulated latencies are computed, not measured),
with run ids and timestamps pinned so snapshots do not depend on the clock. Each test gets its
own copy of the file.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "sample_suites"
EXTRACTION = str(SUITES / "extraction.yaml")
QA = str(SUITES / "qa.yaml")
FIXED_TIME = "2026-01-02T03:04:05+00:00"
STEADY, BRITTLE = "run-a-steady", "run-b-brittle"


def pin_clock(mp: pytest.MonkeyPatch, prefix: str = "run") -> None:
    """Run ids from a counter and one fixed timestamp: the database content is the same every time."""
    import tuieval.store.db as db

    counter = itertools.count(1)
    mp.setattr(db, "new_run_id", lambda: f"{prefix}-{next(counter):02d}")
    mp.setattr(db, "now_iso", lambda: FIXED_TIME)


def build_demo_db(path: Path, *, limit: int | None = None) -> None:
    from tuieval.backends.demo import DemoBackend
    from tuieval.engine import Engine, RunOptions
    from tuieval.report import build_report
    from tuieval.store import Store
    from tuieval.suite import load_suite

    suite = load_suite(EXTRACTION)
    with pytest.MonkeyPatch.context() as mp:
        pin_clock(mp)
        store = Store(path)
        for run_id, model in ((STEADY, "demo/steady"), (BRITTLE, "demo/brittle")):
            ids = iter([run_id])
            mp.setattr("tuieval.store.db.new_run_id", lambda: next(ids))
            backend = DemoBackend(model, model.split("/")[1], speed=0)
            engine = Engine(store, backend)
            options = RunOptions(model=model, concurrency=4, limit=limit)
            engine.create_run(suite, options)
            asyncio.run(engine.run(run_id, options))
            # a failure here is a regression in the report pipeline: let it fail every app test
            build_report(store, run_id, persist_clusters=True)
        store.close()


@pytest.fixture(scope="session")
def demo_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tuieval-db") / "demo.db"
    build_demo_db(path)
    return path


@pytest.fixture
def demo_db(demo_db_master: Path, tmp_path: Path) -> Path:
    """A private copy of the two-run demo database."""
    target = tmp_path / "demo.db"
    shutil.copy(demo_db_master, target)
    for suffix in ("-wal", "-shm"):
        src = Path(str(demo_db_master) + suffix)
        if src.exists():
            shutil.copy(src, Path(str(target) + suffix))
    return target


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs created during the test get ids app-01, app-02… and the fixed timestamp; demo models run instantly."""
    pin_clock(monkeypatch, "app")
    monkeypatch.setenv("TUIEVAL_DEMO_SPEED", "0")


@pytest.fixture
def make(pinned, tmp_path: Path):
    """make(db=None, suites=None, **kw) -> a TuievalApp (snapshot mode: no clocks on screen)."""
    from tuieval.tui.app import make_app

    def _make(db: Path | None = None, suites: list[str] | None = None, **kw):
        kw.setdefault("snapshot", True)
        kw.setdefault("clock", lambda: 1000.0)
        return make_app(suites or [EXTRACTION, QA], str(db or tmp_path / "empty.db"), **kw)

    return _make


class NotSettled(AssertionError):
    """The app kept starting work (or never met a condition) within the rounds allowed."""


async def settle(app, pilot, rounds: int = 50) -> None:
    """Wait for every worker (runs, analysis, loading) and the messages they posted.

    Raises NotSettled when workers are still running after `rounds` rounds: a test must not
    go on to assert against a screen that is still changing.
    """
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        await pilot.pause()
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            # an exclusive worker superseded by a newer one of its group (the Runs poll fires on a
            # timer and on every run change): not a failure; the next round waits for the newer one
            pass
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return
    running = ", ".join(sorted(w.name or repr(w) for w in app.workers if w.is_running))
    raise NotSettled(f"the app did not settle in {rounds} rounds; still running: {running}")


async def wait_until(pilot, condition, what: str, rounds: int = 5000) -> None:
    """Process messages until `condition()` holds; NotSettled (naming `what`) if it never does.

    Waits on the app's own progress (one round of its message queue at a time, workers left
    running), never on wall-clock time.
    """
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause()
    if not condition():
        raise NotSettled(f"gave up waiting for {what} after {rounds} rounds")
