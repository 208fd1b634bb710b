"""aiohttp imported without loading the system's CA bundle into two contexts tuieval never uses.

``aiohttp.connector`` makes two default TLS contexts when it is imported (its verified and its
unverified default, ``_SSL_CONTEXT_VERIFIED`` / ``_SSL_CONTEXT_UNVERIFIED``), and each one's
``set_default_verify_paths`` parses the whole system bundle: with OpenSSL 3 about 50 ms of CPU
apiece, a quarter of a one-request run's time to its first request (benchmarks/README.md, "The
harness out of the way, sixth pass"). tuieval's own requests never use them: the aiohttp pool
passes its own context for every https request (``AiohttpPool._ssl_context``: certifi's bundle, or
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``) and follows no redirects, and the httpx client builds its own
through httpx. The one path that can still reach them, a TLS proxy behind the httpx client, goes
through :func:`tuieval.backends.http.make_client`, which calls :func:`load_deferred_verify_paths`
first.

So while *this thread* imports aiohttp, a context's ``set_default_verify_paths`` is noted instead
of run; :func:`load_deferred_verify_paths` runs it later on every context so noted. Until then such
a context trusts no certificate at all — a verified connection through it fails, it never goes
unchecked. Other threads' contexts are untouched; if aiohttp was imported already, nothing is
deferred.
"""

from __future__ import annotations

import ssl
import sys
import threading
from types import ModuleType

__all__ = ["import_aiohttp", "load_deferred_verify_paths", "deferred_contexts"]

_NAME = "set_default_verify_paths"
#: held while aiohttp is being imported with the deferral on, and while the deferred are loaded
_lock = threading.Lock()
_deferred: list[ssl.SSLContext] = []


def deferred_contexts() -> int:
    """How many contexts still wait for their verify paths (for tests)."""
    with _lock:
        return len(_deferred)


def import_aiohttp() -> ModuleType:
    """``import aiohttp``, its import-time contexts' CA loading deferred (see the module docstring).
    Raises ImportError as the import would."""
    module = sys.modules.get("aiohttp")
    if module is not None:
        return module
    with _lock:
        if "aiohttp" in sys.modules:  # another thread imported it while this one waited
            return sys.modules["aiohttp"]
        importing = threading.get_ident()
        real = getattr(ssl.SSLContext, _NAME)
        own = ssl.SSLContext.__dict__.get(_NAME)  # None: inherited from _ssl._SSLContext

        def note(self: ssl.SSLContext) -> None:
            if threading.get_ident() != importing:
                return real(self)
            _deferred.append(self)
            return None

        setattr(ssl.SSLContext, _NAME, note)
        try:
            import aiohttp
        finally:
            if own is None:
                delattr(ssl.SSLContext, _NAME)
            else:  # pragma: no cover - no CPython defines it on the Python class
                setattr(ssl.SSLContext, _NAME, own)
        return aiohttp


def load_deferred_verify_paths() -> None:
    """Give every context whose CA loading was deferred its default verify paths (idempotent)."""
    with _lock:
        while _deferred:
            _deferred.pop().set_default_verify_paths()
