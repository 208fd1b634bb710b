"""The OpenAI batch file format: one input line per (case, template, sample), named by its
`custom_id`, and the output / error lines read back into answers or errors.

Input line: {"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {…}} — the body
is exactly the one `tuieval run` would send (stream off). Output line: {"custom_id", "response":
{"status_code", "body"}, "error"}; the error file holds the lines that failed, expired or were
cancelled. vLLM's `run_batch` and other runners of this format read and write the same lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from tuieval.backends.base import BackendError, ChatResult, ServerError
from tuieval.backends.http import StreamAccumulator
from tuieval.backends.openai import parse_body

ENDPOINT = "/v1/chat/completions"
#: What the providers accept in one input file (OpenAI: 50,000 requests, 200 MB); kept a little
#: under the byte limit so a file never fails validation on its size.
MAX_REQUESTS = 50_000
MAX_BYTES = 190 * 1024 * 1024

#: error_kind of a line that did not run; `--resume` sends these again, as a new smaller batch
RESUBMITTABLE = ("batch_expired", "batch_cancelled", "batch_failed")


def custom_id(case_id: str, template: str, sample_index: int) -> str:
    """The line's name: which (case, template, sample) it is, readable in the provider's console."""
    return json.dumps([case_id, template, sample_index], ensure_ascii=False, separators=(",", ":"))


def key_of(cid: str) -> tuple[str, str, int] | None:
    try:
        case_id, template, index = json.loads(cid)
        return str(case_id), str(template), int(index)
    except (ValueError, TypeError):
        return None


def input_line(cid: str, body: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    return {"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body}


def encode(lines: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for line in lines:
        yield (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")


def split(encoded: list[bytes], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> list[list[bytes]]:
    """Input lines cut into files within the provider's limits (requests and bytes per file)."""
    files: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for line in encoded:
        if current and (len(current) >= max_requests or size + len(line) > max_bytes):
            files.append(current)
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        files.append(current)
    return files


@dataclass
class LineOutcome:
    custom_id: str
    result: ChatResult | None
    error: BackendError | None


def line_error(kind: str, reason: str) -> BackendError:
    """The error of a line that did not run (`kind` one of RESUBMITTABLE)."""
    return ServerError(reason, kind=kind, retryable=False)


def read_line(obj: Any) -> LineOutcome | None:
    """One output or error line; None when it is not a batch line at all (no custom_id)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str):
        return None
    cid = obj["custom_id"]
    error = obj.get("error")
    response = obj.get("response") or {}
    if error:
        code = str(error.get("code") or "") if isinstance(error, dict) else ""
        message = str(error.get("message") or code) if isinstance(error, dict) else str(error)
        kind = {"batch_expired": "batch_expired", "batch_cancelled": "batch_cancelled"}.get(code, "batch_failed")
        return LineOutcome(cid, None, line_error(kind, f"batch line {code or 'failed'}: {message}"[:300]))
    status = response.get("status_code")
    body = response.get("body")
    if status != 200:
        message = ""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message") or "")
        return LineOutcome(cid, None, line_error("batch_failed", f"batch line HTTP {status}: {message}"[:300]))
    acc = StreamAccumulator(None)
    try:
        parse_body(body, acc)
    except BackendError as exc:
        return LineOutcome(cid, None, exc)
    result = acc.result()
    return LineOutcome(cid, result, None)


def read_lines(data: bytes | str, where: str) -> tuple[list[LineOutcome], list[str]]:
    """Every line of an output or error file, and the problems (`FILE line N: why`) of the rest."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    out, problems = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            problems.append(f"{where} line {n}: not JSON")
            continue
        outcome = read_line(obj)
        if outcome is None:
            problems.append(f"{where} line {n}: no custom_id")
            continue
        out.append(outcome)
    return out, problems
