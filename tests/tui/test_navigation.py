"""Navigation as a user meets it: the keys go where they say, a new run shows itself, questions
before what cannot be undone, and the run form says what is wrong where it is wrong."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static

from tests.tui.conftest import BRITTLE, EXTRACTION, STEADY, settle, wait_until

SIZE = (100, 32)


def _names(app) -> list[str]:
    return [type(s).__name__ for s in app.screen_stack]


async def _open_form(app, pilot):
    await pilot.press("1")
    await settle(app, pilot)
    await pilot.press("n")
    await pilot.pause()
    assert type(app.screen).__name__ == "RunFormScreen"


async def test_starting_a_run_shows_its_live_view_even_with_a_scoreboard_open_on_live(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        # a past run watched live, then its scoreboard and a slice opened on top of the Live screen
        app.watch_live(BRITTLE)
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        assert _names(app)[-1] == "ScoreboardScreen" and app.current_mode == "live"
        # a new run from the form
        await _open_form(app, pilot)
        app.screen.query_one("#limit", Input).value = "2"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.current_mode == "live" and _names(app) == ["LiveScreen"]
        new = app.current_live
        assert new not in (STEADY, BRITTLE) and app.live_runs[new].model == "demo/steady"
        assert new in str(app.screen.query_one("#live-title", Static).render())


@pytest.mark.parametrize("key, mode, base", [("1", "suites", "SuitesScreen"), ("2", "live", "LiveScreen"),
                                             ("3", "runs", "RunsScreen")])
async def test_number_keys_go_to_the_mode_screen_itself(make, demo_db, key, mode, base):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await settle(app, pilot)
        app.open_run(STEADY)  # something opened from that mode
        await settle(app, pilot)
        assert _names(app)[-1] == "ScoreboardScreen"
        other = "3" if key != "3" else "1"
        await pilot.press(other, key)  # away and back
        await settle(app, pilot)
        assert app.current_mode == mode and _names(app) == [base]
        app.open_run(STEADY)
        await settle(app, pilot)
        await pilot.press(key)  # the same key again while in the mode
        await settle(app, pilot)
        assert _names(app) == [base]


async def test_a_pinned_sample_stays_with_its_run(make, demo_db, monkeypatch):
    monkeypatch.setenv("TUIEVAL_DEMO_SPEED", "0.05")  # slow enough to still be running
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        from tuieval.suite import load_suite
        from tuieval.tui.screens.run_form import RunRequest

        suite = load_suite(EXTRACTION)
        first = app.start_run(suite, RunRequest("demo/steady", concurrency=2, limit=3))
        app.watch_live(first)

        await wait_until(pilot, lambda: type(app.screen).__name__ == "LiveScreen" and app.screen.is_mounted
                         and bool(app.live_runs[first].in_flight), "a sample in flight on the Live screen")
        screen = app.screen
        screen.refresh_tables()  # as its 4 Hz timer would
        await pilot.pause()
        screen.query_one("#inflight", DataTable).focus()
        await pilot.press("enter")  # pin the highlighted sample
        await pilot.pause()
        assert not screen.follow and screen.focus_key is not None
        pinned = screen.focus_key
        app.watch_live(BRITTLE)  # another run's Live view
        await pilot.pause()
        screen.refresh_tables()
        screen.refresh_stream()
        assert screen.follow and screen.focus_key != pinned and screen.shown_run == BRITTLE
        assert "(pinned)" not in str(screen.query_one("#stream").border_title)
        for r in list(app.live_runs.values()):
            if r.worker is not None:
                r.worker.cancel()
        await settle(app, pilot)


async def test_the_live_status_line_counts_samples_and_cases(make, tmp_path):
    app = make(tmp_path / "count.db", show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        from tuieval.suite import load_suite
        from tuieval.tui.screens.run_form import RunRequest

        # 4 cases × 1 template × 5 samples = 20 samples (independently: 4 * 5)
        run_id = app.start_run(load_suite(EXTRACTION), RunRequest("demo/steady", samples=5, limit=4,
                                                                   concurrency=3))
        app.watch_live(run_id)
        await settle(app, pilot)
        screen = app.screen
        screen.refresh_tables()
        progress = str(screen.query_one("#live-progress", Static).render())
        stats = str(screen.query_one("#live-stats", Static).render())
        assert "20/20 samples" in progress
        assert "cases 4/4 complete (5 samples each)" in stats
        await pilot.press("b")
        await settle(app, pilot)
        detail = str(app.screen.query_one("#sb-detail", Static).render())
        assert "4 cases, 20 samples" in detail and "1 sample/case" not in detail


async def test_compare_needs_two_marked_runs_and_says_how(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "RunsScreen"  # no comparison of two unrelated rows
        said = [n.message for n in app._notifications]
        assert any("mark two runs" in m and "space" in m for m in said)
        await pilot.press("space", "c")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "RunsScreen"
        assert any("is marked" in n.message for n in app._notifications)
        await pilot.press("down", "space", "c")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "CompareScreen"


async def test_a_comparison_of_two_finished_runs_is_not_called_descriptive_until_both_finish(make, demo_db):
    from tuieval.tui.screens.compare import CompareScreen

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        seen: list[str] = []
        screen = CompareScreen(STEADY, BRITTLE)
        original = screen.repaint

        def watched() -> None:
            original()
            seen.append(str(screen.query_one("#cmp-table").border_title))

        screen.repaint = watched
        app.push_screen(screen)
        await settle(app, pilot)
        assert seen and not any("until both finish" in t for t in seen)
        assert "Paired comparison" in seen[-1]


async def test_quit_while_a_run_is_going_asks_first(make, tmp_path, monkeypatch):
    monkeypatch.setenv("TUIEVAL_DEMO_SPEED", "0.05")
    app = make(tmp_path / "q.db", show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        from tuieval.suite import load_suite
        from tuieval.tui.screens.run_form import RunRequest

        run_id = app.start_run(load_suite(EXTRACTION), RunRequest("demo/steady", concurrency=1, limit=20))
        await pilot.press("q")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen" and app.is_running
        text = str(app.screen.query_one("#confirm-text").render())
        assert run_id in text and f"--resume {run_id}" in text
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not app.live_runs[run_id].finished
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
    assert app.store.get_run(run_id)["status"] == "partial"


async def test_cancel_asks_first_and_names_the_full_resume_command(make, tmp_path, monkeypatch):
    monkeypatch.setenv("TUIEVAL_DEMO_SPEED", "0.05")
    app = make(tmp_path / "c.db", show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        from tuieval.suite import load_suite
        from tuieval.tui.screens.run_form import RunRequest

        run_id = app.start_run(load_suite(EXTRACTION), RunRequest("demo/steady", concurrency=1, limit=20))
        app.watch_live(run_id)
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("escape")  # keep running
        await pilot.pause()
        assert not app.live_runs[run_id].finished
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert app.store.get_run(run_id)["status"] == "partial"
        said = " ".join(n.message for n in app._notifications)
        suite = "sample_suites/extraction.yaml"
        assert (f"tuieval run {suite} --model demo/steady --resume {run_id} --db {tmp_path / 'c.db'}" in said
                or f"--model demo/steady --resume {run_id} --db" in said)


def test_the_resume_command_is_what_the_user_would_type(tmp_path, monkeypatch):
    from tuieval.tui.hints import resume_command

    monkeypatch.chdir(tmp_path)
    (tmp_path / "suites").mkdir()
    suite = tmp_path / "suites" / "my suite.yaml"
    run = {"id": "20260102-030405-abcd", "suite_path": str(suite), "model": "openai/gpt-4o-mini", "suite": "x"}
    monkeypatch.delenv("TUIEVAL_DB", raising=False)
    assert resume_command(run, "tuieval.db") == \
        "tuieval run 'suites/my suite.yaml' --model openai/gpt-4o-mini --resume 20260102-030405-abcd"
    assert resume_command(run, str(tmp_path / "other.db")).endswith("--resume 20260102-030405-abcd --db other.db")


async def test_the_form_keeps_what_was_typed_and_shows_the_error_at_the_field(make):
    app = make(show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        samples = form.query_one("#samples", Input)
        samples.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"1x5")  # a slip of the finger, typed as a user would
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunFormScreen"
        assert samples.value == "1x5"  # nothing dropped
        error = str(form.query_one("#error-samples", Static).render())
        assert "samples" in error and "'1x5'" in error
        assert form.query_one("#error-samples").display and not form.query_one("#error-model").display
        assert app.focused is samples and samples.has_class("-invalid")
        # an emptied numeric field is an error, not the suite's default
        samples.value = "3"
        concurrency = form.query_one("#concurrency", Input)
        concurrency.value = ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunFormScreen"
        assert "concurrency: required" in str(form.query_one("#error-concurrency", Static).render())
        assert not form.query_one("#error-samples").display
        assert not app.live_runs


def test_parse_form_rules():
    from tuieval.tui.screens.run_form import FormError, parse_form

    good = {"model": "demo/steady", "samples": "3", "temperature": "0.7", "concurrency": "8", "slo_ms": "",
            "limit": "", "base_url": ""}
    req = parse_form(good)
    assert (req.samples, req.temperature, req.concurrency, req.slo_ms, req.limit) == (3, 0.7, 8, None, None)
    for field, raw, words in [("samples", "", "required"), ("temperature", "", "required"),
                              ("concurrency", "", "required"), ("temperature", "nan", "expected a number"),
                              ("temperature", "2.5", "≤ 2"), ("slo_ms", "0", "> 0"), ("limit", "0", "≥ 1"),
                              ("samples", "2.5", "whole number")]:
        with pytest.raises(FormError) as info:
            parse_form(dict(good, **{field: raw}))
        assert info.value.field == field and words in str(info.value)
