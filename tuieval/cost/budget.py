"""`--max-cost`: the spending limit a run stops at, cleanly (partial, resumable).

A request is admitted only while what has been spent, plus what the requests already in flight
are expected to cost, stays under the limit. With one request in flight at a time the run
therefore stops within one request's cost of the limit; with c in flight, within c requests'.
The expected cost of a request is the mean of those finished so far (before the first one
finishes, one request at a time is let through, so the first measured cost sets the pace).
A response without token counts is costed from its text (about four characters a token) and
counted as estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuieval.cost.prices import Price

CHARS_PER_TOKEN = 4.0


def tokens_from_text(text: str | None) -> int:
    """A rough token count for text a server did not count (OpenAI's rule of thumb: ~4 characters)."""
    return int(round(len(text or "") / CHARS_PER_TOKEN))


@dataclass
class Budget:
    """Dollars spent against `limit` by one run (including what its stored samples cost)."""

    limit: float
    price: Price
    batch: bool = False
    spent: float = 0.0
    n_costed: int = 0
    n_estimated: int = 0
    in_flight: int = 0
    _mean: float | None = field(default=None, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.limit

    def admit(self) -> bool:
        """Whether one more request may be sent now; if so it is counted as in flight."""
        if self._mean is None:
            ok = self.in_flight == 0 and self.spent < self.limit
        else:
            ok = self.spent + (self.in_flight + 1) * self._mean <= self.limit or (
                self.in_flight == 0 and self.spent < self.limit)
        if ok:
            self.in_flight += 1
        return ok

    def settle(self, input_tokens: int | None, output_tokens: int | None, *, prompt_text: str = "",
               answer_text: str | None = None, admitted: bool = True, cached_tokens: int | None = None,
               cache_write_tokens: int | None = None, cache_write_1h_tokens: int | None = None) -> float:
        """Count one finished request's cost; returns it."""
        if admitted and self.in_flight > 0:
            self.in_flight -= 1
        estimated = input_tokens is None or output_tokens is None
        if input_tokens is None:
            input_tokens = tokens_from_text(prompt_text)
        if output_tokens is None:
            output_tokens = tokens_from_text(answer_text)
        dollars = self.price.cost(input_tokens, output_tokens, batch=self.batch, cached_tokens=cached_tokens,
                                  cache_write_tokens=cache_write_tokens,
                                  cache_write_1h_tokens=cache_write_1h_tokens)
        self.spent += dollars
        self.n_costed += 1
        self.n_estimated += int(estimated)
        self._mean = self.spent / self.n_costed
        return dollars

    def add(self, dollars: float) -> None:
        """Count spending that is not one of the run's own requests (stored samples on resume,
        judge calls); it does not change the expected cost of the next request."""
        self.spent += dollars

    def release(self) -> None:
        """An admitted request that was never sent (the run is stopping)."""
        if self.in_flight > 0:
            self.in_flight -= 1
