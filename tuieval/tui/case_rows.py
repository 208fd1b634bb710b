"""The rows of the cases view (a slice's cases, or a run's), worst first, read a window at a time.

Two sources with one interface (tuieval.tui.widgets.line_table.RowSource): `StoredCaseRows`
pages a stored report's case rows in SQL (tuieval.store.report_parts), so a million-sample run's
100,000 cases are never all decoded; `ListCaseRows` slices a report held in memory (a run whose
report is not stored: still running, or just analysed by this app). Both list a case as
`CaseRow` (its report entry, targets and input text), in the same order: accuracy, then
consistency, then id, a case with no figure last (tuieval.tui.data.worst_first).

`load_case_rows` builds either in a thread worker; `window` is then called on the event loop
(one indexed query per page of rows), from a connection the source opens there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tuieval.store import Store
from tuieval.store import report_parts
from tuieval.tui import fmt
from tuieval.tui.data import RunData, load_slice_cases


@dataclass
class CaseRow:
    case: dict[str, Any]     # the report's entry for the case
    targets: Any
    input_text: str


def is_wrong(accuracy: Any) -> bool:
    """At least one wrong answer, or no figure yet: what the view's title counts."""
    return (fmt.num(accuracy) or 0) < 1


class ListCaseRows:
    """A case list in memory, already worst first."""

    def __init__(self, cases: list[dict[str, Any]], targets: dict[str, Any], inputs: dict[str, str]) -> None:
        self.cases, self.targets, self.inputs = cases, targets, inputs
        self.n = len(cases)
        self.n_wrong = sum(1 for c in cases if is_wrong(c.get("accuracy")))

    def window(self, start: int, stop: int) -> list[tuple[str, CaseRow]]:
        return [(str(c["id"]), CaseRow(c, self.targets.get(str(c["id"])), self.inputs.get(str(c["id"]), "")))
                for c in self.cases[start:stop]]

    def close(self) -> None:
        pass


class StoredCaseRows:
    """A stored report's cases, paged in SQL: all of them by offset (`ids` None), or a slice's,
    whose ids (worst first) are held and whose entries are read a window at a time."""

    def __init__(self, db_path: str, run_id: str, ids: list[str] | None, n: int, n_wrong: int) -> None:
        self.db_path, self.run_id, self.ids = db_path, run_id, ids
        self.n, self.n_wrong = n, n_wrong
        self._store: Store | None = None

    def _conn(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    def window(self, start: int, stop: int) -> list[tuple[str, CaseRow]]:
        store = self._conn()
        if self.ids is None:
            got = report_parts.cases_window(store, self.run_id, start, stop - start)
        else:
            ids = self.ids[start:stop]
            bodies = report_parts.cases_by_id(store, self.run_id, ids)
            got = [(cid, bodies[cid]) for cid in ids if cid in bodies]
        inputs = report_parts.case_inputs(store, self.run_id, [cid for cid, _ in got])
        out = []
        for cid, body in got:
            targets, text = inputs.get(cid, (None, ""))
            out.append((cid, CaseRow(json.loads(body), json.loads(targets) if targets else None, text or "")))
        return out

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def load_case_rows(db_path: str, data: RunData, sl: dict[str, Any] | None) -> ListCaseRows | StoredCaseRows:
    """The cases of slice `sl` (None or the overall row: every case), worst first. Meant for a
    thread: a slice's membership (the derived features of every case, computed once per run)
    and the ordered ids are read here, not on the event loop."""
    if not data.cases_stored:
        listed = load_slice_cases(db_path, data, sl)
        return ListCaseRows(listed.cases, listed.targets, listed.inputs)
    run_id = data.run["id"]
    with Store(db_path) as store:
        if sl is None or sl.get("key") == "overall":
            n, n_wrong = report_parts.count_cases(store, run_id)
            return StoredCaseRows(db_path, run_id, None, n, n_wrong)
        members = {str(c) for c in data.slice_case_ids(sl)}
        ordered = [(cid, acc) for cid, acc in report_parts.worst_first_ids(store, run_id) if cid in members]
    return StoredCaseRows(db_path, run_id, [cid for cid, _ in ordered], len(ordered),
                          sum(1 for _, acc in ordered if is_wrong(acc)))
