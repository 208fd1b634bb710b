"""Shared pytest fixtures: the loopback model server lives in tests/support/model_server.py."""

from tests.support.fixtures import *  # noqa: F401,F403  (pytest fixtures)
