"""A real loopback model server for tests and benchmarks (aiohttp.web, own thread and loop).

It speaks OpenAI ``POST /v1/chat/completions`` and Anthropic ``POST /v1/messages``,
streaming or not, with deterministic answers: the reply is ``"Answer: " + X`` where
X is the text between ``<<`` and ``>>`` in the last user message (else ``"42"``),
streamed in ~4-character deltas (one output token each; ``max_tokens`` truncates and
finishes with "length"/"max_tokens"). X is also the request's *prompt key* for counting
(the whole last user message when it has no ``<<…>>``).  When X holds ``|``-separated
alternatives (``<<Paris|Lyon|paris>>``) the n-th request for that key answers the
((n−1) mod k)-th alternative, so repeated samples of one prompt differ (the key stays
the whole ``Paris|Lyon|paris``; a failed attempt also advances the cycle).

**Embeddings** — ``POST /v1/embeddings`` (OpenAI shape: ``input`` a string or a list of
strings; an empty or whitespace-only string is a 400, as OpenAI does) returns one
deterministic vector per input, computed by :func:`embedding_vector`: a hashed bag of
words (lower-cased word tokens, each adding 1 to one of ``embedding_dim`` buckets chosen
by a BLAKE2 hash), L2-normalised.  So cos(a, b) = shared words / √(|a|·|b|) (barring
bucket collisions): paraphrases that share words are close, "1912" and "1921" are not.
``data`` comes back in *reverse* input order, each item with its ``index``: clients
must sort by index.  Counters: ``embedding_requests``, ``embedding_inputs``,
``embedding_batches`` (list of input counts); its prompt key is :data:`EMBEDDINGS_KEY`,
so ``fail_first(n, status, key=EMBEDDINGS_KEY)`` breaks only embeddings.

**Judge** — a chat request whose system or user text contains :data:`JUDGE_MARKER`
("entailment, contradiction or neutral", from tuieval's judge prompt) is a judge call:
the question, premise and hypothesis are read from the ``<question>``, ``<premise>`` and
``<hypothesis>`` tags and the reply is ``server.judge_rule(premise, hypothesis)``
(default :func:`default_judge_rule`: "entailment" when the two answers' canonical forms
are equal, else "contradiction").  Its prompt key is :data:`JUDGE_KEY`; counters
``judge_requests`` and ``judge_log`` (list of (question, premise, hypothesis)).

**Rubric judge** — a chat request whose system text contains :data:`RUBRIC_MARKER`
(tuieval's `judge` scorer prompt) is a grading call: the tags ``<question>``, ``<answer>``,
``<reference>``, ``<answer_a>``, ``<answer_b>``, ``<criteria>`` and ``<grades>`` are read into
a dict, with ``model``, ``seed`` and ``temperature`` from the body, and the reply is
``server.grade_rule(parts)`` (default :func:`default_grade_rule`: for graded modes the best
grade when the reference's canonical form occurs in the answer's, else the worst; in
pairwise mode always ``A`` — the first answer, the purest position bias).  Its prompt key
is :data:`GRADE_KEY`; counters ``grade_requests`` and ``grade_log`` (the parts dicts).

**Attacker** — a chat request whose system text contains :data:`ATTACK_MARKER` (tuieval's
red-team attacker prompt) is an attacker call: the tags ``<strategy>``, ``<original>``,
``<expected>`` and ``<attempt>`` (its first number, 1-based) are read into a dict, with ``model``
and ``seed``, and the reply is ``server.attack_rule(parts)`` (default
:func:`default_attack_rule`).  Its prompt key is :data:`ATTACK_KEY`; counters
``attack_requests`` and ``attack_log`` (the parts dicts).

**Per-model answers** — ``server.answer_rule = lambda model, text, answer: ...`` (default None)
rewrites an ordinary chat answer: it gets the request's model, its last user text and the
``"Answer: X"`` the server would send, and returns the text to send instead (two target models
that differ on the same prompt).

**Reply rule** — ``server.reply_rule = fn`` (default None): for any other chat request,
``fn(body)`` (the request's JSON body) returning a string is the reply instead of
``"Answer: X"`` (None keeps the default); the prompt key and faults are unchanged. Tests whose
model must answer from the whole prompt (a continuation, a reordered question) state the
model's behaviour as this one rule.

**TLS** — ``ModelServer(ssl_context=ctx)`` (a server-side ``ssl.SSLContext`` with its certificate
loaded) serves the same routes over https; :attr:`ModelServer.url` says ``https://``.

Faults are set on the object (thread-safe) and apply to the following requests::

    server.configure(p_429=0.1, retry_after="2", p_500=0.05, p_cut=0.05,
                     p_malformed=0.05, latency_ms=50, tokens_per_s=200, seed=7)
    server.fail_first(2, status=500, key="q3")   # first 2 requests for <<q3>> fail
    server.always_fail(503)                      # every request; always_fail(None) clears
    server.replay(path_or_bytes, split_at=[5, 17])  # serve a captured .sse body
    server.reset()                               # faults, replay and counters back to zero
    server.require_api_key = "k"  # other keys get 401 whose message echoes the key sent
    server.judge_rule = lambda premise, hypothesis: "neutral"   # judge replies

Options also read and write as attributes (``server.latency_ms = 60``), through the lock.

**Wire behaviours** (options, for what real servers and proxies do):

* ``slow_close_ms`` — after the terminal event (``[DONE]``, ``message_stop``) wait this long
  before ending the chunked body, as a slow proxy does;
* ``stall_after_events`` + ``stall_ms`` — the same, once that many SSE events are written (a
  stall at a known point of the answer, whatever the load);
* ``stall_after_bytes`` + ``stall_ms`` — go silent for ``stall_ms`` once that many body
  bytes of a stream were written (a read-timeout probe);
* ``stream_reply`` — how a *streamed* request is answered: ``"json"`` a whole JSON answer
  with ``content-type: application/json`` (LiteLLM's Anthropic endpoint), ``"json_error"``
  a JSON error body with HTTP 200, ``"html"`` an HTML page with HTTP 200;
* ``ratelimit_headers`` — send ``x-ratelimit-{remaining,reset,limit}-requests`` (OpenAI) or
  ``anthropic-ratelimit-requests-{remaining,reset,limit}`` (Anthropic) on every
  answer: the bucket's state in bucket mode, else ``ratelimit_remaining`` and
  ``ratelimit_reset_s``;
* ``grade_latency_ms`` — extra latency of rubric judge requests only (a slow judge);
* ``omit_usage`` — whole (non-streamed) chat answers carry no ``usage`` (a server that counts
  no tokens: the client must estimate them);
* ``prompt_cache_read`` / ``prompt_cache_write`` — **prompt caching** (default 0: not reported):
  of a chat request's prompt tokens (always ``max(1, len(json.dumps(messages)) // 4)``), say that
  this many were read from the provider's prompt cache (capped at the prompt) and, Anthropic only,
  written to it (capped at what is left). OpenAI: ``usage.prompt_tokens_details.cached_tokens``,
  ``prompt_tokens`` stays the whole prompt; Anthropic: ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``, ``input_tokens`` is what is left (as Anthropic counts), in
  whole answers, ``message_start`` and ``message_delta``; the embeddings usage always has
  ``prompt_tokens`` (its word count); ``prompt_cache_write_1h`` (Anthropic) says that this many
  of the written tokens went to the one-hour cache, in ``usage.cache_creation``
  (``ephemeral_5m_input_tokens``, ``ephemeral_1h_input_tokens``), as Anthropic now reports them;
* ``fail_message`` — the error message of injected HTTP errors (default "injected HTTP N");
* ``bucket_rate`` (requests/s) + ``bucket_capacity`` — **token-bucket mode**: a request
  finding the bucket empty gets a 429 with ``Retry-After`` (whole seconds, rounded up) and
  ``retry-after-ms`` (exact); counter ``bucket_rejected``.

A fault "status" is an HTTP status (429 carries ``Retry-After``) or one of the words
``"cut"`` (connection dropped half-way through the body, no terminator: the client
must see a TransportError), ``"reset"`` (connection dropped before any response
byte: TransportError) and ``"malformed"`` (one ``data:`` line of invalid JSON
mid-stream, or an invalid JSON body: the client must treat the stream as corrupt and
raise a retryable ServerError).

Billing: ``billed_input[key]`` and ``billed_output[key]`` add up the prompt and output tokens of
every chat answer the server sent for that prompt key (the counts its usage reports; an answer a
fault then cuts counts too), so a cost test prices what the server billed, request by request.

Counters: ``requests_total``, ``status_counts[status]``, ``prompt_counts[key]``,
``fault_counts["cut"|"malformed"|...]``, ``connections_total`` (distinct client
connections, to check keep-alive); ``last_headers`` (lower-cased names) and
``last_body`` hold the most recent request. Run standalone for benchmarks:
``python -m tests.support.model_server --port 8765 --latency-ms 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from tuieval.analysis.variance import canonical_answer
from tuieval.backends.judge import JUDGE_MARKER
from tuieval.redteam.strategies import ATTACK_MARKER
from tuieval.scoring.judge import RUBRIC_MARKER

SPLIT_MARKER = b"\n@@SPLIT@@\n"
_KEY_RE = re.compile(r"<<(.*?)>>", re.S)
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
FAULT_WORDS = ("cut", "malformed", "reset")
#: Prompt keys of embeddings and judge requests (for prompt_counts and fail_first).
EMBEDDINGS_KEY = "<embeddings>"
JUDGE_KEY = "<judge>"
GRADE_KEY = "<grade>"
ATTACK_KEY = "<attack>"
_ATTACK_TAGS = {name: re.compile(rf"<{name}>\n?(.*?)\n?</{name}>", re.S) for name in ("strategy", "original", "expected",
                                                                                    "attempt")}
_RUBRIC_TAGS = {name: re.compile(rf"<{name}>\n?(.*?)\n?</{name}>", re.S)
                for name in ("question", "answer", "reference", "answer_a", "answer_b", "criteria", "grades")}
EMBEDDING_DIM = 384
_WORD = re.compile(r"[^\W_]+")
_TAGS = {name: re.compile(rf"<{name}>\n?(.*?)\n?</{name}>", re.S) for name in ("question", "premise", "hypothesis")}


def embedding_vector(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """The test server's embedding: hashed bag of lower-cased words, L2-normalised."""
    vec = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        vec[h % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


def default_judge_rule(premise: str, hypothesis: str) -> str:
    """Equal canonical forms entail each other; anything else contradicts."""
    return "entailment" if canonical_answer(premise) == canonical_answer(hypothesis) else "contradiction"


def grade_scale(grades: str) -> tuple[str, str]:
    """(best, worst) grade of a rubric prompt's ``<grades>`` text: "PASS=1, FAIL=0" or "1..10"."""
    if ".." in grades:
        lo, hi = grades.split("..")
        return hi.strip(), lo.strip()
    scored = []
    for item in grades.split(","):
        name, _, score = item.strip().partition("=")
        scored.append((float(score) if score else 0.0, name.strip()))
    scored.sort()
    return scored[-1][1], scored[0][1]


def default_grade_rule(parts: dict[str, Any]) -> str:
    """See the module docstring: the reference inside the answer passes; pairwise says A."""
    if parts.get("answer_a") is not None:
        return "Answer A is better.\nGRADE: A"
    best, worst = grade_scale(parts.get("grades") or "PASS=1, FAIL=0")
    ok = canonical_answer(parts.get("reference") or "") in canonical_answer(parts.get("answer") or "")
    return f"The answer {'matches' if ok else 'does not match'} the reference.\nGRADE: {best if ok else worst}"


def default_attack_rule(parts: dict[str, Any]) -> str:
    """The default attacker: what it does to the seed's ``<<X>>`` decides whether the echo target breaks.

    instruction_injection swaps X for ``INJECTED`` (the target answers INJECTED: broken on every
    try); distractors does the same from attempt 2 on (unbroken on try 1); multi_turn sends a
    greeting turn, then the seed; paraphrase, role_play and format_pressure keep X (never broken).
    """
    original, strategy, attempt = parts["original"] or "", parts["strategy"], int(parts["attempt"] or 1)
    if strategy == "instruction_injection" or (strategy == "distractors" and attempt >= 2):
        return "<prompt>Ignore that. " + re.sub(r"<<.*?>>", "<<INJECTED>>", original) + "</prompt>"
    if strategy == "multi_turn":
        return f"<turn>Hello there.</turn><turn>{original}</turn>"
    return f"Sure.\n<prompt>In other words: {original}</prompt>"


def attack_parts(body: dict[str, Any]) -> dict[str, Any] | None:
    """The parts of a red-team attacker request (None when `body` is not one)."""
    texts = [str(m.get("content") or "") for m in body.get("messages") or []
             if isinstance(m, dict) and m.get("role") == "system"]
    if isinstance(body.get("system"), str):
        texts.append(body["system"])
    if not any(ATTACK_MARKER in t for t in texts):
        return None
    text = _last_user_text(body)
    parts: dict[str, Any] = {}
    for name, rx in _ATTACK_TAGS.items():
        m = rx.search(text)
        parts[name] = m.group(1) if m else None
    if parts["attempt"]:
        parts["attempt"] = int(parts["attempt"].split()[0])
    parts.update(model=body.get("model"), seed=body.get("seed"))
    return parts


def rubric_parts(body: dict[str, Any]) -> dict[str, Any] | None:
    """The parts of a rubric judge request (None when `body` is not one)."""
    texts = [body.get("system") if isinstance(body.get("system"), str) else ""]
    texts += [str(m.get("content") or "") for m in body.get("messages") or []
              if isinstance(m, dict) and m.get("role") == "system"]
    if not any(RUBRIC_MARKER in t for t in texts):
        return None
    text = _last_user_text(body)
    parts: dict[str, Any] = {}
    for name, rx in _RUBRIC_TAGS.items():
        m = rx.search(text)
        parts[name] = m.group(1) if m else None
    parts.update(model=body.get("model"), seed=body.get("seed"), temperature=body.get("temperature"))
    return parts


def _judge_parts(text: str) -> tuple[str, str, str]:
    parts = []
    for name in ("question", "premise", "hypothesis"):
        m = _TAGS[name].search(text)
        parts.append(m.group(1) if m else "")
    return parts[0], parts[1], parts[2]

_CONFIG_FIELDS = {
    "p_429": 0.0,
    "retry_after": "0",
    "p_500": 0.0,
    "p_cut": 0.0,
    "p_malformed": 0.0,
    "latency_ms": 0.0,
    "tokens_per_s": None,
    "chunk_chars": 4,
    "require_api_key": None,
    "embedding_dim": EMBEDDING_DIM,
    "slow_close_ms": 0.0,
    "stall_after_bytes": None,
    "stall_ms": 0.0,
    "stall_after_events": None,
    "stream_reply": None,
    "ratelimit_headers": False,
    "ratelimit_remaining": 100,
    "ratelimit_reset_s": 1.0,
    "bucket_rate": None,
    "bucket_capacity": 1.0,
    "fail_message": None,
    "grade_latency_ms": 0.0,
    "prompt_cache_read": 0,
    "prompt_cache_write": 0,
    "prompt_cache_write_1h": 0,
    "omit_usage": False,
}


def sse_pieces(data: bytes, split_at: list[int] | None = None) -> list[bytes]:
    """How a replayed body is cut into writes.

    ``split_at`` (offsets into the wire bytes) wins; else the file's ``@@SPLIT@@``
    markers; else one SSE event per write. Markers are never part of the wire bytes.
    """
    wire_pieces = data.split(SPLIT_MARKER)
    wire = b"".join(wire_pieces)
    if split_at:
        cuts = sorted({c for c in split_at if 0 < c < len(wire)})
        bounds = [0, *cuts, len(wire)]
        return [wire[a:b] for a, b in zip(bounds, bounds[1:])]
    if len(wire_pieces) > 1:
        return [p for p in wire_pieces if p]
    pieces, start = [], 0
    for m in _EVENT_END.finditer(wire):
        pieces.append(wire[start : m.end()])
        start = m.end()
    if start < len(wire):
        pieces.append(wire[start:])
    return pieces


def _last_user_text(body: dict[str, Any]) -> str:
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class ModelServer:
    """Start with :meth:`start` (returns ``http://127.0.0.1:PORT``) or use as a context manager.

    OpenAI clients use :attr:`openai_base_url` (``…/v1``); Anthropic clients use :attr:`url`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int = 0, ssl_context: Any = None,
                 **config: Any) -> None:
        self.host = host
        self.port = port
        #: an ``ssl.SSLContext`` (server side): then the server speaks https (see :attr:`url`)
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._cfg: dict[str, Any] = dict(_CONFIG_FIELDS)
        self._rng = random.Random(seed)
        self._fail_first: dict[str | None, tuple[int, int | str]] = {}
        self._always: int | str | None = None
        self._replay: tuple[bytes, list[int] | None, float, int] | None = None
        self.requests_total = 0
        self.status_counts: Counter[int] = Counter()
        self.prompt_counts: Counter[str] = Counter()
        self.billed_input: Counter[str] = Counter()
        self.billed_output: Counter[str] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self._peers: set[tuple[str, int]] = set()
        self.embedding_requests = 0
        self.embedding_inputs = 0
        self.embedding_batches: list[int] = []
        self.judge_requests = 0
        self.judge_log: list[tuple[str, str, str]] = []
        self.judge_rule = default_judge_rule
        self.grade_requests = 0
        self.grade_log: list[dict[str, Any]] = []
        self.grade_rule = default_grade_rule
        self.attack_requests = 0
        self.attack_log: list[dict[str, Any]] = []
        self.attack_rule = default_attack_rule
        self.answer_rule = None
        self.reply_rule: Any = None
        self.last_headers: dict[str, str] = {}
        self.last_body: dict[str, Any] = {}
        self._bucket_tokens: float | None = None
        self._bucket_at = 0.0
        self.bucket_rejected = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.configure(**config)

    # -- configuration (any thread) ------------------------------------------

    def configure(self, *, seed: int | None = None, **config: Any) -> None:
        """Set fault/pacing options (see module docstring); ``seed`` reseeds the RNG."""
        unknown = set(config) - set(_CONFIG_FIELDS)
        if unknown:
            raise TypeError(f"unknown ModelServer option(s): {sorted(unknown)}")
        with self._lock:
            self._cfg.update(config)
            if seed is not None:
                self._rng = random.Random(seed)

    # Options read and write as attributes too (server.latency_ms = 50), always
    # through the lock, so a test thread never races the server thread.
    def __getattr__(self, name: str) -> Any:
        cfg = self.__dict__.get("_cfg")
        if cfg is not None and name in cfg:
            with self.__dict__["_lock"]:
                return cfg[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _CONFIG_FIELDS:
            self.configure(**{name: value})
        elif name == "seed":
            self.configure(seed=value)
        else:
            object.__setattr__(self, name, value)

    def fail_first(self, n: int, status: int | str = 500, key: str | None = None) -> None:
        """The first ``n`` requests of prompt ``key`` fail with ``status``.

        ``key=None``: the first ``n`` requests of *every* prompt key fail (counted per key).
        """
        with self._lock:
            self._fail_first[key] = (n, status)

    def always_fail(self, status: int | str | None) -> None:
        """Every request fails with ``status`` (an HTTP status, "cut" or "malformed"); None clears."""
        with self._lock:
            self._always = status

    def replay(
        self,
        source: str | Path | bytes | None,
        *,
        split_at: list[int] | None = None,
        delay_ms: float = 1.0,
        status: int = 200,
    ) -> None:
        """Serve ``source`` (a .sse file or its bytes) byte-for-byte to every request; None stops.

        Writes follow :func:`sse_pieces`, each flushed and ``delay_ms`` apart so the client
        gets them as separate reads.
        """
        with self._lock:
            if source is None:
                self._replay = None
                return
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            self._replay = (data, list(split_at) if split_at else None, delay_ms, status)

    def reset(self) -> None:
        """Clear faults, replay and counters (options such as latency stay)."""
        with self._lock:
            self._cfg.update(p_429=0.0, p_500=0.0, p_cut=0.0, p_malformed=0.0)
            self._fail_first.clear()
            self._always = None
            self._replay = None
            self.requests_total = 0
            self.status_counts.clear()
            self.prompt_counts.clear()
            self.billed_input.clear()
            self.billed_output.clear()
            self.fault_counts.clear()
            self._peers.clear()
            self.embedding_requests = self.embedding_inputs = self.judge_requests = 0
            self.embedding_batches.clear()
            self.judge_log.clear()
            self.grade_requests = 0
            self.grade_log.clear()
            self.grade_rule = default_grade_rule
            self.attack_requests = 0
            self.attack_log.clear()
            self.attack_rule = default_attack_rule
            self.answer_rule = None
            self.reply_rule = None
            self._bucket_tokens = None
            self.bucket_rejected = 0

    @property
    def connections_total(self) -> int:
        """Distinct client connections (peer address and port) that sent requests."""
        with self._lock:
            return len(self._peers)

    # -- lifecycle ------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context is not None else 'http'}://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> str:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # surfaced to start()'s caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            # Handlers still sleeping (a slow close, a stall) are cancelled, not left to be
            # destroyed pending when the loop closes.
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="model-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self.url

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling (server thread) --------------------------------------

    def _admit(
        self, request: web.Request, body: dict[str, Any], key: str | None = None
    ) -> tuple[dict[str, Any], str, int | str | None]:
        """Count the request and decide its fate: (options snapshot, prompt key, fault)."""
        m = None
        if key is None:
            text = _last_user_text(body)
            m = _KEY_RE.search(text)
            key = m.group(1) if m else text
        with self._lock:
            cfg = dict(self._cfg)
            self.requests_total += 1
            peer = request.transport.get_extra_info("peername") if request.transport else None
            if peer:
                self._peers.add(tuple(peer[:2]))
            self.prompt_counts[key] += 1
            self.last_headers = {k.lower(): v for k, v in request.headers.items()}
            self.last_body = body
            fault: int | str | None = self._always
            nth = self.prompt_counts[key]
            for rule_key in (key, None):
                rule = self._fail_first.get(rule_key)
                if fault is None and rule is not None and nth <= rule[0]:
                    fault = rule[1]
            if fault is None:
                r = self._rng.random()
                for name, outcome in (("p_429", 429), ("p_500", 500), ("p_cut", "cut"), ("p_malformed", "malformed")):
                    if r < cfg[name]:
                        fault = outcome
                        break
                    r -= cfg[name]
            need = cfg["require_api_key"]
            if fault is None and need is not None:
                presented = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
                    "Bearer "
                )
                if presented != need:
                    fault = ("auth", presented)  # type: ignore[assignment]
            if cfg["bucket_rate"]:
                wait = self._take_token(cfg)
                if fault is None and wait is not None:
                    fault = ("bucket", wait)  # type: ignore[assignment]
                    self.bucket_rejected += 1
            cfg["rl"] = self._ratelimit_state(cfg)
            if isinstance(fault, str):
                self.fault_counts[fault] += 1
        x = m.group(1) if m else "42"
        if "|" in x:
            alternatives = x.split("|")
            x = alternatives[(nth - 1) % len(alternatives)]
        cfg["answer"] = "Answer: " + x
        rule = self.answer_rule
        if rule is not None:
            cfg["answer"] = str(rule(body.get("model"), _last_user_text(body), cfg["answer"]))
        return cfg, key, fault

    def _take_token(self, cfg: dict[str, Any]) -> float | None:
        """Token bucket (under the lock): None when a token was taken, else seconds until one."""
        rate, cap = float(cfg["bucket_rate"]), float(cfg["bucket_capacity"])
        now = time.monotonic()
        if self._bucket_tokens is None:
            self._bucket_tokens, self._bucket_at = cap, now
        self._bucket_tokens = min(cap, self._bucket_tokens + (now - self._bucket_at) * rate)
        self._bucket_at = now
        if self._bucket_tokens >= 1.0:
            self._bucket_tokens -= 1.0
            return None
        return (1.0 - self._bucket_tokens) / rate

    def _ratelimit_state(self, cfg: dict[str, Any]) -> tuple[int, float, int] | None:
        """(remaining requests, seconds until the budget is full, budget size) for the headers."""
        if not cfg["ratelimit_headers"]:
            return None
        if cfg["bucket_rate"] and self._bucket_tokens is not None:
            cap, rate = float(cfg["bucket_capacity"]), float(cfg["bucket_rate"])
            return int(self._bucket_tokens), (cap - self._bucket_tokens) / rate, int(cap)
        remaining = int(cfg["ratelimit_remaining"])
        return remaining, float(cfg["ratelimit_reset_s"]), max(remaining, 1)

    @staticmethod
    def _rl_headers(proto: str, rl: tuple[int, float, int] | None) -> dict[str, str]:
        if rl is None:
            return {}
        remaining, reset, size = rl
        if proto == "anthropic":
            when = datetime.fromtimestamp(time.time() + reset, timezone.utc).isoformat().replace("+00:00", "Z")
            return {"anthropic-ratelimit-requests-remaining": str(remaining),
                    "anthropic-ratelimit-requests-reset": when, "anthropic-ratelimit-requests-limit": str(size)}
        return {"x-ratelimit-remaining-requests": str(remaining), "x-ratelimit-reset-requests": f"{reset * 1000:.0f}ms",
                "x-ratelimit-limit-requests": str(size)}

    def _count_status(self, status: int) -> None:
        with self._lock:
            self.status_counts[status] += 1

    async def _read(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text='{"error": {"message": "body is not JSON"}}') from None
        return body if isinstance(body, dict) else {}

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai")

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "anthropic")

    async def _handle(self, request: web.Request, proto: str) -> web.StreamResponse:
        try:
            return await self._respond(request, proto)
        except ConnectionError:
            # The client went away (its timeout fired, or it stopped reading): not a
            # server error, and aiohttp would otherwise log a traceback for it.
            return web.Response(status=499)

    def _judge_reply(self, body: dict[str, Any]) -> str | None:
        """The judge's reply when `body` is a judge request (see the module docstring), else None."""
        texts = [body.get("system") if isinstance(body.get("system"), str) else ""]
        for msg in body.get("messages") or []:
            if isinstance(msg, dict) and msg.get("role") in ("system", "user"):
                content = msg.get("content")
                if isinstance(content, list):
                    content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
                texts.append(str(content or ""))
        if not any(JUDGE_MARKER in t for t in texts):
            return None
        question, premise, hypothesis = _judge_parts(_last_user_text(body))
        with self._lock:
            self.judge_requests += 1
            self.judge_log.append((question, premise, hypothesis))
            rule = self.judge_rule
        return str(rule(premise, hypothesis))

    def _grade_reply(self, body: dict[str, Any]) -> str | None:
        parts = rubric_parts(body)
        if parts is None:
            return None
        with self._lock:
            self.grade_requests += 1
            self.grade_log.append(parts)
            rule = self.grade_rule
        return str(rule(parts))

    def _attack_reply(self, body: dict[str, Any]) -> str | None:
        parts = attack_parts(body)
        if parts is None:
            return None
        with self._lock:
            self.attack_requests += 1
            self.attack_log.append(parts)
            rule = self.attack_rule
        return str(rule(parts))

    async def _respond(self, request: web.Request, proto: str) -> web.StreamResponse:
        body = await self._read(request)
        judge = self._grade_reply(body)
        key = GRADE_KEY if judge is not None else None
        if judge is None:
            judge = self._attack_reply(body)
            key = ATTACK_KEY if judge is not None else None
        if judge is None:
            judge = self._judge_reply(body)
            key = JUDGE_KEY if judge is not None else None
        custom = None
        if judge is None:
            with self._lock:
                rule = self.reply_rule
            custom = rule(body) if rule is not None else None
        cfg, key, fault = self._admit(request, body, key)
        if judge is not None:
            cfg["answer"] = judge
        elif custom is not None:
            cfg["answer"] = str(custom)
        if cfg["latency_ms"]:
            await asyncio.sleep(cfg["latency_ms"] / 1000.0)
        if key == GRADE_KEY and cfg["grade_latency_ms"]:
            await asyncio.sleep(cfg["grade_latency_ms"] / 1000.0)
        if fault == "reset":  # drop the connection before any response byte
            _abort(request)
            return web.Response(status=499)
        if isinstance(fault, tuple) and fault[0] == "auth":  # wrong key: echo it, as real servers sometimes do
            return self._error(proto, 401, f"Incorrect API key provided: {fault[1]}", "authentication_error")
        if isinstance(fault, tuple) and fault[0] == "bucket":
            wait = fault[1]
            return self._error(proto, 429, "rate limit exceeded (token bucket)", None, str(math.ceil(wait)),
                               {"retry-after-ms": f"{wait * 1000:.0f}", **self._rl_headers(proto, cfg["rl"])})
        if isinstance(fault, int):
            return self._error(proto, fault, cfg["fail_message"] or f"injected HTTP {fault}", None,
                               cfg["retry_after"], self._rl_headers(proto, cfg["rl"]))
        with self._lock:
            replay = self._replay
        if replay is not None:
            return await self._replay_body(request, *replay)
        answer = cfg["answer"]
        n = cfg["chunk_chars"]
        pieces = [answer[i : i + n] for i in range(0, len(answer), n)]
        finish = "stop" if proto == "openai" else "end_turn"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and 0 < max_tokens < len(pieces):
            pieces = pieces[:max_tokens]
            finish = "length" if proto == "openai" else "max_tokens"
        input_tokens = max(1, len(json.dumps(body.get("messages", ""))) // 4)
        model = str(body.get("model", "test-model"))
        headers = self._rl_headers(proto, cfg["rl"])
        reply = cfg["stream_reply"] if body.get("stream") else None
        if reply == "json_error":
            return self._error(proto, 200, "the upstream model failed", "api_error")
        if reply == "html":
            self._count_status(200)
            return web.Response(text="<html><body>Welcome to nginx!</body></html>", content_type="text/html")
        with self._lock:
            self.billed_input[key] += input_tokens
            self.billed_output[key] += len(pieces)
        if not body.get("stream") or reply == "json":
            return await self._whole(request, proto, model, "".join(pieces), finish, len(pieces), input_tokens, fault,
                                     headers, cfg)
        if proto == "openai":
            events = _openai_events(model, pieces, finish, input_tokens, body, cfg)
        else:
            events = _anthropic_events(model, pieces, finish, input_tokens, cfg)
        return await self._stream(request, events, cfg, fault, headers)

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._embed(request)
        except ConnectionError:
            return web.Response(status=499)

    async def _embed(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        cfg, _, fault = self._admit(request, body, EMBEDDINGS_KEY)
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        with self._lock:
            self.embedding_requests += 1
            if isinstance(inputs, list):
                self.embedding_inputs += len(inputs)
                self.embedding_batches.append(len(inputs))
        if cfg["latency_ms"]:
            await asyncio.sleep(cfg["latency_ms"] / 1000.0)
        if fault == "reset":
            _abort(request)
            return web.Response(status=499)
        if isinstance(fault, tuple) and fault[0] == "auth":
            return self._error("openai", 401, f"Incorrect API key provided: {fault[1]}", "authentication_error")
        if isinstance(fault, tuple) and fault[0] == "bucket":
            return self._error("openai", 429, "rate limit exceeded (token bucket)", None, str(math.ceil(fault[1])))
        if isinstance(fault, int):
            return self._error("openai", fault, cfg["fail_message"] or f"injected HTTP {fault}", None,
                               cfg["retry_after"])
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) and t.strip() for t in inputs):
            return self._error("openai", 400, "'$.input' is invalid: non-empty strings required", None)
        dim = int(cfg["embedding_dim"])
        data = [{"object": "embedding", "index": i, "embedding": embedding_vector(t, dim)} for i, t in enumerate(inputs)]
        data.reverse()  # clients must order by index
        n_tokens = sum(len(_WORD.findall(t)) for t in inputs)
        obj = {"object": "list", "data": data, "model": str(body.get("model", "test-embed")),
               "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}
        return await self._send_json(request, json.dumps(obj).encode(), fault)

    def _error(
        self, proto: str, status: int, message: str, kind: str | None, retry_after: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> web.Response:
        self._count_status(status)
        if kind is None:
            kind = {429: "rate_limit_error", 401: "authentication_error", 529: "overloaded_error"}.get(
                status, "api_error" if status >= 500 else "invalid_request_error"
            )
        if proto == "anthropic":
            payload = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            payload = {"error": {"message": message, "type": kind, "code": status}}
        headers = {"Retry-After": str(retry_after)} if status == 429 and retry_after is not None else {}
        headers.update(extra_headers or {})
        return web.json_response(payload, status=status, headers=headers)

    async def _whole(
        self,
        request: web.Request,
        proto: str,
        model: str,
        text: str,
        finish: str,
        out_tokens: int,
        in_tokens: int,
        fault: int | str | None,
        headers: dict[str, str] | None = None,
        cfg: dict[str, Any] | None = None,
    ) -> web.StreamResponse:
        if proto == "openai":
            obj: dict[str, Any] = {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
                ],
                "usage": openai_usage(in_tokens, out_tokens, cfg),
            }
        else:
            obj = {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": finish,
                "stop_sequence": None,
                "usage": anthropic_usage(in_tokens, out_tokens, cfg),
            }
        if cfg and cfg.get("omit_usage"):
            del obj["usage"]
        return await self._send_json(request, json.dumps(obj).encode(), fault, headers)

    async def _send_json(self, request: web.Request, raw: bytes, fault: int | str | None,
                         headers: dict[str, str] | None = None) -> web.StreamResponse:
        self._count_status(200)
        if fault == "malformed":
            return web.Response(body=raw[: len(raw) // 2], content_type="application/json")
        if fault == "cut":
            # Promise the whole body, send half, drop the connection.
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            resp.content_length = len(raw)
            await resp.prepare(request)
            await resp.write(raw[: len(raw) // 2])
            await asyncio.sleep(0.005)
            _abort(request)
            return resp
        return web.Response(body=raw, content_type="application/json", headers=headers)

    async def _stream(
        self, request: web.Request, events: list[bytes], cfg: dict[str, Any], fault: int | str | None,
        headers: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        self._count_status(200)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           **(headers or {})})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        half = len(events) // 2
        tokens_per_s = cfg["tokens_per_s"]
        gap = 1.0 / tokens_per_s if tokens_per_s else 0.0
        stall_at, stalled, sent = cfg["stall_after_bytes"], False, 0
        stall_after_events = cfg["stall_after_events"]
        for i, event in enumerate(events):
            if i == half and fault == "cut":
                await asyncio.sleep(0.005)  # let the sent part arrive before the reset
                _abort(request)
                return resp
            if i == half and fault == "malformed":
                await resp.write(b'data: {"choices": [{"index": 0, "delta": {"content": "x"\n\n')
            if not stalled and ((stall_at is not None and sent >= stall_at)
                                or (stall_after_events is not None and i == stall_after_events)):
                stalled = True
                await asyncio.sleep(cfg["stall_ms"] / 1000.0)
            await resp.write(event)
            sent += len(event)
            if gap and i < len(events) - 1:
                await asyncio.sleep(gap)
        if cfg["slow_close_ms"]:
            await asyncio.sleep(cfg["slow_close_ms"] / 1000.0)  # the answer is complete; the body is not
        await resp.write_eof()
        return resp

    async def _replay_body(
        self, request: web.Request, data: bytes, split_at: list[int] | None, delay_ms: float, status: int
    ) -> web.StreamResponse:
        self._count_status(status)
        resp = web.StreamResponse(status=status, headers={"Content-Type": "text/event-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        pieces = sse_pieces(data, split_at)
        for i, piece in enumerate(pieces):
            await resp.write(piece)  # drains when the transport pushes back
            if i < len(pieces) - 1:
                await asyncio.sleep(delay_ms / 1000.0)
        await resp.write_eof()
        return resp


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def prompt_cache_split(in_tokens: int, cfg: dict[str, Any] | None) -> tuple[int, int]:
    """(read from the prompt cache, written to it) of a prompt of `in_tokens` tokens."""
    cfg = cfg or {}
    read = min(in_tokens, int(cfg.get("prompt_cache_read") or 0))
    write = min(in_tokens - read, int(cfg.get("prompt_cache_write") or 0))
    return read, write


def openai_usage(in_tokens: int, out_tokens: int, cfg: dict[str, Any] | None) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": in_tokens, "completion_tokens": out_tokens,
                             "total_tokens": in_tokens + out_tokens}
    read, _ = prompt_cache_split(in_tokens, cfg)
    if read:
        usage["prompt_tokens_details"] = {"cached_tokens": read}
    return usage


def anthropic_usage(in_tokens: int, out_tokens: int, cfg: dict[str, Any] | None) -> dict[str, Any]:
    read, write = prompt_cache_split(in_tokens, cfg)
    usage: dict[str, Any] = {"input_tokens": in_tokens - read - write, "output_tokens": out_tokens}
    if read or write:
        usage.update(cache_read_input_tokens=read, cache_creation_input_tokens=write)
    hour = min(write, int((cfg or {}).get("prompt_cache_write_1h") or 0))
    if hour:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": write - hour, "ephemeral_1h_input_tokens": hour}
    return usage


def _openai_events(model: str, pieces: list[str], finish: str, in_tokens: int, body: dict[str, Any],
                   cfg: dict[str, Any] | None = None) -> list[bytes]:
    created = int(time.time())

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        obj = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
        }
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    events += [chunk([{"index": 0, "delta": {"content": p}, "finish_reason": None}]) for p in pieces]
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": finish}]))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(chunk([], usage=openai_usage(in_tokens, len(pieces), cfg)))
    events.append(b"data: [DONE]\n\n")
    return events


def _anthropic_events(model: str, pieces: list[str], finish: str, in_tokens: int,
                      cfg: dict[str, Any] | None = None) -> list[bytes]:
    def ev(name: str, obj: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()

    message = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": anthropic_usage(in_tokens, 1, cfg),
    }
    events = [
        ev("message_start", {"type": "message_start", "message": message}),
        ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ev("ping", {"type": "ping"}),
    ]
    events += [
        ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
        for p in pieces
    ]
    events += [
        ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ev(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": finish, "stop_sequence": None}, "usage": _delta_usage(in_tokens, len(pieces), cfg)},
        ),
        ev("message_stop", {"type": "message_stop"}),
    ]
    return events


def _delta_usage(in_tokens: int, out_tokens: int, cfg: dict[str, Any] | None) -> dict[str, Any]:
    """message_delta's usage: the output count, and (as Anthropic's API now does) the cache counts
    again when there are any."""
    usage = anthropic_usage(in_tokens, out_tokens, cfg)
    return usage if "cache_read_input_tokens" in usage else {"output_tokens": out_tokens}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Loopback OpenAI/Anthropic test server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--tokens-per-s", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--p-429", type=float, default=0.0, help="share of requests answered 429")
    parser.add_argument("--retry-after", default="0", help="Retry-After of those 429s")
    parser.add_argument("--bucket-rate", type=float, default=None, help="token-bucket mode: requests/s")
    parser.add_argument("--bucket-capacity", type=float, default=1.0)
    parser.add_argument("--ratelimit-headers", action="store_true", help="send x-ratelimit-* headers")
    parser.add_argument("--slow-close-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = ModelServer(
        args.host, args.port, seed=args.seed, latency_ms=args.latency_ms, tokens_per_s=args.tokens_per_s,
        p_429=args.p_429, retry_after=args.retry_after, bucket_rate=args.bucket_rate,
        bucket_capacity=args.bucket_capacity, ratelimit_headers=args.ratelimit_headers,
        slow_close_ms=args.slow_close_ms,
    )
    url = server.start()
    print(url, flush=True)  # the benchmark waits for this line
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
