"""Which client a backend sends through: aiohttp directly, unless a proxy is configured."""

from __future__ import annotations

import pytest

from tuieval.backends.base import Timeouts
from tuieval.backends.http import AiohttpPool, make_pool


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_routes_requests_through_httpx(monkeypatch, variable):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(make_pool(Timeouts()), AiohttpPool)
    monkeypatch.setenv(variable, "http://proxy.invalid:3128")
    client = make_pool(Timeouts())
    # httpx honours the proxy variables; aiohttp used directly would not
    assert not isinstance(client, AiohttpPool) and type(client).__name__ == "AsyncClient"

