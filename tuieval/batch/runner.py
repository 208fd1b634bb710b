"""`tuieval run --batch`: a run's requests as OpenAI Batch API jobs, stored as ordinary samples.

The order of work survives a kill -9 at any point: a batch row (with the requests it holds) is
written before its file is uploaded, the file id and the batch id as soon as the provider gives
them, so `--resume` polls the batch it had rather than submitting again; a batch created just
before a crash is found again by the id tuieval sent with it (`metadata.tuieval_local_id`).
Lines that expired, were cancelled or failed are stored as error samples with the reason, and
`--resume` sends only those, as a new smaller batch. A run larger than a batch file may hold
(requests or bytes) is split into several. Batch samples have no latency (not applicable).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from tuieval.batch import lines as L
from tuieval.batch.openai_api import TERMINAL, OpenAIBatchAPI
from tuieval.store import batches as B


@dataclass
class BatchOutcome:
    status: str          # complete | partial
    n_done: int
    n_total: int
    n_errors: int
    n_batches: int       # batches submitted by this invocation
    problems: list[str]  # output lines that could not be read


class BatchRunner:
    def __init__(self, store, engine, backend, run: dict[str, Any], *, poll_s: float = 30.0,
                 max_requests: int = L.MAX_REQUESTS, max_bytes: int = L.MAX_BYTES,
                 on_progress: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep):
        from tuieval.scoring import build_scorers

        self.store, self.engine, self.backend, self.run = store, engine, backend, run
        self.poll_s, self.max_requests, self.max_bytes = poll_s, max_requests, max_bytes
        self.say = on_progress or (lambda line: None)
        self.sleep = sleep
        self.scorers = build_scorers(run["config"].get("scorers"))
        self.api = OpenAIBatchAPI(backend.base_url, backend.auth_headers())
        self.problems: list[str] = []
        self.n_submitted = 0

    # -- planning --------------------------------------------------------------------

    def _request_of(self, item):
        from tuieval.engine.runner import chat_request

        return chat_request(item, self.run, stream=False)

    def _items(self) -> dict[str, Any]:
        work, _ = self.engine.plan(self.run)
        return {L.custom_id(w.key.case_id, w.key.template, w.key.sample_index): w for w in work}

    def _line(self, cid: str, item) -> bytes:
        _, body = self.backend.request_identity(self._request_of(item))
        return next(L.encode([L.input_line(cid, body)]))

    # -- the whole run ---------------------------------------------------------------

    def go(self, *, resumed: bool) -> BatchOutcome:
        run_id = self.run["id"]
        if resumed:
            again = B.drop_resubmittable(self.store, run_id, L.RESUBMITTABLE)
            if again:
                self.say(f"batch: sending {again} requests again (expired, cancelled or failed before)")
        try:
            for batch in B.batches(self.store, run_id, open_only=True):
                self._finish(batch)
            items = self._items()
            if items:
                encoded = [(cid, self._line(cid, item)) for cid, item in items.items()]
                for chunk in L.split([e for _, e in encoded], self.max_requests, self.max_bytes):
                    ids = [cid for cid, _ in encoded[:len(chunk)]]
                    encoded = encoded[len(chunk):]
                    self._finish(self._submit(ids, b"".join(chunk)))
        finally:
            self.api.close()
        n_total = self.run["n_expected"]
        n_done = len(self.store.done_keys(run_id))
        status = "complete" if n_done >= n_total else "partial"
        self.store.set_status(run_id, status)
        return BatchOutcome(status, n_done, n_total, self.store.count_errors(run_id), self.n_submitted,
                            self.problems)

    # -- one batch -------------------------------------------------------------------

    def _submit(self, ids: list[str], data: bytes) -> dict[str, Any]:
        local_id = f"{self.run['id']}-{uuid.uuid4().hex[:8]}"
        B.add_batch(self.store, local_id, self.run["id"], "openai", self.backend.base_url, ids)
        file_id = self.api.upload(data, f"{local_id}.jsonl")
        B.update_batch(self.store, local_id, input_file_id=file_id, status="uploaded")
        created = self.api.create(file_id, local_id)
        self.n_submitted += 1
        B.update_batch(self.store, local_id, batch_id=created["id"], status=created.get("status") or "validating",
                       counts=created.get("request_counts"))
        self.say(f"batch {created['id']}: submitted {len(ids)} requests")
        return self._row(local_id)

    def _row(self, local_id: str) -> dict[str, Any]:
        return next(b for b in B.batches(self.store, self.run["id"]) if b["local_id"] == local_id)

    def _finish(self, batch: dict[str, Any]) -> None:
        """Poll a batch to its end, then store its lines."""
        local_id = batch["local_id"]
        if batch["batch_id"] is None:
            found = self.api.find(local_id)
            if found is None:
                # never created (killed before or during upload): submit it now, once
                ids = B.batch_custom_ids(self.store, local_id)
                items = self._items()
                data = b"".join(self._line(cid, items[cid]) for cid in ids if cid in items)
                file_id = batch["input_file_id"] or self.api.upload(data, f"{local_id}.jsonl")
                found = self.api.create(file_id, local_id)
                self.n_submitted += 1
                B.update_batch(self.store, local_id, input_file_id=file_id)
            B.update_batch(self.store, local_id, batch_id=found["id"], status=found.get("status") or "validating")
            batch = self._row(local_id)
        state = self.api.get(batch["batch_id"])
        while True:
            counts = state.get("request_counts") or {}
            B.update_batch(self.store, local_id, status=state["status"], counts=counts,
                           output_file_id=state.get("output_file_id"), error_file_id=state.get("error_file_id"),
                           errors=state.get("errors"))
            self.say(f"batch {batch['batch_id']}: {state['status']}, {counts.get('completed', 0)}/"
                     f"{counts.get('total', batch['n_requests'])} done, {counts.get('failed', 0)} failed")
            if state["status"] in TERMINAL:
                break
            self.sleep(self.poll_s)
            state = self.api.get(batch["batch_id"])
        self._collect(self._row(local_id))

    def _collect(self, batch: dict[str, Any]) -> None:
        from tuieval.engine.runner import sample_row

        items = self._items()
        seen: set[str] = set()
        for field in ("output_file_id", "error_file_id"):
            if batch[field]:
                outcomes, problems = L.read_lines(self.api.download(batch[field]), f"batch {batch['batch_id']} "
                                                  f"{field.replace('_id', '')}")
                self.problems += problems
                for o in outcomes:
                    item = items.get(o.custom_id)
                    if item is None or o.custom_id in seen:
                        continue
                    seen.add(o.custom_id)
                    self._store(sample_row(self.run["id"], item, self._request_of(item).messages, self.scorers,
                                           o.result, o.error, 1, None))
        # lines the provider returned nothing for: the batch's own end is their reason
        kind = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(batch["status"], "batch_failed")
        why = ((batch.get("errors") or {}).get("data") or [{}])[0].get("message") if batch.get("errors") else None
        for cid in B.batch_custom_ids(self.store, batch["local_id"]):
            item = items.get(cid)
            if item is None or cid in seen:
                continue
            error = L.line_error(kind, f"batch {batch['status']}" + (f": {why}" if why else ""))
            self._store(sample_row(self.run["id"], item, self._request_of(item).messages, self.scorers, None,
                                   error, 1, None))
        B.update_batch(self.store, batch["local_id"], collected=1)

    def _store(self, row: dict[str, Any]) -> None:
        self.store.add_sample(row)
