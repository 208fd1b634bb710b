"""The perturbed inputs are pinned: optimising a family must not change a character of its output.

The digests in fixtures/pinned_digests.json were recorded from the perturbation code before its
speed work (2026-12-01), over the first 25 cases of three sample suites, every family at two
severities, seed 11. A digest that changes means a suite's perturbed copies changed: a stored
run could then not be resumed or reproduced with the same inputs. Re-record only for a deliberate
change of a family's output (and say so in the commit).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tuieval.perturb import FAMILIES, make_spec, perturb_cases
from tuieval.suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
PINNED = Path(__file__).parent / "fixtures" / "pinned_digests.json"
SUITES = ("qa", "extraction", "hidden_variables")


def _specs(name: str):
    family = FAMILIES[name]
    if family.default_severity is None:
        return [make_spec(name, None)]
    return [make_spec(name, None), make_spec(name, 1.0 if family.default_severity < 1.0 else 0.5)]


def digest(name: str) -> str:
    h = hashlib.sha256()
    for suite_name in SUITES:
        suite = load_suite(ROOT / "sample_suites" / f"{suite_name}.yaml")
        out = perturb_cases(list(suite.cases)[:25], _specs(name), seed=11, templates=suite.templates)
        for p in out.perturbed:
            h.update(json.dumps([p.case.id, p.case.vars, p.case.targets, p.edits], sort_keys=True,
                                ensure_ascii=False, default=str).encode("utf-8"))
        for s in out.skipped:
            h.update(json.dumps([s.case_id, s.perturbation, s.reason]).encode("utf-8"))
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_output_is_unchanged(name):
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    assert digest(name) == pinned[name]


if __name__ == "__main__":   # re-record: python -m tests.perturb.test_pinned_outputs
    PINNED.write_text(json.dumps({n: digest(n) for n in sorted(FAMILIES)}, indent=1) + "\n", encoding="utf-8")
