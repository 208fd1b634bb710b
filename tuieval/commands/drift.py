"""`tuieval drift SUITE LOG`: how far production traffic has moved from what the suite tests.

Reads the log once, streamed (tuieval.traffic.drift), and prints PSI and χ² per feature
(suite against traffic, and between two windows of traffic), the traffic in slices the
suite barely covers, the change in refusals and answer mix, and what to do.  With
`--sample-cases N` it prints a case file (JSONL) of traffic prompts from the under-covered
slices instead, to label and add to the suite.  With `--app` it opens the Drift screen.
"""

from __future__ import annotations

import json

import click


def compute_drift(suite_path: str, log_path: str, window_spec: str | None, min_cases: int,
                  fields: tuple[str, ...] = ()) -> tuple[dict, object]:
    """The tuieval.drift/1 report, and a `sample(n)` callable drawing cases (a second pass)."""
    import os

    from tuieval.cli import BadInput  # here, not at the top: tuieval.cli registers this module
    from tuieval.suite import SuiteError, load_suite
    from tuieval.traffic import drift as d
    from tuieval.traffic.log import TrafficLogError, iter_log, parse_field_mapping

    try:
        window = d.parse_window(window_spec)
    except d.BadWindow as exc:
        raise BadInput(str(exc)) from None
    try:
        suite = load_suite(suite_path)
    except SuiteError as exc:
        raise BadInput(exc.one_line()) from None
    try:
        mapping = parse_field_mapping(list(fields))
    except TrafficLogError as exc:
        raise BadInput(str(exc)) from None
    if not os.path.isfile(log_path):
        raise BadInput(f"LOG: {log_path}: no such file")
    try:
        spec = d.feature_spec(suite.cases)
        scan = d.scan_file(log_path, mapping, spec, window)
        total = scan.lines
    except (TrafficLogError, OSError) as exc:
        raise BadInput(f"LOG: {exc}") from None
    report = d.build_report(suite, suite_path, log_path, scan, spec, window, min_cases)

    def sample(n: int) -> list[dict]:
        try:
            return d.sample_cases(iter_log(log_path, mapping), spec, window, total, report, n, scan.newest_bucket)
        except (TrafficLogError, OSError) as exc:
            raise BadInput(f"LOG: {exc}") from None

    return report, sample


@click.command("drift")
@click.argument("suite", type=click.Path())
@click.argument("log", type=click.Path())
@click.option("--window", "window", default=None, metavar="7d|N",
              help="The current window: a duration (30m, 12h, 7d, 2w) or a number of lines; "
                   "the window before it is the previous one. Default: the suite against the whole log, "
                   "the log's second half against its first.")
@click.option("--min-cases", type=click.IntRange(min=1), default=20, show_default=True,
              help="A slice with fewer suite cases than this is under-covered.")
@click.option("--field", "fields", multiple=True, metavar="FIELD=PATH",
              help="Where a log field is in lines of another shape (e.g. prompt=input.text); repeatable.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("--sample-cases", "sample_n", type=click.IntRange(min=1), default=None, metavar="N",
              help="Print N traffic prompts from the under-covered slices as a case file (JSONL) instead.")
@click.option("--app", "open_app", is_flag=True, help="Open the Drift screen of the app on the result.")
@click.option("--db", "db_path", default=None, metavar="PATH",
              help="With --app: the app's database (default: $TUIEVAL_DB or ./tuieval.db).")
def drift_command(suite: str, log: str, window: str | None, min_cases: int, fields: tuple[str, ...], fmt: str,
                  sample_n: int | None, open_app: bool, db_path: str | None) -> None:
    """How far traffic in LOG has moved from SUITE: PSI and χ² per feature, coverage, what to do."""
    from tuieval.cli import BadInput

    if open_app and sample_n:
        raise BadInput("--app: not with --sample-cases (the screen shows the report)")
    report, sample = compute_drift(suite, log, window, min_cases, fields)
    if sample_n:
        cases = sample(sample_n)
        for c in cases:
            click.echo(json.dumps(c, ensure_ascii=False))
        slices = {c["metadata"]["drift_slice"] for c in cases}
        n_low = len(report["coverage"]["under_covered"])
        click.echo(f"drew {len(cases)} case(s) from {len(slices)} of {n_low} under-covered slice(s); "
                   "each has \"target\": null — fill it in before running the cases", err=True)
        return
    if open_app:
        from tuieval.cli import _open_store

        try:
            from tuieval.tui.screens.drift import run_drift_app
        except ImportError as exc:
            raise BadInput(f"--app: the app is not available in this build ({exc})") from None
        _open_store(db_path).close()  # the same checks as `tuieval app`, before the app takes the screen
        run_drift_app(report, db_path)
        return
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default))
    else:
        from tuieval.report.formats.drift import to_markdown

        click.echo(to_markdown(report), nl=False)


def _json_default(x):
    return str(x)
