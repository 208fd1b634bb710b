"""Suites from the files other tools use: `tuieval import FORMAT FILE > suite.yaml`.

One module per source format, each with one `suite_from_*` entry returning `Imported` (the
suite as a plain dict and the notes on what could not be carried over); `common.to_yaml`
writes it. `FORMATS` maps the command's FORMAT names to the entries.
"""

from __future__ import annotations

from tuieval.importers.common import ImportFailed, Imported, to_yaml
from tuieval.importers.huggingface import suite_from_hf
from tuieval.importers.inspect_dataset import suite_from_inspect
from tuieval.importers.lm_eval import suite_from_lm_eval
from tuieval.importers.openai_evals import suite_from_openai_evals
from tuieval.importers.promptfoo import suite_from_promptfoo

FORMATS = {
    "promptfoo": suite_from_promptfoo,
    "inspect": suite_from_inspect,
    "openai-evals": suite_from_openai_evals,
    "lm-eval": suite_from_lm_eval,
    "hf": suite_from_hf,
}

__all__ = ["FORMATS", "ImportFailed", "Imported", "suite_from_hf", "suite_from_inspect", "suite_from_lm_eval",
           "suite_from_openai_evals", "suite_from_promptfoo", "to_yaml"]
