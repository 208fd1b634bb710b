"""Loading what the screens show, off the event loop.

Every function here is meant to run in a thread worker and opens its own connection
(`Store(path)`), so a long query never shares a connection with the engine writing on the
event loop; WAL mode lets them proceed side by side. Results are plain dataclasses.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tuieval.analysis.report import slice_value_key
from tuieval.sample_rules import is_correct, is_error
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
    """Every run, newest first; read again only when the database changed (tuieval.tui.runs_list)."""
    from tuieval.tui.runs_list import runs_list

    return runs_list(db_path).read()


@dataclass
class RunData:
    """A finished (or partial) run's report plus per-sample arrays for the latency charts.

    Read from a stored report (`load_run_data`), `report` has no `cases` key: the case list
    (100,000 entries at a million samples) is read when a view asks (`report_cases`), and the
    cases view pages through it in SQL instead (`cases_stored`)."""

    run: dict[str, Any]
    report: dict[str, Any]
    case_ids: list[str]
    sample_case: np.ndarray      # index into case_ids, per sample (samples in latency order)
    latency: np.ndarray          # ms, NaN when unknown; ascending, NaN last (tuieval.report.stored.by_latency)
    correct: np.ndarray          # bool
    error: np.ndarray            # bool
    #: the analysis rows of the cases (metadata, input text); None until first asked for
    #: (`ensure_cases`) when the report came from the store
    cases: list[dict[str, Any]] | None = field(default_factory=list, repr=False)
    #: (key, value) → one bool per case id: the cases of each slice level. Read with a stored
    #: report (tuieval.report.slice_membership_store); else None until `ensure_membership`
    #: computes it (the derived features of every case: seconds at 100,000 cases)
    masks: dict[tuple[str, Any], np.ndarray] | None = field(default=None, repr=False)
    #: the database the report was read from, for what is read later
    db_path: str | None = None
    #: True when the report's cases are kept one row each in the store (tuieval.store.report_parts)
    cases_stored: bool = False
    _report_cases: list[dict[str, Any]] | None = field(default=None, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)
    _membership_lock: Any = field(default_factory=threading.Lock, repr=False)

    def ensure_cases(self) -> list[dict[str, Any]]:
        """The analysis rows of the run's cases, read once (a probe run's labelled as the report
        labels them: tuieval.report.contamination)."""
        with self._lock:
            if self.cases is None:
                from tuieval.report.contamination import label_cases

                with Store(self.db_path) as store:
                    cases = store.analysis_cases(self.run["id"])
                    label_cases(store, self.run, cases, self.report)
                self.cases = cases
        return self.cases

    def report_cases(self) -> list[dict[str, Any]]:
        """The report's `cases` list, read from the store the first time when kept apart."""
        if "cases" in self.report:
            return self.report.get("cases") or []
        with self._lock:
            if self._report_cases is None:
                from tuieval.report.stored import load_cases

                with Store(self.db_path) as store:
                    self._report_cases = load_cases(store, self.run["id"]) or []
        return self._report_cases

    def __repr__(self) -> str:
        # short on purpose: a worker's description is the repr of its arguments, built on the
        # event loop; the default dataclass repr printed the whole report and arrays (~0.1 s for
        # the 600-sample demo run, megabytes of text for a big one) each time one was handed over
        return f"RunData(run={self.run.get('id')!r}, samples={self.latency.size}, cases={len(self.case_ids)})"

    def membership_ready(self) -> bool:
        """Whether a slice's cases can be named without computing the membership first."""
        return self.masks is not None

    def ensure_membership(self) -> dict[tuple[str, Any], np.ndarray]:
        """The slice levels' case masks: as stored, or computed once (in a thread: it derives
        every case's features) by the analysis's rule."""
        if self.masks is None:
            with self._membership_lock:  # a second caller waits for the first's result
                if self.masks is None:
                    from tuieval.report.slice_membership_store import masks_from_cases

                    self.masks = masks_from_cases(self.ensure_cases(), self.case_ids)
        return self.masks

    def slice_cases_mask(self, sl: dict[str, Any]) -> np.ndarray:
        """One bool per case id: the slice's cases (a discovered slice's: every condition's)."""
        masks = self.ensure_membership()
        none = np.zeros(len(self.case_ids), dtype=bool)
        conditions = sl.get("conditions")
        if conditions:
            out = none.copy()
            for i, (k, v) in enumerate(conditions):
                m = masks.get((str(k), slice_value_key(v)), none)
                out = m.copy() if i == 0 else out & m
            return out
        return masks.get((str(sl.get("key")), slice_value_key(sl.get("value"))), none).copy()

    def slice_case_ids(self, sl: dict[str, Any]) -> set[str]:
        ids = self.case_ids
        return {ids[i] for i in np.flatnonzero(self.slice_cases_mask(sl)).tolist()}

    def cases_of_slice(self, sl: dict[str, Any] | None) -> list[dict[str, Any]]:
        cases = self.report_cases()
        if sl is None or sl.get("key") == "overall":
            return list(cases)
        ids = self.slice_case_ids(sl)
        return [c for c in cases if c["id"] in ids]

    def sample_mask(self, sl: dict[str, Any] | None) -> np.ndarray:
        if sl is None or sl.get("key") == "overall":
            return np.ones(self.latency.size, dtype=bool)
        in_slice = self.slice_cases_mask(sl)
        if in_slice.size == 0:
            return np.zeros(self.latency.size, dtype=bool)
        return in_slice[self.sample_case]


@dataclass
class SliceCases:
    """A slice's cases worst first, with each case's targets and input text (for the cases screen)."""

    cases: list[dict[str, Any]]
    targets: dict[str, Any]
    inputs: dict[str, str]


def worst_first(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cases by accuracy, then consistency, then id; a case without a figure goes last."""
    from tuieval.tui.fmt import num

    def key(c: dict[str, Any]) -> tuple:
        acc, cons = num(c.get("accuracy")), num(c.get("consistency"))
        return (2.0 if acc is None else acc, 2.0 if cons is None else cons, str(c.get("id")))

    return sorted(cases, key=key)


def load_slice_cases(db_path: str, run: RunData, sl: dict[str, Any] | None) -> SliceCases:
    """What the slice's cases screen lists: the membership pass (first use), the sort and the
    targets read, all of which grow with the run, done here rather than on the event loop."""
    cases = worst_first(run.cases_of_slice(sl))
    with Store(db_path) as store:
        rows = store.case_targets(run.run["id"])
    return SliceCases(cases=cases, targets={cid: t for cid, (t, _) in rows.items()},
                      inputs={cid: text for cid, (_, text) in rows.items()})


def load_run_data(db_path: str, run_id: str, *, persist_clusters: bool = False) -> RunData:
    """The report of a run and the arrays behind its charts, from the one report pipeline
    (`tuieval.report.build`) and the same lean rows it analyses.

    A finished run whose report is stored is read in parts (tuieval.report.stored): the report
    without its case list and the packed arrays, which is what the scoreboard shows; the cases
    are read when a view needs them. With `persist_clusters` (a run this app just finished) the
    clusters are stored as `tuieval run` does; when the clustering endpoint fails then, the
    report still opens from what is stored, and the error is raised only if that fails too.
    """
    from tuieval.report import ClusteringBackendError, build
    from tuieval.report.slice_membership_store import load_membership
    from tuieval.report.stored import by_latency, sample_arrays

    with Store(db_path) as store:
        if not persist_clusters:
            stored = _stored_run_data(store, db_path, run_id)
            if stored is not None:
                return stored
        try:
            built = build(store, run_id, persist_clusters=persist_clusters, with_rows=True)
        except ClusteringBackendError:
            if not persist_clusters:
                raise
            built = build(store, run_id, with_rows=True)
        arrays = by_latency(sample_arrays(built.samples or []))
        # a finished run's report was stored with its membership just now: read, not derived again
        masks = None
        if built.run["status"] != "running":
            masks = load_membership(store, built.run["id"], store.report_fingerprint(built.run), arrays.case_ids)
    return RunData(run=built.run, report=built.report, case_ids=arrays.case_ids, cases=built.cases or [],
                   sample_case=arrays.sample_case, latency=arrays.latency, correct=arrays.correct,
                   error=arrays.error, db_path=db_path, masks=masks)


def _stored_run_data(store: Store, db_path: str, run_id: str) -> RunData | None:
    """A finished run's RunData from its stored report and arrays, or None when either is missing
    or stale (then the report is built)."""
    from tuieval.report.redteam import redteam_section
    from tuieval.report.slice_membership_store import load_membership
    from tuieval.report.stored import load_arrays, load_report

    run = store.get_run(run_id)
    if run["status"] == "running":
        return None
    fingerprint = store.report_fingerprint(run)
    arrays = load_arrays(store, run["id"], fingerprint)
    if arrays is None:
        return None
    report = load_report(store, run["id"], fingerprint, with_cases=False)
    if report is None:
        return None
    section = redteam_section(store, run)  # never cached, as `build` adds it: read fresh
    if section is not None:
        report["redteam"] = section
    return RunData(run=run, report=report, case_ids=arrays.case_ids, cases=None, sample_case=arrays.sample_case,
                   latency=arrays.latency, correct=arrays.correct, error=arrays.error, db_path=db_path,
                   cases_stored="cases" not in report,
                   masks=load_membership(store, run["id"], fingerprint, arrays.case_ids))


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
    semantic_entropy: float | None
    semantic_entropy_normalized: float | None
    accuracy: float | None


@dataclass
class CaseDetail:
    run: dict[str, Any]
    case: dict[str, Any]
    groups: list[TemplateGroup]
    method: str
    prompt: list[dict[str, str]] = field(default_factory=list)


def load_case(db_path: str, run_id: str, case_id: str) -> CaseDetail:
    """A case's samples grouped by template and semantic cluster (stored clusters when present)."""
    from tuieval.analysis.variance import consistency, semantic_entropy

    from tuieval.analysis.variance.config import LOCAL_FALLBACK, VarianceConfig
    from tuieval.report import ClusteringBackendError
    from tuieval.report.clustering import cluster_samples

    with Store(db_path) as store:
        run = store.get_run(run_id)
        case = store.get_case(run["id"], case_id) or {"case_id": case_id, "vars": {}, "targets": [], "metadata": {},
                                                      "input_text": ""}
        samples = store.get_samples(run["id"], case_id=case_id)
        stored = store.get_clusters(run["id"], case_id)
    by_template: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        s["correct"] = is_correct(s)
        by_template.setdefault(s["template"], []).append(s)
    have_stored = bool(stored) and all(s.get("cluster") is not None or is_error(s) for s in samples)
    if have_stored:
        method = stored[0]["method"]
    else:
        # Not analysed yet (a live or interrupted run): cluster this one case now, through the
        # report's own clustering so the groups match what the report will say.
        method = VarianceConfig.from_run(run).effective_method
        with Store(db_path) as store:  # the embedding requests it makes are recorded with the run
            try:
                assignments, _, _ = cluster_samples(run, samples, [case], method, store, "inspector")
            except ClusteringBackendError as exc:
                method = f"{LOCAL_FALLBACK} ({exc.field} unavailable)"
                assignments, _, _ = cluster_samples(run, samples, [case], LOCAL_FALLBACK, None)
        for s in samples:
            s["cluster"] = assignments.get((s["case_id"], s["template"], int(s["sample_index"])))
    stored_by = {(r["template"], r["cluster"]): r for r in stored} if have_stored else {}
    out_groups = []
    for template, members in by_template.items():
        members.sort(key=lambda s: s["sample_index"])
        errors = [s for s in members if is_error(s) or s.get("cluster") is None]
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
            consistency=consistency(ids), semantic_entropy=ent.semantic_entropy, semantic_entropy_normalized=ent.semantic_entropy_normalized,
            accuracy=(sum(s["correct"] for s in members) / n) if n else None,
        ))
    prompt: list[dict[str, str]] = []
    if samples:
        try:
            prompt = json.loads(samples[0]["prompt"])
        except (TypeError, ValueError):
            prompt = []
    return CaseDetail(run=run, case=case, groups=out_groups, method=method, prompt=prompt)


# -- search -----------------------------------------------------------------------------------

#: where FTS5's snippet() marks a match: private-use characters, which sanitising keeps and the
#: search screen turns into a highlight (model text is never parsed as markup)
MATCH_MARKS = ("\ue000", "\ue001")


class SearchQueryError(ValueError):
    """The query could not be searched (FTS5 rejected it); the message says why."""


def search_answers(db_path: str, query: str, *, run_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Samples whose prompt or response hold `query` as a phrase (as `tuieval search`), newest
    first, each with its verdict and a snippet whose match lies between `MATCH_MARKS`."""
    import sqlite3

    from tuieval.sample_rules import verdict

    with Store(db_path) as store:
        store.ensure_search_index()  # a database from before search: indexed once, here
        try:
            rows = store.search_samples(store.phrase_query(query), run_id=run_id, limit=limit, mark=MATCH_MARKS)
        except sqlite3.OperationalError as exc:
            raise SearchQueryError(str(exc)) from None
    for r in rows:
        r["verdict"] = verdict(r)
    return rows


def export_report(db_path: str, run_id: str, fmt: str = "json") -> str:
    """Write a run's report beside the database and return the path."""
    from tuieval.report import build_report
    from tuieval.report.formats import RENDERERS

    with Store(db_path) as store:
        rid = store.resolve_run_id(run_id)
        report = build_report(store, rid)
    ext = "json" if fmt == "json" else "md"
    path = Path(db_path).resolve().parent / f"{rid}.report.{ext}"
    path.write_text(RENDERERS[ext](report), encoding="utf-8")
    return str(path)
