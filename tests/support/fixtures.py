"""Pytest fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.model_server import ModelServer

#: The repository root: nothing a test reads lies above it.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The captured SSE transcripts, kept in the repository (see its README.md).
STREAMS_DIR = REPO_ROOT / "tests" / "fixtures" / "streams"


def nonempty_glob(directory: Path, pattern: str) -> list[Path]:
    """The sorted files in `directory` matching `pattern`; raises when there are none.

    Parametrizing a test over an empty list collects nothing and passes silently (a
    moved folder would hide every test it feeds), so a pattern that matches no file is
    an error at collection time, naming the folder and the pattern.
    """
    found = sorted(directory.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no file matches {pattern!r} in {directory}: the fixtures are missing")
    return found


def stream_files(pattern: str) -> list[Path]:
    """The captured transcripts matching `pattern` (e.g. "*.sse"), never an empty list."""
    return nonempty_glob(STREAMS_DIR, pattern)


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
    """The captured SSE transcripts (tests/fixtures/streams)."""
    return STREAMS_DIR
