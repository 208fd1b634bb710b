"""The collector pause around a report build: nested pauses end with the outermost, an error
inside still resumes it, and a collector that was off before stays off."""

from __future__ import annotations

import gc

import pytest

from tuieval.report.gc_pause import paused_gc


def test_nested_pauses_resume_once_the_outermost_ends():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer build is still running
    assert gc.isenabled()


def test_an_error_inside_still_resumes_the_collector():
    with pytest.raises(RuntimeError):
        with paused_gc():
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
