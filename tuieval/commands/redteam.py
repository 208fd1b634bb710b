"""`tuieval redteam`: attack a suite's seed cases with an attacker model and report what broke.

The work is tuieval.redteam.runner; this module checks the flags (bad input exits 2 with one
line, before any row or request), builds the backends, prints progress on stderr and the
red-team id last on stdout.
"""

from __future__ import annotations

import sys

import click

from tuieval.cli import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, BadInput, DEFAULT_CONNECT_S, DEFAULT_TOTAL_S, _open_store,
                         db_option, timeouts_from_flags)


def _backend(spec: str, flag: str, base_url: str | None, api_key_env: str | None, timeouts, concurrency: int):
    from tuieval.backends.registry import BackendConfigError, create_backend

    try:
        return create_backend(spec, base_url=base_url, api_key_env=api_key_env, timeouts=timeouts,
                              max_connections=max(concurrency, 10))
    except BackendConfigError as exc:
        raise BadInput(str(exc).replace("--model", flag, 1)) from None


def _check_attacker(spec: str) -> None:
    provider, _, model = spec.partition("/")
    if provider == "demo" and model != "attacker":
        raise BadInput(f"--attacker: {spec} is a simulated answerer, not an attacker (the simulated attacker is "
                       "demo/attacker)")


@click.command("redteam")
@click.argument("suite", required=False, type=click.Path())
@click.option("--target", "targets", multiple=True, metavar="SPEC",
              help="The model attacked; give it twice to compare two models on the same attacks.")
@click.option("--attacker", default=None, metavar="SPEC", help="The model that writes the attacks (demo/attacker offline).")
@click.option("--judge", default=None, metavar="SPEC",
              help="A judge model decides whether an answer is still right (default: the case's own scorer).")
@click.option("--strategies", default=None, metavar="NAME,...",
              help="paraphrase, role_play, instruction_injection, distractors, format_pressure, multi_turn (default all).")
@click.option("--tries", type=click.IntRange(min=1), default=1, show_default=True,
              help="Attacks per case and strategy (pass@k from the attacker's side).")
@click.option("--budget", type=click.IntRange(min=1), default=None,
              help="Most requests to send: seed answers, attacker, target turns and judge calls together.")
@click.option("--seed", type=int, default=None, help="Base seed (default: the suite's).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N cases as seeds.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1, max=1024), default=8, show_default=True)
@click.option("--base-url", default=None, help="The targets' server base URL.")
@click.option("--api-key-env", default=None, help="Environment variable holding the targets' API key.")
@click.option("--attacker-base-url", default=None, help="The attacker's server base URL.")
@click.option("--judge-base-url", default=None, help="The judge's server base URL.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Total seconds one attempt may take [default: {DEFAULT_TOTAL_S:g}].")
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Seconds to open a connection [default: {DEFAULT_CONNECT_S:g}].")
@click.option("--max-retries", type=click.IntRange(min=0), default=6, show_default=True)
@click.option("--save-attacks", "save_dir", default=None, metavar="DIR", type=click.Path(file_okay=False),
              help="Write each successful attack as a regression suite file in DIR.")
@click.option("--resume", "resume_id", default=None, metavar="REDTEAM_ID",
              help="Finish an interrupted red-team run with the settings it started with.")
@click.option("--compare", "compare_ids", nargs=2, default=None, metavar="REDTEAM_A REDTEAM_B",
              help="Compare the first targets of two stored red-team runs (exact McNemar per strategy) instead.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True,
              help="Output of --compare.")
@db_option
@click.option("--quiet", "-q", is_flag=True, help="No summary; only the red-team id.")
def redteam_command(suite, targets, attacker, judge, strategies, tries, budget, seed, limit, concurrency, base_url,
                    api_key_env, attacker_base_url, judge_base_url, timeout, connect_timeout, max_retries, save_dir,
                    resume_id, compare_ids, fmt, db_path, quiet) -> None:
    """Attack SUITE's cases: the attacker rewrites each per strategy, the target answers, the
    judge (or the case's scorer) says whether it broke. Prints the red-team id last."""
    import asyncio

    if compare_ids:
        _compare(compare_ids, fmt, db_path)
        return

    from tuieval.redteam.runner import BudgetError, RedTeam, RedTeamOptions
    from tuieval.redteam.strategies import StrategyError, parse_strategies
    from tuieval.scoring import ScorerSpecError
    from tuieval.store.redteam import RedTeamNotFound, RedTeamStore
    from tuieval.suite import SuiteError, load_suite

    loaded = None
    if resume_id is None:
        if not suite:
            raise BadInput("SUITE is required (or --resume REDTEAM_ID)")
        if not targets:
            raise BadInput("--target is required (e.g. --target demo/sensitive)")
        if len(targets) > 2:
            raise BadInput(f"--target: at most two targets (a paired comparison), got {len(targets)}")
        if len(set(targets)) != len(targets):
            raise BadInput("--target: the same model twice (compare two different models)")
        if not attacker:
            raise BadInput("--attacker is required (e.g. --attacker demo/attacker)")
        _check_attacker(attacker)
        try:
            names = parse_strategies(strategies)
        except StrategyError as exc:
            raise BadInput(f"--strategies: {exc}") from None
        try:
            loaded = load_suite(suite)
        except SuiteError as exc:
            raise BadInput(exc.one_line()) from None
        options = RedTeamOptions(
            targets=list(targets), attacker=attacker, judge=judge, strategies=names, tries=tries, budget=budget,
            seed=loaded.sampling.seed if seed is None else seed, limit=limit, concurrency=concurrency,
            base_url=base_url, api_key_env=api_key_env, attacker_base_url=attacker_base_url,
            judge_base_url=judge_base_url, max_retries=max_retries,
            timeouts=timeouts_from_flags(connect_timeout, None, timeout))
        if judge:
            from tuieval.redteam.runner import judge_spec
            from tuieval.scoring import build_scorers

            try:
                build_scorers([judge_spec(judge, judge_base_url)], path="--judge")
            except ScorerSpecError as exc:
                raise BadInput(f"--judge: {exc.message}") from None
    elif suite or targets or attacker or judge or strategies:
        raise BadInput("--resume: a resumed red-team run keeps its suite, models and strategies; give only "
                       "--resume, --db, --concurrency, --max-retries and --save-attacks")

    store = _open_store(db_path)
    rts = RedTeamStore(store)
    record = None
    if resume_id is not None:
        try:
            record = rts.get(rts.resolve(resume_id))
        except RedTeamNotFound as exc:
            raise BadInput(f"--resume: {exc} in {store.path}") from None
        if rts.being_written(record):
            raise BadInput(f"--resume: red-team run {record['id']} is still being written by process {record['pid']}")
        options = RedTeamOptions.from_stored(record["config"], concurrency=concurrency, max_retries=max_retries)

    timeouts = options.timeouts
    target_backends = {spec: _backend(spec, "--target", options.base_url, options.api_key_env, timeouts,
                                      options.concurrency) for spec in options.targets}
    attacker_backend = _backend(options.attacker, "--attacker", options.attacker_base_url, None, timeouts,
                                options.concurrency)
    team = RedTeam(store, on_note=None if quiet else (lambda line: click.echo(line, err=True)))
    if record is None:
        try:
            redteam_id = team.create(loaded, options, target_backends)
        except BudgetError as exc:
            raise BadInput(str(exc)) from None
        record = rts.get(redteam_id)
    redteam_id = record["id"]
    if not quiet:
        for spec, run_id in zip(options.targets, record["run_ids"]):
            click.echo(f"target {spec}: run {run_id}", err=True)

    async def go() -> str:
        try:
            return await team.run(redteam_id, options, target_backends, attacker_backend,
                                  resumed=resume_id is not None)
        finally:
            for backend in [*target_backends.values(), attacker_backend]:
                try:
                    await asyncio.wait_for(backend.aclose(), timeout=1.0)
                except (Exception, asyncio.CancelledError):
                    pass

    try:
        status = asyncio.run(go())
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo(f"interrupted: red-team run {redteam_id} is partial; finish it with "
                   f"`tuieval redteam --resume {redteam_id}`", err=True)
        click.echo(redteam_id)
        sys.exit(EXIT_INTERRUPTED)
    if status == "failed":
        click.echo(f"tuieval: red-team run {redteam_id} failed: {team.fatal}; once fixed, finish it with "
                   f"`tuieval redteam --resume {redteam_id}`", err=True)
        click.echo(redteam_id)
        sys.exit(EXIT_BAD_INPUT)
    if save_dir:
        from tuieval.redteam.regression import save_attacks

        try:
            paths = save_attacks(store, redteam_id, save_dir)
        except OSError as exc:
            raise BadInput(f"--save-attacks: cannot write to {save_dir}: {exc.strerror or exc}") from None
        if not quiet:
            click.echo(f"saved {len(paths)} successful attack(s) as suites in {save_dir}", err=True)
    if not quiet:
        _summary(store, record)
    click.echo(redteam_id)


def _compare(ids: tuple[str, str], fmt: str, db_path: str | None) -> None:
    import json

    from tuieval.report.formats.redteam import redteam_compare_markdown
    from tuieval.report.redteam import redteam_comparison
    from tuieval.store.redteam import RedTeamNotFound

    store = _open_store(db_path, must_exist=True)
    try:
        comp = redteam_comparison(store, *ids)
    except RedTeamNotFound as exc:
        raise BadInput(f"--compare: {exc} in {store.path}") from None
    click.echo(json.dumps(comp, indent=2, ensure_ascii=False) if fmt == "json" else redteam_compare_markdown(comp),
               nl=fmt == "json")


def _summary(store, record) -> None:
    """Each target's attack success per strategy, on stderr."""
    from tuieval.report.formats.cells import ci, pct
    from tuieval.report.redteam import redteam_section

    for run_id in record["run_ids"]:
        section = redteam_section(store, store.get_run(run_id))
        if section is None:
            continue
        click.echo(f"{section['target']['model']}: attack success {pct(section['overall']['asr'])} "
                   f"{ci(section['overall']['ci'])} (n={section['overall']['n']}); "
                   f"requests {section['requests_used']}", err=True)
        for s in section["strategies"]:
            click.echo(f"  {s['strategy']:<22} {pct(s['asr']):>6} {ci(s['ci'])} ({s['n_broken']}/{s['n']})", err=True)
