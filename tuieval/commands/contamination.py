"""`tuieval contamination SUITE --model SPEC`: black-box contamination probes as one run.

The probes' cases are built before anything is stored (tuieval.contamination.probes), the
corpus is scanned before a request is sent, and the run then goes through the same engine as
`tuieval run` (limiter, retries, resume, Ctrl-C → partial): its report has a `contamination`
section and its scoreboard a `contamination=likely` slice. Bad input exits 2 with one line.
"""

from __future__ import annotations

import click

from tuieval.cli import BadInput, db_option, execute_run, judge_backends_for, open_store, timeouts_from_flags


def _probes(value: str | None, corpus: str | None) -> tuple[str, ...]:
    from tuieval.contamination.probes import DEFAULT_PROBES, PROBES

    if value is None:
        return DEFAULT_PROBES + (("ngram",) if corpus else ())
    names = [p.strip().lower() for p in value.split(",") if p.strip()]
    if not names:
        raise BadInput("--probes: empty (choose from " + ", ".join(PROBES) + ")")
    for name in names:
        if name not in PROBES:
            raise BadInput(f"--probes: unknown probe {name!r} (choose from {', '.join(PROBES)})")
    if "ngram" in names and not corpus:
        raise BadInput("--probes: ngram needs --corpus FILE (the reference text to look for the cases in)")
    return tuple(dict.fromkeys(names))


@click.command("contamination")
@click.argument("suite", type=click.Path())
@click.option("--model", "-m", "model", required=True, help="provider/model, e.g. demo/memorised, openai/gpt-4o-mini.")
@click.option("--probes", "probes", default=None, metavar="NAME,...",
              help="verbatim, rewrite, options, ngram [default: verbatim,rewrite,options, and ngram with --corpus].")
@click.option("--corpus", type=click.Path(), default=None, metavar="FILE",
              help="Reference text (UTF-8) for the 13-gram probe, streamed.")
@click.option("--rewrite", "rewrite", default=None, metavar="NAME[:SEVERITY],...",
              help="The perturb families applied in turn to make the rewrite "
                   "[default: contractions,numbers,punctuation:0.3,casing:0.2].")
@click.option("--template", "template", default=None, metavar="ID", help="The suite template the cases are asked in [default: the first].")
@click.option("--prefix-share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5, show_default=True,
              help="Share of a case's words the verbatim probe shows.")
@click.option("--quantile", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.99, show_default=True,
              help="The control's quantile a verbatim overlap must exceed.")
@click.option("--samples", "-n", type=click.IntRange(min=1), default=1, show_default=True, help="Samples per case.")
@click.option("--temperature", "-t", type=click.FloatRange(0, 2), default=0.0, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=None,
              help="Output cap [default: the suite's, at least 256, so a continuation fits].")
@click.option("--seed", type=int, default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N cases.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1, max=1024), default=8, show_default=True)
@click.option("--base-url", default=None)
@click.option("--api-key-env", default=None)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--read-timeout", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--max-retries", type=click.IntRange(min=0), default=6, show_default=True)
@click.option("--stream/--no-stream", "stream", default=True)
@db_option
@click.option("--quiet", "-q", is_flag=True)
def contamination_command(suite, model, probes, corpus, rewrite, template, prefix_share, quantile, samples,
                          temperature, max_tokens, seed, limit, concurrency, base_url, api_key_env, timeout,
                          connect_timeout, read_timeout, max_retries, stream, db_path, quiet) -> None:
    """Probe MODEL for contamination by SUITE's cases; print the run id last.

    Finish an interrupted probe run with `tuieval run SUITE --resume RUN_ID`."""
    from tuieval.backends.registry import BackendConfigError, create_backend
    from tuieval.contamination.corpus import CorpusError, scan_corpus
    from tuieval.contamination.probes import DEFAULT_REWRITE, ProbeSettings, build_plan, case_text
    from tuieval.engine import Engine, RunOptions
    from tuieval.perturb import PerturbSpecError, parse_specs
    from tuieval.suite import SuiteError, load_suite

    chosen = _probes(probes, corpus)
    if corpus and "ngram" not in chosen:
        raise BadInput("--corpus: given, but --probes leaves out ngram")
    try:
        chain = tuple(parse_specs(rewrite or DEFAULT_REWRITE)) if "rewrite" in chosen else ()
    except PerturbSpecError as exc:
        raise BadInput(f"--rewrite: {exc}") from None
    try:
        loaded = load_suite(suite)
    except SuiteError as exc:
        raise BadInput(exc.one_line()) from None
    settings = ProbeSettings(probes=chosen, rewrite=chain, template=template, prefix_share=prefix_share,
                             quantile=quantile, corpus=corpus)
    run_seed = loaded.sampling.seed if seed is None else seed
    try:
        plan = build_plan(loaded, settings, seed=run_seed, limit=limit)
    except ValueError as exc:
        raise BadInput(f"--template: {exc}") from None
    ngram = None
    if "ngram" in chosen:
        try:
            scan = scan_corpus({c.id: case_text(c, plan.template) for c in plan.originals}, corpus)
        except CorpusError as exc:
            raise BadInput(f"--corpus: {exc}") from None
        ngram = {"corpus": corpus, "n": scan.n, "hits": scan.hits, "n_corpus_tokens": scan.n_corpus_tokens,
                 "n_case_ngrams": scan.n_case_ngrams, "too_short": scan.too_short}
    if not quiet:
        click.echo(plan.summary(), err=True)
        if ngram is not None:
            click.echo(f"corpus: {len(ngram['hits'])} of {len(plan.originals)} cases share a {scan.n}-gram with "
                       f"{corpus} ({scan.n_corpus_tokens} tokens)", err=True)

    timeouts = timeouts_from_flags(connect_timeout, read_timeout, timeout)
    try:
        backend = create_backend(model, base_url=base_url, api_key_env=api_key_env, timeouts=timeouts,
                                 max_connections=max(concurrency, 10))
    except BackendConfigError as exc:
        raise BadInput(str(exc)) from None
    judges = judge_backends_for(loaded.config()["scorers"], timeouts)
    store = open_store(db_path)
    effective_url = getattr(backend, "base_url", None) or base_url
    options = RunOptions(model=model, samples=samples, temperature=temperature,
                         max_tokens=max_tokens or max(loaded.sampling.max_tokens or 0, 256), seed=run_seed,
                         concurrency=concurrency, base_url=effective_url, stream=stream, max_retries=max_retries,
                         timeouts=timeouts)
    engine = Engine(store, backend, judge_backends=judges)
    run_id = engine.create_run(plan.suite, options)
    store.set_contamination(run_id, settings.as_mapping(), ngram)
    execute_run(store, engine, run_id, options, suite=suite, resumed=False, quiet=quiet)
