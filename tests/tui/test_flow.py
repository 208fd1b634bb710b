"""Drive the app by keys as a user would: pick a suite, run it, drill down, go back, open past runs."""

from __future__ import annotations

import os

from tests.tui.conftest import BRITTLE, STEADY, settle, wait_until
from textual.widgets import DataTable, Input, Tree
from tuieval.tui.widgets.line_table import LineTable

SIZE = (100, 32)


async def test_pick_a_suite_filter_and_run_it(make, tmp_path):
    app = make(tmp_path / "new.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert type(app.screen).__name__ == "WelcomeScreen"  # empty database: the demo is offered
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SuitesScreen"
        # pick the second suite (short-qa), then back to extraction
        await pilot.press("down")
        await pilot.pause()
        table = app.screen.query_one("#case-table", DataTable)
        assert table.row_count == 24
        await pilot.press("up")
        await pilot.pause()
        assert table.row_count == 200
        # filter by metadata and text
        await pilot.press("slash", *"length=long", "enter")
        await pilot.pause()
        n_long = table.row_count
        assert 0 < n_long < 200
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 200
        # start a run from the form: demo/steady, first 6 cases
        await pilot.press("n")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunFormScreen"
        app.screen.query_one("#limit", Input).value = "6"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.current_mode == "live"
        live = app.live_runs[app.current_live]
        assert live.status == "complete" and live.n_done == 18 and live.simulated
        assert "simulated" in str(app.screen.query_one("#live-title").render())
        run = app.store.get_run(live.run_id)
        assert run["status"] == "complete" and run["n_samples"] == 18
        # the same run's scoreboard
        await pilot.press("b")
        await settle(app, pilot)
        board = app.screen.query_one("#sb-table", DataTable)
        assert app.screen.mode == "report" and board.row_count >= 2
        assert board.coordinate_to_cell_key((0, 0)).row_key.value == "overall"


async def test_form_rejects_bad_input(make):
    app = make(show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#model", Input).value = "nonsense"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunFormScreen"
        assert "provider/model" in str(app.screen.query_one("#error-model").render())
        assert app.focused is app.screen.query_one("#model", Input)
        await pilot.press("escape")
        await pilot.pause()
        assert not app.live_runs


async def test_flagged_slice_to_case_clusters_and_back_then_a_past_run(make, demo_db):
    app = make(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")  # runs
        await settle(app, pilot)
        runs = app.screen.query_one("#runs-table", DataTable)
        assert runs.row_count == 2
        keys = [runs.coordinate_to_cell_key((i, 0)).row_key.value for i in range(2)]
        await pilot.press(*(["down"] if keys[1] == BRITTLE else []), "enter")
        await settle(app, pilot)
        sb = app.screen
        assert type(sb).__name__ == "ScoreboardScreen" and sb.run_id == BRITTLE and sb.mode == "report"
        # flagged slices come first after the overall row
        await pilot.press("down")
        await pilot.pause()
        flagged = sb.highlighted()
        assert flagged["flagged"] and flagged["key"] in ("length", "name_origin")
        await pilot.press("enter")
        await settle(app, pilot)
        cases = app.screen
        assert type(cases).__name__ == "SliceCasesScreen"
        table = cases.query_one("#cases-table", LineTable)
        assert table.row_count == flagged["n_cases"]
        worst = cases.case_at(0)
        assert worst["accuracy"] == min(cases.case_at(i)["accuracy"] for i in range(table.row_count))
        await pilot.press("enter")
        await settle(app, pilot)
        insp = app.screen
        assert type(insp).__name__ == "InspectorScreen" and insp.case_id == worst["id"]
        tree = insp.query_one("#insp-tree", Tree)
        template = tree.root.children[0]
        assert template.children, "clusters listed under the template"
        assert sum(c.data[2].size for c in template.children if c.data[0] == "cluster") + \
            sum(len(c.children) for c in template.children if c.data[0] == "errors") == 3
        # expand the first cluster: its members appear
        first = template.children[0]
        tree.move_cursor(first)
        await pilot.press("enter")
        await pilot.pause()
        assert first.is_expanded and first.children
        # back to the scoreboard
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "ScoreboardScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunsScreen"
        # open the other past run
        await pilot.press("up" if keys[1] == BRITTLE else "down", "enter")
        await settle(app, pilot)
        assert app.screen.run_id == STEADY and app.screen.mode == "report"


async def test_sort_cycles_and_overall_stays_first(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        sb = app.screen
        table = sb.query_one("#sb-table", DataTable)
        for _ in range(3):
            await pilot.press("o")
            await pilot.pause()
            assert table.coordinate_to_cell_key((0, 0)).row_key.value == "overall"
        assert sb.sort != "accuracy"


async def test_demo_runs_two_models_side_by_side(make, tmp_path):
    app = make(tmp_path / "first.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        cmp = app.screen
        assert type(cmp).__name__ == "CompareScreen"
        models = {app.store.get_run(r)["model"] for r in cmp.ids}
        assert models == {"demo/steady", "demo/brittle"}
        assert all(app.run_data(r) is not None for r in cmp.ids)
        a, b = (app.run_data(r).report for r in cmp.ids)
        # same mean, different tails
        assert abs(a["overall"]["accuracy"] - b["overall"]["accuracy"]) < 0.05
        assert any(s["flagged"] for s in b["slices"])
        cmp.repaint()
        table = cmp.query_one("#cmp-table", DataTable)
        assert table.coordinate_to_cell_key((0, 0)).row_key.value == "overall"
        second = table.coordinate_to_cell_key((1, 0)).row_key.value
        assert second in ("name_origin=non_english", "length=long")


async def test_cancel_marks_the_run_partial(make, tmp_path, monkeypatch):
    monkeypatch.setenv("TUIEVAL_DEMO_SPEED", "0.05")  # slow enough to still be running
    app = make(tmp_path / "c.db", show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        from tuieval.suite import load_suite
        from tuieval.tui.screens.run_form import RunRequest

        run_id = app.start_run(load_suite(app.suite_paths[0]), RunRequest("demo/steady", concurrency=2, limit=4))
        app.watch_live(run_id)
        await pilot.pause()
        assert not app.live_runs[run_id].finished
        await pilot.press("c")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("y")
        await settle(app, pilot)
        assert app.live_runs[run_id].status == "partial"
        assert app.store.get_run(run_id)["status"] == "partial"


async def test_a_run_written_by_another_process_updates_live(make, demo_db):
    """A headless writer is simulated by a second connection appending samples."""
    from tuieval.store import Store

    src = Store(demo_db)
    run = src.get_run(STEADY)
    writer = Store(demo_db)
    new_id = writer.create_run(
        {k: run[k] for k in ("suite", "suite_path", "model", "simulated", "samples_per_case", "temperature",
                             "max_tokens", "seed", "concurrency", "slo_ms", "n_cases", "n_templates", "n_expected",
                             "config")} | {"id": "run-c-external", "pid": os.getpid()},
        [dict(c, position=c["position"]) for c in src.get_cases(STEADY)],
    )
    samples = sorted(src.get_samples(STEADY), key=lambda s: s["dispatch_order"])
    cols = ("case_id", "template", "sample_index", "dispatch_order", "prompt", "response", "extracted", "correct",
            "score", "latency_ms", "ttft_ms", "output_tokens", "error", "attempts")

    def write(rows):
        for s in rows:
            writer.add_sample({k: s[k] for k in cols} | {"run_id": new_id})

    write(samples[:50])
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        runs = app.screen.query_one("#runs-table", DataTable)
        row = [runs.coordinate_to_cell_key((i, 0)).row_key.value for i in range(runs.row_count)].index(new_id)
        runs.move_cursor(row=row)
        await pilot.press("l")  # watch it live
        await settle(app, pilot)
        live = app.live_runs[new_id]
        assert live.external and live.n_done == 50 and not live.finished
        write(samples[50:120])
        app._poll_followers()
        await settle(app, pilot)
        assert live.n_done == 120
        write(samples[120:])
        writer.set_status(new_id, "complete")
        app._poll_followers()
        await settle(app, pilot)
        assert live.finished and live.n_done == len(samples)
        assert app.run_data(new_id) is not None  # the report replaced the live figures


async def test_help_palette_and_theme(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "SuitesScreen"
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme == "textual-light"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Open run: run-a-st")
        from textual.command import CommandList

        def first_hit() -> str:
            hits = app.screen.query_one(CommandList)
            return str(hits.get_option_at_index(0).prompt) if hits.option_count else ""

        await wait_until(pilot, lambda: first_hit().startswith("Open run: run-a-steady"), "the palette's hit")
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ScoreboardScreen" and app.screen.run_id == STEADY


async def test_works_at_80x24(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for key in ("1", "3"):
            await pilot.press(key)
            await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.query_one("#sb-table", DataTable).size.height >= 5
        assert app.focused is not None


async def test_mouse_nav_row_click_and_header_sort(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.click("NavBar", offset=(30, 0))  # "3 Runs"
        await settle(app, pilot)
        assert app.current_mode == "runs"
        await pilot.click("#runs-table", offset=(10, 2))  # first row
        await pilot.click("#runs-table", offset=(10, 2))  # a click on the highlighted row opens it
        await settle(app, pilot)
        sb = app.screen
        assert type(sb).__name__ == "ScoreboardScreen" and sb.mode == "report"
        await pilot.click("#sb-table", offset=(83, 1))  # the p99 header
        await pilot.pause()
        assert sb.sort == "p99"


async def test_export_report_writes_json_beside_the_database(make, demo_db):
    import json

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(STEADY)
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
    out = demo_db.parent / f"{STEADY}.report.json"
    report = json.loads(out.read_text())
    assert report["schema"] == "tuieval.report/1" and report["run"]["id"] == STEADY
