"""A suite's contamination probe run: the cases it sends, built before the run starts.

The probe run is an ordinary run (one engine, one store, one report pipeline). Its cases, for
each original case of the suite (in suite order, the first `limit`):

- the original itself (`probe: original`), as the chosen template renders it;
- `ID~rewrite` — a meaning-preserving rewrite: the `rewrite` chain of tuieval.perturb families
  applied one after the other (each keeps what is correct; a family that cannot apply is
  passed over; a case none of them changes has no rewrite);
- `ID~options` — the options of a multiple-choice question shuffled, target letter remapped
  (the perturb `options` family);
- `ID~verbatim` — the first part of the case's text, with an instruction to continue it word
  for word; its target is the real rest of the text;
- `ID~control` — the same words shuffled (a text no model can have seen), cut at the same
  place: its overlap is what chance and the instruction give, and calibrates the threshold.

Rewrite and option copies carry tuieval.perturb's link (`perturbation`, `original_case`), so the
report's perturbation analysis pairs them like any perturbed copy; verbatim and control cases
carry `probe_of` instead (they are not the same question, and must not be paired as one).
Every case has `probe` in its metadata (a slice: `probe=verbatim` …).

Cases differ in shape (a continuation prompt is not the suite's template), so each case holds
its own rendered chat messages and the run has one passthrough template: the prompts are built
once, here, and stored with the run.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from tuieval.perturb import PerturbSpec, Perturbed, derived_id, is_perturbed, make_spec, perturb_case, template_vars
from tuieval.contamination.text import shuffled_words
from tuieval.suite.model import Case, Suite, Template

PROBES = ("verbatim", "rewrite", "options", "ngram")
#: the probes a run without --probes uses (ngram joins them when a corpus is given)
DEFAULT_PROBES = ("verbatim", "rewrite", "options")
#: meaning-preserving surface changes, applied in this order to make one rewrite
DEFAULT_REWRITE = "contractions,numbers,punctuation:0.3,casing:0.2"
MESSAGES_VAR = "_probe_messages"
PROBE_KEY = "probe"
PROBE_OF_KEY = "probe_of"
#: fewer words than this on either side of the cut: nothing to measure a continuation by
MIN_WORDS = 4
OVERLAP_N = 3
QUANTILE = 0.99
PREFIX_SHARE = 0.5

CONTINUE_SYSTEM = ("The user's message is the beginning of one item of the evaluation data set {name!r}. "
                   "Continue it exactly as it continues in that data set, word for word. "
                   "Reply with the continuation only.")


@dataclass(frozen=True)
class ProbeSettings:
    """What a probe run measures, stored with the run (so its report reads the same rules)."""

    probes: tuple[str, ...] = DEFAULT_PROBES
    rewrite: tuple[PerturbSpec, ...] = ()
    template: str | None = None
    prefix_share: float = PREFIX_SHARE
    overlap_n: int = OVERLAP_N
    quantile: float = QUANTILE
    corpus: str | None = None

    def as_mapping(self) -> dict[str, Any]:
        return {"probes": list(self.probes), "rewrite": [s.label for s in self.rewrite], "template": self.template,
                "prefix_share": self.prefix_share, "overlap_n": self.overlap_n, "quantile": self.quantile,
                "corpus": self.corpus, "min_words": MIN_WORDS}


@dataclass(frozen=True)
class ProbeSkip:
    case_id: str
    probe: str
    reason: str


@dataclass
class ProbePlan:
    """The probe run's suite, and what could not be probed."""

    suite: Suite
    originals: list[Case]
    template: Template
    skipped: list[ProbeSkip] = field(default_factory=list)
    made: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for stderr: how many cases each probe made, and what it skipped."""
        line = f"contamination probes: {len(self.originals)} cases"
        if self.made:
            line += " (" + ", ".join(f"{p} {n}" for p, n in self.made.items()) + ")"
        if self.skipped:
            from collections import Counter

            counts = Counter((s.probe, s.reason) for s in self.skipped)
            line += "; skipped: " + "; ".join(f"{p} {n} ({why})" for (p, why), n in counts.items())
        return line


def case_text(case: Case, template: Template) -> str:
    """The case's own text: the variables the template reads (user turns of a chat), joined by
    line breaks — not the template's wording, which every case shares."""
    parts: list[str] = []
    for name in template_vars([template]):
        value = case.vars.get(name)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(m["content"] for m in value
                         if isinstance(m, dict) and m.get("role", "user") == "user" and isinstance(m.get("content"), str))
    return "\n".join(p for p in parts if p)


def split_text(text: str, share: float) -> tuple[str, str] | None:
    """(prefix, rest) cut between whitespace-separated words after `share` of them; None when
    either side would have fewer than MIN_WORDS words. The text keeps its own line breaks."""
    words = list(re.finditer(r"\S+", text))
    k = round(len(words) * share)
    if k < MIN_WORDS or len(words) - k < MIN_WORDS:
        return None
    cut = words[k].start()
    return text[:cut].rstrip(), text[cut:].strip()


def _continuation_case(case: Case, suite_name: str, probe: str, prefix: str, rest: str) -> Case:
    messages = [{"role": "system", "content": CONTINUE_SYSTEM.format(name=suite_name)},
                {"role": "user", "content": prefix}]
    return Case(id=f"{case.id}~{probe}", vars={MESSAGES_VAR: messages}, targets=[rest],
                metadata={**case.metadata, PROBE_KEY: probe, PROBE_OF_KEY: case.id})


def _rendered(case: Case, template: Template, probe: str) -> Case:
    return dataclasses.replace(case, vars={MESSAGES_VAR: template.render(case)},
                               metadata={**case.metadata, PROBE_KEY: probe})


def _rewrite(case: Case, chain: Sequence[PerturbSpec], seed: int, input_vars: list[str]) -> Case | None:
    """The case after every family of the chain that applies to it; None when none changed it."""
    current, applied = case, []
    for spec in chain:
        out = perturb_case(current, spec, seed=seed, input_vars=input_vars)
        if isinstance(out, Perturbed) and out.edits:
            current = out.case
            applied.append(spec.label)
    if not applied:
        return None
    metadata = {**case.metadata, "perturbation": "rewrite", "severity": None, "original_case": case.id}
    return dataclasses.replace(current, id=f"{case.id}~rewrite", metadata=metadata)


def build_plan(suite: Suite, settings: ProbeSettings, *, seed: int, limit: int | None = None) -> ProbePlan:
    """The probe run's suite for `suite` (deterministic in the seed, the case ids and the settings).

    Raises ValueError naming the template when `settings.template` is not one of the suite's."""
    if settings.template is None:
        template = suite.templates[0]
    else:
        found = [t for t in suite.templates if t.id == settings.template]
        if not found:
            raise ValueError(f"no template {settings.template!r} in the suite (it has "
                             f"{', '.join(t.id for t in suite.templates)})")
        template = found[0]
    originals = [c for c in suite.cases if not is_perturbed(c)]
    if limit:
        originals = originals[:limit]
    input_vars = template_vars([template])
    plan = ProbePlan(suite=suite, originals=originals, template=template)
    out: dict[str, list[Case]] = {"original": [_rendered(c, template, "original") for c in originals]}
    options = make_spec("options")
    for case in originals:
        if "rewrite" in settings.probes:
            copy = _rewrite(case, settings.rewrite, seed, input_vars)
            if copy is None:
                plan.skipped.append(ProbeSkip(case.id, "rewrite", "no rewrite family changed it"))
            else:
                out.setdefault("rewrite", []).append(_rendered(copy, template, "rewrite"))
        if "options" in settings.probes:
            shuffled = perturb_case(case, options, seed=seed, input_vars=input_vars)
            if isinstance(shuffled, Perturbed):
                assert shuffled.case.id == derived_id(case.id, options)
                out.setdefault("options", []).append(_rendered(shuffled.case, template, "options"))
            else:
                plan.skipped.append(ProbeSkip(case.id, "options", shuffled.reason))
        if "verbatim" in settings.probes:
            text = case_text(case, template)
            parts = split_text(text, settings.prefix_share)
            if parts is None:
                plan.skipped.append(ProbeSkip(case.id, "verbatim", f"fewer than {2 * MIN_WORDS} words of text"))
                continue
            out.setdefault("verbatim", []).append(_continuation_case(case, suite.name, "verbatim", *parts))
            control = shuffled_words(text, random.Random(f"control:{seed}:{case.id}"))
            cparts = split_text(control, settings.prefix_share)
            assert cparts is not None  # the same number of words as the text
            out.setdefault("control", []).append(_continuation_case(case, suite.name, "control", *cparts))
    plan.made = {probe: len(cases) for probe, cases in out.items() if probe != "original"}
    cases = [c for group in out.values() for c in group]
    passthrough = Template(id=template.id, prompt="", messages_var=MESSAGES_VAR)
    # gates are about the suite's score, which a probe run does not measure
    plan.suite = dataclasses.replace(suite, cases=cases, templates=[passthrough], gates=[], perturbations=())
    return plan


def original_of(case_id: str, metadata: dict[str, Any]) -> str:
    """The original case a probe run's case belongs to (itself for an original)."""
    return metadata.get(PROBE_OF_KEY) or metadata.get("original_case") or case_id
