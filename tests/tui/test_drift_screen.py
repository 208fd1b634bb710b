"""The Drift screen (`tuieval drift … --app`): features left, the highlighted feature's levels right,
under-covered levels marked; driven with Pilot, and one snapshot on the sample suite and log."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tui.conftest import EXTRACTION, SUITES, settle
from tuieval.commands.drift import compute_drift

TRAFFIC = str(SUITES / "data" / "traffic.jsonl")


def _cells(app, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(table_id)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def _app(report, tmp_path: Path):
    from tuieval.tui.screens.drift import make_drift_app

    return make_drift_app(report, str(tmp_path / "app.db"), snapshot=True, clock=lambda: 1000.0)


async def test_levels_follow_the_highlighted_feature_and_mark_under_covered(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(json.dumps({"name": "hand", "template": "{{ q }}", "scorers": ["contains"], "cases": [
        {"id": f"c{i}", "q": "Who wrote it?", "target": "Ann", "metadata": {"tier": "free" if i < 25 else "pro"}}
        for i in range(30)]}), encoding="utf-8")
    # traffic: 6 free, 4 pro; the pro tier has 5 suite cases (< 20): under-covered.  One metadata
    # value carries markup and an escape sequence: shown literally, the escape removed
    rows = [{"prompt": "Who wrote it?", "metadata": {"tier": "free"}} for _ in range(6)]
    rows += [{"prompt": "Who wrote it?", "metadata": {"tier": "pro"}} for _ in range(4)]
    rows += [{"prompt": "Who wrote it?", "metadata": {"tier": "[bold]x\x1b[2J"}}]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report, _ = compute_drift(str(suite), str(log), None, 20)
    app = _app(report, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        assert type(app.screen).__name__ == "DriftScreen"
        features = _cells(app, "#drift-features")
        assert [r[0] for r in features] == ["tier", "input_tokens", "script", "has_digits", "non_ascii_name"]
        levels = _cells(app, "#drift-levels")
        # tier: suite 25 free / 5 pro / 0 of the odd value; traffic 6 / 4 / 1 of 11
        assert [(r[0], r[1], r[3], r[5]) for r in levels] == [
            ("free", "25  83%", "6  55%", ""), ("pro", "5  17%", "4  36%", "▲"), ("[bold]x", "0   0%", "1   9%", "▲")]
        await pilot.press("down")
        await settle(app, pilot)
        levels = _cells(app, "#drift-levels")
        assert [(r[0], r[1], r[3]) for r in levels] == [("short", "30 100%", "11 100%")]
        assert app.screen.query_one("#drift-levels").border_title.startswith("input_tokens: suite n=30")
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ != "DriftScreen"


def test_drift_screen_snapshot(snap_compare, pinned, tmp_path):
    report, _ = compute_drift(EXTRACTION, TRAFFIC, None, 40)

    async def run_before(pilot) -> None:
        await settle(pilot.app, pilot)
        await pilot.press("down", "down", "down")
        await settle(pilot.app, pilot)

    assert snap_compare(_app(report, tmp_path), terminal_size=(100, 32), run_before=run_before)
