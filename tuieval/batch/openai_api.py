"""OpenAI's Batch API over httpx: upload a file (purpose "batch"), create a batch, read it, list
batches (to find one created just before a crash), download its output and error files.

Errors are one line naming the step and the status; the API key is never in them.
"""

from __future__ import annotations

from typing import Any

import httpx

from tuieval.batch.lines import ENDPOINT

TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchAPIError(Exception):
    """A batch request failed: the message names the step and the server's reason."""


class OpenAIBatchAPI:
    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        auth = {k: v for k, v in headers.items() if k.lower() in ("authorization", "openai-organization",
                                                                   "openai-project")}
        self._client = httpx.Client(headers=auth, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _call(self, step: str, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self._client.request(method, f"{self.base_url}{path}", **kw)
        except httpx.HTTPError as exc:
            raise BatchAPIError(f"batch {step}: cannot reach {self.base_url} ({type(exc).__name__})") from None
        if response.status_code >= 400:
            message = ""
            try:
                message = str((response.json().get("error") or {}).get("message") or "")
            except ValueError:
                pass
            raise BatchAPIError(f"batch {step}: HTTP {response.status_code} {message[:200]}".rstrip())
        return response

    def upload(self, data: bytes, name: str) -> str:
        r = self._call("upload", "POST", "/files", data={"purpose": "batch"},
                       files={"file": (name, data, "application/jsonl")})
        return r.json()["id"]

    def create(self, input_file_id: str, local_id: str) -> dict[str, Any]:
        return self._call("create", "POST", "/batches", json={
            "input_file_id": input_file_id, "endpoint": ENDPOINT, "completion_window": "24h",
            "metadata": {"tuieval_local_id": local_id}}).json()

    def get(self, batch_id: str) -> dict[str, Any]:
        return self._call("poll", "GET", f"/batches/{batch_id}").json()

    def find(self, local_id: str) -> dict[str, Any] | None:
        """The batch created for `local_id`, if the provider has one (a crash between create and
        recording its id)."""
        data = self._call("list", "GET", "/batches", params={"limit": 100}).json().get("data") or []
        return next((b for b in data if (b.get("metadata") or {}).get("tuieval_local_id") == local_id), None)

    def download(self, file_id: str) -> bytes:
        return self._call("download", "GET", f"/files/{file_id}/content").content


class OpenAIBatches:
    """The runner's view of OpenAI's Batch API (tuieval.batch.runner): a batch is a file of lines."""

    provider = "openai"
    max_requests = 50_000

    def __init__(self, backend) -> None:
        self.api = OpenAIBatchAPI(backend.base_url, backend.auth_headers())

    def close(self) -> None:
        self.api.close()

    def custom_id(self, item) -> str:
        from tuieval.batch.lines import custom_id

        return custom_id(item.key.case_id, item.key.template, item.key.sample_index)

    def encode_line(self, cid: str, body: dict[str, Any]) -> bytes:
        from tuieval.batch.lines import encode, input_line

        return next(encode([input_line(cid, body)]))

    def submit(self, local_id: str, data: bytes, file_id: str | None, on_uploaded) -> dict[str, Any]:
        if file_id is None:
            file_id = self.upload(data, local_id)
            on_uploaded(file_id)
        return self.api.create(file_id, local_id)

    def upload(self, data: bytes, local_id: str) -> str:
        return self.api.upload(data, f"{local_id}.jsonl")

    def find(self, local_id: str) -> dict[str, Any] | None:
        return self.api.find(local_id)

    def get(self, batch_id: str) -> dict[str, Any]:
        return self.api.get(batch_id)

    def results(self, batch: dict[str, Any]):
        """(outcomes, problems) of a finished batch: its output file, then its error file."""
        from tuieval.batch.lines import read_lines

        outcomes, problems = [], []
        for field in ("output_file_id", "error_file_id"):
            if batch.get(field):
                o, p = read_lines(self.api.download(batch[field]), f"batch {batch['batch_id']} {field[:-3]}")
                outcomes += o
                problems += p
        return outcomes, problems
