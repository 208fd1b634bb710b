"""Provider batch engines: a run's requests sent as a few OpenAI Batch API or Anthropic Message Batches jobs instead of
one by one, at the batch price, stored as ordinary samples (`tuieval run --batch`), and the same
OpenAI batch format written and read for runners with no API (`tuieval batch export|import`)."""

#: judge model providers whose batch API tuieval speaks: with `run --batch` their judge requests go
#: as a second batch (an openai-compatible server may have no batch API, so it is judged interactively)
JUDGE_BATCH_PROVIDERS = ("openai/", "anthropic/")


def judge_batchable(spec: str) -> bool:
    """Whether a judge model's requests can go as a provider batch."""
    return spec.startswith(JUDGE_BATCH_PROVIDERS)
