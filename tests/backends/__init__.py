"""Backend, SSE and HTTP-layer tests against the loopback model server."""
