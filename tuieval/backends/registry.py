"""Turn a model spec (`provider/model`) into a backend, with keys and base URLs from the environment.

Base URLs follow the official SDKs: OPENAI_BASE_URL includes the version
(https://api.openai.com/v1), ANTHROPIC_BASE_URL does not (https://api.anthropic.com).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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

    from tuieval.backends.http import make_pool

    endpoint = resolve_endpoint(spec, base_url, api_key_env=api_key_env)
    client = make_pool(timeouts, max_connections=max_connections)
    if provider == "anthropic":
        from tuieval.backends.anthropic import AnthropicBackend

        return AnthropicBackend(spec, model, endpoint.base_url, endpoint.api_key, client, timeouts)
    from tuieval.backends.openai import OpenAIBackend

    return OpenAIBackend(spec, model, endpoint.base_url, endpoint.api_key, client, timeouts)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call a model: provider, model name, base URL, key (never printed)."""

    spec: str
    provider: str
    model: str
    base_url: str
    api_key: str | None = None

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"Endpoint(spec={self.spec!r}, base_url={self.base_url!r})"


def resolve_endpoint(spec: str, base_url: str | None = None, *, api_key_env: str | None = None,
                     field: str = "--model", purpose: str = "chat") -> Endpoint:
    """Provider, model, base URL and key for `spec`, as `registry.create_backend` finds them.

    `field` names the setting in error messages (e.g. ``variance.judge``); `purpose` is
    "chat" or "embeddings" (anthropic has no embeddings endpoint).  Raises
    BackendConfigError with a one-line message naming `field`.
    """
    try:
        provider, model = parse_spec(spec)
    except BackendConfigError as exc:
        raise BackendConfigError(f"{field}: {str(exc).removeprefix('--model: ')}") from None
    if provider == "demo":
        what = "an embeddings model" if purpose == "embeddings" else "a judge"
        raise BackendConfigError(f"{field}: {spec} is a simulated demo model, not {what}; "
                                 f"name a real model (e.g. "
                                 f"{'openai/text-embedding-3-small' if purpose == 'embeddings' else 'openai/gpt-4o-mini'})")
    if purpose == "embeddings" and provider == "anthropic":
        raise BackendConfigError(f"{field}: anthropic has no embeddings endpoint "
                                 "(use openai, ollama, vllm or openai-compatible)")
    if provider == "anthropic":
        env = api_key_env or "ANTHROPIC_API_KEY"
        key = os.environ.get(env) or None
        url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
        if not key and "api.anthropic.com" in url:
            raise BackendConfigError(f"{field}: {env} is not set (needed for {spec})")
        return Endpoint(spec, provider, model, url.rstrip("/"), key)

    env = api_key_env or "OPENAI_API_KEY"
    key = os.environ.get(env) or None
    if provider == "openai":
        url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        if not key and "api.openai.com" in url:
            raise BackendConfigError(f"{field}: {env} is not set (needed for {spec})")
    elif provider == "ollama":
        url = base_url or os.environ.get("OLLAMA_BASE_URL") or "http://localhost:11434/v1"
        key = key if api_key_env else None
    elif provider == "vllm":
        url = base_url or os.environ.get("VLLM_BASE_URL") or "http://localhost:8000/v1"
        key = key if api_key_env else None
    else:  # openai-compatible
        url = base_url
        if not url:
            hint = "--base-url" if field == "--model" else "variance.base_url"
            raise BackendConfigError(f"{field}: {spec} needs a base URL (set {hint}, e.g. http://localhost:8000/v1)")
    if api_key_env and not key:
        flag = "--api-key-env" if field == "--model" else field
        raise BackendConfigError(f"{flag}: environment variable {api_key_env} is not set")
    return Endpoint(spec, provider, model, url.rstrip("/"), key)
