"""The analysis's BLAS on one thread: set inside the block, put back after the last open block."""

from __future__ import annotations

import threading

import pytest

from tuieval.analysis import blas_threads


def test_one_thread_inside_and_the_count_put_back_after_the_last_block():
    before = blas_threads.threads()
    if before is None:
        pytest.skip("numpy's BLAS here is not an OpenBLAS this module finds")
    setter, _ = blas_threads._functions()
    setter(3)   # a count of its own, so that "put back" is told from "left at the default"
    try:
        inside = threading.Event()
        leave = threading.Event()
        seen = []

        def other():
            with blas_threads.one_thread():
                inside.set()
                leave.wait(10)
                seen.append(blas_threads.threads())

        with blas_threads.one_thread():
            assert blas_threads.threads() == 1
            t = threading.Thread(target=other)
            t.start()
            inside.wait(10)
        # this block closed while the other thread's is still open: still one thread
        assert blas_threads.threads() == 1
        leave.set()
        t.join(10)
        assert seen == [1] and blas_threads.threads() == 3
    finally:
        setter(before)
