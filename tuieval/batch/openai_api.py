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
