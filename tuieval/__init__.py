"""tuieval: evaluate language models on their tails — slices, variance and p99 latency."""

__version__ = "0.2.0"
