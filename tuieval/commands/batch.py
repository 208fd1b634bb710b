"""`tuieval batch status|export|import`: provider batch jobs seen from the command line, and the
OpenAI batch format for runners with no API (vLLM's `run_batch` and the like)."""

from __future__ import annotations

import sys

import click

from tuieval.cli import BadInput, EXIT_BAD_INPUT, _finish_report, _open_store, _resolve, db_option


@click.group("batch")
def batch_group() -> None:
    """Provider batch jobs (see `tuieval run --batch`) and the batch file format."""


@batch_group.command("status")
@db_option
@click.option("--all", "show_all", is_flag=True, help="Also the batches already collected.")
def status_command(db_path: str | None, show_all: bool) -> None:
    """List the open batches: run, batch id, status and request counts."""
    from tuieval.store import batches as B

    store = _open_store(db_path, must_exist=True)
    rows = B.batches(store, open_only=not show_all)
    if not rows:
        click.echo("no open batches" if not show_all else "no batches")
        return
    for b in rows:
        counts = b["counts"] or {}
        what = "" if (b.get("purpose") or "samples") == "samples" else f"  judges ({b.get('model')})"
        click.echo(f"{b['run_id']}  {b['batch_id'] or '(not created)'}{what}  {b['status']:<11} "
                   f"{counts.get('completed', 0)}/{counts.get('total', b['n_requests'])} done, "
                   f"{counts.get('failed', 0)} failed  {'collected' if b['collected'] else 'open'}  {b['updated_at']}")


@batch_group.command("export")
@click.argument("suite", type=click.Path())
@click.option("--model", "-m", "model", required=True, help="provider/model, e.g. vllm/meta-llama/Llama-3.1-8B.")
@click.option("--samples", "-n", type=click.IntRange(min=1), default=None)
@click.option("--temperature", "-t", type=click.FloatRange(0, 2), default=None)
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--base-url", default=None)
@db_option
def export_command(suite, model, samples, temperature, max_tokens, seed, limit, base_url, db_path) -> None:
    """Write SUITE's requests as an OpenAI batch input file on stdout; the run they belong to is
    created (its id on stderr) so `tuieval batch import RUN OUTPUT` can store the answers."""
    from tuieval.backends.registry import BackendConfigError, create_backend
    from tuieval.batch import lines as L
    from tuieval.engine import Engine, RunOptions
    from tuieval.engine.runner import chat_request
    from tuieval.suite import SuiteError, load_suite

    try:
        loaded = load_suite(suite)
    except SuiteError as exc:
        raise BadInput(exc.one_line()) from None
    try:
        backend = create_backend(model, base_url=base_url)
    except BackendConfigError as exc:
        raise BadInput(str(exc)) from None
    if model.startswith("anthropic/") or not hasattr(backend, "request_identity"):
        raise BadInput(f"--model: {model} has no wire format to write (use an openai/, vllm/ or "
                       "openai-compatible/ model)")
    store = _open_store(db_path)
    engine = Engine(store, backend)
    options = RunOptions(model=model, samples=samples, temperature=temperature, max_tokens=max_tokens, seed=seed,
                         limit=limit, base_url=getattr(backend, "base_url", base_url), stream=False, batch=True)
    run_id = engine.create_run(loaded, options)
    run = store.get_run(run_id)
    work, _ = engine.plan(run)
    out = sys.stdout.buffer
    for item in sorted(work, key=lambda w: w.dispatch_order):
        _, body = backend.request_identity(chat_request(item, run, stream=False))
        cid = L.custom_id(item.key.case_id, item.key.template, item.key.sample_index)
        out.write(next(L.encode([L.input_line(cid, body)])))
    out.flush()
    store.set_status(run_id, "partial")
    click.echo(f"run {run_id}: {len(work)} requests written; store the runner's output with "
               f"`tuieval batch import {run_id} OUTPUT.jsonl`", err=True)


@batch_group.command("import")
@click.argument("run_id")
@click.argument("output", type=click.Path())
@db_option
@click.option("--quiet", "-q", is_flag=True)
def import_command(run_id: str, output: str, db_path: str | None, quiet: bool) -> None:
    """Store a batch runner's OUTPUT file (OpenAI batch output lines) as RUN_ID's samples."""
    from tuieval.batch import lines as L
    from tuieval.engine import Engine
    from tuieval.engine.runner import chat_request, sample_row
    from tuieval.scoring import build_scorers

    store = _open_store(db_path, must_exist=True)
    rid = _resolve(store, run_id)
    try:
        with open(output, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise BadInput(f"{output}: cannot read ({exc.strerror or exc})") from None
    run = store.get_run(rid)
    outcomes, problems = L.read_lines(data, output)
    work, _ = Engine(store, None).plan(run)
    items = {L.custom_id(w.key.case_id, w.key.template, w.key.sample_index): w for w in work}
    scorers = build_scorers(run["config"].get("scorers"))
    stored = unknown = 0
    for o in outcomes:
        item = items.pop(o.custom_id, None)
        if item is None:
            unknown += 1
            continue
        row = sample_row(rid, item, chat_request(item, run, stream=False).messages, scorers, o.result, o.error, 1,
                         None)
        stored += int(store.add_sample(row))
    for problem in problems[:10]:
        click.echo(f"warning: {problem}", err=True)
    if unknown:
        click.echo(f"warning: {unknown} lines name no request of run {rid} still owed (another run's, or "
                   "already stored)", err=True)
    n_done = len(store.done_keys(rid))
    status = "complete" if n_done >= run["n_expected"] else "partial"
    store.set_status(rid, status)
    if not quiet:
        click.echo(f"{status}: {stored} samples stored, {n_done}/{run['n_expected']} in the run"
                   + (f"; {len(items)} requests had no line" if items else ""), err=True)
    if stored == 0 and outcomes == [] and problems:
        raise BadInput(f"{output}: no batch output line could be read ({problems[0]})")
    code = _finish_report(store, rid, quiet) if n_done else EXIT_BAD_INPUT
    click.echo(rid)
    sys.exit(code)
