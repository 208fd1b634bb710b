"""The command line: `tuieval` (the app), run, runs, report, export, validate.

Heavy modules (numpy, httpx, textual) are imported inside the commands so `tuieval --help`
starts fast. Bad input exits 2 with one line naming the file, field or flag.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from tuieval import __version__

EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_BUDGET_STOPPED = 3
EXIT_INTERRUPTED = 130
#: Default connect and total seconds of one attempt; the read timeout (the longest silent
#: gap between bytes) defaults to the total, so no flag silently caps another.
DEFAULT_CONNECT_S = 10.0
DEFAULT_TOTAL_S = 120.0


def timeouts_from_flags(connect: float | None, read: float | None, total: float | None):
    """The Timeouts of `run`'s --connect-timeout, --read-timeout and --timeout, each as given."""
    from tuieval.backends.base import Timeouts

    total = total if total is not None else DEFAULT_TOTAL_S
    return Timeouts(connect=connect if connect is not None else min(DEFAULT_CONNECT_S, total),
                    read=read if read is not None else total, total=total)


class BadInput(click.ClickException):
    """One line, exit status 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"tuieval: {self.format_message()}", err=True)


db_option = click.option("--db", "db_path", default=None, metavar="PATH",
                         help="Database file (default: $TUIEVAL_DB or ./tuieval.db).")


def _open_store(db_path: str | None, *, must_exist: bool = False):
    from tuieval.store import Store, StoreError, default_db_path

    path = db_path or default_db_path()
    if must_exist and not os.path.exists(path):
        raise BadInput(f"--db: no database at {path} (run `tuieval run` first)")
    try:
        return Store(path)
    except StoreError as exc:  # names the path and what is wrong with it
        raise BadInput(f"--db: {exc}") from None
    except Exception as exc:  # sqlite3.DatabaseError and friends: not a tuieval database
        raise BadInput(f"--db: cannot open {path}: {exc}") from None


def _resolve(store, run_id: str, name: str = "RUN_ID") -> str:
    from tuieval.store import RunNotFound

    try:
        return store.resolve_run_id(run_id)
    except RunNotFound as exc:
        raise BadInput(f"{name}: {exc} in {store.path}") from None


#: public names for the commands in tuieval/commands (one implementation of each helper)
open_store = _open_store
resolve_run = _resolve


class LazyGroup(click.Group):
    """The command group. A command registered with :meth:`add_lazy_command` is imported only when
    it is named (or listed by ``--help``): `tuieval run` does not pay for every other command's
    imports (numpy, the analysis, the report formats) before its first request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = {}

    def add_lazy_command(self, name: str, target: str) -> None:
        """Register ``module:attribute`` as the command ``name``."""
        self.lazy_commands[name] = target

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = self.lazy_commands.pop(name, None)
        if target is not None:
            import importlib

            module, _, attr = target.partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
# the package's own constant, not importlib.metadata (which reads every installed package's
# metadata: a tenth of a second); tests/unit/test_import_hygiene.py checks the two agree
@click.version_option(version=__version__, prog_name="tuieval")
@click.option("--db", "db_path", default=None, metavar="PATH", help="Database for the app when no command is given.")
@click.pass_context
def cli(ctx: click.Context, db_path: str | None) -> None:
    """tuieval — evaluate language models on their tails: slices, variance, p99 latency.

    With no command, opens the app on the default database with ./sample_suites.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(app_command, db_path=db_path)


@cli.command("app")
@click.argument("suites", nargs=-1, type=click.Path())
@db_option
def app_command(suites: tuple[str, ...] = (), db_path: str | None = None) -> None:
    """Open the Textual app."""
    try:
        from tuieval.tui.app import run_app
    except ImportError as exc:
        raise BadInput(f"the app is not available in this build ({exc})") from None
    # the same checks as every other command, before the app takes the screen
    _open_store(db_path).close()
    run_app(list(suites), db_path)


@cli.command("run")
@click.argument("suite", type=click.Path())
@click.option("--model", "-m", "model", default=None, help="provider/model, e.g. demo/steady, openai/gpt-4o-mini.")
@click.option("--samples", "-n", type=click.IntRange(min=1), default=None, help="Samples per case and template.")
@click.option("--temperature", "-t", type=click.FloatRange(0, 2), default=None)
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=None)
@click.option("--concurrency", "-c", type=click.IntRange(min=1, max=1024), default=8, show_default=True)
@click.option("--base-url", default=None, help="Server base URL (OpenAI-style includes /v1).")
@click.option("--api-key-env", default=None, help="Environment variable holding the API key.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N cases.")
@click.option("--slo-ms", type=click.FloatRange(min=0, min_open=True), default=None, help="Latency SLO in ms.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Total seconds one attempt may take, to the answer's last byte [default: {DEFAULT_TOTAL_S:g}].")
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Seconds to open a connection [default: {DEFAULT_CONNECT_S:g}].")
@click.option("--read-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Longest silent gap between received bytes, in seconds [default: the --timeout].")
@click.option("--max-retries", type=click.IntRange(min=0), default=6, show_default=True)
@click.option("--stream/--no-stream", "stream", default=None,
              help="Streaming requests (the default) or whole answers.")
@db_option
@click.option("--perturb", "perturb", multiple=True, metavar="NAME[:SEVERITY],...",
              help="Also run perturbed copies of the cases (typos:0.1,names,options …); replaces the suite's "
                   "perturbations:.")
@click.option("--resume", "resume_id", default=None, metavar="RUN_ID",
              help="Finish an interrupted run, with the settings it started with.")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True), default=None, metavar="USD",
              help="Stop sending requests once the run (model and judges) has cost this much; partial, resumable.")
@click.option("--prices", "prices_path", type=click.Path(), default=None, metavar="FILE",
              help="A YAML price table laid over the shipped one (see README, Cost).")
@click.option("--dry-run", is_flag=True, help="Print the requests, token and cost estimate; send nothing.")
@click.option("--cache", "use_cache", is_flag=True,
              help="Answer from the response cache when the same request (and sample index) was answered before.")
@click.option("--cache-only", is_flag=True, help="Only the cache: send nothing, say what is missing.")
@click.option("--cache-path", default=None, metavar="FILE",
              help="The cache file (default: $TUIEVAL_CACHE or tuieval-cache.db beside the database).")
@click.option("--batch", "use_batch", is_flag=True,
              help="Send the run as OpenAI Batch API jobs (half price, separate rate limits); no latency.")
@click.option("--poll-interval", type=click.FloatRange(min=0), default=30.0, show_default=True, metavar="S",
              help="Seconds between polls of a batch.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, metavar="N",
              help="At most N requests per batch (default: the provider's limit, 50,000 / 100,000).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output; only the run id.")
@click.option("--compare-to", "compare_to", default=None, metavar="TAG_OR_RUN",
              help="Then compare with this run (e.g. the tag production) as `compare` does; exit 1 on a regression.")
def run_command(suite: str, model: str | None, samples, temperature, max_tokens, seed, concurrency, base_url,
                api_key_env, limit, slo_ms, timeout, connect_timeout, read_timeout, max_retries, stream, perturb,
                db_path, resume_id, max_cost, prices_path, dry_run, use_cache, cache_only, cache_path, use_batch,
                poll_interval, batch_size, quiet, compare_to=None) -> None:
    """Run SUITE (a suite YAML or a JSONL dataset) against a model; print the run id last."""
    if _as_program:
        from tuieval.gc_tuning import collect_less

        collect_less()  # before the imports and the suite: they allocate the most
    from tuieval.backends.registry import BackendConfigError, create_backend
    from tuieval.engine import Engine, RunOptions
    from tuieval.suite import SuiteError, load_suite

    if not resume_id:
        # every check of `tuieval validate` first: before a database, a run row or a request
        if not model:
            raise BadInput("--model is required (e.g. --model demo/steady)")
        try:
            loaded = load_suite(suite)
        except SuiteError as exc:
            raise BadInput(exc.one_line()) from None
        loaded, limit = _with_perturbations(loaded, perturb, seed, limit, quiet)
    elif perturb:
        raise BadInput("--perturb: a resumed run keeps the cases it started with")
    elif dry_run:
        raise BadInput("--dry-run: plans a new run; a resumed run sends only what it still owes")
    prices = price_table(prices_path)
    if dry_run:
        from tuieval.cost.estimate import describe, estimate_run

        for line in describe(estimate_run(loaded, model, samples=samples, max_tokens=max_tokens, limit=limit,
                                          table=prices, batch=use_batch)):
            click.echo(line)
        return
    store = _open_store(db_path)
    stored_run = None
    given = {"--samples": samples, "--temperature": temperature, "--max-tokens": max_tokens, "--seed": seed,
             "--base-url": base_url, "--limit": limit, "--connect-timeout": connect_timeout,
             "--read-timeout": read_timeout, "--timeout": timeout,
             "--stream/--no-stream": None if stream is None else ("--stream" if stream else "--no-stream")}
    if resume_id:
        run_id = _resolve(store, resume_id, "--resume")
        stored_run = store.get_run(run_id)
        if stored_run["status"] == "running":
            raise BadInput(f"--resume: run {run_id} is still being written by process {stored_run['pid']}")
        if model and model != stored_run["model"]:
            raise BadInput(f"--model: run {run_id} used {stored_run['model']}, not {model}")
        model = stored_run["model"]
        if not os.path.exists(suite):
            raise BadInput(f"{suite}: no such file")
        restored = _resume_settings(stored_run, given, store.count_original_cases(run_id))
        stream = restored["stream"]
        base_url = restored["base_url"]
        connect_timeout, read_timeout, timeout = restored["timeouts"]
        _warn_if_suite_changed(suite, stored_run)
    # the baseline is found before any request: an unknown tag or another suite's run exits 2 now
    compare_base = _compare_to_baseline(store, compare_to, stored_run["suite"] if stored_run else loaded.name)

    if stored_run is not None:
        use_batch = use_batch or bool(stored_run["config"].get("batch"))
    if use_batch:
        _check_batchable(model)
    if max_cost is not None:
        _check_priced(store, stored_run, model, prices, prices_path)
    timeouts = timeouts_from_flags(connect_timeout, read_timeout, timeout)
    try:
        backend = create_backend(model, base_url=base_url, api_key_env=api_key_env, timeouts=timeouts,
                                 max_connections=max(concurrency, 10))
    except BackendConfigError as exc:
        raise BadInput(str(exc)) from None
    judge_backends = _judge_backends(stored_run["config"].get("scorers") if stored_run
                                     else loaded.config()["scorers"], timeouts)

    stream = True if stream is None else stream
    # The endpoint actually used (flag, environment or provider default) is stored, so a
    # resumed run talks to the same server.
    effective_url = getattr(backend, "base_url", None) or base_url
    options = RunOptions(model=model, samples=samples, temperature=temperature, max_tokens=max_tokens, seed=seed,
                         concurrency=concurrency, limit=limit, slo_ms=slo_ms, base_url=effective_url,
                         stream=stream, max_retries=max_retries, timeouts=timeouts, max_cost=max_cost,
                         prices=prices, batch=use_batch)
    cache = _open_cache(cache_path, store.path) if (use_cache or cache_only or cache_path) else None
    options.cache_path = cache.path if cache is not None else None
    engine = Engine(store, backend, judge_backends=judge_backends, cache=cache, cache_only=cache_only)
    if stored_run is None:
        run_id = engine.create_run(loaded, options)
    if use_batch:
        _run_batch(store, engine, backend, run_id, suite, stored_run is not None, poll_interval, batch_size, quiet,
                   options, compare_base, compare_to)
    execute_run(store, engine, run_id, options, suite=suite, resumed=stored_run is not None, quiet=quiet,
                compare_base=compare_base, compare_to=compare_to)


def execute_run(store, engine, run_id: str, options, *, suite: str, resumed: bool, quiet: bool,
                compare_base: str | None = None, compare_to: str | None = None) -> None:
    """Run (or finish) a stored run with `engine` as `tuieval run` does: progress on stderr,
    Ctrl-C / SIGTERM → partial and exit 130, the report and gates at the end, the run id last on
    stdout; exits with the run's status (0, 1 a gate failed or `compare_base` found a regression,
    2 the run failed, 3 stopped at the cost limit or by --cache-only)."""
    import asyncio

    from tuieval.engine.shutdown import ShutdownDeadline
    from tuieval.progress import Progress

    backend, cache, max_cost = engine.backend, engine.cache, options.max_cost
    progress = Progress(quiet=quiet)
    engine.on_event = _headless_listener(store, run_id, progress)

    def interrupted_lines() -> None:
        click.echo(f"interrupted: run {run_id} is partial; finish it with "
                   f"`tuieval run {suite} --resume {run_id}`", err=True)
        click.echo(run_id)

    def on_deadline() -> None:
        # Cleanup overran the deadline: the run is marked from a connection of our own.
        from tuieval.store import Store

        late = Store(store.path)
        try:
            if late.get_run(run_id)["status"] in ("running", "partial"):
                late.set_status(run_id, "partial")
        finally:
            late.close()
        interrupted_lines()

    guard = ShutdownDeadline(on_deadline)

    async def _go():
        guard.install(asyncio.current_task())
        try:
            return await engine.run(run_id, options, resumed=resumed)
        finally:
            try:
                await asyncio.wait_for(backend.aclose(), timeout=1.0)
            except (Exception, asyncio.CancelledError):
                pass  # closing sockets is best effort once the samples are stored

    if _as_program:
        from tuieval.gc_tuning import freeze_startup

        freeze_startup()
    try:
        finished = asyncio.run(_go())
    except (KeyboardInterrupt, asyncio.CancelledError):
        guard.report_once(interrupted_lines)
        sys.exit(EXIT_INTERRUPTED)

    exit_code = 0
    if cache is not None and not quiet:
        click.echo(f"cache: {cache.hits} answered from {cache.path}, {cache.writes} new answers stored", err=True)
    if engine.n_cache_missing and finished.status == "partial":
        click.echo(f"cache-only: {engine.n_cache_missing} requests were not in the cache and were not sent; run "
                   f"{run_id} is partial; fetch them with `tuieval run {suite} --resume {run_id} --cache`", err=True)
        exit_code = EXIT_BUDGET_STOPPED
    elif engine.stopped_by_budget and finished.status == "partial":
        from tuieval.cost.estimate import dollars

        click.echo(f"stopped at the cost limit: {dollars(engine.budget.spent)} spent of --max-cost "
                   f"{dollars(max_cost)} ({finished.n_done}/{finished.n_total} samples); run {run_id} is partial; "
                   f"raise the limit and finish it with `tuieval run {suite} --resume {run_id} --max-cost N`",
                   err=True)
        exit_code = EXIT_BUDGET_STOPPED
    elif finished.status == "failed":
        click.echo(f"tuieval: run {run_id} failed: {engine.fatal}; once fixed, finish it with "
                   f"`tuieval run {suite} --resume {run_id}`", err=True)
        exit_code = EXIT_BAD_INPUT
    else:
        exit_code = _finish_report(store, run_id, quiet, cache_only=engine.cache_only)
        if compare_base is not None:
            exit_code = max(exit_code, _compare_after_run(store, compare_base, compare_to, run_id, quiet))
    click.echo(run_id)
    # Everything is committed: close the database now (its write-ahead log is folded into the
    # file, so the file alone holds the run), then main() may skip the interpreter's teardown.
    store.close()
    if cache is not None:
        cache.close()
    _exit_fast_after(exit_code)


#: Set by main() when it runs as the program (no ``argv``): only then does `run` tune the
#: process's garbage collector (tuieval.gc_tuning); in-process callers keep theirs.
_as_program = False

#: Set when a command has stored and closed everything it wrote: main(), run as the program,
#: then ends the process with os._exit instead of the interpreter's teardown (freeing every
#: object and module one by one took 0.1–0.3 s after a large run; see benchmarks/README.md).
_fast_exit = False


def _exit_fast_after(code: int) -> None:
    global _fast_exit
    _fast_exit = True
    sys.exit(code)


def _check_batchable(model: str) -> None:
    """What `--batch` cannot do, refused in one line before anything is stored."""
    if not model.startswith(("openai/", "openai-compatible/", "anthropic/")):
        raise BadInput(f"--batch: {model}: batch runs go to OpenAI's Batch API or Anthropic's Message Batches "
                       "(openai/, openai-compatible/, anthropic/); for other runners use `tuieval batch export` "
                       "and `tuieval batch import`")


def _run_batch(store, engine, backend, run_id: str, suite: str, resumed: bool, poll_s: float,
               batch_size: int | None, quiet: bool, options=None, compare_base: str | None = None,
               compare_to: str | None = None) -> None:
    """`run --batch`: submit, poll and store; the judges with a batch API as a second batch
    (tuieval.batch.runner); then the other judges (interactive, under --max-cost), the report and
    --compare-to, as for an interactive run."""
    from tuieval.batch.openai_api import BatchAPIError
    from tuieval.batch.runner import BatchOverBudget, BatchRunner

    say = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    runner = BatchRunner(store, engine, backend, store.get_run(run_id), poll_s=poll_s,
                         max_requests=batch_size, on_progress=say,
                         max_cost=getattr(options, "max_cost", None), prices=getattr(options, "prices", None))
    try:
        out = runner.go(resumed=resumed)
    except BatchOverBudget as exc:
        store.set_status(run_id, "partial")
        click.echo(f"tuieval: {exc}; run {run_id} is partial", err=True)
        click.echo(run_id)
        sys.exit(EXIT_BUDGET_STOPPED)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the batch goes on at the provider; collect it with "
                   f"`tuieval run {suite} --resume {run_id}`", err=True)
        click.echo(run_id)
        sys.exit(EXIT_INTERRUPTED)
    except BatchAPIError as exc:
        store.set_status(run_id, "partial")
        click.echo(f"tuieval: {exc}; run {run_id} is partial; once fixed, `tuieval run {suite} --resume {run_id}`",
                   err=True)
        click.echo(run_id)
        sys.exit(EXIT_BAD_INPUT)
    for problem in out.problems[:5]:
        click.echo(f"warning: {problem}", err=True)
    if not quiet:
        click.echo(f"{out.status}: {out.n_done}/{out.n_total} samples, {out.n_errors} errors "
                   f"({out.n_batches} batch(es) submitted"
                   + (f", {out.n_judge_lines} judge requests among them" if out.n_judge_lines else "") + ")", err=True)
    if out.n_cache_missing:
        click.echo(f"cache-only: {out.n_cache_missing} requests (answers or judge requests) were not in the cache "
                   f"and were not submitted; run {run_id} is {out.status}; fetch them with "
                   f"`tuieval run {suite} --resume {run_id} --cache`", err=True)
        click.echo(run_id)
        sys.exit(EXIT_BUDGET_STOPPED)
    if options is not None and out.status == "complete":
        # Every answer is stored: what is left (judging, the report, --compare-to) is the
        # interactive run's own ending; the engine has no sample left to send.
        execute_run(store, engine, run_id, options, suite=suite, resumed=True, quiet=quiet,
                    compare_base=compare_base, compare_to=compare_to)
    code = _finish_report(store, run_id, quiet, cache_only=engine.cache_only)
    click.echo(run_id)
    sys.exit(code)


def _open_cache(path: str | None, db_path: str):
    """The response cache file: --cache-path, else $TUIEVAL_CACHE, else beside the database."""
    from tuieval.store import StoreError
    from tuieval.store.response_cache import ResponseCache

    path = path or os.environ.get("TUIEVAL_CACHE") or os.path.join(os.path.dirname(os.path.abspath(db_path)),
                                                                   "tuieval-cache.db")
    try:
        return ResponseCache(path)
    except StoreError as exc:
        raise BadInput(str(exc)) from None


def _compare_to_baseline(store, compare_to: str | None, suite_name: str) -> str | None:
    """`run --compare-to`: the baseline run's id, checked to be a run of the same suite."""
    if compare_to is None:
        return None
    base = _resolve(store, compare_to, "--compare-to")
    base_suite = store.get_run(base)["suite"]
    if base_suite != suite_name:
        raise BadInput(f"--compare-to: {compare_to} is run {base} of suite {base_suite!r}, not {suite_name!r}")
    return base


def _compare_after_run(store, baseline: str, label: str, run_id: str, quiet: bool) -> int:
    """Compare the finished run with the baseline (Markdown on stderr); 1 on a regression, as `compare`."""
    comparison = _comparison(store, baseline, run_id)
    regressed = comparison_regressed(comparison)
    if not quiet:
        from tuieval.report.formats import comparison_to_markdown

        click.echo(comparison_to_markdown(comparison), err=True, nl=False)
    n = len(comparison.get("regressions") or [])
    verdict = (f"regression against {label} (run {baseline}): {n} slice(s)"
               + (", and the overall accuracy" if (comparison["overall"].get("significant")
                                                   and (comparison["overall"].get("delta") or 0) < 0) else "")
               if regressed else f"no significant regression against {label} (run {baseline})")
    click.echo(verdict, err=True)
    return EXIT_GATE_FAILED if regressed else 0


def price_table(path: str | None):
    """The shipped price table with `--prices FILE` laid over it (one line naming the field on error)."""
    from tuieval.cost.prices import PriceError, load_table

    try:
        return load_table(path)
    except PriceError as exc:
        raise BadInput(f"--prices {exc}" if path is None else str(exc)) from None


def _check_priced(store, stored_run, model: str, prices, prices_path: str | None) -> None:
    """--max-cost needs a price for the model (a limit nothing counts against would be a lie)."""
    if prices.lookup(model) is None and not ((stored_run or {}).get("config") or {}).get("prices", {}).get(model):
        raise BadInput(f"--max-cost: no price for {model}; give one with --prices FILE"
                       + (f" ({prices_path} has none)" if prices_path else ""))


def _judge_backends(scorer_specs: Any, timeouts) -> dict:
    """The judge models' backends, before any run row or request: a bad setting exits 2."""
    from tuieval.backends.registry import BackendConfigError
    from tuieval.engine.judging import make_judge_backends
    from tuieval.scoring import ScorerSpecError, build_scorers

    try:
        return make_judge_backends(build_scorers(scorer_specs), timeouts)
    except (BackendConfigError, ScorerSpecError) as exc:
        raise BadInput(str(exc)) from None


def _with_perturbations(loaded, perturb: tuple[str, ...], seed: int | None, limit: int | None, quiet: bool):
    """The suite with its perturbed copies (from --perturb, else the suite's perturbations:), and
    the --limit still to apply (None once applied here, to the originals only)."""
    if not (perturb or loaded.perturbations):
        return loaded, limit  # perturb (and numpy, which it needs) is imported only when used
    from tuieval.perturb import PerturbSpecError, parse_specs, perturbed_suite, summary

    specs = None
    if perturb:
        try:
            specs = parse_specs(",".join(perturb))
        except PerturbSpecError as exc:
            raise BadInput(f"--perturb: {exc}") from None
    if not (specs or loaded.perturbations):
        return loaded, limit
    run_seed = loaded.sampling.seed if seed is None else seed
    out, result = perturbed_suite(loaded, specs, seed=run_seed, limit=limit)
    if not quiet:
        click.echo(summary(result, len(out.cases) - len(result.perturbed)), err=True)
    return out, None


def _resume_settings(run: dict, given: dict[str, Any], n_original_cases: int) -> dict[str, Any]:
    """What a resumed run runs with: its own stored settings. A flag given at resume that
    contradicts one is an error naming both values; a flag that agrees is fine. `--limit`
    counts the suite's own cases, not the perturbed copies of them."""
    config = run["config"]
    stored_timeouts = config.get("timeouts") or {}
    stored = {
        "--samples": run["samples_per_case"], "--temperature": run["temperature"],
        "--max-tokens": run["max_tokens"], "--seed": run["seed"], "--base-url": run["base_url"],
        "--limit": n_original_cases,
        "--connect-timeout": stored_timeouts.get("connect"), "--read-timeout": stored_timeouts.get("read"),
        "--timeout": stored_timeouts.get("total"),
        "--stream/--no-stream": "--stream" if config.get("stream", True) else "--no-stream",
    }
    for flag, value in given.items():
        have = stored[flag]
        if value is None:
            continue
        if have is None:
            if flag == "--max-tokens":  # the run had no limit: a limit now would change its answers
                raise BadInput(f"{flag}: run {run['id']} was started without {flag}; resuming it with "
                               f"{_show(flag, value)} would mix two settings in one run (start a new run instead)")
            continue  # a run stored before this setting was kept: take the flag
        same = (str(value).rstrip("/") == str(have).rstrip("/") if flag == "--base-url"
                else float(value) == float(have) if isinstance(value, (int, float)) else value == have)
        if not same:
            raise BadInput(f"{flag}: run {run['id']} was started with {_show(flag, have)}; "
                           f"resuming it with {_show(flag, value)} would mix two settings in one run "
                           "(start a new run instead)")

    def pick(flag: str) -> Any:
        return given[flag] if given[flag] is not None else stored[flag]

    return {
        "stream": stored["--stream/--no-stream"] == "--stream",
        "base_url": pick("--base-url"),
        "timeouts": (pick("--connect-timeout"), pick("--read-timeout"), pick("--timeout")),
    }


def _show(flag: str, value: Any) -> str:
    return str(value) if flag == "--stream/--no-stream" else f"{flag} {value:g}" if isinstance(value, float) \
        else f"{flag} {value}"


def _warn_if_suite_changed(suite_path: str, run: dict) -> None:
    """A resumed run keeps the cases and templates it started with; say so if the file moved on."""
    from tuieval.suite import SuiteError, load_suite

    try:
        current = load_suite(suite_path).content_hash
    except SuiteError:
        current = None
    if current != run["config"].get("suite_hash"):
        click.echo(f"warning: {suite_path} differs from the suite run {run['id']} started with; "
                   "resuming with the run's stored cases, templates and scorers", err=True)


def _headless_listener(store, run_id: str, progress):
    """Progress on stderr, plus anytime-valid early warnings when the suite has accuracy gates."""
    from tuieval.engine.events import SampleFinished

    run = store.get_run(run_id)
    gates = run["config"].get("gates") or []
    if not any(g.get("metric") == "accuracy" and g.get("min") for g in gates):
        return progress
    if ((run["config"].get("scorers") or [{}])[0] or {}).get("type") == "judge":
        return progress  # a sample's verdict arrives after SampleFinished: no early warnings from it
    from tuieval.early_warning import GateWatch

    watch = GateWatch(gates, store.get_cases(run_id), run["samples_per_case"] * run["n_templates"])
    for row in sorted(store.get_samples(run_id), key=lambda r: r["dispatch_order"]):
        watch.add(row)  # a resumed run: what is stored already counts

    def listener(event) -> None:
        progress(event)
        if isinstance(event, SampleFinished):
            for line in watch.add(event.row):
                progress.note(line)

    return listener


def _finish_report(store, run_id: str, quiet: bool, cache_only: bool = False) -> int:
    """Analyse the run, store its clusters, print a summary and apply the suite's gates
    (under --cache-only the clustering's own requests are replayed from the cache too)."""
    from tuieval.gates import failed_gates
    from tuieval.report import ClusteringBackendError, build_report
    from tuieval.report.endpoints import CacheOnlyMissing, replay_only

    try:
        with replay_only(cache_only):
            report = build_report(store, run_id, persist_clusters=True)
    except CacheOnlyMissing as exc:
        click.echo(f"tuieval: run {run_id} is stored but its report is not: {exc}", err=True)
        return EXIT_BUDGET_STOPPED
    except ClusteringBackendError as exc:
        # the samples are stored; only the analysis needs the failing endpoint
        click.echo(f"tuieval: run {run_id} is stored but its report failed: {exc}", err=True)
        return EXIT_BAD_INPUT
    if not quiet:
        # imported only to be printed: --quiet (CI, scripts) does not load every report format
        from tuieval.report.formats import summary_lines

        for line in summary_lines(report):
            click.echo(line, err=True)
    failures = failed_gates(report.get("gates") or [])
    for failure in failures:
        click.echo(f"gate failed: {failure}", err=True)
    return EXIT_GATE_FAILED if failures else 0


@cli.command("runs")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def runs_command(db_path: str | None, as_json: bool) -> None:
    """List the runs in the database, newest first."""
    from tuieval.store.tags import tags_by_run

    store = _open_store(db_path)
    runs = store.list_runs()
    tags = tags_by_run(store)
    if as_json:
        keys = ("id", "suite", "model", "simulated", "status", "n_samples", "n_expected", "n_errors",
                "samples_per_case", "temperature", "started_at", "finished_at")
        click.echo(json.dumps([dict({k: r.get(k) for k in keys}, tags=tags.get(r["id"], [])) for r in runs],
                              indent=2))
        return
    if not runs:
        click.echo(f"no runs in {store.path} yet — try: tuieval run sample_suites/extraction.yaml --model demo/steady")
        return
    header = f"{'id':<22} {'suite':<20} {'model':<28} {'status':<9} {'samples':>9} {'acc':>6}  started"
    click.echo(header)
    for r in runs:
        n = r["n_samples"] or 0
        acc = f"{(r['n_correct'] or 0) / n:.0%}" if n else "-"
        model = r["model"] + (" (sim)" if r["simulated"] else "")
        click.echo(f"{r['id']:<22} {r['suite'][:20]:<20} {model[:28]:<28} {r['status']:<9} "
                   f"{n:>4}/{r['n_expected']:<4} {acc:>6}  {r['started_at']}"
                   + (f"  [{', '.join(tags[r['id']])}]" if r["id"] in tags else ""))


@cli.command("report")
@click.argument("run_id")
@db_option
@click.option("--format", "fmt", type=click.Choice(["json", "md", "csv", "junit", "html"]), default="md",
              show_default=True)
@click.option("--prices", "prices_path", type=click.Path(), default=None, metavar="FILE",
              help="Re-price the run with this YAML price table (laid over the shipped one).")
@click.option("--cache-only", is_flag=True,
              help="Replay the clustering's embedding and judge calls from the run's response cache; send nothing.")
def report_command(run_id: str, db_path: str | None, fmt: str, prices_path: str | None, cache_only: bool) -> None:
    """Report on a run (RUN_ID or `latest`)."""
    from tuieval.report import ClusteringBackendError, build_report
    from tuieval.report.endpoints import CacheOnlyMissing, replay_only
    from tuieval.report.formats import RENDERERS

    prices = price_table(prices_path) if prices_path else None
    store = _open_store(db_path, must_exist=True)
    rid = _resolve(store, run_id)
    if fmt == "html":
        try:
            with replay_only(cache_only):
                return _html_report(store, rid)
        except CacheOnlyMissing as exc:
            click.echo(f"tuieval: {exc}", err=True)
            sys.exit(EXIT_BUDGET_STOPPED)
    try:
        with replay_only(cache_only):
            report = build_report(store, rid, prices=prices)
    except CacheOnlyMissing as exc:
        click.echo(f"tuieval: {exc}", err=True)
        sys.exit(EXIT_BUDGET_STOPPED)
    except ClusteringBackendError as exc:
        raise BadInput(str(exc)) from None
    click.echo(RENDERERS[fmt](report), nl=False)


def _html_report(store, run_id: str) -> None:
    """`report --format html`: one self-contained page (the report plus the latency rows it draws)."""
    from tuieval.report import ClusteringBackendError
    from tuieval.report.formats.html import report_to_html
    from tuieval.report.page import run_page

    from tuieval.report.endpoints import CacheOnlyMissing

    try:
        page = run_page(store, run_id)
    except CacheOnlyMissing:
        raise  # report --cache-only says what is missing, exit 3
    except ClusteringBackendError as exc:
        raise BadInput(str(exc)) from None
    click.echo(report_to_html(page), nl=False)


@cli.command("export")
@click.argument("run_id")
@db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
def export_command(run_id: str, db_path: str | None, fmt: str) -> None:
    """Every sample of a run, one JSON object per line."""
    from tuieval.report import ClusteringBackendError, export_rows

    store = _open_store(db_path, must_exist=True)
    rid = _resolve(store, run_id)
    out = sys.stdout
    try:
        for row in export_rows(store, rid):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    except ClusteringBackendError as exc:
        raise BadInput(str(exc)) from None


@cli.command("compare")
@click.argument("baseline_run", required=False)
@click.argument("candidate_run", required=False)
@click.option("--baseline", "baseline_flag", default=None, metavar="TAG_OR_RUN",
              help="The baseline (a tag such as production, or a run); then only CANDIDATE_RUN is given.")
@db_option
@click.option("--format", "fmt", type=click.Choice(["json", "md", "html"]), default="md", show_default=True)
def compare_command(baseline_run: str | None, candidate_run: str | None, baseline_flag: str | None,
                    db_path: str | None, fmt: str) -> None:
    """Paired comparison of two runs on the same cases; exit 1 when a slice regressed."""
    if baseline_flag is not None:
        if candidate_run is not None:
            raise BadInput("--baseline: give only CANDIDATE_RUN with it, not two runs")
        baseline_run, candidate_run, baseline_name = baseline_flag, baseline_run, "--baseline"
    else:
        baseline_name = "BASELINE_RUN"
    if baseline_run is None or candidate_run is None:
        raise BadInput("CANDIDATE_RUN: missing (tuieval compare BASELINE_RUN CANDIDATE_RUN, "
                       "or tuieval compare --baseline TAG CANDIDATE_RUN)")
    store = _open_store(db_path, must_exist=True)
    baseline = _resolve(store, baseline_run, baseline_name)
    candidate = _resolve(store, candidate_run, "CANDIDATE_RUN")
    comparison = _comparison(store, baseline, candidate)
    if fmt == "json":
        click.echo(json.dumps(comparison, indent=2, ensure_ascii=False))
    elif fmt == "html":
        from tuieval.report.formats.html import comparison_to_html

        click.echo(comparison_to_html(comparison), nl=False)
    else:
        from tuieval.report.formats import comparison_to_markdown

        click.echo(comparison_to_markdown(comparison), nl=False)
    if comparison_regressed(comparison):
        sys.exit(EXIT_GATE_FAILED)


def _comparison(store, baseline: str, candidate: str) -> dict:
    from tuieval.report import build_comparison

    try:
        return build_comparison(store, baseline, candidate)
    except ValueError as exc:  # runs that cannot be paired (different suites, no shared cases)
        raise BadInput(f"CANDIDATE_RUN: {exc}") from None


def comparison_regressed(comparison: dict) -> bool:
    """The rule `compare` exits 1 by: a slice regressed, or the overall mean fell significantly."""
    overall = comparison.get("overall") or {}
    overall_regressed = bool(overall.get("significant")) and (overall.get("delta") or 0) < 0
    return bool(comparison.get("regressions")) or overall_regressed


@cli.command("rescore")
@click.argument("run_id")
@db_option
@click.option("--extractor", "extractors", multiple=True, metavar="NAME",
              help="A built-in extractor (strict, last_number, first_number, number, choice, boxed, "
                   "json_field:PATH); repeat or comma-separate. Default: all but json_field.")
@click.option("--no-scorers", is_flag=True, help="Leave out the suite's own scorers' stored verdicts.")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="md", show_default=True)
def rescore_command(run_id: str, db_path: str | None, extractors: tuple[str, ...], no_scorers: bool,
                    fmt: str) -> None:
    """Re-read a stored run's responses with several extractors: how much of the score is extraction."""
    from tuieval.report.formats.robustness import extraction_markdown
    from tuieval.report.rescore import rescore
    from tuieval.scoring.extractors import EXTRACTOR_NAMES

    names = [n.strip() for item in extractors for n in item.split(",") if n.strip()]
    if not names:
        names = [n for n in EXTRACTOR_NAMES if not n.startswith("json_field")]
    store = _open_store(db_path, must_exist=True)
    rid = _resolve(store, run_id)
    try:
        result = rescore(store, rid, names, include_scorers=not no_scorers)
    except ValueError as exc:
        raise BadInput(f"--extractor: {exc}") from None
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(extraction_markdown(result), nl=False)


@cli.command("validate")
@click.argument("suites", nargs=-1, required=True, type=click.Path())
def validate_command(suites: tuple[str, ...]) -> None:
    """Check suites; list every problem with file, field and line."""
    from tuieval.suite import SuiteError, load_suite

    bad = 0
    for path in suites:
        try:
            s = load_suite(path)
        except SuiteError as exc:
            bad += 1
            for p in exc.problems:
                click.echo(str(p), err=True)
        else:
            click.echo(f"{path}: ok — {s.name}: {len(s.cases)} cases, {len(s.templates)} template(s), "
                       f"{s.sampling.samples} sample(s) each")
    if bad:
        sys.exit(EXIT_BAD_INPUT)


@cli.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["promptfoo", "inspect", "openai-evals", "lm-eval", "hf"]))
@click.argument("file", type=click.Path())
@click.option("--scorer", default="normalized", show_default=True,
              help="inspect, hf: the scorer when the file does not say (exact, normalized, contains, numeric, …).")
@click.option("--eval", "eval_name", default=None, help="openai-evals: which eval of the registry file.")
@click.option("--input", "input_field", default=None, metavar="COLUMN", help="hf: the prompt column.")
@click.option("--target", "target_field", default=None, metavar="COLUMN", help="hf: the answer column.")
@click.option("--id", "id_field", default=None, metavar="COLUMN", help="hf: the id column.")
@click.option("--metadata", "metadata_fields", multiple=True, metavar="COLUMN",
              help="hf: a column that becomes metadata (slices); repeat or comma-separate.")
def import_command(fmt: str, file: str, scorer: str, eval_name, input_field, target_field, id_field,
                   metadata_fields: tuple[str, ...]) -> None:
    """Write a tuieval suite (stdout) from another tool's FILE; what could not be carried over goes to stderr."""
    from tuieval.importers import FORMATS, ImportFailed, to_yaml
    from tuieval.scoring import validate_scorer_spec

    problems = validate_scorer_spec(scorer, "--scorer")
    if problems:
        raise BadInput(problems[0])
    kwargs: dict[str, Any] = {}
    if fmt in ("inspect", "hf"):
        kwargs["scorer"] = scorer
    if fmt == "openai-evals":
        kwargs["eval_name"] = eval_name
    if fmt == "hf":
        kwargs.update(input_field=input_field, target_field=target_field, id_field=id_field,
                      metadata_fields=tuple(m.strip() for item in metadata_fields for m in item.split(",") if m.strip()))
    try:
        imported = FORMATS[fmt](file, **kwargs)
    except ImportFailed as exc:
        raise BadInput(str(exc)) from None
    click.echo(to_yaml(imported), nl=False)
    for spec in imported.models:
        click.echo(f"model: --model {spec}", err=True)
    for note in imported.notes:
        click.echo(f"note: {note}", err=True)
    n = len(imported.suite.get("cases") or [])
    click.echo(f"imported {n} case(s) from {file}; {len(imported.notes)} note(s)", err=True)


@cli.command("search")
@click.argument("query")
@click.option("--run", "run_id", default=None, metavar="RUN_ID", help="Only this run (an id, a prefix or `latest`).")
@click.option("--model", default=None, help="Only runs of this model spec (e.g. openai/gpt-4o-mini).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--fts", "raw", is_flag=True, help="QUERY is FTS5 syntax (AND, OR, NOT, prefix*, NEAR) instead of a phrase.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable matches.")
@db_option
def search_command(query: str, run_id: str | None, model: str | None, limit: int, raw: bool, as_json: bool,
                   db_path: str | None) -> None:
    """Full-text search of every stored prompt and response, newest first, with a highlighted snippet."""
    import sqlite3

    from tuieval.sample_rules import verdict
    from tuieval.textsafe import sanitize

    store = _open_store(db_path, must_exist=True)
    rid = _resolve(store, run_id, "--run") if run_id else None
    if model is not None and not store.has_model(model):
        raise BadInput(f"--model: no run of {model} in {store.path}")
    if not query.strip():
        raise BadInput("QUERY: empty")
    # by default the words are one phrase ("I cannot"), as a person typing them means
    match = query if raw else store.phrase_query(query)
    if store.ensure_search_index():
        click.echo(f"indexed the samples stored before search existed in {store.path}", err=True)
    start, end = "\ue000", "\ue001"  # private-use marks: survive sanitising, never in model text we show
    try:
        rows = store.search_samples(match, run_id=rid, model=model, limit=limit, mark=(start, end))
    except sqlite3.OperationalError as exc:
        raise BadInput(f"QUERY: {exc}" + ("" if raw else " (quote-free words are searched as one phrase)")) from None
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    on, off = ("\x1b[1;7m", "\x1b[0m") if color else ("«", "»")

    def shown(text: str, a: str, b: str) -> str:
        # the snippet is model text: made inert first, then the marks become the highlight
        body = sanitize(text, single_line=True)
        if a == "«":  # plain-text marks: the text's own guillemets must not read as highlights
            body = body.replace("«", "‹").replace("»", "›")
        return body.replace(start, a).replace(end, b)

    if as_json:
        out = [{"run_id": r["run_id"], "model": r["model"], "case_id": r["case_id"], "template": r["template"],
                "sample_index": r["sample_index"], "verdict": verdict(r), "snippet": shown(r["snippet"] or "", "«", "»")}
               for r in rows]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not rows:
        scope = f" in run {rid}" if rid else (f" for model {model}" if model else "")
        click.echo(f"no sample matches {query!r}{scope}", err=True)
        return
    for r in rows:
        click.echo(f"{r['run_id']}  {sanitize(r['model'], single_line=True)}  {sanitize(r['case_id'], single_line=True)}"
                   f"  {sanitize(r['template'], single_line=True)}#{r['sample_index']}  {verdict(r):<7}  "
                   f"{shown(r['snippet'] or '', on, off)}")
    if len(rows) == limit:
        click.echo(f"first {limit} matches, newest first (--limit for more)", err=True)


@cli.command("datasette-metadata")
@db_option
def datasette_metadata_command(db_path: str | None) -> None:
    """Datasette metadata.json for the database: table and column descriptions, canned queries."""
    from pathlib import Path

    from tuieval.store import default_db_path
    from tuieval.store.datasette import datasette_metadata

    # Datasette names a database after its file's stem
    click.echo(json.dumps(datasette_metadata(Path(db_path or default_db_path()).stem), indent=2, ensure_ascii=False))


# Commands in their own modules (tuieval/commands), registered here: one line each, imported
# when named (LazyGroup), so each may import the helpers above.
cli.add_lazy_command("batch", "tuieval.commands.batch:batch_group")
cli.add_lazy_command("tag", "tuieval.commands.tag:tag_command")
cli.add_lazy_command("trend", "tuieval.commands.trend:trend_command")

judge_backends_for = _judge_backends

cli.add_lazy_command("contamination", "tuieval.commands.contamination:contamination_command")
cli.add_lazy_command("drift", "tuieval.commands.drift:drift_command")


def main(argv: list[str] | None = None) -> None:
    """Entry point: click usage errors become one line and exit status 2.

    As the program itself (no ``argv``: the ``tuieval`` script, ``python -m tuieval``), a
    command that has closed what it wrote (``_exit_fast_after``) ends with ``os._exit`` once
    stdout and stderr are flushed; called with ``argv`` (tests, other Python code) it never does.
    """
    global _as_program
    _as_program = argv is None
    try:
        _main(argv)
    except SystemExit as exc:
        if argv is None and _fast_exit:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # a closed pipe: nothing more can be said on it
                    pass
            os._exit(code)
        raise


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="tuieval", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError) and not isinstance(exc, BadInput):
            click.echo(f"tuieval: {exc.format_message()}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


cli.add_lazy_command("redteam", "tuieval.commands.redteam:redteam_command")
cli.add_lazy_command("shadow", "tuieval.commands.shadow:shadow_command")
