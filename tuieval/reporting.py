"""Reports on a stored run: the tuieval.report/1 JSON, Markdown, CSV and JUnit, and the export rows.

The numbers come from tuieval.analysis (pure functions over the stored rows); this module only
loads rows, persists clusters and formats.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterator
from xml.sax.saxutils import escape, quoteattr

from tuieval.store import Store
from tuieval.textsafe import sanitize


def load_rows(store: Store, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A run, its cases and the sample columns the analysis reads."""
    run = store.get_run(run_id)
    return run, store.get_cases(run["id"]), _analysis_samples(store, run["id"])


#: Clustering tiers that call a model (an embeddings endpoint or a judge).
REMOTE_METHODS = frozenset({"embeddings", "entailment", "hybrid"})


class ClusteringBackendError(Exception):
    """The embeddings model or judge named in a run's `variance:` config cannot be used.

    Raised by `build_report` (and `_clusters`) when the endpoint is misconfigured (no key,
    no base URL, a demo spec) or fails after its retries (refused, 401, 5xx, timeout,
    malformed answer).  ``str(exc)`` is one line that starts with the setting to fix —
    ``variance.model`` or ``variance.judge`` — and never holds an API key; ``field`` is
    that setting.  The CLI shows it as ``tuieval: <message>`` and exits 2.
    """

    def __init__(self, field: str, message: str) -> None:
        message = " ".join(str(message).split())
        self.field = field
        super().__init__(message if message.startswith(field) else f"{field}: {message}")


def build_report(store: Store, run_id: str, *, persist_clusters: bool = False) -> dict[str, Any]:
    """The tuieval.report/1 object for a run; optionally store its clusters for later readers.

    Clustering runs once: the stored clusters and the report come from the same result.
    For the tiers that call a model (embeddings, entailment, hybrid), a report without
    `persist_clusters` reuses the clusters already stored for the run (same method, every
    answered sample assigned) instead of calling the endpoint again; `analysis.clustering`
    then says ``source: "stored"``.  Raises ClusteringBackendError when the endpoint is
    needed and fails.
    """
    run = store.get_run(run_id)
    fingerprint = store.report_fingerprint(run)
    if not persist_clusters:
        cached = store.cached_report(run["id"], fingerprint)
        if cached is not None:
            return json.loads(cached)
    report = _analyze(store, run, persist_clusters)
    if run["status"] != "running":
        # A finished run's report only changes with its samples: keep it so reopening a large
        # run (the app, `tuieval report`) costs a read, not a re-analysis.
        store.cache_report(run["id"], fingerprint, json.dumps(report, ensure_ascii=False))
    return report


def _analyze(store: Store, run: dict[str, Any], persist_clusters: bool) -> dict[str, Any]:
    from tuieval.analysis.report import analyze_run

    cases = store.get_cases(run["id"])
    samples = _analysis_samples(store, run["id"])
    method = _method(run)
    if not persist_clusters:
        if method not in REMOTE_METHODS:
            return analyze_run(run, cases, samples, method=method)
        stored = _stored_assignments(store, run, samples, method)
        if stored is not None:
            return analyze_run(run, cases, samples, method=method, clusters=stored,
                               cluster_stats={"source": "stored"})
    assignments, rows, stats = _cluster_once(run, samples, cases, method)
    if persist_clusters:
        store.write_clusters(run["id"], method, assignments, rows)
    return analyze_run(run, cases, samples, method=method, clusters=assignments, cluster_stats=stats)


#: what the analysis reads of a sample: not the prompt, reasoning or per-scorer detail,
#: which are most of a row's bytes
ANALYSIS_COLUMNS = ("case_id", "template", "sample_index", "dispatch_order", "response", "extracted", "correct",
                    "score", "latency_ms", "ttft_ms", "output_tokens", "error", "error_kind", "cluster")


def _analysis_samples(store: Store, run_id: str) -> list[dict[str, Any]]:
    samples = store.get_samples(run_id, columns=ANALYSIS_COLUMNS)
    for s in samples:
        s["correct"] = bool(s["correct"])
    return samples


def _variance_config(run: dict[str, Any]) -> dict[str, Any]:
    return dict(((run.get("config") or {}).get("variance")) or {})


def _method(run: dict[str, Any]) -> str:
    """The clustering tier to use.  `embeddings` needs `variance.model`, `entailment` and
    `hybrid` need `variance.judge`; a run stored without them (or with an unknown method)
    falls back to the embedded lexical tier."""
    var = _variance_config(run)
    method = var.get("method", "canonical")
    if method in ("canonical", "lexical"):
        return method
    if method == "embeddings" and var.get("model"):
        return method
    if method in ("entailment", "hybrid") and var.get("judge"):
        return method
    return "lexical"


def _clusters(run: dict[str, Any], samples: list[dict[str, Any]], cases: list[dict[str, Any]] | None = None,
              ) -> tuple[dict[tuple, int], list[dict[str, Any]]]:
    """Per-sample cluster ids and per-cluster rows, as Store.write_clusters takes them.

    `cases` gives the judge each case's question (input text); without it the judge
    sees an empty question.  Raises ClusteringBackendError like `build_report`."""
    assignments, rows, _ = _cluster_once(run, samples, cases, _method(run))
    return assignments, rows


def _cluster_once(run: dict[str, Any], samples: list[dict[str, Any]], cases: list[dict[str, Any]] | None,
                  method: str) -> tuple[dict[tuple, int], list[dict[str, Any]], dict[str, Any]]:
    """Cluster the run's samples with its configured tier: (assignments, rows, stats)."""
    from tuieval.analysis.report import tier_args, cluster_records, cluster_run

    var = _variance_config(run)
    questions = {c["case_id"]: c.get("input_text") or "" for c in cases} if cases is not None else None
    tier = tier_args(var)
    with _Endpoints(var, method) as ep:
        try:
            results = cluster_run(samples, method, threshold=var.get("threshold"), judge=ep.judge, embed=ep.embed,
                                  questions=questions, **tier)
        except ValueError as exc:  # e.g. an embeddings answer of the wrong shape
            if method not in REMOTE_METHODS:
                raise
            text = str(exc)
            field = next((f for word, f in (("linkage", "variance.linkage"), ("rule", "variance.rule"),
                                            ("embed", "variance.model")) if word in text), ep.field)
            error = ClusteringBackendError(field, f"{method} clustering failed: {text}")
        else:
            error = None
        if error is not None:
            raise error
        stats = {**results.stats, "source": "computed", **ep.counters()}
    assignments, rows = cluster_records(samples, results)
    return assignments, rows, stats


def _stored_assignments(store: Store, run: dict[str, Any], samples: list[dict[str, Any]],
                        method: str) -> dict[tuple, int] | None:
    """The stored samples.cluster column, when it was written by `method` for every sample
    with an answer; else None."""
    for s in samples:
        answered = s.get("error") is None and (s.get("extracted") is not None or s.get("response") is not None)
        if answered and s.get("cluster") is None:
            return None
    methods = [r[0] for r in store.conn.execute("SELECT DISTINCT method FROM clusters WHERE run_id = ?",
                                                (run["id"],)).fetchall()]
    if methods != [method]:
        return None
    return {(s["case_id"], s["template"], int(s["sample_index"])): int(s["cluster"])
            for s in samples if s.get("cluster") is not None}


class _Endpoints:
    """The embed / judge callables a run's variance config names, for one clustering.

    Clients are built on entry (configuration errors surface at once) and closed on
    exit; each call maps a BackendError to ClusteringBackendError naming its field.
    Vectors are cached per distinct string for the clustering's life.
    """

    def __init__(self, var: dict[str, Any], method: str) -> None:
        self.var, self.method = var, method
        self.embed = self.judge = None
        self._embedder = self._judge = None
        self.field = "variance.model" if method == "embeddings" else "variance.judge"

    def __enter__(self) -> "_Endpoints":
        if self.method not in REMOTE_METHODS:
            return self
        from tuieval.backends.embeddings import EmbeddingClient
        from tuieval.backends.judge import ChatJudge
        from tuieval.backends.registry import BackendConfigError

        var, method = self.var, self.method
        try:
            if var.get("model") and method in ("embeddings", "hybrid"):
                self._embedder = EmbeddingClient(str(var["model"]), base_url=var.get("model_base_url") or var.get("base_url"),
                                                 field="variance.model")
                self.embed = self._guard(self._embedder, "variance.model", "embeddings")
            if method in ("entailment", "hybrid"):
                self._judge = ChatJudge(str(var["judge"]), base_url=var.get("judge_base_url") or var.get("base_url"),
                                        field="variance.judge")
                self.judge = self._guard(self._judge, "variance.judge", "judge")
        except BackendConfigError as exc:
            self.__exit__()
            field = "variance.model" if str(exc).startswith("variance.model") else "variance.judge"
            raise ClusteringBackendError(field, str(exc)) from None
        return self

    @staticmethod
    def _guard(client: Any, field: str, what: str) -> Any:
        from tuieval.backends.base import BackendError

        where = client.endpoint.base_url
        try:
            import httpx

            url = httpx.URL(where)
            where = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "") + url.path
        except Exception:
            pass

        def call(*args: Any) -> Any:
            try:
                return client(*args)
            except BackendError as exc:
                error = ClusteringBackendError(field, f"{what} model {client.spec} at {where} failed: {exc.reason}")
            raise error

        return call

    def counters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._embedder is not None:
            c = self._embedder.counters()
            out.update(model=self._embedder.spec, embedding_requests=c["requests"], embedding_retries=c["retries"],
                       embedding_texts_sent=c["texts_sent"])
        if self._judge is not None:
            c = self._judge.counters()
            out.update(judge=self._judge.spec, judge_requests=c["requests"], judge_retries=c["retries"])
        return out

    def __exit__(self, *exc: object) -> None:
        for client in (self._embedder, self._judge):
            if client is not None:
                client.close()


def export_rows(store: Store, run_id: str) -> Iterator[dict[str, Any]]:
    """One object per sample, as `tuieval export --format jsonl` prints them."""
    run = store.get_run(run_id)
    cases = store.get_cases(run["id"])
    metadata = {c["case_id"]: c["metadata"] for c in cases}
    samples = store.get_samples(run["id"])
    if samples and all(s.get("cluster") is None for s in samples):
        # never analysed (e.g. an interrupted run): cluster now, without writing
        for s in samples:
            s["correct"] = bool(s["correct"])
        assignments, _ = _clusters(run, samples, cases)
        for s in samples:
            s["cluster"] = assignments.get((s["case_id"], s["template"], s["sample_index"]))
    for s in samples:
        yield {
            "run_id": s["run_id"], "case_id": s["case_id"], "template": s["template"],
            "sample_index": s["sample_index"], "prompt": json.loads(s["prompt"]), "response": s["response"],
            "extracted": s["extracted"], "correct": bool(s["correct"]), "score": s["score"],
            "latency_ms": s["latency_ms"], "ttft_ms": s["ttft_ms"], "output_tokens": s["output_tokens"],
            "error": s["error"], "cluster": s.get("cluster"), "metadata": metadata.get(s["case_id"], {}),
        }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _pct(x: Any) -> str:
    return f"{x:.1%}" if isinstance(x, (int, float)) else "n/a"


def _ci(ci: Any) -> str:
    return f"[{ci[0]:.1%}, {ci[1]:.1%}]" if ci and ci[0] is not None else "n/a"


def _ms(x: Any) -> str:
    return f"{x:.0f}" if isinstance(x, (int, float)) else (str(x) if x is not None else "n/a")


def _latency(m: dict[str, Any]) -> str:
    lat = m.get("latency_ms") or {}
    n = lat.get("n", m.get("n_samples"))
    p99 = _ms(lat.get("p99"))
    if isinstance(n, int) and n < 100:
        p99 += f" (= max, n={n})"
    return f"{_ms(lat.get('p50'))} / {p99}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for stderr at the end of `tuieval run`."""
    o = report["overall"]
    lines = [
        f"accuracy {_pct(o['accuracy'])} {_ci(o.get('accuracy_ci'))} over {o['n_cases']} cases, "
        f"{o['n_samples']} samples; errors {_pct(o['error_rate'])}; latency p50/p99 {_latency(o)} ms",
    ]
    flagged = [s for s in report.get("slices", []) if s.get("flagged")]
    for s in flagged[:5]:
        lines.append(f"  flagged slice {s['key']}={s['value']}: accuracy {_pct(s['accuracy'])} "
                     f"(n={s['n_cases']}, q={s['q_value']:.3g})")
    return lines


def to_markdown(report: dict[str, Any]) -> str:
    run = report["run"]
    o = report["overall"]
    sim = " (simulated)" if run.get("simulated") else ""
    out = [
        f"# {run['suite']} · {run['model']}{sim}",
        "",
        f"Run `{run['id']}` — {run['status']}, {run['samples_per_case']} sample(s) per case at temperature "
        f"{run['temperature']}, started {run['started_at']}" + (f", SLO {run['slo_ms']:g} ms" if run.get("slo_ms") else ""),
        "",
        "| metric | value |",
        "|---|---|",
        f"| cases / samples / errors | {o['n_cases']} / {o['n_samples']} / {o['n_errors']} |",
        f"| accuracy (95% CI) | {_pct(o['accuracy'])} {_ci(o.get('accuracy_ci'))} |",
        f"| majority-vote accuracy | {_pct(o.get('majority_accuracy'))} |",
        f"| consistency | {_pct(o.get('consistency'))} |",
        f"| semantic entropy | {o['semantic_entropy']:.3f} |" if isinstance(o.get("semantic_entropy"), (int, float))
        else "| semantic entropy | n/a |",
        f"| error rate | {_pct(o['error_rate'])} |",
        f"| latency p50 / p95 / p99 / max (ms) | {_ms(o['latency_ms'].get('p50'))} / {_ms(o['latency_ms'].get('p95'))} / "
        f"{_ms(o['latency_ms'].get('p99'))} / {_ms(o['latency_ms'].get('max'))} |",
        f"| TTFT p50 / p95 / p99 (ms) | {_ms(o['ttft_ms'].get('p50'))} / {_ms(o['ttft_ms'].get('p95'))} / "
        f"{_ms(o['ttft_ms'].get('p99'))} |",
        f"| accuracy within SLO | {_pct(o.get('accuracy_within_slo'))} |",
    ]
    pk = o.get("pass_at_k") or {}
    if pk:
        out.append("| pass@k | " + ", ".join(f"k={k}: {_pct(v)}" for k, v in pk.items()) + " |")
        out.append("| pass^k | " + ", ".join(f"k={k}: {_pct(v)}" for k, v in (o.get("pass_hat_k") or {}).items()) + " |")
    slices = sorted(report.get("slices", []), key=lambda s: (s.get("accuracy") if s.get("accuracy") is not None else 2))
    if slices:
        out += ["", "## Slices (worst first)", "",
                "| slice | n | accuracy (95% CI) | consistency | errors | p50 / p99 ms | flagged |", "|---|---|---|---|---|---|---|"]
        for s in slices:
            flag = f"⚑ q={s['q_value']:.3g}" if s.get("flagged") else ""
            name = sanitize(f"{s['key']}={s['value']}", single_line=True).replace("|", "\\|")
            out.append(f"| {name} | {s['n_cases']} | {_pct(s['accuracy'])} {_ci(s.get('accuracy_ci'))} | "
                       f"{_pct(s.get('consistency'))} | {_pct(s['error_rate'])} | {_latency(s)} | {flag} |")
    worst = sorted(report.get("cases", []), key=lambda c: (c.get("accuracy") if c.get("accuracy") is not None else 2))[:10]
    if worst:
        out += ["", "## Worst cases", "", "| case | accuracy | consistency | clusters | top answer |", "|---|---|---|---|---|"]
        for c in worst:
            top = (c.get("clusters") or [{}])[0].get("representative") or ""
            # model output: no escape sequences to the terminal, no table-breaking pipes
            top = sanitize(top, single_line=True, limit=60).replace("|", "\\|")
            out.append(f"| {sanitize(c['id'], single_line=True)} | {_pct(c['accuracy'])} | {_pct(c.get('consistency'))} | {c.get('n_clusters')} | {top} |")
    return "\n".join(out) + "\n"


def to_csv(report: dict[str, Any]) -> str:
    """One row per slice plus the overall row: the scoreboard as a spreadsheet."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["key", "value", "n_cases", "n_samples", "n_errors", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
                     "majority_accuracy", "consistency", "semantic_entropy", "error_rate", "latency_p50_ms",
                     "latency_p95_ms", "latency_p99_ms", "latency_max_ms", "ttft_p50_ms", "accuracy_within_slo",
                     "flagged", "q_value"])
    rows = [dict(report["overall"], key="overall", value="", flagged=False, q_value=None)] + report.get("slices", [])
    for m in rows:
        ci = m.get("accuracy_ci") or [None, None]
        lat = m.get("latency_ms") or {}
        writer.writerow([m["key"], m["value"], m["n_cases"], m["n_samples"], m["n_errors"], m["accuracy"], ci[0], ci[1],
                         m.get("majority_accuracy"), m.get("consistency"), m.get("semantic_entropy"), m["error_rate"],
                         lat.get("p50"), lat.get("p95"), lat.get("p99"), lat.get("max"),
                         (m.get("ttft_ms") or {}).get("p50"), m.get("accuracy_within_slo"), m.get("flagged"),
                         m.get("q_value")])
    return buf.getvalue()


def to_junit(report: dict[str, Any], gate_failures: list[str] | None = None) -> str:
    """JUnit XML for CI dashboards: one test per slice (failed when flagged) and per gate."""
    run = report["run"]
    cases = []
    for s in report.get("slices", []):
        name = f"{s['key']}={s['value']}"
        body = ""
        if s.get("flagged"):
            message = f"failure rate significantly above the rest (q={s['q_value']:.3g})"
            detail = f"accuracy {_pct(s['accuracy'])} over {s['n_cases']} cases"
            body = f"<failure message={quoteattr(message)}>{escape(detail)}</failure>"
        cases.append(f'  <testcase classname={quoteattr(run["suite"])} name={quoteattr(name)}>{body}</testcase>')
    for failure in gate_failures or []:
        cases.append(f'  <testcase classname="gates" name={quoteattr(failure)}><failure message={quoteattr(failure)}/></testcase>')
    n_fail = sum(1 for c in cases if "<failure" in c)
    head = (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name={quoteattr(run["suite"] + " " + run["model"])} '
            f'tests="{len(cases)}" failures="{n_fail}">')
    return "\n".join([head, *cases, "</testsuite>"]) + "\n"


# ---------------------------------------------------------------------------------------------
# `tuieval compare`: paired comparison of two runs (schema tuieval.compare/1)
# ---------------------------------------------------------------------------------------------

def build_comparison(store: Store, baseline_id: str, candidate_id: str, *, alpha: float = 0.05, B: int = 10_000,
                     rng_seed: int = 0) -> dict[str, Any]:
    """The tuieval.compare/1 object for two stored runs (ids, unique prefixes or `latest`).

    Raises ValueError when the runs cannot be paired (different suites, no shared case);
    tuieval.store.RunNotFound when an id is unknown.
    """
    from tuieval.analysis.compare import compare_runs

    return compare_runs(load_rows(store, baseline_id), load_rows(store, candidate_id), alpha=alpha, B=B,
                        rng_seed=rng_seed)


def _cmp_text(x: Any, *, cell: bool = True) -> str:
    """Text from the data made inert for a terminal (tuieval.textsafe) and, in a table cell,
    on one line with `|` escaped."""
    s = sanitize(x)
    if cell:
        s = " ".join(s.split()).replace("|", "\\|")
    return s


def _pts(x: Any, signed: bool = True) -> str:
    if not isinstance(x, (int, float)):
        return "n/a"
    v = 100.0 * x
    if abs(v) < 0.05:
        v = 0.0  # no "-0.0"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


def _delta_ci(ci: Any) -> str:
    return f"[{_pts(ci[0])}, {_pts(ci[1])}]" if ci and ci[0] is not None and ci[1] is not None else "n/a"


def _pval(p: Any) -> str:
    if not isinstance(p, (int, float)):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.4g}"


def comparison_to_markdown(cmp: dict[str, Any]) -> str:
    """A readable report of a tuieval.compare/1 object: both runs, the overall line,
    regressions first, then every slice."""
    base, cand, o = cmp["baseline"], cmp["candidate"], cmp["overall"]
    alpha = cmp.get("alpha", 0.05)
    conf = f"{(1 - alpha):.0%}"
    test = cmp.get("test")
    test_name = {"mcnemar": "exact McNemar", "sign_flip": "sign-flip permutation"}.get(test, _cmp_text(test))

    def run_row(label: str, r: dict[str, Any]) -> str:
        model = _cmp_text(r.get("model")) + (" (simulated)" if r.get("simulated") else "")
        return (f"| {label} | `{_cmp_text(r.get('id'))}` | {model} | {_cmp_text(r.get('samples_per_case'))} | "
                f"{_cmp_text(r.get('status'))} |")

    out = [
        f"# Comparison · {_cmp_text(base.get('suite'))}",
        "",
        "| | run | model | samples/case | status |",
        "|---|---|---|---|---|",
        run_row("baseline", base),
        run_row("candidate", cand),
        "",
    ]
    n = cmp.get("n_cases", o.get("n_cases"))
    unpaired = cmp.get("unpaired_cases") or 0
    line = (f"**Overall** ({n} paired cases{f', {unpaired} unpaired left out' if unpaired else ''}): "
            f"{_pts(o['baseline_accuracy'], False)}% → {_pts(o['candidate_accuracy'], False)}%, "
            f"Δ {_pts(o['delta'])} pts, {conf} CI {_delta_ci(o.get('delta_ci'))}, p = {_pval(o.get('p_value'))} "
            f"({test_name}")
    if o.get("p_mid") is not None:
        line += f"; mid-p {_pval(o['p_mid'])}"
    if "b" in o and "c" in o:
        line += f"; baseline better on {o['b']}, candidate better on {o['c']}"
    line += ")"
    if o.get("significant"):
        line += (" — **significant " + ("regression" if o["delta"] < 0 else "improvement")
                 + f"** (p < {alpha:g}, CI excludes 0)")
    out += [line, ""]

    header = ["| slice | n | baseline | candidate | Δ pts (" + conf + " CI) | p | q |", "|---|---|---|---|---|---|---|"]

    def row(s: dict[str, Any], mark: str | None = None) -> str:
        cells = (f"| {_cmp_text(s['key'])}={_cmp_text(s['value'])} | {s['n_cases']} | "
                 f"{_pts(s['baseline_accuracy'], False)}% | {_pts(s['candidate_accuracy'], False)}% | "
                 f"{_pts(s['delta'])} {_delta_ci(s.get('delta_ci'))} | {_pval(s.get('p_value'))} | "
                 f"{_pval(s.get('q_value'))} |")
        return cells if mark is None else cells + f" {mark} |"

    regs = cmp.get("regressions") or []
    m = cmp.get("m", len(cmp.get("slices") or []))
    rule = f"BH q < {alpha:g} over {m} slice tests and the CI excluding 0"
    if regs:
        out += [f"## Regressions ({len(regs)}, worst first)", "", f"Significant: {rule}.", "", *header]
        out += [row(s) for s in regs]
    else:
        out += ["## Regressions", "", f"No slice regressed significantly ({rule})."]
    imps = cmp.get("improvements") or []
    if imps:
        out += ["", f"## Improvements ({len(imps)})", "", *header]
        out += [row(s) for s in imps]
    slices = cmp.get("slices") or []
    if slices:
        out += ["", "## All slices", "", header[0] + " |", header[1] + "---|"]
        for s in slices:
            mark = ""
            if s.get("significant"):
                mark = "▼ regression" if s["delta"] < 0 else "▲ improvement"
            out.append(row(s, mark))
    untested = cmp.get("untested_slices") or []
    if untested:
        out += ["", f"Not tested (fewer than {cmp.get('n_min')} paired cases; p = 1 in the BH family): "
                + ", ".join(f"{_cmp_text(s['key'])}={_cmp_text(s['value'])} (n={s['n_cases']}, "
                            f"Δ {_pts(s['delta'])} pts)" for s in untested)]
    warnings = cmp.get("warnings") or []
    if warnings:
        out += ["", "## Warnings", ""] + [f"- {_cmp_text(w)}" for w in warnings]
    return "\n".join(out) + "\n"
