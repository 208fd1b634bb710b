"""A loopback server that speaks OpenAI's Batch API faithfully enough to test a client against:
files (upload with purpose "batch", content download), batch objects with their status
transitions and request counts, output and error files, expiry, cancellation, partial failures,
and the provider's limits (requests and bytes per input file).

Each GET of a batch advances it one step: validating → in_progress → finalizing → completed
(or → expired when `expire` names some of its requests, → cancelled after a cancel). Answers
follow the loopback model server's rule: "Answer: X" for the text X between << and >> of the
last user message. Counters: `files_uploaded`, `batches_created`, `polls`, `lines_received`,
`downloads`. Runs in its own thread and loop (aiohttp.web).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from typing import Any

from aiohttp import web

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
        #: set when a batch is created (tests wait on it before killing a client)
        self.created = threading.Event()
        #: set at the first GET of a batch (its client has recorded the id by then)
        self.polled = threading.Event()
        #: answer POST /v1/batches only after this many seconds (a client killed mid-submission)
        self.hang_after_create_s = 0.0
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
            text = answer_for(body)
            prompt_tokens = max(1, len(json.dumps(body.get("messages", ""))) // 4)
            out.append({"id": f"req_{cid}", "custom_id": cid, "error": None, "response": {
                "status_code": 200, "request_id": f"r_{cid}", "body": {
                    "id": f"chatcmpl-{cid}", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": math.ceil(len(text) / 4),
                              "total_tokens": prompt_tokens + math.ceil(len(text) / 4)}}}})
            done += 1
        if out:
            batch["output_file_id"] = self._new_file("".join(json.dumps(o) + "\n" for o in out).encode(),
                                                     "batch_output")["id"]
        if err:
            batch["error_file_id"] = self._new_file("".join(json.dumps(e) + "\n" for e in err).encode(),
                                                    "batch_output")["id"]
        batch["request_counts"] = {"total": len(batch["_lines"]), "completed": done, "failed": failed}
        batch["status"] = final

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
