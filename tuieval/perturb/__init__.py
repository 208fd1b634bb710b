"""Seeded, deterministic perturbations of a suite's inputs (typos, casing, whitespace,
punctuation, contractions, number formats, name swaps, distractor padding, option shuffle,
homoglyphs), each of which keeps what is correct: the spans that carry the answer are left
alone, or rewritten together with the target.

    specs = parse_specs("typos:0.1,names,options")
    result = perturb_cases(suite.cases, specs, seed=suite.sampling.seed, templates=suite.templates)
    result.cases      # the perturbed copies, ids "c01~typos:0.1", linked by metadata
    result.skipped    # (case, perturbation, reason) for those that could not apply
"""

from tuieval.perturb.apply import (
    LINK_KEYS, PerturbationSet, Perturbed, Skipped, derived_id, is_perturbed, perturb_case, perturb_cases,
    perturbed_suite, summary, template_vars,
)
from tuieval.perturb.registry import (
    FAMILIES, PerturbSpec, PerturbSpecError, make_spec, parse_spec, parse_specs, specs_from_config,
)

__all__ = [
    "FAMILIES", "LINK_KEYS", "PerturbSpec", "PerturbSpecError", "PerturbationSet", "Perturbed", "Skipped",
    "derived_id", "is_perturbed", "make_spec", "parse_spec", "parse_specs", "perturb_case", "perturb_cases", "perturbed_suite", "specs_from_config", "summary",
    "template_vars",
]
