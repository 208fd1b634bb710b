"""Black-box contamination probes: does the model know the test set rather than the task?

Four probes, none of which needs the model's training data:

- **verbatim** — the model is given the first part of a case's text and asked to go on; how
  much of the real rest it reproduces (longest common token run, n-gram overlap) is compared
  with the same measure on a shuffled control the model cannot have seen (`verbatim.py`);
- **rewrite** — accuracy on the original case vs a meaning-preserving rewrite of it (a chain
  of tuieval.perturb families), paired per slice;
- **options** — accuracy when a multiple-choice question's options are shuffled (the perturb
  `options` family, target remapped), paired;
- **ngram** — 13-gram overlap of the cases with a reference corpus file, streamed (`corpus.py`).

`probes.py` turns a suite into the probe run's cases (requests go through the ordinary engine,
so a probe run is stored, resumed, reported and browsed like any run); `analysis.py` reads the
stored run back into the report's `contamination` section; `text.py` holds the one tokeniser
and the overlap measures.
"""
