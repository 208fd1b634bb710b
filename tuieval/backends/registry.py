"""Turn a model spec (`provider/model`) into a backend, with keys and base URLs from the environment.

Base URLs follow the official SDKs: OPENAI_BASE_URL includes the version
(https://api.openai.com/v1), ANTHROPIC_BASE_URL does not (https://api.anthropic.com).
"""

from __future__ import annotations

import os

from tuieval.backends.base import ModelBackend, Timeouts

PROVIDERS = ("openai", "anthropic", "ollama", "vllm", "openai-compatible", "demo")


class BackendConfigError(ValueError):
    """A model spec or its settings cannot work; the message names the flag or variable."""


def parse_spec(spec: str) -> tuple[str, str]:
    provider, sep, model = (spec or "").partition("/")
    if not sep or not provider or not model:
        raise BackendConfigError(f"--model: expected provider/model (e.g. demo/steady, openai/gpt-4o-mini), got {spec!r}")
    if provider not in PROVIDERS:
        raise BackendConfigError(f"--model: unknown provider {provider!r} (one of: {', '.join(PROVIDERS)})")
    return provider, model


def create_backend(
    spec: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeouts: Timeouts | None = None,
    max_connections: int = 100,
) -> ModelBackend:
    """Build the backend for `spec`. Raises BackendConfigError for anything the user must fix."""
    provider, model = parse_spec(spec)
    timeouts = timeouts or Timeouts()
    if provider == "demo":
        from tuieval.backends.demo import PROFILES, DemoBackend

        if model not in PROFILES:
            raise BackendConfigError(f"--model: unknown demo model {model!r} (one of: {', '.join('demo/' + p for p in PROFILES)})")
        return DemoBackend(spec, model)

    from tuieval.backends.http import make_client

    if provider == "anthropic":
        from tuieval.backends.anthropic import AnthropicBackend

        env = api_key_env or "ANTHROPIC_API_KEY"
        key = os.environ.get(env)
        url = (base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com").rstrip("/")
        if not key and "api.anthropic.com" in url:
            raise BackendConfigError(f"{env} is not set (needed for --model {spec})")
        client = make_client(timeouts, max_connections=max_connections)
        return AnthropicBackend(spec, model, url, key, client, timeouts)

    from tuieval.backends.openai import OpenAIBackend

    env = api_key_env or "OPENAI_API_KEY"
    key = os.environ.get(env)
    if provider == "openai":
        url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        if not key and "api.openai.com" in url:
            raise BackendConfigError(f"{env} is not set (needed for --model {spec})")
    elif provider == "ollama":
        url = base_url or os.environ.get("OLLAMA_BASE_URL") or "http://localhost:11434/v1"
        key = key if api_key_env else None
    elif provider == "vllm":
        url = base_url or os.environ.get("VLLM_BASE_URL") or "http://localhost:8000/v1"
        key = key if api_key_env else None
    else:  # openai-compatible
        url = base_url
        if not url:
            raise BackendConfigError(f"--base-url is required for --model {spec}")
    if api_key_env and not key:
        raise BackendConfigError(f"--api-key-env: environment variable {api_key_env} is not set")
    client = make_client(timeouts, max_connections=max_connections)
    return OpenAIBackend(spec, model, url.rstrip("/"), key, client, timeouts)
