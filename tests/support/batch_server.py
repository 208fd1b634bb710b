"""A loopback server that speaks OpenAI's Batch API and Anthropic's Message Batches faithfully
enough to test a client against. OpenAI:
files (upload with purpose "batch", content download), batch objects with their status
transitions and request counts, output and error files, expiry, cancellation, partial failures,
and the provider's limits (requests and bytes per input file). Anthropic (`/v1/messages/batches`):
requests inline with `custom_id` checked against `^[a-zA-Z0-9_-]{1,64}$`, `processing_status`
in_progress → ended on the second poll, results as JSONL from `results_url` (succeeded, errored,
expired), `x-api-key` auth.

Each GET of a batch advances it one step: validating → in_progress → finalizing → completed
(or → expired when `expire` names some of its requests, → cancelled after a cancel). Answers
follow the loopback model server's rule: "Answer: X" for the text X between << and >> of the
last user message; a judge scorer's rubric prompt is graded by the model server's grader
(`default_grade_rule`: PASS when the reference is inside the answer), so judges can go as a batch
too. Counters: `files_uploaded`, `batches_created`, `polls`, `lines_received`, `grade_lines`
(rubric lines answered), `downloads`. Runs in its own thread and loop (aiohttp.web).

Prompt caching: `prompt_cache_read` / `prompt_cache_write` / `prompt_cache_write_1h` (default 0) report that many of each
line's prompt tokens as read from (and, Anthropic, written to) the provider's prompt cache, in the
usage shapes of tests.support.model_server (`openai_usage`, `anthropic_usage`).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from typing import Any

from aiohttp import web

from tests.support.model_server import anthropic_usage, default_grade_rule, openai_usage, rubric_parts

_KEY_RE = re.compile(r"<<(.*?)>>", re.S)
STEPS = ("validating", "in_progress", "finalizing")


def answer_for(body: dict[str, Any]) -> str:
    text = ""
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            text = str(msg.get("content") or "")
            break
    m = _KEY_RE.search(text)
    return "Answer: " + (m.group(1) if m else "42")


class BatchServer:
    def __init__(self, *, max_requests: int = 50_000, max_bytes: int = 200 * 1024 * 1024,
                 require_api_key: str | None = None) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.require_api_key = require_api_key
        self.expire: set[str] = set()     # custom ids that expire (the batch ends "expired")
        self.fail: set[str] = set()       # custom ids answered with an error line
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.files_uploaded = 0
        self.batches_created = 0
        self.polls = 0
        self.lines_received = 0
        self.downloads = 0
        self.grade_lines = 0
        #: set when a batch is created (tests wait on it before killing a client)
        self.created = threading.Event()
        #: set at the first GET of a batch (its client has recorded the id by then)
        self.polled = threading.Event()
        #: answer POST /v1/batches only after this many seconds (a client killed mid-submission)
        self.hang_after_create_s = 0.0
        #: while set, a batch of rubric judge lines stays in_progress however often it is polled
        #: (a client killed while polling the judge batch); `judge_polled` is set at its first poll
        self.hold_judges = False
        self.judge_polled = threading.Event()
        #: prompt tokens of each answered line reported as read from / written to the prompt cache
        self.prompt_cache_read = 0
        self.prompt_cache_write = 0
        self.prompt_cache_write_1h = 0  # of the written tokens, those to the one-hour cache (Anthropic)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> str:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="batch-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _serve(self) -> None:
        app = web.Application(client_max_size=1024 ** 3)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{id}", self._get)
        app.router.add_post("/v1/batches/{id}/cancel", self._cancel)
        app.router.add_post("/v1/messages/batches", self._m_create)
        app.router.add_get("/v1/messages/batches/{id}", self._m_get)
        app.router.add_get("/v1/messages/batches/{id}/results", self._m_results)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None:
            async def _down() -> None:
                await self._runner.cleanup()
            asyncio.run_coroutine_threadsafe(_down(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> BatchServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------
    def _denied(self, request: web.Request) -> web.Response | None:
        if request.path.startswith("/v1/messages/"):
            if self.require_api_key and request.headers.get("x-api-key") != self.require_api_key:
                return web.json_response({"type": "error", "error": {"type": "authentication_error",
                                                                     "message": "invalid x-api-key"}}, status=401)
            return None
        if self.require_api_key and request.headers.get("authorization") != f"Bearer {self.require_api_key}":
            return web.json_response({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                                "code": "invalid_api_key"}}, status=401)
        return None

    def _new_file(self, data: bytes, purpose: str) -> dict[str, Any]:
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = data
        return {"id": fid, "object": "file", "bytes": len(data), "purpose": purpose, "filename": f"{fid}.jsonl"}

    def _finish(self, batch: dict[str, Any], final: str) -> None:
        """Write the output and error files of a batch ending in `final`."""
        out, err = [], []
        done = failed = 0
        for line in batch["_lines"]:
            cid = line["custom_id"]
            if final == "cancelled" or cid in self.expire:
                code = "batch_cancelled" if final == "cancelled" else "batch_expired"
                err.append({"id": f"req_{cid}", "custom_id": cid, "response": None,
                            "error": {"code": code, "message": f"This request could not be executed ({code})."}})
                failed += 1
                continue
            if cid in self.fail:
                err.append({"id": f"req_{cid}", "custom_id": cid,
                            "response": {"status_code": 400, "request_id": f"r_{cid}", "body": {
                                "error": {"message": "Invalid value for 'messages'", "type": "invalid_request_error"}}},
                            "error": None})
                failed += 1
                continue
            body = line["body"]
            text = self._reply(body)
            prompt_tokens = max(1, len(json.dumps(body.get("messages", ""))) // 4)
            out.append({"id": f"req_{cid}", "custom_id": cid, "error": None, "response": {
                "status_code": 200, "request_id": f"r_{cid}", "body": {
                    "id": f"chatcmpl-{cid}", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": openai_usage(prompt_tokens, math.ceil(len(text) / 4), self._cache_cfg())}}})
            done += 1
        if out:
            batch["output_file_id"] = self._new_file("".join(json.dumps(o) + "\n" for o in out).encode(),
                                                     "batch_output")["id"]
        if err:
            batch["error_file_id"] = self._new_file("".join(json.dumps(e) + "\n" for e in err).encode(),
                                                    "batch_output")["id"]
        batch["request_counts"] = {"total": len(batch["_lines"]), "completed": done, "failed": failed}
        batch["status"] = final

    def _reply(self, body: dict[str, Any]) -> str:
        """A rubric judge line's grade, else the echo answer."""
        parts = rubric_parts(body)
        if parts is None:
            return answer_for(body)
        self.grade_lines += 1
        return default_grade_rule(parts)

    def _judges_held(self, batch: dict[str, Any], bodies: list[dict[str, Any]]) -> bool:
        """A judge batch polled while `hold_judges`: it stays where it is."""
        if not bodies or rubric_parts(bodies[0]) is None:
            return False
        self.judge_polled.set()
        if not self.hold_judges:
            return False
        if batch.get("status") == "validating":
            batch["status"] = "in_progress"
        return True

    def _cache_cfg(self) -> dict[str, int]:
        return {"prompt_cache_read": self.prompt_cache_read, "prompt_cache_write": self.prompt_cache_write,
                "prompt_cache_write_1h": self.prompt_cache_write_1h}

    def _public(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    # -- handlers --------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or upload is None:
            return web.json_response({"error": {"message": "purpose must be batch and a file is required"}},
                                     status=400)
        data = upload.file.read()
        with self._lock:
            self.files_uploaded += 1
            return web.json_response(self._new_file(data, "batch"))

    async def _content(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        with self._lock:
            data = self.files.get(request.match_info["id"])
            self.downloads += 1
        if data is None:
            return web.json_response({"error": {"message": "No such File object"}}, status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _create(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        with self._lock:
            data = self.files.get(body.get("input_file_id"))
            if data is None:
                return web.json_response({"error": {"message": "No such File object"}}, status=404)
            lines = [json.loads(x) for x in data.decode().splitlines() if x.strip()]
            self.batches_created += 1
            self.lines_received += len(lines)
            bid = f"batch_{len(self.batches) + 1}"
            batch = {"id": bid, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
                     "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window"),
                     "status": "validating", "output_file_id": None, "error_file_id": None,
                     "metadata": body.get("metadata"), "request_counts": {"total": 0, "completed": 0, "failed": 0},
                     "_lines": lines, "_step": 0}
            if len(lines) > self.max_requests or len(data) > self.max_bytes:
                batch["status"] = "failed"
                batch["errors"] = {"object": "list", "data": [{"code": "too_many_requests_in_file" if
                                   len(lines) > self.max_requests else "file_too_large",
                                   "message": "the input file exceeds the batch limits"}]}
            self.batches[bid] = batch
            public = self._public(batch)
        self.created.set()
        if self.hang_after_create_s:
            await asyncio.sleep(self.hang_after_create_s)
        return web.json_response(public)

    async def _list(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        with self._lock:
            data = [self._public(b) for b in reversed(list(self.batches.values()))]
        return web.json_response({"object": "list", "data": data, "has_more": False})

    async def _get(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        self.polled.set()
        with self._lock:
            self.polls += 1
            batch = self.batches.get(request.match_info["id"])
            if batch is None:
                return web.json_response({"error": {"message": "No such batch"}}, status=404)
            if self._judges_held(batch, [line["body"] for line in batch["_lines"]]):
                return web.json_response(self._public(batch))
            if batch["status"] == "cancelling":
                self._finish(batch, "cancelled")
            elif batch["status"] in STEPS:
                batch["_step"] += 1
                if batch["_step"] < len(STEPS):
                    batch["status"] = STEPS[batch["_step"]]
                    n = len(batch["_lines"])
                    batch["request_counts"] = {"total": n, "completed": n // 2 if batch["_step"] == 2 else 0,
                                               "failed": 0}
                else:
                    expired = any(line["custom_id"] in self.expire for line in batch["_lines"])
                    self._finish(batch, "expired" if expired else "completed")
            return web.json_response(self._public(batch))

    # -- Anthropic Message Batches ---------------------------------------------------
    def _m_public(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    async def _m_create(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        reqs = body.get("requests") or []
        bad = [r.get("custom_id") for r in reqs if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(r.get("custom_id")))]
        if bad:
            return web.json_response({"type": "error", "error": {"type": "invalid_request_error",
                                      "message": f"custom_id {bad[0]!r} does not match ^[a-zA-Z0-9_-]{{1,64}}$"}},
                                     status=400)
        with self._lock:
            self.batches_created += 1
            self.lines_received += len(reqs)
            bid = f"msgbatch_{len(self.batches) + 1}"
            batch = {"id": bid, "type": "message_batch", "processing_status": "in_progress",
                     "request_counts": {"processing": len(reqs), "succeeded": 0, "errored": 0, "canceled": 0,
                                        "expired": 0}, "results_url": None, "_reqs": reqs, "_step": 0}
            self.batches[bid] = batch
            public = self._m_public(batch)
        self.created.set()
        return web.json_response(public)

    async def _m_get(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        self.polled.set()
        with self._lock:
            self.polls += 1
            batch = self.batches.get(request.match_info["id"])
            if batch is None:
                return web.json_response({"type": "error", "error": {"type": "not_found_error",
                                                                     "message": "no such batch"}}, status=404)
            if self._judges_held(batch, [r["params"] for r in batch["_reqs"]]):
                return web.json_response(self._m_public(batch))
            batch["_step"] += 1
            if batch["_step"] >= 2 and batch["processing_status"] == "in_progress":
                lines, counts = [], {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
                for r in batch["_reqs"]:
                    cid, params = r["custom_id"], r["params"]
                    if cid in self.expire:
                        lines.append({"custom_id": cid, "result": {"type": "expired"}})
                        counts["expired"] += 1
                    elif cid in self.fail:
                        lines.append({"custom_id": cid, "result": {"type": "errored", "error": {
                            "type": "error", "error": {"type": "invalid_request_error", "message": "bad params"}}}})
                        counts["errored"] += 1
                    else:
                        text = self._reply(params)
                        lines.append({"custom_id": cid, "result": {"type": "succeeded", "message": {
                            "id": f"msg_{cid}", "type": "message", "role": "assistant", "model": params.get("model"),
                            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                            "usage": anthropic_usage(max(1, len(json.dumps(params.get("messages", ""))) // 4),
                                                     math.ceil(len(text) / 4), self._cache_cfg())}}})
                        counts["succeeded"] += 1
                batch["_results"] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch["processing_status"] = "ended"
                batch["request_counts"] = counts
                batch["results_url"] = f"http://127.0.0.1:{self.port}/v1/messages/batches/{batch['id']}/results"
            return web.json_response(self._m_public(batch))

    async def _m_results(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        with self._lock:
            self.downloads += 1
            batch = self.batches.get(request.match_info["id"])
            data = (batch or {}).get("_results")
        if data is None:
            return web.json_response({"type": "error", "error": {"type": "not_found_error",
                                                                 "message": "results not ready"}}, status=404)
        return web.Response(body=data, content_type="application/binary")

    async def _cancel(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        with self._lock:
            batch = self.batches.get(request.match_info["id"])
            if batch is None:
                return web.json_response({"error": {"message": "No such batch"}}, status=404)
            if batch["status"] in STEPS:
                batch["status"] = "cancelling"
            return web.json_response(self._public(batch))
