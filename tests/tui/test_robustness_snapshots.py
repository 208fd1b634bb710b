"""Snapshots of the robustness views at 80×24, in both themes, on the pinned robustness run.

Regenerate after an intended change with `pytest tests/tui/test_robustness_snapshots.py --snapshot-update`
and review the SVGs.
"""

from __future__ import annotations

import pytest

from tests.tui.conftest import ROBUST, settle

SIZE = (80, 24)


def _open(*keys: str, theme: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        app.theme = theme
        await settle(app, pilot)
        app.open_run(ROBUST)
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_robustness_screen(snap_compare, make, robust_db, theme):
    assert snap_compare(make(robust_db, show_welcome=False), terminal_size=SIZE, run_before=_open("r", theme=theme))


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_robustness_severity_curve(snap_compare, make, robust_db, theme):
    # the cursor on typos:0.2 (all cases): the curve has three severities
    keys = ["r"] + ["down"] * 10
    assert snap_compare(make(robust_db, show_welcome=False), terminal_size=SIZE, run_before=_open(*keys, theme=theme))


def test_perturbed_pair(snap_compare, make, robust_db):
    assert snap_compare(make(robust_db, show_welcome=False), terminal_size=SIZE,
                        run_before=_open("r", "enter", theme="textual-dark"))


def test_extractor_disagreements(snap_compare, make, robust_db):
    assert snap_compare(make(robust_db, show_welcome=False), terminal_size=SIZE,
                        run_before=_open("r", "x", theme="textual-dark"))


def test_template_pivot(snap_compare, make, robust_db):
    assert snap_compare(make(robust_db, show_welcome=False), terminal_size=SIZE,
                        run_before=_open("t", theme="textual-light"))
