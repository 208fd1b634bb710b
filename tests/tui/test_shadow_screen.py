"""The Shadow screen: disagreement per slice and the disagreeing prompts, both answers side by side."""

from __future__ import annotations

import json

import pytest

from tests.tui.conftest import settle, wait_until
from tuieval.cli import main

SIZE = (120, 40)
HOSTILE = "[bold red]Mallory[/] \x1b[2J\x1b]52;c;ZXZpbA==\x07"


@pytest.fixture
def shadow_db(pinned, tmp_path, capsys):
    """A database with one shadow evaluation (built synchronously: the app tests are async)."""
    # 40 logged requests; the log's answers are names, every fourth hostile markup with escapes.
    # demo/brittle answers each with its target (the logged answer) or a wrong name.
    lines = []
    for i in range(40):
        answer = f"{HOSTILE} {i}" if i % 4 == 3 else f"Person {i}"
        lines.append({"prompt": f"Who signed lease {i}? It was signed by Person {i}.", "response": answer,
                      "latency_ms": 200.0 + i, "metadata": {"team": "a" if i % 2 else "b"}})
    log = tmp_path / "traffic.jsonl"
    log.write_text("".join(json.dumps(l) + "\n" for l in lines), encoding="utf-8")
    db = tmp_path / "shadow.db"
    with pytest.raises(SystemExit):
        main(["shadow", str(log), "--candidate", "demo/flaky", "--db", str(db), "--format", "json", "-q"])
    return db, json.loads(capsys.readouterr().out)


async def test_shadow_screen_shows_slices_and_both_answers(make, shadow_db):
    from tuieval.tui.screens.scoreboard import ScoreboardScreen
    from tuieval.tui.screens.shadow import ShadowScreen

    db, sec = shadow_db
    assert sec["n_disagreements"] > 0       # demo/flaky disagrees on some prompts
    app = make(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(sec["run_id"])
        await wait_until(pilot, lambda: isinstance(app.screen, ScoreboardScreen) and app.screen.data is not None,
                         "the scoreboard's report")
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, ShadowScreen) and app.screen.section is not None,
                         "the shadow section")
        screen = app.screen
        slices = screen.query_one("#sh-slices")
        prompts = screen.query_one("#sh-prompts")
        assert slices.row_count == len(sec["slices"]) and prompts.row_count == sec["n_disagreements"]
        first = sec["disagreements"][0]
        base = screen.query_one("#sh-baseline").render()
        cand = screen.query_one("#sh-candidate").render()
        assert first["baseline"] in str(base) and (first["candidate"] or "error") in str(cand)
        # the hostile logged answers (flaky, seeded, gets some of those prompts wrong)
        # is shown as text, its escapes removed
        rows = [i for i, p in enumerate(sec["disagreements"]) if "Mallory" in (p["baseline"] or "")]
        assert rows
        for _ in range(rows[0]):
            await pilot.press("down")
        await pilot.pause()
        shown = str(screen.query_one("#sh-baseline").render())
        assert "[bold red]Mallory[/]" in shown and "\x1b" not in shown and "\x07" not in shown
        await pilot.press("escape")
        assert isinstance(app.screen, ScoreboardScreen)


async def test_the_shadow_key_is_hidden_on_other_runs(make, demo_db):
    from tests.tui.conftest import STEADY
    from tuieval.tui.screens.scoreboard import ScoreboardScreen

    app = make(db=demo_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(STEADY)
        await wait_until(pilot, lambda: isinstance(app.screen, ScoreboardScreen) and app.screen.data is not None,
                         "the scoreboard's report")
        assert app.screen.check_action("shadow", ()) is False
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, ScoreboardScreen)
