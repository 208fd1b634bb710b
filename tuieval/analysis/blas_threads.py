"""One BLAS thread while the analysis runs: its matrix products are small, and a second thread costs more than it gives.

numpy's OpenBLAS splits a product over every core. The analysis's products (discovery's slice
sums over 50,000 items, the lexical tier's pair similarities) take milliseconds, and on a busy
machine the thread that waits for its helper spins: at a million samples under load 7, discovery
took 0.14–0.89 CPU s (and up to 3 s of wall) with two threads, 0.12–0.20 s with one, on the same
inputs. One thread gives the same bytes here (the report hashed the same either way), since these
products are split by rows of the output, not along the summed axis.

`one_thread()` sets OpenBLAS to one thread for the block and puts the count back after the last
block still open ends (nested and concurrent blocks share one count). It does nothing when numpy
carries no OpenBLAS it can find (another BLAS, another platform's layout): the products are the
same, only slower or faster.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from contextlib import contextmanager
from typing import Iterator

_LOCK = threading.Lock()
_OPEN = 0            # blocks open now
_SAVED: int | None = None
_LIB: tuple | None = None   # (set, get) once looked for; (None, None) when there is none


def _functions() -> tuple:
    global _LIB
    if _LIB is None:
        _LIB = (None, None)
        try:
            import numpy as np

            here = os.path.dirname(np.__file__)
            paths = sorted(glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))
                           + glob.glob(os.path.join(here, ".dylibs", "*openblas*")))
            for path in paths:
                lib = ctypes.CDLL(path)   # the copy numpy loaded: the same file is opened once
                for suffix in ("64_", "_64_", ""):
                    setter = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None) or \
                        getattr(lib, f"openblas_set_num_threads{suffix}", None)
                    getter = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None) or \
                        getattr(lib, f"openblas_get_num_threads{suffix}", None)
                    if setter is not None and getter is not None:
                        setter.restype, getter.restype = None, ctypes.c_int
                        setter.argtypes = [ctypes.c_int]
                        _LIB = (setter, getter)
                        return _LIB
        except (OSError, ImportError, AttributeError):
            pass
    return _LIB


def threads() -> int | None:
    """OpenBLAS's thread count now (None when it was not found)."""
    _, getter = _functions()
    return None if getter is None else int(getter())


@contextmanager
def one_thread() -> Iterator[None]:
    """OpenBLAS on one thread inside the block (see the module's docstring)."""
    global _OPEN, _SAVED
    setter, getter = _functions()
    if setter is None:
        yield
        return
    with _LOCK:
        if _OPEN == 0:
            _SAVED = int(getter())
            if _SAVED != 1:
                setter(1)
        _OPEN += 1
    try:
        yield
    finally:
        with _LOCK:
            _OPEN -= 1
            if _OPEN == 0 and _SAVED is not None and _SAVED != 1:
                setter(_SAVED)
