"""A template sweep: every combination of instruction phrasings, system prompts and few-shot counts.

```yaml
templates:
  sweep:
    prompt: {plain: "{{ question }}", please: "Please answer briefly: {{ question }}"}
    system: {none: null, librarian: "You are a careful reference librarian."}
    shots: [0, 2]
```

gives 2 × 2 × 2 templates named `plain/none/0shot` … `please/librarian/2shot` (a dimension with
one option is left out of the name), run over the same cases, so the report's template
sensitivity compares them paired.

Few-shot examples are other cases of the suite, in suite order, never the case itself: for
case c the k-shot prompt opens with the first k cases other than c, each as its prompt
(rendered with the first phrasing) and its first target. The examples are written into a case variable
(`_shots_k`, see `SHOTS_VAR`) when the suite loads, so a stored run (and its resume) holds
exactly the text that was sent, and they are left out of the case's input text (slices by input
length see the question, not the examples).
"""

from __future__ import annotations

from typing import Any, Callable

from tuieval.scoring.base import target_text
from tuieval.suite import template as tpl
from tuieval.suite.model import Case, Template

SHOTS_VAR = "_shots_{k}"
SHOTS_PREFIX = "_shots_"
_DIMENSIONS = ("prompt", "system", "shots")


def is_sweep(raw: Any) -> bool:
    return isinstance(raw, dict) and "sweep" in raw


def _options(raw: Any, path: tuple, add: Callable[[tuple, str], None], *, allow_null: bool) -> dict[str, str | None]:
    if isinstance(raw, str):
        return {"default": raw}
    if not isinstance(raw, dict) or not raw:
        add(path, "must be a mapping of id → text (or one text)")
        return {}
    out: dict[str, str | None] = {}
    for key, value in raw.items():
        if value is None and allow_null:
            out[str(key)] = None
        elif isinstance(value, str) and value.strip():
            out[str(key)] = value
        else:
            add(path + (key,), "must be a non-empty string" + (" or null" if allow_null else ""))
    return out


def sweep_templates(raw: dict, key: str, default_system: str | None,
                    add: Callable[[tuple, str], None]) -> tuple[list[Template], list[int]]:
    """The templates a `templates: {sweep: …}` block names, and the shot counts it needs."""
    spec = raw.get("sweep")
    path = (key, "sweep")
    if not isinstance(spec, dict):
        add(path, "must be a mapping with prompt:, and optionally system: and shots:")
        return [], []
    for extra in set(raw) - {"sweep"}:
        add((key, extra), "unknown field beside sweep:")
    for extra in set(spec) - set(_DIMENSIONS):
        add(path + (extra,), "unknown field (expected prompt, system, shots)")
    if "prompt" not in spec:
        add(path + ("prompt",), "missing: the instruction phrasings to sweep")
        return [], []
    prompts = _options(spec["prompt"], path + ("prompt",), add, allow_null=False)
    systems = _options(spec["system"], path + ("system",), add, allow_null=True) if "system" in spec \
        else {"default": default_system}
    shots = spec.get("shots", [0])
    if isinstance(shots, int) and not isinstance(shots, bool):
        shots = [shots]
    if not isinstance(shots, list) or not shots or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 16
                                                          for k in shots):
        add(path + ("shots",), "must be a list of example counts from 0 to 16 (e.g. [0, 3])")
        shots = [0]
    if len(set(shots)) != len(shots):
        add(path + ("shots",), "names a count twice")
    templates = []
    for pid, prompt in prompts.items():
        for sid, system in systems.items():
            for k in shots:
                parts = [pid] if len(prompts) > 1 or (len(systems) == 1 and len(shots) == 1) else []
                parts += [sid] if len(systems) > 1 else []
                parts += [f"{k}shot"] if len(shots) > 1 else []
                text = prompt if k == 0 else "{{ " + SHOTS_VAR.format(k=k) + " }}" + prompt
                templates.append(Template(id="/".join(parts), prompt=text, system=system))
    return templates, sorted({k for k in shots if k > 0})


def add_shots(cases: list[Case], prompt: str, counts: list[int], add: Callable[[tuple, str], None],
              path: tuple) -> None:
    """Write each case's few-shot examples into its `_shots_k` variables (in place)."""
    if not counts:
        return
    need = max(counts)
    if len(cases) <= need:
        add(path, f"{need}-shot needs more than {need} cases (the suite has {len(cases)})")
        return
    rendered: list[str] = []
    for c in cases[: need + 1]:
        try:
            question = tpl.render(prompt, c.vars)
        except KeyError:
            question = None  # the placeholder check names it
        answer = target_text(c.targets[0]) if c.targets else ""
        rendered.append(f"Example:\n{question}\nAnswer: {answer}\n\n" if question is not None else "")
    for c in cases:
        pool = [text for other, text in zip(cases[: need + 1], rendered) if other.id != c.id]
        for k in counts:
            c.vars[SHOTS_VAR.format(k=k)] = "".join(pool[:k])
