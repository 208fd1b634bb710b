"""The price table: US dollars per million input, output and cached-input tokens (and, for
Anthropic, prompt-cache writes: five-minute and one-hour), per model.

The defaults ship in `default_prices.yaml` with the date they were read; `--prices FILE` (same
shape) overrides or adds models. A model spec matches its longest listed prefix, so a dated
snapshot (`openai/gpt-4o-2024-08-06`) takes its family's price and `demo/` covers every
simulated model. A model with no price has no cost (reports say so), never a guessed one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

PER = 1_000_000


class PriceError(ValueError):
    """A price file that cannot be used: the message names the file and the field."""


@dataclass(frozen=True)
class Price:
    """One model's price, in US dollars per million tokens."""

    model: str  # the table entry matched (a prefix of the spec)
    input: float
    output: float
    cached_input: float | None = None  # None: cached prompt tokens cost the input rate
    cache_write: float | None = None   # None: prompt tokens written to the cache cost the input rate
    #: Anthropic's one-hour cache writes (2× input against 1.25× for five minutes); None: the
    #: five-minute write rate (else the input rate), the nearest rate the table does state
    cache_write_1h: float | None = None
    batch_discount: float = 0.0  # share taken off input and output in the provider's batch API
    simulated: bool = False
    source: str = ""
    read_on: str = ""

    def cost(self, input_tokens: int | float | None, output_tokens: int | float | None, *,
             batch: bool = False, cached_tokens: int | float | None = None,
             cache_write_tokens: int | float | None = None,
             cache_write_1h_tokens: int | float | None = None) -> float:
        """Dollars for one request's tokens (missing counts as none).

        `input_tokens` is the whole prompt; `cached_tokens` of it were read from the provider's
        prompt cache (the cached-input rate) and `cache_write_tokens` written to it, of which
        `cache_write_1h_tokens` with the one-hour lifetime (the one-hour write rate; the rest at
        the five-minute write rate); the rest of the prompt is priced at the input rate. The
        batch discount applies to every part (both providers state that their cache prices
        stack with it)."""
        cached = cached_tokens or 0
        written = cache_write_tokens or 0
        hour = min(cache_write_1h_tokens or 0, written)
        plain = max(0.0, (input_tokens or 0) - cached - written)
        return self._dollars(plain, cached, written, hour, output_tokens or 0, batch)

    def cost_arrays(self, input_tokens, output_tokens, cached_tokens, cache_write_tokens, cache_write_1h_tokens, *,
                    batch: bool = False):
        """`cost` of many requests at once, given numpy arrays with no missing counts (tokens as
        floats or integers): element for element the same float `cost` returns, the same
        operations in the same order (the cost section prices 100,000 cases this way)."""
        import numpy as np

        hour = np.minimum(cache_write_1h_tokens, cache_write_tokens)
        rest = input_tokens - cached_tokens - cache_write_tokens
        plain = np.where(rest > 0.0, rest, 0.0)  # max(0.0, rest): 0.0 unless above it (NaN too)
        return self._dollars(plain, cached_tokens, cache_write_tokens, hour, output_tokens, batch)

    def _dollars(self, plain, cached, written, hour, output, batch: bool):
        """The price arithmetic of `cost` and `cost_arrays` (floats or numpy arrays alike)."""
        write_5m = self.input if self.cache_write is None else self.cache_write
        write_1h = write_5m if self.cache_write_1h is None else self.cache_write_1h
        dollars = (plain * self.input
                   + cached * (self.input if self.cached_input is None else self.cached_input)
                   + (written - hour) * write_5m + hour * write_1h
                   + output * self.output) / PER
        return dollars * (1.0 - self.batch_discount) if batch else dollars

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PriceTable:
    """Model prefix → Price; `lookup` takes a full model spec (provider/model)."""

    prices: dict[str, Price]

    def lookup(self, spec: str | None) -> Price | None:
        if not spec:
            return None
        best = None
        for prefix, price in self.prices.items():
            if spec.startswith(prefix) and (best is None or len(prefix) > len(best.model)):
                best = price
        return best


def _number(value: Any, where: str, *, required: bool) -> float | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PriceError(f"{where}: expected a price in dollars per million tokens (a number ≥ 0), got {value!r}")
    return float(value)


def parse_table(data: Any, origin: str, base: dict[str, Price] | None = None) -> dict[str, Price]:
    """The entries of one price file (validated), laid over `base`."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise PriceError(f"{origin}: models: expected a mapping of model → {{input, output, cached_input}}")
    discounts = data.get("batch_discount") or {}
    if not isinstance(discounts, dict):
        raise PriceError(f"{origin}: batch_discount: expected a mapping of provider → share (0.5 = half price)")
    for provider, share in discounts.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1:
            raise PriceError(f"{origin}: batch_discount.{provider}: expected a share in [0, 1), got {share!r}")
    out = dict(base or {})
    for model, entry in data["models"].items():
        where = f"{origin}: models.{model}"
        if not isinstance(model, str) or "/" not in model:
            raise PriceError(f"{where}: expected a model spec provider/model (or a provider/ prefix)")
        if not isinstance(entry, dict):
            raise PriceError(f"{where}: expected {{input, output, cached_input}}")
        unknown = set(entry) - {"input", "output", "cached_input", "cache_write", "cache_write_1h", "simulated"}
        if unknown:
            raise PriceError(f"{where}.{sorted(unknown)[0]}: unknown field (input, output, cached_input, "
                             "cache_write, cache_write_1h)")
        out[model] = Price(
            model=model,
            input=_number(entry.get("input"), f"{where}.input", required=True),
            output=_number(entry.get("output"), f"{where}.output", required=True),
            cached_input=_number(entry.get("cached_input"), f"{where}.cached_input", required=False),
            cache_write=_number(entry.get("cache_write"), f"{where}.cache_write", required=False),
            cache_write_1h=_number(entry.get("cache_write_1h"), f"{where}.cache_write_1h", required=False),
            batch_discount=float(discounts.get(model.split("/", 1)[0], 0.0)),
            simulated=bool(entry.get("simulated", False)),
            source=str(data.get("source") or origin),
            read_on=str(data.get("read_on") or ""),
        )
    return out


_DEFAULT_PRICES: dict[str, Price] | None = None


def default_table() -> PriceTable:
    """The shipped prices. Read and parsed once per process (a run asks for them before its first
    request and again for its report), with libyaml's parser when it is there; every caller gets
    its own dict over the same frozen Price entries."""
    global _DEFAULT_PRICES
    if _DEFAULT_PRICES is None:
        # beside this module (importlib.resources would import zipfile's machinery for it)
        text = (Path(__file__).parent / "default_prices.yaml").read_text(encoding="utf-8")
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        _DEFAULT_PRICES = parse_table(data, "default_prices.yaml")
    return PriceTable(dict(_DEFAULT_PRICES))


def load_table(path: str | None = None) -> PriceTable:
    """The shipped prices, with the entries of `path` (a YAML price file) laid over them."""
    table = default_table()
    if path is None:
        return table
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceError(f"{path}: cannot read the price file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise PriceError(f"{path}:{line} not valid YAML") from None
    return PriceTable(parse_table(data, path, table.prices))


def price_from_json(data: dict[str, Any] | None) -> Price | None:
    """A Price stored with a run (`runs.config.price`)."""
    if not data:
        return None
    return Price(**{k: data[k] for k in Price.__dataclass_fields__ if k in data})
