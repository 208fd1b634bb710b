"""`tuieval shadow LOG --candidate SPEC [--baseline SPEC]`: shadow evaluation of logged traffic.

Samples the log (tuieval.traffic.sample), replays it through the candidate (and the baseline
model, when given) with the engine, stops when the disagreement is known to `--precision`, and
prints the `shadow` section of the candidate run's report. Exit 1 when a gate fails
(`--max-disagreement`, `--max-p99-shift-ms`), 2 on bad input, 3 when it stopped at `--max-cost`
(both runs partial, resumable with a higher limit), 130 when interrupted.
"""

from __future__ import annotations

import json
import os
import sys

import click

from tuieval.cli import (DEFAULT_CONNECT_S, DEFAULT_TOTAL_S, EXIT_BAD_INPUT, EXIT_BUDGET_STOPPED, EXIT_GATE_FAILED,
                         EXIT_INTERRUPTED, BadInput, _open_store, _resolve, db_option, price_table,
                         timeouts_from_flags)

AGREEMENT_METHODS = ("canonical", "lexical", "embeddings", "entailment", "hybrid")


@click.command("shadow")
@click.argument("log", type=click.Path())
@click.option("--candidate", default=None, metavar="SPEC", help="The model to evaluate (provider/model).")
@click.option("--baseline", default=None, metavar="SPEC",
              help="A baseline model to replay beside it; without it the log's own responses are the baseline.")
@click.option("--budget", type=click.IntRange(min=1), default=200, show_default=True,
              help="Prompts to sample from the log (requests per model).")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True), default=None, metavar="USD",
              help="Stop before the first sampled prompt (or, with --judge, the first disagreement to judge) whose "
                   "estimated cost would pass this many dollars, candidate, baseline model and judge together; "
                   "partial, resumable with a higher limit.")
@click.option("--prices", "prices_path", type=click.Path(), default=None, metavar="FILE",
              help="A YAML price table laid over the shipped one (see README, Cost).")
@click.option("--precision", type=click.FloatRange(min=0, max=1, min_open=True), default=None, metavar="W",
              help="Stop once the disagreement rate's anytime-valid 95% interval is narrower than W.")
@click.option("--alpha", type=click.FloatRange(min=0, max=0.5, min_open=True), default=0.05, show_default=True)
@click.option("--field", "fields", multiple=True, metavar="FIELD=PATH",
              help="Where a field is in each line, e.g. prompt=input.text, metadata.region=ctx.region.")
@click.option("--agreement", type=click.Choice(AGREEMENT_METHODS), default="canonical", show_default=True,
              help="The clustering tier that decides whether two answers agree.")
@click.option("--agreement-model", default=None, metavar="SPEC", help="Embeddings model for --agreement embeddings.")
@click.option("--agreement-judge", default=None, metavar="SPEC",
              help="Judge model for --agreement entailment or hybrid.")
@click.option("--judge", default=None, metavar="SPEC",
              help="A judge model that says, on each disagreement, which answer is better (both orders).")
@click.option("--judge-base-url", default=None, help="The judge's server base URL.")
@click.option("--judge-api-key-env", default=None, help="Environment variable holding the judge's key.")
@click.option("--max-disagreement", type=click.FloatRange(0, 1), default=None, help="Gate: fail above this rate.")
@click.option("--max-p99-shift-ms", type=float, default=None, help="Gate: fail when p99 latency grows more.")
@click.option("--temperature", "-t", type=click.FloatRange(0, 2), default=0.0, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--concurrency", "-c", type=click.IntRange(min=1, max=1024), default=8, show_default=True)
@click.option("--base-url", default=None, help="The candidate's server base URL.")
@click.option("--api-key-env", default=None, help="Environment variable holding the candidate's API key.")
@click.option("--baseline-base-url", default=None, help="The baseline model's server base URL.")
@click.option("--baseline-api-key-env", default=None, help="Environment variable holding the baseline's key.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Total seconds one attempt may take [default: {DEFAULT_TOTAL_S:g}].")
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Seconds to open a connection [default: {DEFAULT_CONNECT_S:g}].")
@click.option("--read-timeout", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--max-retries", type=click.IntRange(min=0), default=6, show_default=True)
@click.option("--stream/--no-stream", "stream", default=True)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@db_option
@click.option("--resume", "resume_id", default=None, metavar="RUN_ID",
              help="Finish an interrupted shadow evaluation (its candidate run), with the settings it started with.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def shadow_command(log, candidate, baseline, budget, max_cost, prices_path, precision, alpha, fields, agreement, agreement_model,
                   agreement_judge, judge, judge_base_url, judge_api_key_env, max_disagreement, max_p99_shift_ms, temperature, max_tokens, seed, concurrency,
                   base_url, api_key_env, baseline_base_url, baseline_api_key_env, timeout, connect_timeout,
                   read_timeout, max_retries, stream, fmt, db_path, resume_id, quiet) -> None:
    """Shadow-evaluate CANDIDATE on prompts sampled from the traffic LOG (JSONL)."""
    import asyncio

    from tuieval.backends.registry import BackendConfigError, create_backend
    from tuieval.traffic.log import TrafficLogError, parse_field_mapping
    from tuieval.traffic.shadow import ShadowError, ShadowSettings, judge_spec, make_plan, run_shadow

    resume = None
    if resume_id:
        from tuieval.store.shadow import get_shadow

        store = _open_store(db_path, must_exist=True)
        link = get_shadow(store, _resolve(store, resume_id, "--resume"))
        if link is None:
            raise BadInput(f"--resume: run {resume_id} is not the candidate run of a shadow evaluation")
        stored = link["config"].get("settings") or {}
        if candidate and candidate != stored.get("candidate"):
            raise BadInput(f"--candidate: run {link['run_id']} evaluated {stored.get('candidate')}, not {candidate}")
        if os.path.abspath(log) != os.path.abspath(link["log_path"]):
            raise BadInput(f"LOG: run {link['run_id']} replayed {link['log_path']}, not {log}")
        store.close()
        resume = link
    elif not candidate:
        raise BadInput("--candidate is required (e.g. --candidate demo/steady)")
    if not os.path.isfile(log):
        raise BadInput(f"{log}: no such file")
    if agreement == "embeddings" and not agreement_model:
        raise BadInput("--agreement embeddings needs --agreement-model SPEC")
    if agreement in ("entailment", "hybrid") and not agreement_judge:
        raise BadInput(f"--agreement {agreement} needs --agreement-judge SPEC")
    try:
        mapping = parse_field_mapping(list(fields))
    except TrafficLogError as exc:
        raise BadInput(str(exc)) from None
    variance = {"method": agreement, **({"model": agreement_model} if agreement_model else {}),
                **({"judge": agreement_judge} if agreement_judge else {})}
    timeouts = timeouts_from_flags(connect_timeout, read_timeout, timeout)
    if resume is not None:
        # the run's own settings (what was sampled and how answers were compared); only the
        # concurrency and the retries may change
        settings = ShadowSettings.from_stored(resume["config"]["settings"])
        settings.concurrency, settings.max_retries = concurrency, max_retries
        # the limit given now: raising it is how a replay stopped at the limit goes on
        settings.max_cost, settings.prices_path = max_cost, prices_path or settings.prices_path
        candidate, baseline, timeouts = settings.candidate, settings.baseline, settings.timeouts
        base_url, baseline_base_url = settings.candidate_base_url, settings.baseline_base_url
    else:
        settings = ShadowSettings(log_path=log, candidate=candidate, baseline=baseline, mapping=mapping, budget=budget,
                                  precision=precision, alpha=alpha, temperature=temperature, max_tokens=max_tokens,
                                  seed=seed, concurrency=concurrency, stream=stream, max_retries=max_retries,
                                  timeouts=timeouts, agreement=variance, max_disagreement=max_disagreement,
                                  max_p99_shift_ms=max_p99_shift_ms, candidate_base_url=base_url,
                                  baseline_base_url=baseline_base_url, judge=judge, judge_base_url=judge_base_url,
                                  judge_api_key_env=judge_api_key_env, max_cost=max_cost,
                                  prices_path=prices_path)
    prices = price_table(settings.prices_path)
    if settings.max_cost is not None:
        # a limit nothing counts against would be a lie: every replayed model needs a price
        for flag, model in (("--candidate", settings.candidate), ("--baseline", settings.baseline),
                            ("--judge", settings.judge)):
            if model and prices.lookup(model) is None:
                raise BadInput(f"--max-cost: no price for {model} ({flag}); give one with --prices FILE")
    spec = judge_spec(settings)
    if spec is not None:
        from tuieval.engine.judging import make_judge_backends
        from tuieval.scoring import ScorerSpecError, build_scorers

        try:   # the judge's settings are checked before anything is sampled or stored
            make_judge_backends(build_scorers([spec], "--judge"), timeouts)
        except (BackendConfigError, ScorerSpecError) as exc:
            raise BadInput(f"--judge: {exc}") from None
    try:
        cand_backend = create_backend(candidate, base_url=base_url, api_key_env=api_key_env, timeouts=timeouts,
                                      max_connections=max(concurrency, 10))
        base_backend = None if baseline is None else create_backend(
            baseline, base_url=baseline_base_url, api_key_env=baseline_api_key_env, timeouts=timeouts,
            max_connections=max(concurrency, 10))
    except BackendConfigError as exc:
        raise BadInput(str(exc)) from None
    try:
        plan = make_plan(settings)
    except (ShadowError, TrafficLogError) as exc:
        raise BadInput(str(exc)) from None
    if not quiet:
        click.echo(f"{log}: {plan.n_records} prompts, {plan.n_problems} unreadable lines; sampled {len(plan.chosen)} "
                   f"over {len(plan.cells)} strata", err=True)
        for p in plan.problems[:5]:
            click.echo(f"  {log}: {p}", err=True)
        if plan.n_problems > 5:
            click.echo(f"  … and {plan.n_problems - 5} more", err=True)
    store = _open_store(db_path)

    def on_batch(seq: dict) -> None:
        if not quiet:
            click.echo(f"  {seq['n']} compared: disagreement {seq['rate']:.1%}, anytime-valid "
                       f"[{seq['cs'][0]:.1%}, {seq['cs'][1]:.1%}]", err=True)

    async def _go():
        try:
            return await run_shadow(store, settings, plan, cand_backend, base_backend, on_batch=on_batch,
                                    resume=resume, prices=prices)
        finally:
            for b in (cand_backend, base_backend):
                if b is not None:
                    try:
                        await asyncio.wait_for(b.aclose(), timeout=1.0)
                    except (Exception, asyncio.CancelledError):
                        pass  # closing sockets is best effort once the samples are stored

    try:
        outcome = asyncio.run(_go())
    except ShadowError as exc:
        raise BadInput(str(exc)) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("interrupted: the shadow runs are kept as partial; finish them with "
                   f"`tuieval shadow {log} --resume RUN_ID` (the candidate's run, `tuieval runs`)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if outcome.status == "failed":
        click.echo(f"tuieval: shadow run {outcome.run_id} failed: {outcome.fatal}; once fixed, finish it with "
                   f"`tuieval shadow {log} --resume {outcome.run_id}`", err=True)
        sys.exit(EXIT_BAD_INPUT)

    from tuieval.report.build import build_report
    from tuieval.report.formats.shadow import shadow_markdown

    section = build_report(store, outcome.run_id)["shadow"]
    if fmt == "json":
        click.echo(json.dumps({"run_id": outcome.run_id, **section}, indent=2, ensure_ascii=False))
    else:
        click.echo(shadow_markdown(section))
    click.echo(f"shadow run {outcome.run_id} (baseline run {outcome.baseline_run_id})", err=True)
    if outcome.stop == "cost":
        from tuieval.cost.estimate import dollars

        cost = outcome.cost or {}
        if cost.get("stopped_in") == "judge":
            judge = section.get("judge") or {}
            where = (f"{outcome.n_replayed} sampled prompts compared; {judge.get('n', 0)} of "
                     f"{section.get('n_disagreements', 0)} disagreements judged; the next judgement would cost ≈ "
                     f"{dollars(cost.get('next_judgement_estimate'))}")
        else:
            where = (f"{outcome.n_replayed} of {len(plan.chosen)} sampled prompts; the next would cost ≈ "
                     f"{dollars(cost.get('next_prompt_estimate'))}")
        click.echo(f"stopped at the cost limit: {dollars(cost.get('spent'))} spent of --max-cost "
                   f"{dollars(cost.get('limit'))} ({where}); runs {outcome.run_id} and "
                   f"{outcome.baseline_run_id} are partial; raise the limit and finish with "
                   f"`tuieval shadow {log} --resume {outcome.run_id} --max-cost N`", err=True)
        sys.exit(EXIT_BUDGET_STOPPED)
    sys.exit(0 if section["passed"] else EXIT_GATE_FAILED)
