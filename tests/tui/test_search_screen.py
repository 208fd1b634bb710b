"""Searching the stored answers from the app: `/` in a run's cases searches that run, the palette's
"Search every answer" the whole database; results list run, case, sample, verdict and a snippet with
the match highlighted, model text shown literally; Enter opens the sample in the inspector."""

from __future__ import annotations

import json
import re
import sqlite3

from textual.widgets import DataTable, Input, Static, Tree

from tests.tui.conftest import BRITTLE, settle, wait_until

SIZE = (110, 32)


def _store_runs(path) -> None:
    """Two small runs with known answers: three say "I cannot", one of them with markup and escapes."""
    from tuieval.store import Store

    store = Store(path)
    answers = {"run-x": ["I cannot help with that request.", "Paris"],
               "run-y": ["Well, I cannot say.", "[bold]I cannot[/bold] \x1b[2J\x1b]52;c;ZXZpbA==\x07 comply"]}
    for n, (run_id, responses) in enumerate(answers.items()):
        store.create_run(
            {"id": run_id, "suite": "s", "model": f"demo/m{n}", "simulated": 1, "samples_per_case": 1,
             "temperature": 0.0, "n_cases": 2, "n_templates": 1, "n_expected": 2, "status": "complete",
             "started_at": "2026-01-02T03:04:05+00:00", "config": {"templates": []}},
            [{"case_id": f"c{i}", "position": i, "vars": {}, "targets": ["Paris"], "metadata": {},
              "input_text": "Capital?"} for i in range(2)])
        for i, response in enumerate(responses):
            store.add_sample({"run_id": run_id, "case_id": f"c{i}", "template": "t", "sample_index": 0,
                              "dispatch_order": i, "prompt": json.dumps([{"role": "user", "content": "Capital?"}]),
                              "response": response, "extracted": response, "correct": response == "Paris",
                              "score": float(response == "Paris"), "latency_ms": 100.0, "attempts": 1,
                              "created_at": "2026-01-02T03:04:05+00:00"})
    store.close()


def _cells(app) -> list[list]:
    table = app.screen.query_one("#search-table", DataTable)
    return [list(table.get_row_at(i)) for i in range(table.row_count)]


async def _search(app, pilot, query: str) -> None:
    box = app.screen.query_one("#search-input", Input)
    box.focus()
    box.value = query
    await pilot.press("enter")
    await settle(app, pilot)


async def test_palette_search_every_answer_lists_matches_inert_and_highlighted(make, tmp_path):
    from tuieval.tui.commands import TuievalCommands

    db = tmp_path / "answers.db"
    _store_runs(db)
    app = make(db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        command = next(c for c in TuievalCommands(app.screen)._commands() if c[0] == "Search every answer")
        command[1]()
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SearchScreen" and app.screen.run_id is None
        await _search(app, pilot, "I cannot")
        rows = _cells(app)
        # three samples hold the phrase, newest (last written) first; "Paris" does not
        assert [(r[0].plain, r[1].plain, r[3].plain) for r in rows] == [
            ("run-y", "c1", "wrong"), ("run-y", "c0", "wrong"), ("run-x", "c0", "wrong")]
        assert "3 samples match I cannot" in str(app.screen.query_one("#search-status", Static).render())
        hostile = rows[0][4]
        # the markup is text, the escape sequences are gone, the match is a styled span
        assert "[bold]" in hostile.plain and "[/bold]" in hostile.plain
        assert "\x1b" not in hostile.plain and "\x07" not in hostile.plain
        marked = [hostile.plain[s.start:s.end] for s in hostile.spans if "reverse" in str(s.style)]
        assert [m.lower() for m in marked] == ["i cannot"] or [m.lower() for m in marked] == ["i", "cannot"]
        # Enter opens that sample in the inspector, the cursor on it
        await pilot.press("enter")
        await settle(app, pilot)
        insp = app.screen
        assert type(insp).__name__ == "InspectorScreen"
        assert (insp.run_id, insp.case_id, insp.sample) == ("run-y", "c1", ("t", 0))
        node = insp.query_one("#insp-tree", Tree).cursor_node
        assert node is not None and node.data[0] == "member" and node.data[3]["response"].startswith("[bold]")


async def test_a_query_fts_rejects_is_one_line_not_a_crash(make, tmp_path):
    db = tmp_path / "answers.db"
    _store_runs(db)
    app = make(db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        from tuieval.tui.screens.search import SearchScreen

        app.push_screen(SearchScreen(None))
        await settle(app, pilot)
        await _search(app, pilot, "zebra")
        assert _cells(app) == []
        assert "no sample matches zebra" in str(app.screen.query_one("#search-status", Static).render())


def _word_matches(db, run_id: str, word: str) -> set[tuple[str, str, int]]:
    """Samples of the run whose prompt or response hold `word` as a word, found without FTS."""
    pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(word)}(?![0-9A-Za-z])", re.IGNORECASE)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, template, sample_index, prompt, response FROM samples "
                            "WHERE run_id = ?", (run_id,)).fetchall()
    return {(r[0], r[1], r[2]) for r in rows if pattern.search(r[3] or "") or pattern.search(r[4] or "")}


async def test_slash_in_a_runs_cases_searches_that_run_only(make, demo_db):
    with sqlite3.connect(demo_db) as conn:
        # a surname the brittle model answered, e.g. "Chapman"
        response = conn.execute("SELECT response FROM samples WHERE run_id = ? AND error IS NULL ORDER BY id LIMIT 1",
                                (BRITTLE,)).fetchone()[0]
        in_other = conn.execute("SELECT COUNT(*) FROM samples WHERE run_id != ?", (BRITTLE,)).fetchone()[0]
    word = re.findall(r"[A-Za-z]{3,}", response)[-1]
    expected = _word_matches(demo_db, BRITTLE, word)
    assert expected and in_other
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        await pilot.press("enter")  # the overall row: every case
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SliceCasesScreen"
        await pilot.press("slash")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SearchScreen", "the search screen")
        await settle(app, pilot)
        assert app.screen.run_id == BRITTLE
        await _search(app, pilot, word)
        results = app.screen.results
        got = {(r["case_id"], r["template"], r["sample_index"]) for r in results}
        assert {r["run_id"] for r in results} == {BRITTLE}
        if len(expected) <= 100:
            assert got == expected
        else:
            assert len(got) == 100 and got <= expected
