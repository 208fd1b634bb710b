"""Production traffic: reading logged requests (log.py), sampling them for replay (sample.py)
and shadow evaluation of a candidate model against the logged or a baseline model (shadow.py).

Nothing here imports the store, the engine or Textual at module level except shadow.py, which
drives the engine; the reader and the sampler are pure and streamed.
"""
