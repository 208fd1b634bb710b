"""aiohttp imported through tuieval loads no CA bundle into its two default TLS contexts (they
serve no tuieval request), the httpx client gives them their bundle, and https still verifies.

Each check runs in a fresh interpreter: in this process the loopback server imported aiohttp
already, so nothing would be deferred here. ``SSL_CERT_FILE`` names a file with exactly one
certificate (made by the openssl command line), so a loaded context holds 1 CA and an unloaded
one 0.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.model_server import ModelServer
from tests.support.suites import write_echo_suite

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (a P-256 key: made in milliseconds)."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return cert, key


def _env(cert: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    if cert is not None:
        env["SSL_CERT_FILE"] = str(cert)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _python(code: str, cert: Path) -> list:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(cert), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


_STATS = ("import json, ssl, aiohttp.connector as c\n"
          "from tuieval.backends.aiohttp_import import deferred_contexts\n"
          "n = lambda ctx: ctx.cert_store_stats()['x509_ca']\n"
          "print(json.dumps([n(c._SSL_CONTEXT_VERIFIED), n(c._SSL_CONTEXT_UNVERIFIED), deferred_contexts(),\n"
          "                  n(ssl.create_default_context()), 'set_default_verify_paths' in ssl.SSLContext.__dict__]))")


def test_importing_the_backends_loads_no_ca_bundle_into_aiohttps_default_contexts(certificate):
    cert, _ = certificate
    got = _python("import tuieval.backends.http\n" + _STATS, cert)
    # aiohttp's two contexts are empty and noted; a context made afterwards loads as ever (1 CA),
    # and ssl.SSLContext has its own method back (nothing left patched)
    assert got == [0, 0, 2, 1, False]


def test_the_httpx_client_gives_aiohttps_default_contexts_their_bundle(certificate):
    # behind the httpx client (a proxy is set) aiohttp's defaults may serve a TLS proxy
    cert, _ = certificate
    got = _python("from tuieval.backends.http import make_client\nfrom tuieval.backends.base import Timeouts\n"
                  "make_client(Timeouts())\n" + _STATS, cert)
    assert got == [1, 1, 0, 1, False]


def test_aiohttp_imported_before_tuieval_is_left_as_it_was(certificate):
    cert, _ = certificate
    got = _python("import aiohttp\nimport tuieval.backends.http\n" + _STATS, cert)
    assert got == [1, 1, 0, 1, False]


@pytest.fixture
def tls_server(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with ModelServer(ssl_context=context) as server:
        yield server


def _run(tmp_path: Path, server: ModelServer, cert: Path | None, name: str) -> tuple[int, list[dict], str]:
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / f"{name}.db"
    proc = subprocess.run([sys.executable, "-m", "tuieval", "run", str(suite), "--model", "openai-compatible/m",
                           "--base-url", server.openai_base_url, "--quiet", "--max-retries", "0", "--db", str(db)],
                          capture_output=True, text=True, env=_env(cert), cwd=ROOT)
    export = subprocess.run([sys.executable, "-m", "tuieval", "export", "latest", "--db", str(db)],
                            capture_output=True, text=True, env=_env(cert), cwd=ROOT, check=True)
    return proc.returncode, [json.loads(line) for line in export.stdout.splitlines()], proc.stderr


def test_a_run_over_https_verifies_the_servers_certificate(tmp_path, tls_server, certificate):
    cert, _ = certificate
    assert tls_server.url.startswith("https://")
    code, samples, _ = _run(tmp_path, tls_server, cert, "trusted")
    assert code == 0 and len(samples) == 2
    assert all(s["error"] is None and s["correct"] for s in samples)
    # without the certificate among the trusted ones the server is refused: the run stops
    # (exit 2, "cannot reach"), nothing stored, and no request of it was answered
    code, samples, err = _run(tmp_path, tls_server, None, "untrusted")
    assert code == 2 and samples == []
    # named for what it is (the self-signed certificate), not as errno 1's "operation not permitted"
    assert "TLS certificate not trusted: self-signed certificate" in err and "not permitted" not in err
    assert tls_server.requests_total == 2


def test_an_untrusted_certificate_is_named_through_httpx_too(tls_server):
    """The httpx client (the proxy path) wraps the same handshake failure in its ConnectError."""
    import asyncio

    import httpx

    from tuieval.backends.classify import map_exception

    async def attempt():
        async with httpx.AsyncClient(verify=ssl.create_default_context()) as client:
            await client.get(tls_server.url)

    with pytest.raises(httpx.ConnectError) as raised:
        asyncio.run(attempt())
    error = map_exception(raised.value)
    assert error is not None and error.kind == "connect" and error.unreachable
    assert str(error).startswith("TLS certificate not trusted: self-signed certificate")
