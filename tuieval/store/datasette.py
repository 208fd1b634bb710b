"""Datasette metadata for a tuieval database: what each table and column holds, and canned queries.

`tuieval datasette-metadata > metadata.json` then `datasette tuieval.db -m metadata.json` gives a
team a ready viewer: described tables, the samples' full-text search box (samples_fts), and
queries for the worst slices, the flaky cases and the slowest samples of a run (the latest when
the run_id field is left empty). The format is Datasette's metadata.json (0.6x).
"""

from __future__ import annotations

from typing import Any

from tuieval.store.redteam import DATASETTE_TABLES as REDTEAM_TABLES

TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "runs": ("One row per run of a suite against a model.", {
        "id": "run id, sortable by time (20261128-194432-3f2a)",
        "suite": "suite name", "suite_path": "suite file the run was started from",
        "model": "model spec (provider/model)", "simulated": "1 for the demo/ simulators",
        "status": "running | complete | partial | failed",
        "samples_per_case": "samples per case and template", "temperature": "sampling temperature",
        "max_tokens": "output token cap (null: the provider's default)", "seed": "base seed of the run",
        "concurrency": "requests in flight at most", "slo_ms": "latency SLO in ms, if any",
        "base_url": "endpoint the run used (no key)", "started_at": "ISO time the run started",
        "finished_at": "ISO time it finished (null while running)", "n_cases": "cases in the run",
        "n_templates": "prompt templates", "n_expected": "samples expected: cases × templates × samples",
        "pid": "writer process while running", "config": "JSON: templates, scorers, gates, variance, cluster_key, suite hash",
    }),
    "cases": ("The cases of each run, as the run saw them.", {
        "run_id": "the run", "case_id": "case id from the suite", "position": "order in the suite",
        "vars": "JSON: template variables", "targets": "JSON list of accepted answers",
        "metadata": "JSON: slice fields (query with json_extract(metadata, '$.lang'))",
        "input_text": "all input text of the case (for length and script slices)",
    }),
    "samples": ("Every request's outcome: one row per (run, case, template, sample).", {
        "id": "row id (rowid of samples_fts)", "run_id": "the run", "case_id": "the case", "template": "template id",
        "sample_index": "0-based sample number", "dispatch_order": "order the request was sent in",
        "prompt": "JSON list of chat messages sent", "response": "the model's text (inert data)",
        "reasoning": "reasoning text, when the provider returns it", "extracted": "what the primary scorer compared",
        "correct": "1 when correct; an error is 0", "score": "primary score in [0, 1]",
        "scores": "JSON: every scorer's {extracted, correct, score}", "latency_ms": "end-to-end latency in ms",
        "ttft_ms": "time to first token in ms", "output_tokens": "tokens generated", "input_tokens": "prompt tokens",
        "finish_reason": "why generation stopped", "error": "short reason when the request failed, else null",
        "error_kind": "rate_limited | server_error | transport | timeout | client_error",
        "attempts": "requests made for this sample (retries + 1)", "created_at": "ISO time stored",
        "cluster": "semantic cluster of the answer within its case and template",
        "cached": "1 when answered from the response cache (run --cache); left out of latency and cost",
        "cached_tokens": "of input_tokens, those the provider read from its prompt cache (cached-input price)",
        "cache_write_tokens": "of input_tokens, those the provider wrote to its prompt cache (Anthropic)",
        "cache_write_1h_tokens": "of cache_write_tokens, those written to the one-hour cache (priced at 2x input)",
    }),
    "clusters": ("Semantic clusters of each case's answers, as the analysis stored them.", {
        "run_id": "the run", "case_id": "the case", "template": "template id", "cluster": "cluster number",
        "method": "clustering method (canonical, lexical, embeddings, entailment, hybrid)",
        "size": "samples in the cluster", "correct": "1 when the cluster's answer is correct",
        "representative": "one answer standing for the cluster",
    }),
    "reports": ("The computed report of each finished run (so reopening it is a read).", {
        "run_id": "the run", "fingerprint": "tuieval version, sample count, last sample id, status, judgement count",
        "created_at": "ISO time computed",
        "body": "the tuieval.report/1 JSON; its cases null when cases_apart is 1 (they are in report_cases)",
        "cases_apart": "1: the report's per-case list is kept one row per case in report_cases",
    }),
    "report_cases": ("The stored report's per-case list, one row per case (what the app's cases view pages).", {
        "run_id": "the run", "ord": "the case's place in the report's cases list", "case_id": "the case",
        "accuracy": "the case's accuracy (NULL: no figure)", "consistency": "the case's consistency (NULL: none)",
        "body": "the case's entry of tuieval.report/1, JSON",
    }),
    "report_arrays": ("Per-sample numbers the app's latency charts draw, stored with the report, packed.", {
        "run_id": "the run", "fingerprint": "the report's fingerprint", "n": "samples",
        "case_ids": "JSON list of the run's sampled case ids, sorted",
        "sample_case": "int32 little-endian per sample: index into case_ids",
        "latency": "float64 little-endian ms per sample, NaN when unknown or cached",
        "correct": "one byte per sample, 1 when correct", "error": "one byte per sample, 1 for an error",
    }),
    "report_slices": ("Which cases each slice of the stored report holds (what the app's slice views read), packed.", {
        "run_id": "the run", "fingerprint": "the report's fingerprint",
        "n_cases": "bits per slice level: the run's sampled cases, in the order of report_arrays.case_ids",
        "levels": "JSON list of [key, value]: the slice levels, in the order of their bits",
        "bits": "per level ceil(n_cases / 8) bytes; bit i, most significant first, set when case i is in the slice",
    }),
    "shadow_runs": ("One row per shadow evaluation (tuieval shadow): the candidate's run and its baseline.", {
        "run_id": "the candidate's run", "baseline_run_id": "the run holding the baseline's answers",
        "baseline_kind": "logged (the log's responses) | model", "log_path": "the traffic log replayed",
        "config": "JSON: the settings, the log summary and strata, planned, replayed, the stop reason",
        "created_at": "ISO time created",
    }),
    "judgements": ("One row per judge request of a judge scorer, linked to the sample it judged.", {
        "id": "row id", "run_id": "the run", "case_id": "the case judged", "template": "its template",
        "sample_index": "its sample number", "scorer": "the judge scorer's name", "judge": "judge model spec",
        "judge_sample": "0..N-1: the judge's N samples of one response",
        "orientation": "pairwise: ab (answer first) or ba; else empty", "prompt": "JSON messages sent to the judge",
        "reply": "the judge's raw reply", "reasoning": "the reply without its grade line",
        "grade": "the grade as parsed (null when unparsed)", "score": "the grade's score in [0, 1]",
        "parsed": "0 when the reply had no readable grade (never correct)", "problem": "why it could not be read",
        "latency_ms": "judge request latency in ms", "input_tokens": "prompt tokens", "output_tokens": "reply tokens",
        "attempts": "requests made (retries + 1)", "error": "why the request failed, else null",
        "cached": "1 when answered from the response cache",
        "batched": "1 when answered in a provider batch (run --batch; priced with the batch discount)",
        "cached_tokens": "of input_tokens, those the provider read from its prompt cache (cached-input price)",
        "cache_write_tokens": "of input_tokens, those the provider wrote to its prompt cache (Anthropic)",
        "cache_write_1h_tokens": "of cache_write_tokens, those written to the one-hour cache (priced at 2x input)",
        "error_kind": "rate_limited | server_error | transport | timeout | client_error", "created_at": "ISO time stored",
    }),
    "embedding_usage": ("The embedding requests each computation of a run's clustering made, and their tokens.", {
        "id": "row id", "run_id": "the run", "model": "the embeddings model spec (variance.model)",
        "purpose": "clustering | perturbations | export | inspector | shadow",
        "requests": "HTTP requests sent (retries included)",
        "cached_requests": "answered from the response cache (cost nothing)", "texts": "distinct strings sent",
        "input_tokens": "tokens the server counted", "estimated_tokens": "tokens estimated where it gave no count",
        "created_at": "ISO time recorded",
    }),
    "clustering_judge_usage": ("The entailment judge requests each computation of a run's clustering made "
                               "(entailment and hybrid tiers), and their tokens.", {
        "id": "row id", "run_id": "the run", "model": "the judge model spec (variance.judge)",
        "purpose": "clustering | perturbations | export | inspector | shadow",
        "requests": "HTTP requests sent (retries included)",
        "cached_requests": "answered from the response cache (cost nothing)",
        "input_tokens": "prompt tokens the server counted", "cached_input_tokens": "of those, read from the "
        "provider's prompt cache", "output_tokens": "reply tokens the server counted",
        "estimated_input_tokens": "prompt tokens estimated where the server gave no count",
        "estimated_output_tokens": "reply tokens estimated where the server gave no count",
        "created_at": "ISO time recorded",
    }),
    "batches": ("Provider batch jobs of `run --batch`, recorded before upload so a resumed run polls them.", {
        "local_id": "tuieval's id, also sent as the batch's metadata", "run_id": "the run",
        "provider": "openai", "base_url": "the API's base URL", "input_file_id": "the uploaded input file",
        "batch_id": "the provider's batch id", "status": "preparing | uploaded | validating | in_progress | "
        "finalizing | completed | failed | expired | cancelling | cancelled", "n_requests": "lines in the batch",
        "counts": "JSON request counts as last polled", "output_file_id": "the provider's output file",
        "error_file_id": "the provider's error file", "errors": "JSON: why the batch failed as a whole",
        "collected": "1 once its lines are stored as samples", "created_at": "ISO time", "updated_at": "ISO time",
        "purpose": "samples (the run's answers) | judges (its judge scorers' requests)",
        "model": "the judge model of a judges batch",
    }),
    "batch_requests": ("Which requests (custom_id) each batch holds.", {
        "local_id": "the batch", "custom_id": "JSON [case_id, template, sample_index]",
    }),
    "comparisons": ("The paired comparison of two finished runs, as `tuieval compare` computes it (so reopening "
                    "it in the app is a read).", {
        "baseline": "the baseline run (A)", "candidate": "the candidate run (B)",
        "fingerprint": "both runs' report fingerprints and the test settings (alpha, B, seed)",
        "created_at": "ISO time computed", "body": "the tuieval.compare/1 JSON",
    }),
    "contamination": ("One row per contamination probe run (tuieval contamination).", {
        "run_id": "the probe run", "settings": "JSON: probes, rewrite chain, template, prefix share, quantile, corpus",
        "ngram": "JSON: the 13-gram corpus scan (hits: case id -> shared n-gram), null without it",
        "created_at": "ISO time stored",
    }),
    "search_index": ("Whether samples_fts holds every stored sample.", {
        "id": "always 1", "built": "1 once rows stored before the index existed were indexed",
    }),
    "search_deferred": ("Empty outside a write: its one row, inside a transaction storing many samples, "
                        "leaves their full-text indexing to one statement at its end.", {
        "id": "always 1",
    }),
    "tags": ("Named runs (tuieval tag RUN production): each name points at one run.", {
        "name": "the tag (production, nightly …); any RUN argument accepts it", "run_id": "the run it points at",
        "tagged_at": "ISO time it was set or last moved",
    }),
    "tag_events": ("The tag log: every set, move and delete, oldest first (kept when a run is deleted).", {
        "id": "order of the change", "name": "the tag", "action": "set | move | delete",
        "run_id": "the run the tag points at afterwards (null after delete)",
        "previous_run_id": "the run it pointed at before (null for set)", "at": "ISO time of the change",
    }),
    "case_scores": ("View: accuracy per run, case and template.", {
        "run_id": "the run", "case_id": "the case", "template": "template id", "n_samples": "samples",
        "accuracy": "mean correct", "n_errors": "failed requests", "metadata": "JSON: the case's slice fields",
    }),
    "run_summary": ("View: one line per run.", {
        "run_id": "the run", "suite": "suite name", "model": "model spec", "status": "run status",
        "n_samples": "samples stored", "n_expected": "samples expected", "accuracy": "mean correct",
        "error_rate": "share of failed requests", "started_at": "ISO start", "finished_at": "ISO end",
    }),
}

# A run id field left empty means the latest run.
_RUN = "COALESCE(NULLIF(:run_id, ''), (SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1))"

QUERIES: dict[str, dict[str, str]] = {
    "worst_slices": {
        "title": "Worst slices of a run",
        "description": "Accuracy per metadata field and value (cases with at least 5 of them), worst first. "
                       "Leave run_id empty for the latest run. The report's slices add intervals and tests.",
        "sql": f"""SELECT c.run_id, j.key AS slice_key, j.value AS slice_value,
       COUNT(DISTINCT s.case_id) AS n_cases, COUNT(*) AS n_samples,
       ROUND(AVG(s.correct), 4) AS accuracy, ROUND(AVG(s.error IS NOT NULL), 4) AS error_rate
FROM samples s
JOIN cases c ON c.run_id = s.run_id AND c.case_id = s.case_id, json_each(c.metadata) j
WHERE s.run_id = {_RUN}
GROUP BY c.run_id, j.key, j.value
HAVING COUNT(DISTINCT s.case_id) >= 5
ORDER BY accuracy ASC, n_cases DESC
LIMIT 100""",
    },
    "flaky_cases": {
        "title": "Flaky cases of a run",
        "description": "Cases whose repeated samples disagree (right on some, wrong on others), the most "
                       "evenly split first, with how many distinct answers they gave.",
        "sql": f"""SELECT s.run_id, s.case_id, s.template, COUNT(*) AS n_samples, SUM(s.correct) AS n_correct,
       ROUND(AVG(s.correct), 4) AS accuracy,
       COUNT(DISTINCT COALESCE(s.extracted, s.response)) AS n_distinct_answers
FROM samples s
WHERE s.run_id = {_RUN}
GROUP BY s.run_id, s.case_id, s.template
HAVING COUNT(*) >= 2 AND SUM(s.correct) > 0 AND SUM(s.correct) < COUNT(*)
ORDER BY ROUND(ABS(AVG(s.correct) - 0.5), 6) ASC, n_distinct_answers DESC, s.case_id
LIMIT 200""",
    },
    "slowest_samples": {
        "title": "Slowest samples of a run",
        "description": "The 100 slowest requests, with time to first token, tokens and errors.",
        "sql": f"""SELECT s.id, s.run_id, s.case_id, s.template, s.sample_index, s.latency_ms, s.ttft_ms,
       s.output_tokens, s.attempts, s.error_kind, s.correct
FROM samples s
WHERE s.run_id = {_RUN} AND s.latency_ms IS NOT NULL
ORDER BY s.latency_ms DESC
LIMIT 100""",
    },
}


TABLES.update(REDTEAM_TABLES)


def datasette_metadata(database: str = "tuieval") -> dict[str, Any]:
    """Datasette's metadata.json for a tuieval database whose file stem is `database`."""
    tables: dict[str, Any] = {}
    for name, (description, columns) in TABLES.items():
        tables[name] = {"description": description, "columns": dict(columns)}
    # the search box on /samples uses the FTS5 index; raw mode accepts FTS5 syntax (AND, OR, "phrases")
    tables["samples"].update({"fts_table": "samples_fts", "fts_pk": "id", "searchmode": "raw",
                              "sort_desc": "id"})
    for name in ("samples_fts", "samples_fts_config", "samples_fts_data", "samples_fts_docsize", "samples_fts_idx"):
        tables[name] = {"hidden": True}
    return {
        "title": "tuieval runs",
        "description": "Evaluation runs written by tuieval: runs, cases, samples, clusters. JSON columns hold "
                       "JSON text (query them with json_extract).",
        "databases": {database: {"tables": tables, "queries": dict(QUERIES)}},
    }
