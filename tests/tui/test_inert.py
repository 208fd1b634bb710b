"""Model output is untrusted: markup shows as text and terminal escape sequences never reach the screen."""

from __future__ import annotations

import json

import pytest

from tests.tui.conftest import settle
from tuieval.tui.sanitize import inert, sanitize

HOSTILE = (
    "[bold red]x[/] [@click=app.quit]click me[/] "
    "\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07clip "
    "\x1b[2Jclear \x1b[31mred\x1b[0m \x9b2Jc1 \x1bPq#0;2;0;0;0\x1b\\dcs "
    "bell\x07 back\x08space \rreturn"
)


@pytest.mark.parametrize("raw, shown", [
    ("[bold red]x[/]", "[bold red]x[/]"),
    ("a\x1b]52;c;ZXZpbA==\x07b", "ab"),
    ("a\x1b]0;title\x1b\\b", "ab"),
    ("x\x1b[2Jy", "xy"),
    ("x\x1b[31mred\x1b[0m", "xred"),
    ("c1\x9b2Jz", "c1z"),
    ("lone\x1b", "lone"),
    ("bel\x07 nul\x00 del\x7f", "bel nul del"),
    ("a\r\nb\rc", "a\nb\nc"),
    ("tab\tnewline\n", "tab\tnewline\n"),
    ("Ségolène 中文 emoji 🙂", "Ségolène 中文 emoji 🙂"),
])
def test_sanitize(raw, shown):
    assert sanitize(raw) == shown


def test_inert_is_plain_text_and_single_line_option():
    t = inert("[b]x[/b]\nsecond", single_line=True, limit=8)
    assert t.plain == "[b]x[/b…" and len(t.plain) == 8
    assert not t.spans


def _store_hostile_run(path):
    from tuieval.store import Store

    store = Store(path)
    run_id = store.create_run(
        {"id": "run-hostile", "suite": "evil [red]suite[/]", "model": "demo/steady", "simulated": 1,
         "samples_per_case": 2, "temperature": 0.7, "n_cases": 1, "n_templates": 1, "n_expected": 2,
         "status": "complete", "started_at": "2026-01-02T03:04:05+00:00", "config": {"templates": []}},
        [{"case_id": "c1", "position": 0, "vars": {"q": "Who?"}, "targets": ["Ada [b]Lovelace[/b]"],
          "metadata": {"lang": "en"}, "input_text": "Who? \x1b[2J"}],
    )
    for i, response in enumerate([HOSTILE, "Ada Lovelace"]):
        store.add_sample({
            "run_id": run_id, "case_id": "c1", "template": "t", "sample_index": i, "dispatch_order": i,
            "prompt": json.dumps([{"role": "user", "content": "Who?"}]), "response": response,
            "extracted": response, "correct": i == 1, "score": float(i == 1), "latency_ms": 100.0 + i,
            "ttft_ms": 50.0, "attempts": 1, "created_at": "2026-01-02T03:04:05+00:00",
        })
    store.close()
    return run_id


async def test_hostile_response_is_shown_literally_in_the_inspector(make, tmp_path):
    from textual.widgets import Static, Tree

    from tuieval.tui.screens.inspector import InspectorScreen

    db = tmp_path / "hostile.db"
    run_id = _store_hostile_run(db)
    app = make(db, show_welcome=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(app, pilot)
        app.push_screen(InspectorScreen(run_id, "c1"))
        await settle(app, pilot)
        screen = app.screen
        tree = screen.query_one("#insp-tree", Tree)
        template = tree.root.children[0]
        hostile = next(n for n in template.children if n.data[0] == "cluster" and not n.data[2].correct)
        tree.move_cursor(hostile)
        await pilot.pause()
        pane = screen.query_one("#pane-a-body", Static)
        shown = str(pane.render())
        assert "[bold red]x[/]" in shown and "[@click=app.quit]click me[/]" in shown
        assert "clip" in shown and "clear" in shown and "red" in shown
        for bad in ("\x1b", "\x07", "\x9b", "\x08", "\r", "ZXZpbCBjbGlwYm9hcmQ"):
            assert bad not in shown
        # what would be written to the terminal: the rendered screen holds no control characters
        svg = app.export_screenshot()
        assert "bold&#160;red" in svg or "bold red" in svg
        for bad in ("\x1b", "\x07", "\x9b", "\x08"):
            assert bad not in svg
        # the bytes the app would write to the terminal for this screen (styling escapes included)
        output = screen._compositor.render_full_update().render_segments(app.console)
        assert "[bold red]x[/]" in output
        for bad in ("\x1b]52", "\x1b[2J", "\x07", "\x9b", "\x1bP", "\x08", "\r"):
            assert bad not in output
        assert app.is_running  # the [@click=app.quit] text did not quit the app
