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
    run = store.get_run(run_id)
    cases = store.get_cases(run["id"])
    samples = store.get_samples(run["id"])
    for s in samples:
        s["correct"] = bool(s["correct"])
    return run, cases, samples


def build_report(store: Store, run_id: str, *, persist_clusters: bool = False) -> dict[str, Any]:
    """The tuieval.report/1 object for a run; optionally store its clusters for later readers."""
    from tuieval.analysis.report import analyze_run

    run, cases, samples = load_rows(store, run_id)
    if persist_clusters:
        assignments, rows = _clusters(run, samples)
        store.write_clusters(run["id"], _method(run), assignments, rows)
    return analyze_run(run, cases, samples, method=_method(run))


def _method(run: dict[str, Any]) -> str:
    """The clustering tier to use. Tiers that need a judge model or an embeddings endpoint
    fall back to the embedded lexical tier when the run names neither."""
    method = ((run.get("config") or {}).get("variance") or {}).get("method", "canonical")
    return method if method in {"canonical", "lexical"} else "lexical"


def _clusters(run: dict[str, Any], samples: list[dict[str, Any]]) -> tuple[dict[tuple, int], list[dict[str, Any]]]:
    """Per-sample cluster ids and per-cluster rows, as Store.write_clusters takes them."""
    from tuieval.analysis.report import cluster_records, cluster_run

    return cluster_records(samples, cluster_run(samples, method=_method(run)))


def export_rows(store: Store, run_id: str) -> Iterator[dict[str, Any]]:
    """One object per sample, as `tuieval export --format jsonl` prints them."""
    run = store.get_run(run_id)
    metadata = {c["case_id"]: c["metadata"] for c in store.get_cases(run["id"])}
    samples = store.get_samples(run["id"])
    if samples and all(s.get("cluster") is None for s in samples):
        # never analysed (e.g. an interrupted run): cluster now, without writing
        for s in samples:
            s["correct"] = bool(s["correct"])
        assignments, _ = _clusters(run, samples)
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
