"""The robustness views, driven by Pilot on a real run (demo/fragile on the hidden-variables suite,
with typo copies at three rates and distractor-padded copies): the figures on screen are checked
against calculations made here from the stored samples, not by the code that draws them."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
from rich.console import Console
from textual.widgets import Static

from tests.tui.conftest import ROBUST, ROBUST_LIMIT, settle, wait_until
from tuieval.store import Store

Z = 1.959963984540054  # the 97.5% normal quantile


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def interval(lo: float, hi: float) -> str:
    return f"{lo * 100:.0f}–{hi * 100:.0f}"


def stored(db) -> tuple[dict, dict, list[dict]]:
    """(case_id → metadata, case_id → mean correctness, samples) read straight from the store."""
    with Store(db) as store:
        cases = {c["case_id"]: c["metadata"] for c in store.get_cases(ROBUST)}
        samples = store.get_samples(ROBUST, columns=("case_id", "template", "sample_index", "response", "correct",
                                                     "error"))
    k, n = defaultdict(int), defaultdict(int)
    for s in samples:
        n[s["case_id"]] += 1
        k[s["case_id"]] += bool(s["correct"]) and s["error"] is None
    return cases, {c: k[c] / n[c] for c in n}, samples


def highlighted(content) -> list[str]:
    """The stretches of a rendered pane drawn in reverse video (the marked changes)."""
    def reverse(style) -> bool:
        return bool(getattr(style, "reverse", False)) or "reverse" in str(style)

    return [content.plain[s.start:s.end] for s in content.spans if reverse(s.style)]


def cells(table, key: str) -> list[str]:
    return [c.plain if hasattr(c, "plain") else str(c) for c in table.get_row(key)]


def column(table, key: str, name: str) -> str:
    return cells(table, key)[table.shown_columns.index(name)]


async def open_scoreboard(app, pilot):
    await settle(app, pilot)
    app.open_run(ROBUST)
    await settle(app, pilot)


async def open_robustness(app, pilot):
    await open_scoreboard(app, pilot)
    await pilot.press("r")
    await settle(app, pilot)


def copies_of(cases: dict, name: str, severity) -> list[tuple[str, str]]:
    return [(m["original_case"], c) for c, m in cases.items()
            if m.get("perturbation") == name and m.get("severity") == severity]


async def test_the_perturbation_table_shows_paired_figures_computed_from_the_samples(make, robust_db):
    from tuieval.tui.screens.robustness import RobustnessScreen

    cases, means, _ = stored(robust_db)
    pairs = copies_of(cases, "distractors", 1.0)
    assert len(pairs) == ROBUST_LIMIT
    orig = [means[o] for o, _ in pairs]
    pert = [means[c] for _, c in pairs]
    broke = sum(a > 0.5 and not b > 0.5 for a, b in zip(orig, pert))
    fixed = sum(b > 0.5 and not a > 0.5 for a, b in zip(orig, pert))
    delta = (sum(pert) - sum(orig)) / len(pairs)

    app = make(robust_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_robustness(app, pilot)
        screen = app.screen
        assert isinstance(screen, RobustnessScreen)
        table = screen.query_one("#rb-table")
        # every column fits at 120 wide
        assert table.shown_columns == ["label", "slice", "n", "orig", "pert", "delta", "dci", "flip", "fci", "back",
                                       "p", "q"]
        key = "distractors:1|all"
        assert column(table, key, "n") == str(ROBUST_LIMIT)
        assert column(table, key, "orig") == pct(sum(orig) / len(orig))
        assert column(table, key, "pert") == pct(sum(pert) / len(pert))
        assert column(table, key, "delta").startswith(f"{delta * 100:+.1f}")
        assert column(table, key, "flip") == pct(broke / len(pairs))
        assert column(table, key, "fci") == interval(*wilson(broke, len(pairs)))
        assert column(table, key, "back") == pct(fixed / len(pairs))
        # the padding breaks fragile (it is weak on long inputs): a drop the table marks as significant
        assert broke > fixed and column(table, key, "delta").endswith("▼")
        assert column(table, key, "label").startswith("▼")

        # q: Benjamini–Hochberg over every p of the table, recomputed here from the report's p-values
        rows = app.run_data(ROBUST).report["robustness"]["perturbations"]["rows"]
        assert len(table.keys_in_order) == len(rows)
        p = sorted((r["p_value"], i) for i, r in enumerate(rows))
        m = len(p)
        q = [0.0] * m
        running = 1.0
        for rank in range(m, 0, -1):
            value, i = p[rank - 1]
            running = min(running, value * m / rank)
            q[i] = running
        for r, qv in zip(rows, q):
            assert r["q_value"] == pytest.approx(qv)
            marked = column(table, f"{r['label']}|{r['slice']}", "delta").endswith(("▼", "▲"))
            assert marked == (qv <= 0.05), r["label"]

        # the detail line names the counts behind the rates
        detail = str(screen.query_one("#rb-detail", Static).render())
        assert f"c→w {broke} " in detail and f"w→c {fixed} " in detail and f"{ROBUST_LIMIT} pairs" in detail


async def test_the_severity_curve_lists_each_typo_rate_in_order_with_its_interval(make, robust_db):
    cases, means, _ = stored(robust_db)
    app = make(robust_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_robustness(app, pilot)
        screen = app.screen
        table = screen.query_one("#rb-table")
        table.move_cursor(row=table.keys_in_order.index("typos:0.2|all"))
        await settle(app, pilot)
        chart = screen.query_one("#rb-curve")
        assert "typos" in chart.border_title
        console = Console(width=110, record=True, color_system=None)
        console.print(chart.chart)
        text = console.export_text().splitlines()
        assert text[0].startswith("original")
        originals = sorted({o for o, _ in copies_of(cases, "typos", 0.05)})
        o_acc = sum(means[o] for o in originals) / len(originals)
        assert f"{pct(o_acc)}" in text[0] and f"n={ROBUST_LIMIT}" in text[0]
        for line, severity in zip(text[1:4], (0.05, 0.2, 0.5)):
            assert line.split()[0] == f"{severity:g}"
            pert = [means[c] for _, c in copies_of(cases, "typos", severity)]
            assert f"{pct(sum(pert) / len(pert))}" in line and f"n={len(pert)}" in line
        assert text[4].strip().startswith("0%") and text[4].strip().endswith("100%")


async def test_a_perturbed_case_opens_beside_its_original_with_the_change_marked(make, robust_db):
    from tuieval.tui.screens.perturbed_cases import PerturbedCasesScreen

    cases, means, samples = stored(robust_db)
    pairs = copies_of(cases, "distractors", 1.0)
    broke = sorted(o for o, c in pairs if means[o] > 0.5 and not means[c] > 0.5)
    app = make(robust_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_robustness(app, pilot)
        await pilot.press("enter")  # the first row: distractors:1 on all cases
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PerturbedCasesScreen)
        table = screen.query_one("#pairs-table")
        assert len(table.keys_in_order) == ROBUST_LIMIT
        # broken pairs first, exactly those whose original was right and whose copy is wrong
        first = table.keys_in_order[:len(broke)]
        assert sorted(k.split("~")[0] for k in first) == broke
        assert all(cells(table, k)[3] == "broke" for k in first)
        await wait_until(pilot, lambda: screen.details.get(table.cursor_key()) is not None, "the pair to load")
        await settle(app, pilot)
        orig_id = table.cursor_key().split("~")[0]
        left = screen.query_one("#pair-original-body", Static).render()
        right = screen.query_one("#pair-perturbed-body", Static).render()
        # both verdicts and both answers of the first template
        assert "correct" in left.plain.splitlines()[0] and "wrong" in right.plain.splitlines()[0]
        template = sorted({s["template"] for s in samples if s["case_id"] == orig_id})[0]
        for side, case in ((left, orig_id), (right, table.cursor_key())):
            answer = next(s["response"] for s in samples if s["case_id"] == case and s["template"] == template)
            assert answer in side.plain
        # the marked text on the perturbed side is what the padding added: none of it in the original
        marked = highlighted(right)
        assert marked and all(m not in left.plain for m in marked)
        assert sum(map(len, marked)) > 200  # whole sentences
        assert not highlighted(left)  # nothing was removed
        await pilot.press("t")  # the next template
        await settle(app, pilot)
        assert "(2 of 3, t: next)" in screen.query_one("#pair-original-body", Static).render().plain


async def test_the_extractor_list_shows_what_each_extractor_read(make, robust_db):
    from tuieval.tui.screens.extractors import ExtractorsScreen

    _, _, samples = stored(robust_db)
    chatty = next(s for s in samples if s["case_id"] == "h000" and s["template"] == "chatty")
    # read by hand: no "Answer:" line; the last number is "4,440" cut at its comma, the first is 120
    assert chatty["response"] == "120 × 37 gives 4,440 in total."
    app = make(robust_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_robustness(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ExtractorsScreen)
        table = screen.query_one("#ex-samples")
        row = cells(table, "h000|chatty|0")
        assert row == ["h000 chatty#0", "✓ 4,440", "✗ —", "✗ 440", "✗ 120", "✓ 4,440"]
        head = [str(c.label) for c in table.columns.values()]
        assert head == ["sample", "scorer:numeric", "strict", "last_number", "first_number", "number"]
        summary = screen.query_one("#ex-table")
        assert cells(summary, "strict")[4] == str(sum(1 for s in samples if "Answer:" in (s["response"] or "")))


async def test_the_inspector_shows_each_extractors_reading_of_the_case(make, robust_db):
    from tuieval.tui.screens.inspector import InspectorScreen

    _, _, samples = stored(robust_db)
    # for the second half: a case on which the report lists no disagreement
    app = make(robust_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_scoreboard(app, pilot)
        listed = {d["case_id"] for d in app.run_data(ROBUST).report["robustness"]["extractors"]["disagreements"]}
        agreeing = sorted({s["case_id"] for s in samples} - listed)[0]
        n_agreeing = sum(s["case_id"] == agreeing for s in samples)
        app.push_screen(InspectorScreen(ROBUST, "h000"))
        await settle(app, pilot)
        panel = app.screen.query_one("#insp-extract")
        assert panel.display
        text = panel.query_one(Static).render().plain
        # h000 (target 4440): chatty "…4,440 in total." and terse "4440" are read differently by
        # strict (no "Answer:" line) than by the number readers; plain answered 3996, wrong for all
        assert text.startswith("2 of 3 samples read differently")
        blocks = text.split("\n\n")[1:]
        assert [b.splitlines()[0] for b in blocks] == ["≠ chatty #0", "≠ terse #0", "= plain #0"]
        terse = blocks[1].splitlines()[1:]
        assert [line.split()[0] for line in terse] == ["✓", "✗", "✓", "✓", "✓"]
        assert terse[1].split()[1:] == ["strict", "—"]
        await pilot.press("d")
        await pilot.pause()
        assert not panel.display

        # a case every extractor reads alike: the panel starts hidden, and `d` opens it
        app.pop_screen()
        app.push_screen(InspectorScreen(ROBUST, agreeing))
        await settle(app, pilot)
        panel = app.screen.query_one("#insp-extract")
        assert not panel.display
        assert panel.query_one(Static).render().plain.startswith(f"0 of {n_agreeing} samples read differently")
        await pilot.press("d")
        await pilot.pause()
        assert panel.display


async def test_the_template_pivot_shows_each_slice_under_each_template(make, robust_db):
    cases, _, samples = stored(robust_db)
    app = make(robust_db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_scoreboard(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        table = app.screen.query_one("#sb-table")
        assert table.shown_columns == ["slice", "n", "t0", "t1", "t2"]
        head = [str(c.label) for c in table.columns.values()]
        assert head[2:] == ["chatty", "plain", "terse"]
        # one sample per case and template: each cell is k of n cases right, with its Wilson interval
        for key, members in (("overall", set(cases)),
                             ("kind=money", {c for c, m in cases.items() if m.get("kind") == "money"})):
            for col, template in zip(("t0", "t1", "t2"), ("chatty", "plain", "terse")):
                picked = [s for s in samples if s["template"] == template and s["case_id"] in members]
                k = sum(bool(s["correct"]) and s["error"] is None for s in picked)
                n = len(picked)
                assert column(table, key, col) == f"{pct(k / n)} {interval(*wilson(k, n))}", (key, template)
            assert column(table, key, "n") == str(len(members))
        await pilot.press("t")  # and back
        await settle(app, pilot)
        assert "acc" in app.screen.query_one("#sb-table").shown_columns


async def test_a_run_without_robustness_data_says_so(make, demo_db):
    from tests.tui.conftest import BRITTLE
    from tuieval.tui.screens.robustness import RobustnessScreen

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        await pilot.press("t")  # one template: nothing to pivot
        await settle(app, pilot)
        assert "acc" in app.screen.query_one("#sb-table").shown_columns
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, RobustnessScreen)
        summary = app.screen.query_one("#rb-summary", Static).render().plain
        assert "perturbations none in this run" in summary
        assert not app.screen.query_one("#rb-table").keys_in_order
        await pilot.press("enter")  # no pairs: a notice, the screen stays
        await settle(app, pilot)
        assert isinstance(app.screen, RobustnessScreen)
        # the extraction suite scores with two scorers (normalized, contains): the extraction line is there
        assert "extraction 2 extractors" in summary


def _store_hostile_pair(path) -> str:
    """A case and its typo copy whose answer (and prompt) hold markup and escapes; the suite's scorer
    and last_number disagree on both samples (the target is a name)."""
    import json

    from tests.tui.test_inert import HOSTILE

    store = Store(path)
    run_id = store.create_run(
        {"id": "run-hostile-pair", "suite": "s", "model": "demo/steady", "simulated": 1, "samples_per_case": 1,
         "temperature": 0.0, "n_cases": 2, "n_templates": 1, "n_expected": 2, "status": "complete",
         "started_at": "2026-01-02T03:04:05+00:00",
         "config": {"templates": [], "scorers": ["exact"], "extractors": ["last_number"]}},
        [{"case_id": "c1", "position": 0, "vars": {"q": "Who?"}, "targets": ["Ada"], "metadata": {},
          "input_text": "Who?"},
         {"case_id": "c1~typos:0.1", "position": 1, "vars": {"q": "Whp?"}, "targets": ["Ada"],
          "metadata": {"perturbation": "typos", "severity": 0.1, "original_case": "c1"}, "input_text": "Whp?"}],
    )
    for i, (case, prompt, response, ok) in enumerate((("c1", "Who?", "Ada", True),
                                                      ("c1~typos:0.1", "Whp? [red]x[/] \x1b[2J", HOSTILE, True))):
        store.add_sample({
            "run_id": run_id, "case_id": case, "template": "t", "sample_index": 0, "dispatch_order": i,
            "prompt": json.dumps([{"role": "user", "content": prompt}]), "response": response, "extracted": response,
            "correct": ok, "score": float(ok), "latency_ms": 100.0, "ttft_ms": 50.0, "attempts": 1,
            "scores": json.dumps({"exact": {"correct": ok, "extracted": response}}),
            "created_at": "2026-01-02T03:04:05+00:00"})
    store.close()
    return run_id


async def test_hostile_text_is_shown_literally_beside_its_original(make, tmp_path):
    db = tmp_path / "hostile.db"
    run_id = _store_hostile_pair(db)
    app = make(db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_run(run_id)
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await wait_until(pilot, lambda: bool(app.screen.details), "the pair to load")
        await settle(app, pilot)
        shown = app.screen.query_one("#pair-perturbed-body", Static).render().plain
        assert "[bold red]x[/]" in shown and "[@click=app.quit]click me[/]" in shown and "Whp? [red]x[/]" in shown
        output = app.screen._compositor.render_full_update().render_segments(app.console)
        for bad in ("\x1b]52", "\x1b[2J", "\x07", "\x9b", "\x1bP", "\x08", "\r"):
            assert bad not in output
        app.pop_screen()
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        row = cells(app.screen.query_one("#ex-samples"), "c1~typos:0.1|t|0")
        assert row[1].startswith("✓ [bold red]x[/]")  # the suite's scorer passed it; last_number did not
        output = app.screen._compositor.render_full_update().render_segments(app.console)
        assert "\x1b[2J" not in output and "\x07" not in output
        assert app.is_running


async def test_every_rows_pairs_are_the_cases_the_report_paired(make, robust_db):
    from tuieval.tui.screens.perturbed_cases import pairs_of_row

    cases, _, _ = stored(robust_db)
    app = make(robust_db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_scoreboard(app, pilot)
        data = app.run_data(ROBUST)
        rows = data.report["robustness"]["perturbations"]["rows"]
        assert {r["slice"] for r in rows} >= {"all", "kind=money", "size=small"}
        for r in rows:
            got = pairs_of_row(data, r)
            assert len(got) == r["n_pairs"], r["label"] + " " + r["slice"]
            for p in got:
                meta = cases[p["perturbed"]]
                assert meta["original_case"] == p["original"] and meta["perturbation"] == r["perturbation"]
                if r["slice_key"] != "all":
                    assert cases[p["original"]][r["slice_key"]] == r["slice_value"]
