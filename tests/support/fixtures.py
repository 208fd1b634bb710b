"""Pytest fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.model_server import ModelServer

#: The captured SSE transcripts shared by the team (../shared/fixtures/streams from the repo root).
STREAMS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "streams"


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    """A started loopback model server (see tests/support/model_server.py), stopped after the test."""
    server = ModelServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fixture_streams_dir() -> Path:
    """The captured SSE transcripts shared by the team (../shared/fixtures/streams)."""
    return STREAMS_DIR
