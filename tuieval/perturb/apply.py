"""Perturb a suite's cases: every case × every spec, deterministically per seed.

The perturbed copy of case `c01` under `typos:0.1` is case `c01~typos:0.1`; its metadata is
the original's plus `perturbation`, `severity` and `original_case`, so a run stores it in
the same cases table, linked to its original, and slices still apply. A case a perturbation
cannot apply to is listed in `skipped` with the reason, never silently dropped.

Which variables are the input: by default every string variable the templates use (and the
user messages of a chat-messages variable); `input_vars` narrows that.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from tuieval.gc_pause import paused_gc
from tuieval.perturb.base import Edit, Item, RngKeys, Skip, frozen, make_item
from tuieval.perturb.registry import PerturbSpec
from tuieval.suite import template as tpl
from tuieval.suite.sweep import SHOTS_PREFIX
from tuieval.suite.model import Case, Suite, Template, input_text_of

ID_SEPARATOR = "~"
LINK_KEYS = ("perturbation", "severity", "original_case")


@dataclass(frozen=True)
class Skipped:
    case_id: str
    perturbation: str
    reason: str


@dataclass(frozen=True)
class Perturbed:
    """A perturbed case, and what the perturbation did (edits made, names swapped, option order)."""

    case: Case
    spec: PerturbSpec
    edits: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PerturbationSet:
    perturbed: list[Perturbed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def cases(self) -> list[Case]:
        return [p.case for p in self.perturbed]


def template_vars(templates: Iterable[Template]) -> list[str]:
    """Every variable the templates read (prompt, system or chat-messages passthrough), except
    the few-shot examples of a template sweep: those are other cases' text, not this input."""
    out: list[str] = []
    for t in templates:
        if t.messages_var:
            names = [t.messages_var]
        else:
            names = [p.split(".")[0] for p in tpl.placeholders(t.prompt) + tpl.placeholders(t.system or "")]
        for name in names:
            if name not in out and not name.startswith(SHOTS_PREFIX):
                out.append(name)
    return out


def is_perturbed(case: Case) -> bool:
    """True for a perturbed copy (it carries the link to its original)."""
    return case.metadata.get("original_case") is not None and ID_SEPARATOR in case.id


def derived_id(case_id: str, spec: PerturbSpec) -> str:
    """"c01" under typos:0.1 → "c01~typos:0.1"."""
    return f"{case_id}{ID_SEPARATOR}{spec.label}"


# A slot is where one input text lives in a case's vars: (var,) or (var, message index).
Slot = tuple


def _slots(case: Case, input_vars: Sequence[str]) -> list[Slot]:
    out: list[Slot] = []
    for name in input_vars:
        value = case.vars.get(name)
        if isinstance(value, str):
            out.append((name,))
        elif isinstance(value, list):
            # chat messages: only what the user said is input; system and assistant turns are
            # part of the setup being evaluated
            for i, m in enumerate(value):
                if isinstance(m, dict) and m.get("role", "user") == "user" and isinstance(m.get("content"), str):
                    out.append((name, i))
    return out


def _write(vars_: dict[str, Any], slot: Slot, text: str) -> None:
    if len(slot) == 1:
        vars_[slot[0]] = text
        return
    messages = vars_[slot[0]]              # a copy of the list, made by perturb_case
    messages[slot[1]] = {**messages[slot[1]], "content": text}


def _view(case: Case, input_vars: Sequence[str]) -> tuple[list[Slot], Item]:
    slots = _slots(case, input_vars)
    vars_ = case.vars
    texts = tuple([vars_[s[0]] if len(s) == 1 else vars_[s[0]][s[1]]["content"] for s in slots])
    used = {s[0] for s in slots}
    if len(used) < len(vars_):
        # the rest of the input still counts towards its length (the distractors' length bucket)
        rest = {k: v for k, v in vars_.items() if k not in used}
        other = input_text_of(rest)
    else:
        other = ""                  # every variable is an input text: nothing else to count
    return slots, make_item(texts, tuple(case.targets), other_text=other)


class _Plan:
    """One spec, ready to apply to many cases: what does not depend on the case (the family's
    function, the label, the id suffix, the non-case part of the random key) is looked up once."""

    __slots__ = ("spec", "apply", "severity", "label", "suffix", "keys", "name")

    def __init__(self, spec: PerturbSpec, seed: int) -> None:
        self.spec = spec
        self.apply = spec.family.apply
        self.severity = spec.severity
        self.name = spec.name
        self.label = spec.label
        self.suffix = ID_SEPARATOR + spec.label            # derived_id's rule, joined once
        self.keys = RngKeys(seed, spec.name, spec.severity)

    def run(self, case: Case, slots: list[Slot], item: Item) -> Perturbed | Skipped:
        if not slots:
            return frozen(Skipped, case_id=case.id, perturbation=self.label, reason="no text input variable")
        out = self.apply(item, self.severity, self.keys.rng(case.id))
        if out.__class__ is not Edit:
            if isinstance(out, Skip):
                return frozen(Skipped, case_id=case.id, perturbation=self.label, reason=out.reason)
            assert isinstance(out, Edit)
        texts = out.texts
        assert len(texts) == len(item.texts)
        # lists are copied so that writing a message never reaches the original's list (and the
        # copy never shares a list with it, as before); the dict is copied in C and only
        # the lists are replaced
        vars_ = dict(case.vars)
        for k, v in vars_.items():
            if isinstance(v, list):
                vars_[k] = list(v)
        for slot, text, old in zip(slots, texts, item.texts):
            if text is not old:                 # an unchanged text is already in the copy
                _write(vars_, slot, text)
        metadata = {**case.metadata, "perturbation": self.name, "severity": self.severity, "original_case": case.id}
        targets = list(out.targets) if out.targets is not None else list(case.targets)
        return frozen(Perturbed, case=_copy_case(case, case.id + self.suffix, vars_, targets, metadata),
                      spec=self.spec, edits=out.edits, detail=dict(out.detail))


def _copy_case(case: Case, id_: str, vars_: dict[str, Any], targets: list[Any], metadata: dict[str, Any]) -> Case:
    # `dataclasses.replace` without its per-field checks (a third of the fixed cost of a copy):
    # every other field (line, human_label, any added later) is carried over as it is. Case is a
    # plain dataclass with no __post_init__, so nothing is skipped by not calling __init__.
    new = _new_case(case.__class__)
    new.__dict__.update(case.__dict__)
    new.id, new.vars, new.targets, new.metadata = id_, vars_, targets, metadata
    return new


_new_case = object.__new__


def perturb_case(case: Case, spec: PerturbSpec, *, seed: int, input_vars: Sequence[str]) -> Perturbed | Skipped:
    """One case under one spec: its perturbed copy, or why it cannot be perturbed."""
    slots, item = _view(case, input_vars)
    return _Plan(spec, seed).run(case, slots, item)


def perturb_cases(cases: Sequence[Case], specs: Sequence[PerturbSpec], *, seed: int,
                  input_vars: Sequence[str] | None = None, templates: Iterable[Template] = ()) -> PerturbationSet:
    """Every case under every spec, in case order then spec order.

    `input_vars` defaults to the variables `templates` use. The same (cases, specs, seed)
    always gives the same result, on any machine.
    """
    names = list(input_vars) if input_vars is not None else template_vars(templates)
    # the collector paused: every copy made here stays alive and none is in a cycle, so the
    # collections its allocations trigger (each walking every copy made so far) find nothing
    with paused_gc():
        return _perturb_all(cases, specs, seed, names)


def _perturb_all(cases: Sequence[Case], specs: Sequence[PerturbSpec], seed: int, names: list[str]) -> PerturbationSet:
    result = PerturbationSet()
    perturbed, skipped = result.perturbed, result.skipped
    originals = [c for c in cases if not is_perturbed(c)]   # a perturbed copy is never perturbed again
    existing = {c.id for c in originals}
    plans = [_Plan(spec, seed) for spec in specs]
    for case in originals:
        slots, item = _view(case, names)          # once per case, shared by every spec
        for plan in plans:
            out = plan.run(case, slots, item)
            if out.__class__ is Skipped:
                skipped.append(out)
                continue
            if out.case.id in existing:
                raise ValueError(f"perturbed case id {out.case.id!r} is already a case id in the suite")
            perturbed.append(out)
    return result


def perturbed_suite(suite: Suite, specs: Sequence[PerturbSpec] | None = None, *, seed: int,
                    limit: int | None = None) -> tuple[Suite, PerturbationSet]:
    """The suite a perturbation run sends: the first `limit` original cases (all by default),
    then their perturbed copies, so the originals keep the positions a plain run gives them.

    `specs` defaults to the suite's own `perturbations:`; the copies are drawn from the run's
    seed, so the same run (and its resume, which reads the stored cases) sees the same inputs.
    """
    specs = list(suite.perturbations if specs is None else specs)
    originals = [c for c in suite.cases if not is_perturbed(c)]
    if limit:
        originals = originals[:limit]
    result = perturb_cases(originals, specs, seed=seed, templates=suite.templates)
    return dataclasses.replace(suite, cases=originals + result.cases, perturbations=tuple(specs)), result


def summary(result: PerturbationSet, n_originals: int) -> str:
    """One line for the run's stderr: how many copies, and which perturbations skipped what."""
    from collections import Counter

    made = Counter(p.spec.label for p in result.perturbed)
    skipped = Counter((s.perturbation, s.reason) for s in result.skipped)
    line = f"perturbations: {len(result.perturbed)} perturbed copies of {n_originals} cases"
    if made:
        line += " (" + ", ".join(f"{label} {n}" for label, n in made.items()) + ")"
    if skipped:
        line += "; skipped: " + "; ".join(f"{label} {n} ({reason})" for (label, reason), n in skipped.items())
    return line
