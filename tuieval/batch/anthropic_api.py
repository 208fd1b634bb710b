"""Anthropic's Message Batches (`/v1/messages/batches`): the requests go inline in the create
call (no file), the batch is polled until `processing_status` is "ended", and the results are
streamed as JSONL from its `results_url`, one line per request: succeeded (a whole Messages
response), errored, canceled or expired.

Anthropic's `custom_id` allows only letters, digits, `_` and `-` (up to 64), so a line is named
`r{dispatch order}` and mapped back through the run's plan. The API has no batch metadata, so a
batch created in the instant before a crash cannot be found again: that window (between the
create call and recording its id) is the one place where `--resume` may submit twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from tuieval.backends.anthropic import ANTHROPIC_VERSION, parse_body
from tuieval.backends.base import BackendError
from tuieval.backends.http import StreamAccumulator
from tuieval.batch.lines import LineOutcome, line_error
from tuieval.batch.openai_api import BatchAPIError


def normalize(obj: dict[str, Any]) -> dict[str, Any]:
    """A Message Batch in the runner's terms (the statuses and counts of tuieval.batch.openai_api)."""
    counts = obj.get("request_counts") or {}
    status = {"in_progress": "in_progress", "canceling": "cancelling", "ended": "completed"}.get(
        obj.get("processing_status"), obj.get("processing_status") or "in_progress")
    failed = sum(int(counts.get(k) or 0) for k in ("errored", "canceled", "expired"))
    done = int(counts.get("succeeded") or 0)
    return {"id": obj["id"], "status": status,
            "request_counts": {"total": done + failed + int(counts.get("processing") or 0), "completed": done,
                               "failed": failed},
            "output_file_id": obj.get("results_url"), "error_file_id": None, "errors": None}


def read_result(obj: Any) -> LineOutcome | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str):
        return None
    cid, result = obj["custom_id"], obj.get("result") or {}
    kind = result.get("type")
    if kind == "succeeded":
        acc = StreamAccumulator(None)
        try:
            parse_body(result.get("message"), acc)
        except BackendError as exc:
            return LineOutcome(cid, None, exc)
        return LineOutcome(cid, acc.result(), None)
    if kind in ("canceled", "expired"):
        name = "batch_cancelled" if kind == "canceled" else "batch_expired"
        return LineOutcome(cid, None, line_error(name, f"batch line {kind}"))
    err = (result.get("error") or {}).get("error") or result.get("error") or {}
    message = str(err.get("message") or err.get("type") or "errored") if isinstance(err, dict) else str(err)
    return LineOutcome(cid, None, line_error("batch_failed", f"batch line errored: {message}"[:300]))


class AnthropicBatches:
    provider = "anthropic"
    max_requests = 100_000

    def __init__(self, backend) -> None:
        headers = {k: v for k, v in backend.auth_headers().items()}
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        self.base_url = backend.base_url.rstrip("/")
        self._client = httpx.Client(headers=headers, timeout=60.0)

    def close(self) -> None:
        self._client.close()

    def _call(self, step: str, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise BatchAPIError(f"batch {step}: cannot reach {self.base_url} ({type(exc).__name__})") from None
        if response.status_code >= 400:
            try:
                message = str((response.json().get("error") or {}).get("message") or "")
            except ValueError:
                message = ""
            raise BatchAPIError(f"batch {step}: HTTP {response.status_code} {message[:200]}".rstrip())
        return response

    def custom_id(self, item) -> str:
        return f"r{item.dispatch_order}"

    def encode_line(self, cid: str, body: dict[str, Any]) -> bytes:
        import json

        params = {k: v for k, v in body.items() if k != "stream"}
        return (json.dumps({"custom_id": cid, "params": params}, ensure_ascii=False) + "\n").encode("utf-8")

    def upload(self, data: bytes, local_id: str) -> str | None:
        return None  # Message Batches take the requests inline

    def submit(self, local_id: str, data: bytes, file_id: str | None, on_uploaded) -> dict[str, Any]:
        import json

        requests = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        obj = self._call("create", "POST", f"{self.base_url}/v1/messages/batches", json={"requests": requests}).json()
        return normalize(obj)

    def find(self, local_id: str) -> dict[str, Any] | None:
        return None

    def get(self, batch_id: str) -> dict[str, Any]:
        return normalize(self._call("poll", "GET", f"{self.base_url}/v1/messages/batches/{batch_id}").json())

    def results(self, batch: dict[str, Any]):
        import json

        url = batch.get("output_file_id")
        if not url:
            return [], []
        outcomes, problems = [], []
        with self._client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise BatchAPIError(f"batch results: HTTP {response.status_code}")
            for n, raw in enumerate(response.iter_lines(), 1):
                if not raw.strip():
                    continue
                try:
                    outcome = read_result(json.loads(raw))
                except ValueError:
                    problems.append(f"batch {batch['batch_id']} results line {n}: not JSON")
                    continue
                if outcome is None:
                    problems.append(f"batch {batch['batch_id']} results line {n}: no custom_id")
                else:
                    outcomes.append(outcome)
        return outcomes, problems
