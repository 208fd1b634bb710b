"""Provider batch engines: a run's requests sent as one (or a few) OpenAI Batch API jobs instead of
one by one, at the batch price, stored as ordinary samples (`tuieval run --batch`), and the same
OpenAI batch format written and read for runners with no API (`tuieval batch export|import`)."""
