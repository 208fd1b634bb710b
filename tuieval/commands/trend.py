"""`tuieval trend SUITE [--model SPEC] [--format md|json]`: a suite's accuracy, worst-slice accuracy,
consistency and p99 over its finished runs in time order, with intervals, n and the significant
changes between consecutive runs (tuieval.report.trend)."""

from __future__ import annotations

import json
import os

import click

from tuieval.cli import BadInput, db_option, open_store


def suite_name(suite: str) -> str:
    """SUITE as runs store it: a suite file's name, or the name itself when no such file exists."""
    if os.path.isfile(suite):
        from tuieval.suite import SuiteError, load_suite

        try:
            return load_suite(suite).name
        except SuiteError as exc:
            raise BadInput(exc.one_line()) from None
    return suite


@click.command("trend")
@click.argument("suite")
@click.option("--model", "-m", default=None, metavar="SPEC", help="Only the runs of this model.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@db_option
def trend_command(suite: str, model: str | None, fmt: str, db_path: str | None) -> None:
    """SUITE's runs over time (a suite file or the suite's name), significant changes marked."""
    from tuieval.report import ClusteringBackendError
    from tuieval.report.formats.trend import trend_to_markdown
    from tuieval.report.trend import TrendError, build_trend

    name = suite_name(suite)
    store = open_store(db_path, must_exist=True)
    try:
        trend = build_trend(store, name, model)
    except TrendError as exc:
        raise BadInput(f"{exc.field}: {exc} in {store.path}") from None
    except ClusteringBackendError as exc:
        raise BadInput(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps(trend, indent=2, ensure_ascii=False))
    else:
        click.echo(trend_to_markdown(trend), nl=False)
