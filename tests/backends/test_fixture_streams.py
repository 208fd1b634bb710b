"""Every captured transcript in tests/fixtures/streams, served byte-for-byte over HTTP.

Expected values come from each transcript's .json sidecar. Each file is served as
recorded (its @@SPLIT@@ writes, else one event per write), then again with the
bytes cut into writes at seeded offsets that include cuts inside multi-byte UTF-8
characters and between a CR and its LF.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.support.fixtures import STREAMS_DIR, stream_files
from tests.support.model_server import SPLIT_MARKER, ModelServer
from tuieval.backends.anthropic import AnthropicBackend
from tuieval.backends.base import BackendError, ChatRequest, ChatResult, Timeouts
from tuieval.backends.http import make_client
from tuieval.backends.openai import OpenAIBackend

TRANSCRIPTS = stream_files("*.json")
TIMEOUTS = Timeouts(connect=2, read=5, total=20)


def _expect(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _backend(protocol: str, server: ModelServer, client):
    if protocol == "anthropic":
        return AnthropicBackend("anthropic/test", "test", server.url, "sk-ant-test-key", client, TIMEOUTS)
    assert protocol == "openai"
    return OpenAIBackend("openai/test", "test", server.openai_base_url, "sk-test-key", client, TIMEOUTS)


def _offset_sets(wire: bytes, seed: str) -> list[list[int]]:
    """Three sets of write boundaries; the first cuts inside UTF-8 characters and CRLFs."""
    rng = random.Random(seed)
    inside_chars = [i for i, b in enumerate(wire) if 0x80 <= b <= 0xBF]  # continuation bytes
    inside_crlf = [i + 1 for i in range(len(wire) - 1) if wire[i : i + 2] == b"\r\n"]
    special = rng.sample(inside_chars, min(6, len(inside_chars))) + rng.sample(inside_crlf, min(6, len(inside_crlf)))
    sets = [sorted(set(special + rng.sample(range(1, len(wire)), 6)))]
    for _ in range(2):
        sets.append(sorted(rng.sample(range(1, len(wire)), min(10, len(wire) - 1))))
    return sets


async def _run(backend, expect: dict) -> tuple[ChatResult | None, BackendError | None, list[str]]:
    deltas: list[str] = []
    request = ChatRequest([{"role": "user", "content": "hi"}])
    try:
        return await backend.complete(request, deltas.append), None, deltas
    except BackendError as exc:
        return None, exc, deltas


def _check(expect: dict, result: ChatResult | None, error: BackendError | None, deltas: list[str]) -> None:
    name = expect["name"]
    if expect["expected_error"]:
        assert result is None, f"{name}: an error transcript must fail, got {result!r}"
        assert error is not None and error.retryable, f"{name}: {error!r}"
        assert error.partial_text == expect["expected_text"], name
        assert "".join(deltas) == expect["expected_text"], name
        return
    assert error is None, f"{name}: unexpected {error!r}"
    assert result is not None
    assert result.text == expect["expected_text"], name
    assert "".join(deltas) == expect["expected_text"], name
    if expect["expected_output_tokens"] is not None:
        assert result.output_tokens == expect["expected_output_tokens"], name
    if expect.get("finish_reason"):
        assert result.finish_reason == expect["finish_reason"], name
    if expect.get("reasoning_chars"):
        assert len(result.reasoning) == expect["reasoning_chars"], name
        assert result.reasoning not in result.text, name
    else:
        assert result.reasoning == "", name
    assert result.ttft_ms is not None and 0 <= result.ttft_ms <= result.latency_ms, name


@pytest.mark.parametrize("sidecar", TRANSCRIPTS, ids=lambda p: p.stem)
async def test_transcript_served_byte_for_byte(sidecar: Path, model_server: ModelServer) -> None:
    expect = _expect(sidecar)
    sse = sidecar.with_suffix(".sse")
    client = make_client(TIMEOUTS)
    backend = _backend(expect["protocol"], model_server, client)
    try:
        model_server.replay(sse, delay_ms=0.5)
        _check(expect, *await _run(backend, expect))

        wire = sse.read_bytes().replace(SPLIT_MARKER, b"")
        for offsets in _offset_sets(wire, sidecar.stem):
            model_server.replay(sse, split_at=offsets, delay_ms=0.5)
            _check(expect, *await _run(backend, expect))
    finally:
        await backend.aclose()
    assert model_server.requests_total == 4


def test_every_transcript_has_a_protocol_and_the_set_is_complete() -> None:
    # Guards against the glob silently matching nothing (wrong path) or a new protocol.
    assert len(TRANSCRIPTS) >= 21
    assert {_expect(p)["protocol"] for p in TRANSCRIPTS} == {"openai", "anthropic"}


async def test_replay_sends_wire_bytes_without_markers_in_separate_writes(model_server: ModelServer) -> None:
    """The test server itself: marker bytes never reach the client, and the bytes are exact."""
    import hashlib

    import httpx

    sidecar = STREAMS_DIR / "openai-text_usage-split.json"
    expect = _expect(sidecar)
    model_server.replay(sidecar.with_suffix(".sse"), delay_ms=2)
    reads = []
    async with httpx.AsyncClient() as client:
        async with client.stream("POST", model_server.openai_base_url + "/chat/completions", json={}) as resp:
            async for chunk in resp.aiter_raw():
                reads.append(chunk)
    wire = b"".join(reads)
    assert hashlib.sha256(wire).hexdigest() == expect["wire_sha256"]
    assert len(wire) == expect["wire_bytes"]
    assert b"@@SPLIT@@" not in wire
    assert len(reads) > 10  # arrived as separate reads, not one buffer
