"""Loading what the screens show, off the event loop.

Every function here is meant to run in a thread worker and opens its own connection
(`Store(path)`), so a long query never shares a connection with the engine writing on the
event loop; WAL mode lets them proceed side by side. Results are plain dataclasses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tuieval.store import Store


# -- suites ---------------------------------------------------------------------------------

@dataclass
class SuiteEntry:
    path: str
    suite: Any = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.suite.name if self.suite is not None else Path(self.path).stem


def load_suites(paths: list[str]) -> list[SuiteEntry]:
    from tuieval.suite import SuiteError, load_suite

    out = []
    for p in paths:
        try:
            out.append(SuiteEntry(p, load_suite(p)))
        except SuiteError as exc:
            out.append(SuiteEntry(p, None, exc.one_line() if hasattr(exc, "one_line") else str(exc)))
        except Exception as exc:  # a broken file must not take the app down
            out.append(SuiteEntry(p, None, f"{p}: {exc}"))
    return out


#: the sample suites shipped with the package (tuieval/sample_suites links to the repository's
#: top-level sample_suites/, and wheels carry a copy)
BUNDLED_SUITES = Path(__file__).resolve().parents[1] / "sample_suites"


def default_suite_paths(cwd: str | Path = ".") -> list[str]:
    """./sample_suites when the current directory has one, else the bundled sample suites."""
    here = sorted(Path(cwd, "sample_suites").glob("*.yaml")) or sorted(BUNDLED_SUITES.glob("*.yaml"))
    return [str(p) for p in here]


def find_demo_suite(entries: list[SuiteEntry]) -> str | None:
    """The extraction suite for the first-launch demo: from the loaded suites, ./sample_suites, or the source tree."""
    for e in entries:
        if e.suite is not None and e.suite.name == "extraction":
            return e.path
    candidates = [Path("sample_suites/extraction.yaml"),
                  BUNDLED_SUITES / "extraction.yaml"]
    for c in candidates:
        if c.exists():
            return str(c)
    return None


# -- runs -----------------------------------------------------------------------------------

def list_runs(db_path: str) -> list[dict[str, Any]]:
    with Store(db_path) as store:
        return store.list_runs()


def _h(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)


def slice_membership(cases: list[dict[str, Any]], analysed: set[str] | None = None) -> dict[tuple[str, Any], set[str]]:
    """(key, value) → case ids, with the slice levels the report uses (metadata values, numeric
    bins, derived features), computed over the cases that have samples."""
    from tuieval.analysis.report import DERIVED_KEYS
    from tuieval.analysis.slices import column_levels, derive_features

    cases = sorted(cases, key=lambda c: (c.get("position") is None, c.get("position") or 0))
    if analysed is not None:
        cases = [c for c in cases if c["case_id"] in analysed]
    ids = [c["case_id"] for c in cases]
    keys: dict[str, None] = {}
    for c in cases:
        for k in (c.get("metadata") or {}):
            keys.setdefault(k, None)
    cols: dict[str, list] = {k: [(c.get("metadata") or {}).get(k) for c in cases] for k in keys}
    derived = derive_features([c.get("input_text") or "" for c in cases])
    for k in DERIVED_KEYS:
        cols[k if k not in keys else f"derived.{k}"] = derived[k]
    out: dict[tuple[str, Any], set[str]] = {}
    for k, vals in cols.items():
        levels, _ = column_levels(k, vals)
        for lv in levels:
            out[(k, _h(lv.value))] = {ids[i] for i in np.flatnonzero(lv.mask).tolist()}
    return out


@dataclass
class RunData:
    """A finished (or partial) run's report plus per-sample arrays for the latency charts."""

    run: dict[str, Any]
    report: dict[str, Any]
    case_ids: list[str]
    sample_case: np.ndarray      # index into case_ids, per sample
    latency: np.ndarray          # ms, NaN when unknown
    correct: np.ndarray          # bool
    error: np.ndarray            # bool
    cases: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: (key, value) → case ids; filled after the first paint (`ensure_membership`), it costs a
    #: second pass of the derived features over every case
    membership: dict[tuple[str, Any], set[str]] | None = None

    def ensure_membership(self) -> dict[tuple[str, Any], set[str]]:
        if self.membership is None:
            self.membership = slice_membership(self.cases, set(self.case_ids))
        return self.membership

    def slice_case_ids(self, sl: dict[str, Any]) -> set[str]:
        membership = self.ensure_membership()
        conditions = sl.get("conditions")
        if conditions:
            sets = [membership.get((str(k), _h(v)), set()) for k, v in conditions]
            return set.intersection(*sets) if sets else set()
        return set(membership.get((str(sl.get("key")), _h(sl.get("value"))), set()))

    def cases_of_slice(self, sl: dict[str, Any] | None) -> list[dict[str, Any]]:
        cases = self.report.get("cases") or []
        if sl is None or sl.get("key") == "overall":
            return list(cases)
        ids = self.slice_case_ids(sl)
        return [c for c in cases if c["id"] in ids]

    def sample_mask(self, sl: dict[str, Any] | None) -> np.ndarray:
        if sl is None or sl.get("key") == "overall":
            return np.ones(self.latency.size, dtype=bool)
        ids = self.slice_case_ids(sl)
        in_slice = np.array([c in ids for c in self.case_ids], dtype=bool)
        if in_slice.size == 0:
            return np.zeros(self.latency.size, dtype=bool)
        return in_slice[self.sample_case]


#: the sample columns the analysis reads, not the prompt (most of a row's bytes); the answer text
#: it clusters is `extracted`, else `response`, so only that one is fetched
ANALYSIS_COLUMNS = ("case_id", "template", "sample_index", "extracted", "correct", "error", "error_kind",
                    "latency_ms", "ttft_ms", "output_tokens")
_SELECT = ("SELECT case_id, template, sample_index, COALESCE(extracted, response), correct, error, error_kind, "
           "latency_ms, ttft_ms, output_tokens FROM samples WHERE run_id = ? ORDER BY id")


def _lean_cases(store: Store, run_id: str) -> list[dict[str, Any]]:
    """What the analysis reads of each case (no vars or targets to decode)."""
    rows = store.conn.execute("SELECT case_id, position, metadata, input_text FROM cases WHERE run_id = ? "
                              "ORDER BY position", (run_id,)).fetchall()
    return [{"case_id": r[0], "position": r[1], "metadata": json.loads(r[2]), "input_text": r[3]} for r in rows]


#: clustering tiers computed locally; the others call a model and go through `build_report`
LOCAL_METHODS = ("canonical", "lexical")


def load_run_data(db_path: str, run_id: str, *, persist_clusters: bool = False) -> RunData:
    """The report of a run and the arrays behind its charts.

    With `persist_clusters` (a run this app just finished) this is `build_report`, which also
    stores the clusters as `tuieval run` does; so is a run clustered by a model (embeddings,
    judge), whose stored clusters `build_report` reuses. A locally clustered run is fed to the
    same `analyze_run` that `build_report` calls, with only the columns it reads: that
    halves the time to open a large run.
    """
    from tuieval.reporting import build_report

    with Store(db_path) as store:
        run = store.get_run(run_id)
        method = ((run.get("config") or {}).get("variance") or {}).get("method", "canonical")
        report = None
        # build_report reads a finished run's stored report when it has one (a large run then
        # opens with a read); a run still being written is analysed here from lean rows.
        if persist_clusters or method not in LOCAL_METHODS or run["status"] != "running":
            try:
                report = build_report(store, run["id"], persist_clusters=persist_clusters)
            except Exception:
                if not persist_clusters:
                    raise
                # storing clusters is a convenience for later readers; the report must still open
                report = build_report(store, run["id"])
        store.conn.row_factory = None
        cases = _lean_cases(store, run["id"])
        rows = store.conn.execute(_SELECT, (run["id"],)).fetchall()
    samples = [dict(zip(ANALYSIS_COLUMNS, r)) for r in rows]
    for smp in samples:
        smp["correct"] = bool(smp["correct"])
    if report is None:
        from tuieval.analysis.report import analyze_run

        report = analyze_run(run, cases, samples, method=method)
    case_ids = sorted({smp["case_id"] for smp in samples})
    index = {c: i for i, c in enumerate(case_ids)}
    n = len(samples)
    return RunData(
        run=run, report=report, case_ids=case_ids, cases=cases,
        sample_case=np.fromiter((index[smp["case_id"]] for smp in samples), dtype=np.int64, count=n),
        latency=np.fromiter((np.nan if smp["latency_ms"] is None else smp["latency_ms"] for smp in samples),
                            dtype=float, count=n),
        correct=np.fromiter((smp["correct"] and smp["error"] is None for smp in samples), dtype=bool, count=n),
        error=np.fromiter((smp["error"] is not None for smp in samples), dtype=bool, count=n),
    )


# -- one case's answers -----------------------------------------------------------------------

@dataclass
class ClusterView:
    cluster: int
    size: int
    correct: bool
    representative: str
    members: list[dict[str, Any]]


@dataclass
class TemplateGroup:
    template: str
    n: int
    n_errors: int
    clusters: list[ClusterView]
    errors: list[dict[str, Any]]
    consistency: float | None
    entropy: float | None
    h_norm: float | None
    accuracy: float | None


@dataclass
class CaseDetail:
    run: dict[str, Any]
    case: dict[str, Any]
    groups: list[TemplateGroup]
    method: str
    prompt: list[dict[str, str]] = field(default_factory=list)


def _answer(sample: dict[str, Any]) -> str | None:
    if sample.get("error"):
        return None
    return sample.get("response")


def load_case(db_path: str, run_id: str, case_id: str) -> CaseDetail:
    """A case's samples grouped by template and semantic cluster (stored clusters when present)."""
    from tuieval.analysis.variance import consistency, semantic_entropy

    with Store(db_path) as store:
        run = store.get_run(run_id)
        row = store.conn.execute(
            "SELECT case_id, position, vars, targets, metadata, input_text FROM cases WHERE run_id = ? AND case_id = ?",
            (run["id"], case_id)).fetchone()
        case = dict(row) if row else {"case_id": case_id, "vars": "{}", "targets": "[]", "metadata": "{}", "input_text": ""}
        for k in ("vars", "targets", "metadata"):
            if isinstance(case.get(k), str):
                case[k] = json.loads(case[k])
        samples = store.get_samples(run["id"], case_id=case_id)
        stored = store.conn.execute(
            "SELECT template, cluster, method, size, correct, representative FROM clusters WHERE run_id = ? AND case_id = ?",
            (run["id"], case_id)).fetchall()
    method = ((run.get("config") or {}).get("variance") or {}).get("method", "canonical")
    by_template: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        by_template.setdefault(s["template"], []).append(s)
    have_stored = bool(stored) and all(s.get("cluster") is not None or s.get("error") for s in samples)
    if have_stored:
        method = stored[0]["method"]
    else:
        # Not analysed yet (a live or interrupted run): cluster this one case now, with the
        # report's own code path so the groups match what the report will say.
        from tuieval.analysis.report import cluster_run

        try:
            results = cluster_run(samples, method=method)
        except ValueError:  # judge-based methods need a judge model: fall back to canonical
            method = "canonical"
            results = cluster_run(samples, method=method)
        for s in samples:
            res = results.get((s["case_id"], s["template"]))
            s["cluster"] = res.assignment().get(int(s["sample_index"])) if res is not None else None
    stored_by = {(r["template"], r["cluster"]): r for r in stored} if have_stored else {}
    out_groups = []
    for template, members in by_template.items():
        members.sort(key=lambda s: s["sample_index"])
        errors = [s for s in members if s.get("error") or s.get("cluster") is None]
        valid = [s for s in members if s not in errors]
        clusters: dict[int, list[dict[str, Any]]] = {}
        for s in valid:
            clusters.setdefault(int(s["cluster"]), []).append(s)
        views = []
        for cid, ms in clusters.items():
            meta = stored_by.get((template, cid))
            rep = ms[0].get("response") or (meta["representative"] if meta else "") or ""
            correct = bool(meta["correct"]) if meta else bool(ms[0].get("correct"))
            views.append(ClusterView(cid, len(ms), correct, rep, ms))
        views.sort(key=lambda v: (-v.size, v.cluster))
        ids = [s.get("cluster") if s in valid else None for s in members]
        ent = semantic_entropy(ids)
        n = len(members)
        out_groups.append(TemplateGroup(
            template=template, n=n, n_errors=len(errors), clusters=views, errors=errors,
            consistency=consistency(ids), entropy=ent.semantic_entropy, h_norm=ent.semantic_entropy_normalized,
            accuracy=(sum(bool(s.get("correct")) for s in members) / n) if n else None,
        ))
    prompt: list[dict[str, str]] = []
    if samples:
        try:
            prompt = json.loads(samples[0]["prompt"])
        except (TypeError, ValueError):
            prompt = []
    return CaseDetail(run=run, case=case, groups=out_groups, method=method, prompt=prompt)


def export_report(db_path: str, run_id: str, fmt: str = "json") -> str:
    """Write a run's report beside the database and return the path."""
    from tuieval import reporting

    with Store(db_path) as store:
        rid = store.resolve_run_id(run_id)
        report = reporting.build_report(store, rid)
    text = reporting.to_json(report) if fmt == "json" else reporting.to_markdown(report)
    path = Path(db_path).resolve().parent / f"{rid}.report.{'json' if fmt == 'json' else 'md'}"
    path.write_text(text, encoding="utf-8")
    return str(path)
