"""The engine: async scheduling, retries, adaptive concurrency and resume. No UI imports."""

from tuieval.engine.events import (ConcurrencyChanged, Event, JudgeFinished, RunFinished, RunStarted, SampleFinished, SampleKey,
                                   SampleRetry, SampleStarted, TokenDelta)
from tuieval.engine.runner import Engine, FatalRunError, RunOptions

__all__ = ["ConcurrencyChanged", "Engine", "Event", "FatalRunError", "JudgeFinished", "RunFinished", "RunOptions", "RunStarted",
           "SampleFinished", "SampleKey", "SampleRetry", "SampleStarted", "TokenDelta"]
