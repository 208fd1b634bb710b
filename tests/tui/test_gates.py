"""The scoreboard shows each gate's status: ✓/✗, the gate, its value and n, failed gates first."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml
from textual.widgets import Static

from tests.tui.conftest import EXTRACTION, pin_clock, settle

RUN = "run-gates"


@pytest.fixture(scope="module")
def gated_db(tmp_path_factory) -> tuple[Path, Path]:
    """demo/brittle on the extraction suite with gates it fails (and one it passes)."""
    from tuieval.backends.demo import DemoBackend
    from tuieval.engine import Engine, RunOptions
    from tuieval.store import Store
    from tuieval.suite import load_suite

    tmp = tmp_path_factory.mktemp("gates")
    spec = yaml.safe_load(Path(EXTRACTION).read_text())
    spec["gates"] = [{"metric": "accuracy", "min": 0.5},
                     {"metric": "accuracy", "slice": "name_origin=non_english", "min": 0.8},
                     {"metric": "accuracy", "slice": "length=long", "min": 0.9}]
    spec["dataset"]["path"] = str(Path(EXTRACTION).parent / spec["dataset"]["path"])  # the copy lives elsewhere
    suite_path = tmp / "strict.yaml"
    suite_path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    db = tmp / "gates.db"
    with pytest.MonkeyPatch.context() as mp:
        pin_clock(mp)
        mp.setattr("tuieval.store.db.new_run_id", lambda: RUN)
        store = Store(db)
        engine = Engine(store, DemoBackend("demo/brittle", "brittle", speed=0))
        options = RunOptions(model="demo/brittle", concurrency=4)
        engine.create_run(load_suite(str(suite_path)), options)
        asyncio.run(engine.run(RUN, options))
        store.close()
    return db, suite_path


def _accuracy(db: Path, key: str | None = None, value: str | None = None) -> tuple[float, int]:
    """Mean correctness and number of cases, straight from the stored samples (not the report)."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT s.correct, c.metadata, s.case_id FROM samples s JOIN cases c "
                        "ON c.run_id = s.run_id AND c.case_id = s.case_id WHERE s.run_id = ?", (RUN,)).fetchall()
    conn.close()
    import json

    picked = [(ok, cid) for ok, meta, cid in rows if key is None or json.loads(meta).get(key) == value]
    return sum(ok for ok, _ in picked) / len(picked), len({cid for _, cid in picked})


def _expected(db: Path) -> list[dict]:
    """The gate list as the report's schema states it, computed here from the samples."""
    out = []
    for slice_, key, value, threshold in ((None, None, None, 0.5),
                                          ("name_origin=non_english", "name_origin", "non_english", 0.8),
                                          ("length=long", "length", "long", 0.9)):
        acc, n = _accuracy(db, key, value)
        out.append({"gate": f"accuracy >= {threshold:g} on {slice_ or 'overall'}", "slice": slice_,
                    "metric": "accuracy", "op": ">=", "threshold": threshold, "value": acc, "n": n,
                    "passed": acc >= threshold})
    return out


async def test_the_scoreboard_shows_failed_gates_first_with_value_and_n(make, gated_db):
    db, suite_path = gated_db
    expected = _expected(db)
    assert [g["passed"] for g in expected] == [True, False, False]  # the fixture fails two gates
    app = make(db, [str(suite_path)], show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.request_analysis(RUN)
        await settle(app, pilot)
        report = app.run_data(RUN).report
        if "gates" not in report:  # a report built before the gate list existed
            report["gates"] = expected
        app.open_run(RUN)
        await settle(app, pilot)
        line = app.screen.query_one("#sb-gates", Static)
        shown = str(line.render())
        assert line.display and line.has_class("-failed")
    assert shown.startswith("2 of 3 gates failed")
    failed = [g for g in expected if not g["passed"]]
    # failed first, each with ✗, its value to 3 places and its n; the passing one after, with ✓
    positions = [shown.index(f"✗ {g['gate'].split(' on ')[0]}") for g in failed]
    assert positions == sorted(positions)
    for g in failed:
        assert f"{g['value']:.3f} (n={g['n']})" in shown
    assert shown.index("✓") > max(positions)
    assert f"{expected[0]['value']:.3f} (n={expected[0]['n']})" in shown


async def test_no_gate_line_without_gates(make, demo_db):
    from tests.tui.conftest import STEADY

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        app.request_analysis(STEADY)
        await settle(app, pilot)
        app.run_data(STEADY).report["gates"] = []
        app.open_run(STEADY)
        await settle(app, pilot)
        assert not app.screen.query_one("#sb-gates", Static).display
