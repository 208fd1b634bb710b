"""Model backends: the ModelBackend protocol and its OpenAI, Anthropic and demo implementations."""
