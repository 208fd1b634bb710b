"""Load and validate suites: YAML suite files, and JSONL datasets used directly as a suite.

Every problem is collected (not just the first) with the file, the field path and, where
YAML or the dataset gives one, the line, so `tuieval validate` can list them all.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import yaml

from tuieval.analysis.variance.config import KEYS as VARIANCE_KEYS
from tuieval.analysis.variance.config import LINKAGES, METHODS, RULES, URL_KEYS, VarianceConfig
from tuieval.backends.registry import BackendConfigError, parse_spec
from tuieval.suite import checks, labels, sweep
from tuieval.scoring.base import ScorerSpec
from tuieval.suite.errors import Problem, SuiteError
from tuieval.suite.model import Case, Gate, Sampling, Suite, Template
from tuieval.suite.inline_cases import split_inline_cases
from tuieval.suite.yaml_values import UNSUPPORTED, SuiteYAMLLoader, plain_values

SUITE_KEYS = {
    "name", "description", "template", "templates", "system", "cases", "dataset", "target_field",
    "scorer", "scorers", "extractors", "perturbations", "sampling", "slo_ms", "gates", "variance", "cluster_key", "metadata",
    "human_labels",
}
GATE_METRICS = {"accuracy", "accuracy_ci_low", "majority_accuracy", "consistency", "error_rate",
                "accuracy_within_slo", "p50_ms", "p95_ms", "p99_ms", "semantic_entropy", "flip_rate", "worst_case_accuracy"}


class _Lines:
    """Maps YAML field paths to line numbers, from the composed node tree.

    The tree is walked on the first lookup: only a problem needs a line, so a valid suite of
    thousands of inline cases (every `tuieval run`) never pays for the walk."""

    def __init__(self, node: yaml.Node | None, case_lines: list[int] | None = None) -> None:
        self._node = node
        self._lines: dict[tuple, int] | None = None
        #: the line of each inline case read without nodes (tuieval.suite.inline_cases): one line
        #: a case, so every field of it is on that line too
        self._case_lines = case_lines

    @property
    def lines(self) -> dict[tuple, int]:
        if self._lines is None:
            self._lines = {}
            if self._node is not None:
                self._walk(self._node, ())
            self._node = None
            for i, line in enumerate(self._case_lines or ()):
                self._lines[("cases", i)] = line
        return self._lines

    def _walk(self, node: yaml.Node, path: tuple) -> None:
        lines = self._lines
        assert lines is not None
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = path + (key.value,)
                lines[child] = key.start_mark.line + 1
                self._walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, path + (i,))

    def case_line(self, index: int) -> int | None:
        """The line of ``cases[index]`` (what ``get(("cases", index))`` gives), read straight
        from the node of that item instead of walking the whole tree first."""
        if self._case_lines is not None and index < len(self._case_lines):
            return self._case_lines[index]
        node = self._node
        if self._lines is None and isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "cases":
                    if isinstance(value, yaml.SequenceNode) and index < len(value.value):
                        return value.value[index].start_mark.line + 1
                    break
        return self.get(("cases", index))

    def get(self, path: tuple) -> int | None:
        lines = self.lines
        while path:
            if path in lines:
                return lines[path]
            path = path[:-1]
        return lines.get(())


def _field(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Collector:
    def __init__(self, file: str, lines: _Lines | None = None) -> None:
        self.file = file
        self.lines = lines or _Lines(None)
        self.problems: list[Problem] = []
        # template variables / targets whose dataset column is missing: reported once, with
        # the dataset file, instead of again for every case
        self.unmapped_vars: set[str] = set()
        self.target_unmapped = False

    def add(self, path: tuple, message: str, line: int | None = None, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, _field(path), message, line or self.lines.get(path)))


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Load a suite file (YAML) or a JSONL dataset; raise SuiteError listing every problem."""
    suite, problems = _load(Path(path))
    if problems:
        raise SuiteError(problems)
    assert suite is not None
    return suite


def validate(path: str | os.PathLike[str]) -> list[Problem]:
    """Every problem in a suite (empty when it is usable)."""
    return _load(Path(path))[1]


def _load(path: Path) -> tuple[Suite | None, list[Problem]]:
    shown = str(path)
    if not path.exists():
        return None, [Problem(shown, "", "no such file")]
    if path.is_dir():
        return None, [Problem(shown, "", "is a directory, expected a suite .yaml or a .jsonl dataset")]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(shown, "", f"cannot read: {exc.strerror or exc.__class__.__name__}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [_decode_error(shown, raw, exc, "the file")]
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        return _load_plain_jsonl(path, shown, digest)
    return _load_yaml(path, shown, text, digest)


def _load_plain_jsonl(path: Path, shown: str, digest: str) -> tuple[Suite | None, list[Problem]]:
    col = _Collector(shown)
    cases, _ = _read_jsonl_cases(path, shown, {}, col)
    if not cases and not col.problems:
        col.add((), "dataset has no cases")
    uses_messages = any(isinstance(c.vars.get("input"), list) for c in cases)
    template = Template(id="input", prompt="{{ input }}", messages_var="input" if uses_messages else None)
    if uses_messages:
        checks.check_messages(cases, "input", lambda p, m, line=None: col.add(p, m, line, file=shown))
    for case in cases:
        if "input" not in case.vars:
            col.add(("input",), "missing field (each line needs \"input\")", case.line)
        if not case.targets:
            col.add(("target",), "missing field (each line needs \"target\" or \"ideal\")", case.line)
    suite = Suite(name=path.stem, path=str(path), templates=[template], cases=cases,
                  scorers=[ScorerSpec("normalized", "normalized")], content_hash=digest)
    return suite, col.problems


def _load_yaml(path: Path, shown: str, text: str, digest: str) -> tuple[Suite | None, list[Problem]]:
    # a block of one-line flat cases is read without YAML nodes, the rest of the file as ever
    inline = split_inline_cases(text) if _INLINE_CASES else None
    try:
        node = data = None
        if inline is not None:
            node = yaml.compose(inline[0], Loader=SuiteYAMLLoader)
            data = plain_values(node) if _holds_inline_slot(node, inline[2]) else UNSUPPORTED
            if data is UNSUPPORTED or not isinstance(data, dict):
                inline = None  # not what it looked like: the whole file the general way
            else:
                data["cases"] = [case for _, case in inline[1]]
        if inline is None:
            # Compose once (the node tree carries line numbers), then build Python values from it;
            # libyaml's parser when present is ~10x faster on suites with thousands of inline cases.
            node = yaml.compose(text, Loader=SuiteYAMLLoader)
            # mappings, lists and standard scalars in one walk; anything else the general way
            data = plain_values(node)
        general = data is UNSUPPORTED
        if general:
            data = yaml.constructor.SafeConstructor().construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Problem(shown, "", f"invalid YAML: {problem}", mark.line + 1 if mark else None)]
    col = _Collector(shown, _Lines(node, [line for line, _ in inline[1]] if inline is not None else None))
    if general:
        data = _plain(data, (), col)
    if not isinstance(data, dict):
        col.add((), "a suite must be a YAML mapping (name:, templates:, cases: …)")
        return None, col.problems
    for key in data:
        if key not in SUITE_KEYS:
            col.add((key,), f"unknown field (expected one of: {', '.join(sorted(SUITE_KEYS))})")

    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        col.add(("name",), "must be a non-empty string")
        name = path.stem
    description = data.get("description") or ""
    if not isinstance(description, str):
        col.add(("description",), "must be a string")
        description = ""

    templates = _templates(data, col)
    cases = _cases(data, path, col)
    raw_templates = data.get("templates")
    if sweep.is_sweep(raw_templates):
        _, shot_counts = sweep.sweep_templates(raw_templates, "templates", None, lambda *_: None)
        prompt = (raw_templates.get("sweep") or {}).get("prompt")
        first = prompt if isinstance(prompt, str) else next(iter(prompt.values()), "") if isinstance(prompt, dict) else ""
        sweep.add_shots(cases, first if isinstance(first, str) else "", shot_counts, col.add,
                        ("templates", "sweep", "shots"))
    sampling = _sampling(data.get("sampling"), col)
    scorers = _scorers(data, col)
    extractors = _extractors(data.get("extractors"), col)
    perturbations = _perturbations(data.get("perturbations"), col)
    slo_ms = data.get("slo_ms")
    if slo_ms is not None and (isinstance(slo_ms, bool) or not isinstance(slo_ms, (int, float)) or slo_ms <= 0):
        col.add(("slo_ms",), "must be a positive number of milliseconds")
        slo_ms = None
    gates = _gates(data.get("gates"), col)
    variance = _variance(data.get("variance"), col)
    cluster_key = data.get("cluster_key")
    if cluster_key is not None and not isinstance(cluster_key, str):
        col.add(("cluster_key",), "must be the name of a metadata field")
        cluster_key = None

    # Every placeholder must resolve for every case: a typo or a dotted path into a plain
    # string would otherwise send "{{ qestion }}" or "None" to the model, or fail mid-run.
    tkey = "templates" if isinstance(data.get("templates"), list) else "template"
    checks.check_templates(templates, cases, lambda ti: (tkey, ti) if tkey == "templates" else (tkey,),
                           col.add, skip=col.unmapped_vars)
    for t in templates:
        if t.messages_var is not None:
            missing = [c.id for c in cases if not isinstance(c.vars.get(t.messages_var), list)]
            if missing:
                col.add((tkey,), f"messages_var {t.messages_var!r}: case {missing[0]!r} has no list of messages "
                        f"in that variable")
            checks.check_messages(cases, t.messages_var, col.add)
    if cluster_key and cases and not any(cluster_key in c.metadata for c in cases):
        col.add(("cluster_key",), f"no case has metadata field {cluster_key!r}")
    # A gate on a slice that does not exist fails only after the whole run: say so now.
    checks.check_gates(gates, cases, cluster_key, lambda i: ("gates", i, "slice"), col.add)
    human_labels = labels.collect(cases, data.get("human_labels"), path, col.add)
    suite = Suite(name=name, path=str(path), description=description, templates=templates, cases=cases,
                  scorers=scorers, extractors=extractors, perturbations=perturbations, sampling=sampling, slo_ms=float(slo_ms) if slo_ms else None, gates=gates,
                  variance=variance, cluster_key=cluster_key, content_hash=digest, human_labels=human_labels)
    return suite, col.problems


#: read blocks of one-line flat cases without YAML nodes (tuieval.suite.inline_cases); off only
#: in the tests that hold the two ways equal
_INLINE_CASES = True


def _holds_inline_slot(node: yaml.Node | None, line: int) -> bool:
    """The rest of the document has a top-level ``cases`` key on that line holding the empty list
    put there (so the blanked block really was that key's value)."""
    if not isinstance(node, yaml.MappingNode):
        return False
    slots = [(key, value) for key, value in node.value if isinstance(key, yaml.ScalarNode) and key.value == "cases"]
    return (len(slots) == 1 and slots[0][0].start_mark.line == line and slots[0][0].start_mark.column == 0
            and isinstance(slots[0][1], yaml.SequenceNode) and not slots[0][1].value)


def _plain(value: Any, path: tuple, col: _Collector) -> Any:
    """YAML values as JSON can store them (a run keeps its cases as JSON): timestamps
    become their ISO text (`date: 2024-01-01` means the text), and what JSON cannot
    hold (!!binary, !!set, …) is a problem at its field instead of a crash mid-run."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v, path + (i,), col) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, (datetime.date, datetime.datetime)):
                k = k.isoformat()
            elif k is not None and not isinstance(k, (str, bool, int, float)):
                col.add(path, f"a key must be text or a number, not {type(k).__name__}")
                continue
            out[k] = _plain(v, path + (k,), col)
        return out
    col.add(path, f"must be text, a number, a list or a mapping, not {type(value).__name__}")
    return None


def _templates(data: dict, col: _Collector) -> list[Template]:
    system = data.get("system")
    if system is not None and not isinstance(system, str):
        col.add(("system",), "must be a string")
        system = None
    if "template" in data and "templates" in data:
        col.add(("templates",), "give either template: or templates:, not both")
    raw = data.get("templates", data.get("template"))
    key = "templates" if "templates" in data else "template"
    if raw is None:
        col.add(("templates",), "missing: a suite needs a template (e.g. template: \"Q: {{ question }}\")")
        return []
    if sweep.is_sweep(raw):
        templates, _ = sweep.sweep_templates(raw, key, system, col.add)
        return templates
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        col.add((key,), "must list at least one template")
    out: list[Template] = []
    for i, item in enumerate(items):
        path = (key, i) if isinstance(raw, list) else (key,)
        if isinstance(item, str):
            out.append(Template(id=f"t{i}" if len(items) > 1 else "default", prompt=item, system=system))
        elif isinstance(item, dict):
            prompt = item.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                col.add(path + ("prompt",), "missing or not a string")
                continue
            tid = item.get("id", f"t{i}")
            if not isinstance(tid, (str, int)):
                col.add(path + ("id",), "must be a string")
                tid = f"t{i}"
            tsys = item.get("system", system)
            if tsys is not None and not isinstance(tsys, str):
                col.add(path + ("system",), "must be a string")
                tsys = None
            # messages_var: a case variable holding a whole chat (a list of {role, content}) sent as
            # it is, e.g. a saved multi-turn red-team attack (tuieval.redteam.regression)
            mvar = item.get("messages_var")
            if mvar is not None and not (isinstance(mvar, str) and mvar):
                col.add(path + ("messages_var",), "must be the name of a case variable")
                mvar = None
            for extra in set(item) - {"id", "prompt", "system", "messages_var"}:
                col.add(path + (extra,), "unknown field (expected id, prompt, system, messages_var)")
            out.append(Template(id=str(tid), prompt=prompt, system=tsys, messages_var=mvar))
        else:
            col.add(path, "must be a string or a mapping with prompt:")
    ids = [t.id for t in out]
    for tid in {x for x in ids if ids.count(x) > 1}:
        col.add((key,), f"duplicate template id {tid!r}")
    return out


def _case_from_mapping(item: dict, index: int, col: _Collector, path: tuple, line: int | None,
                       file: str | None = None, fields: dict | None = None) -> Case | None:
    fields = fields or {}
    id_field = fields.get("id", "id")
    target_field = fields.get("target", "target")
    meta_fields = fields.get("metadata")
    input_fields = fields.get("input")
    cid = item.get(id_field, index + 1)
    if cid is None or isinstance(cid, (dict, list)):
        col.add(path + (id_field,), "must be a string or number", line, file)
        cid = index + 1
    # target: is one accepted answer (any JSON value, so a JSON scorer can compare objects);
    # targets: and OpenAI-evals' ideal: may list several accepted answers.
    if target_field in item:
        targets = [] if item[target_field] is None else [item[target_field]]
    elif "targets" in item or "ideal" in item:
        many = item.get("targets", item.get("ideal"))
        targets = [] if many is None else (list(many) if isinstance(many, list) else [many])
    else:
        targets = []
    metadata: dict[str, Any] = {}
    if isinstance(meta_fields, list):
        metadata = {k: item.get(k) for k in meta_fields if k in item}
    raw_meta = item.get("metadata")
    if raw_meta is not None:
        if isinstance(raw_meta, dict):
            metadata.update(raw_meta)
        else:
            col.add(path + ("metadata",), "must be a mapping", line, file)
    if isinstance(item.get("vars"), dict):
        vars_ = dict(item["vars"])
    else:
        skip = {id_field, target_field, "targets", "ideal", "metadata", "vars", "human_label"} | set(meta_fields or [])
        vars_ = {k: v for k, v in item.items() if k not in skip}
        if isinstance(input_fields, dict):
            vars_ = {var: item[column] for var, column in input_fields.items() if column in item}
    return Case(id=str(cid), vars=vars_, targets=targets, metadata=metadata, line=line,
                human_label=item.get("human_label"))


def _cases(data: dict, suite_path: Path, col: _Collector) -> list[Case]:
    cases: list[Case] = []
    raw = data.get("cases")
    if raw is not None:
        if not isinstance(raw, list):
            col.add(("cases",), "must be a list of cases")
        else:
            for i, item in enumerate(raw):
                if not isinstance(item, dict):
                    col.add(("cases", i), "each case must be a mapping (id:, target:, metadata:, variables)")
                    continue
                case = _case_from_mapping(item, i, col, ("cases", i), col.lines.case_line(i))
                if case:
                    cases.append(case)
    dataset = data.get("dataset")
    if dataset is not None:
        cases.extend(_dataset_cases(dataset, suite_path, col))
    if raw is None and dataset is None:
        col.add(("cases",), "missing: give cases: inline or dataset: a JSONL/CSV file")
    seen: dict[str, int] = {}
    for case in cases:
        if case.id in seen:
            col.add(("cases",), f"duplicate case id {case.id!r}", case.line)
        seen[case.id] = 1
        if not case.targets and not col.target_unmapped:
            col.add(("cases",), f"case {case.id!r} has no target (target:, targets: or ideal:)", case.line)
    if (raw is not None or dataset is not None) and not cases and not col.problems:
        col.add(("cases",), "the suite has no cases")
    return cases


def _dataset_cases(spec: Any, suite_path: Path, col: _Collector) -> list[Case]:
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        col.add(("dataset",), "must be a path or a mapping with path: (and optional fields:, format:)")
        return []
    fields = _fields(spec.get("fields"), col)
    for extra in set(spec) - {"path", "fields", "format", "limit"}:
        col.add(("dataset", extra), "unknown field (expected path, fields, format)")
    dpath = (suite_path.parent / spec["path"]).resolve()
    shown = os.path.relpath(dpath) if not Path(spec["path"]).is_absolute() else spec["path"]
    if not dpath.exists():
        col.add(("dataset", "path"), f"dataset file not found: {shown}")
        return []
    if dpath.is_dir():
        col.add(("dataset", "path"), f"{shown} is a directory, expected a .jsonl or .csv file")
        return []
    fmt = spec.get("format") or dpath.suffix.lower().lstrip(".")
    if fmt in {"jsonl", "ndjson"}:
        cases, columns = _read_jsonl_cases(dpath, shown, fields, col)
    elif fmt == "csv":
        cases, columns = _read_csv_cases(dpath, shown, fields, col)
    else:
        col.add(("dataset", "format"), f"unsupported dataset format {fmt!r} (jsonl or csv)")
        return []
    if cases:
        _check_columns(fields, columns, len(cases), shown, col)
    elif columns is not None and not any(p.file == shown for p in col.problems):
        col.add(("dataset", "path"), f"{shown} has no rows")
    return cases


FIELD_ROLES = ("id", "target", "metadata", "input")


def _fields(raw: Any, col: _Collector) -> dict[str, Any]:
    """`dataset.fields`: id/target name one column, metadata lists columns, input maps
    template variables to columns."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        col.add(("dataset", "fields"), "must map id/target/metadata/input to dataset columns")
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        path = ("dataset", "fields", key)
        if key not in FIELD_ROLES:
            col.add(path, "unknown mapping (expected id, target, metadata, input)")
        elif key in ("id", "target") and not isinstance(value, str):
            col.add(path, "must be the name of a column")
        elif key == "metadata" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            col.add(path, "must list column names (e.g. [lang, source])")
        elif key == "input" and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            col.add(path, "must map template variables to column names (e.g. {question: text})")
        else:
            out[key] = value
    return out


def _check_columns(fields: dict[str, Any], columns: dict[str, int] | None, n_rows: int, shown: str,
                   col: _Collector) -> None:
    """Every column `fields` names must be in the dataset: once per mapping, naming the
    dataset file (a CSV's header; for JSONL, the rows that lack it)."""
    if columns is None:
        return
    wanted: list[tuple[tuple, str, str | None]] = []  # (field path, column, template variable)
    for role in ("id", "target"):
        if role in fields:
            wanted.append((("dataset", "fields", role), fields[role], None))
    for name in fields.get("metadata", []):
        wanted.append((("dataset", "fields", "metadata"), name, None))
    for var, name in fields.get("input", {}).items():
        wanted.append((("dataset", "fields", "input", var), name, var))
    if "target" not in fields and not any(columns.get(c) for c in ("target", "targets", "ideal")):
        col.add(("dataset", "fields", "target"), f"{shown} has no target, targets or ideal column; name the "
                f"column holding the accepted answer with fields: {{target: COLUMN}}")
        col.target_unmapped = True
    for path, name, var in wanted:
        have = columns.get(name, 0)
        if have == n_rows:
            continue
        if have == 0:
            known = ", ".join(columns) or "none"
            col.add(path, f"no column {name!r} in {shown}{checks.did_you_mean(name, columns)} (columns: {known})")
        else:
            col.add(path, f"column {name!r} is missing on {n_rows - have} of {n_rows} rows of {shown}")
        if var is not None:
            col.unmapped_vars.add(var)
        if path[-1] == "target":
            col.target_unmapped = True


def _decode_error(shown: str, raw: bytes, exc: UnicodeDecodeError, what: str) -> Problem:
    line = raw[: exc.start].count(b"\n") + 1
    return Problem(shown, "", f"{what} is not UTF-8 text (byte 0x{raw[exc.start]:02x})", line)


def _read_text(path: Path, shown: str, col: _Collector) -> str | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        col.problems.append(Problem(shown, "", f"cannot read dataset: {exc.strerror or exc.__class__.__name__}"))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        col.problems.append(_decode_error(shown, raw, exc, "the dataset"))
        return None


def _read_jsonl_cases(path: Path, shown: str, fields: dict, col: _Collector,
                      ) -> tuple[list[Case], dict[str, int] | None]:
    """Cases of a JSONL file and, per key, how many rows hold it."""
    cases: list[Case] = []
    text = _read_text(path, shown, col)
    if text is None:
        return [], None
    columns: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            col.problems.append(Problem(shown, "", f"invalid JSON: {exc.msg} (column {exc.colno})", lineno))
            continue
        if not isinstance(item, dict):
            col.problems.append(Problem(shown, "", "each line must be a JSON object", lineno))
            continue
        for k in item:
            columns[k] = columns.get(k, 0) + 1
        case = _case_from_mapping(item, len(cases), col, (), lineno, shown, fields)
        if case:
            cases.append(case)
    return cases, columns


def _read_csv_cases(path: Path, shown: str, fields: dict, col: _Collector,
                    ) -> tuple[list[Case], dict[str, int] | None]:
    """Cases of a CSV file with a header row; a row of another width is a problem (its
    cells would shift into the wrong columns or read as missing)."""
    text = _read_text(path, shown, col)
    if text is None:
        return [], None
    cases: list[Case] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return [], {}
        for name in {h for h in header if header.count(h) > 1}:
            col.problems.append(Problem(shown, "", f"column {name!r} appears twice in the header", 1))
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(header):
                col.problems.append(Problem(shown, "", f"row has {len(row)} field{'s' if len(row) != 1 else ''}, "
                                            f"the header has {len(header)}", reader.line_num))
                continue
            case = _case_from_mapping(dict(zip(header, row)), len(cases), col, (), reader.line_num, shown, fields)
            if case:
                cases.append(case)
    except csv.Error as exc:
        col.problems.append(Problem(shown, "", f"cannot read CSV: {exc}", reader.line_num))
    return cases, {h: len(cases) for h in header}


def _sampling(raw: Any, col: _Collector) -> Sampling:
    if raw is None:
        return Sampling()
    if not isinstance(raw, dict):
        col.add(("sampling",), "must be a mapping (samples:, temperature:, max_tokens:, seed:)")
        return Sampling()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        path = ("sampling", key)
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        if key in ("samples", "max_tokens"):
            if not number or not isinstance(value, int) or value < 1:
                col.add(path, "must be a positive integer")
            else:
                values[key] = value
        elif key == "temperature":
            if not number or not 0 <= value <= 2:
                col.add(path, "must be a number between 0 and 2")
            else:
                values[key] = float(value)
        elif key == "seed":
            if not number or not isinstance(value, int):
                col.add(path, "must be an integer")
            else:
                values[key] = value
        else:
            col.add(path, "unknown field (expected samples, temperature, max_tokens, seed)")
    return Sampling(**values)


def _scorers(data: dict, col: _Collector) -> list[ScorerSpec]:
    """The suite's scorers, validated once (tuieval.scoring owns the rules) and kept as typed specs."""
    from tuieval.scoring import build_scorers, validate_scorer_spec

    raw = data.get("scorers", data.get("scorer", "normalized"))
    key = "scorers" if "scorers" in data else "scorer"
    specs = raw if isinstance(raw, list) else [raw]
    if not specs:
        col.add((key,), "must list at least one scorer")
        return [ScorerSpec("normalized", "normalized")]
    bad = False
    for i, spec in enumerate(specs):
        path = (key, i) if isinstance(raw, list) else (key,)
        for message in validate_scorer_spec(spec, _field(path)):
            bad = True
            field, _, text = message.partition(": ")
            col.problems.append(Problem(col.file, field if text else _field(path), text or message, col.lines.get(path)))
    if bad:
        return [ScorerSpec("normalized", "normalized")]
    return [ScorerSpec.of(s) for s in build_scorers(specs)]


def _extractors(raw: Any, col: _Collector) -> tuple[str, ...]:
    """Built-in extractors that re-read every response beside the scorers (extraction sensitivity)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        col.add(("extractors",), "must be a list of extractor names (e.g. [strict, number, last_number])")
        return ()
    from tuieval.scoring.extractors import build_extractor

    names = []
    for i, name in enumerate(raw):
        try:
            names.append(build_extractor(name).name)
        except ValueError as exc:
            col.add(("extractors", i), str(exc))
    if len(set(names)) != len(names):
        col.add(("extractors",), "names an extractor twice")
    return tuple(names)


def _perturbations(raw: Any, col: _Collector) -> tuple:
    """`perturbations:` — "NAME[:SEVERITY]" entries or mappings, parsed by tuieval.perturb."""
    if raw is None:
        return ()
    # imported here: tuieval.perturb builds on the suite model
    from tuieval.perturb.registry import PerturbSpecError, specs_from_config

    try:
        return tuple(specs_from_config(raw))
    except PerturbSpecError as exc:
        path = ("perturbations",) if exc.index is None else ("perturbations", exc.index)
        col.add(path, exc.reason)
        return ()


def _gates(raw: Any, col: _Collector) -> list[Gate]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        col.add(("gates",), "must be a list of {metric:, min: or max:, slice:}")
        return []
    gates = []
    for i, item in enumerate(raw):
        path = ("gates", i)
        if not isinstance(item, dict):
            col.add(path, "must be a mapping with metric: and min: or max:")
            continue
        metric = item.get("metric")
        if metric not in GATE_METRICS:
            col.add(path + ("metric",), f"must be one of {', '.join(sorted(GATE_METRICS))}")
            continue
        bounds = {}
        for b in ("min", "max"):
            v = item.get(b)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                col.add(path + (b,), "must be a number")
                v = None
            bounds[b] = v
        if bounds["min"] is None and bounds["max"] is None:
            col.add(path, "needs min: or max:")
            continue
        sl = item.get("slice")
        if sl is not None and (not isinstance(sl, str) or "=" not in sl):
            col.add(path + ("slice",), "must look like key=value (e.g. lang=de)")
            sl = None
        for extra in set(item) - {"metric", "min", "max", "slice"}:
            col.add(path + (extra,), "unknown field (expected metric, min, max, slice)")
        gates.append(Gate(metric=metric, min=bounds["min"], max=bounds["max"], slice=sl))
    return gates


def _variance(raw: Any, col: _Collector) -> VarianceConfig:
    """The `variance:` block: clustering tier and its settings (README "Suite format").

    method: canonical | lexical | embeddings (needs model) | entailment (needs judge) |
    hybrid (needs judge; model optional, else lexical similarity).  model/judge are
    provider/model specs as for --model; base_url (or model_base_url / judge_base_url)
    overrides the provider's endpoint and is required for openai-compatible.
    threshold, tau_low, tau_high in (0, 1] with tau_low < tau_high; linkage average |
    complete; rule strict | lenient | no-contradiction.
    """
    if raw is None:
        return VarianceConfig()
    if isinstance(raw, str):
        raw = {"method": raw}
    if not isinstance(raw, dict):
        col.add(("variance",), "must be a mapping with method:")
        return VarianceConfig()
    method = raw.get("method", "canonical")
    if method not in METHODS:
        col.add(("variance", "method"), f"must be one of {', '.join(sorted(METHODS))}")
        raw = {**raw, "method": "canonical"}
        method = None
    for key in sorted(set(raw) - set(VARIANCE_KEYS), key=str):
        col.add(("variance", key), f"unknown field (expected {', '.join(sorted(VARIANCE_KEYS))})")

    urls: dict[str, str | None] = {}
    for key in URL_KEYS:
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            col.add(("variance", key), "must be an http:// or https:// URL (OpenAI-style includes /v1)")
        else:
            urls[key] = value

    specs: dict[str, tuple[str, str]] = {}
    for key in ("model", "judge"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            col.add(("variance", key), "must be a provider/model string (e.g. openai/gpt-4o-mini)")
            continue
        try:
            provider, _ = parse_spec(value)
        except BackendConfigError as exc:
            col.add(("variance", key), str(exc).removeprefix("--model: "))
            continue
        if provider == "demo":
            col.add(("variance", key), f"{value} is a simulated demo model and cannot "
                    f"{'embed answers' if key == 'model' else 'judge answers'}")
            continue
        if key == "model" and provider == "anthropic":
            col.add(("variance", key), "anthropic has no embeddings endpoint (use openai, ollama, vllm or "
                    "openai-compatible)")
            continue
        if provider == "openai-compatible" and not (urls.get(f"{key}_base_url") or urls.get("base_url")):
            col.add(("variance", "base_url"), f"required for variance.{key} {value} (e.g. http://localhost:8000/v1)")
        specs[key] = (provider, value)

    if method == "embeddings" and raw.get("model") is None:
        col.add(("variance", "model"), "required for method embeddings (e.g. openai/text-embedding-3-small)")
    if method in ("entailment", "hybrid") and raw.get("judge") is None:
        col.add(("variance", "judge"), f"required for method {method} (e.g. openai/gpt-4o-mini)")

    numbers: dict[str, float] = {}
    for key in ("threshold", "tau_low", "tau_high"):
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            col.add(("variance", key), "must be a number in (0, 1]")
        else:
            numbers[key] = float(value)
    if "tau_low" in numbers and "tau_high" in numbers and not numbers["tau_low"] < numbers["tau_high"]:
        col.add(("variance", "tau_low"), f"must be below tau_high ({numbers['tau_low']:g} ≥ {numbers['tau_high']:g})")
    linkage = raw.get("linkage")
    if linkage is not None and linkage not in LINKAGES:
        hint = " (single linkage chains distinct answers together)" if linkage == "single" else ""
        col.add(("variance", "linkage"), f"must be one of {', '.join(LINKAGES)}{hint}")
    rule = raw.get("rule")
    if rule is not None and rule not in RULES:
        col.add(("variance", "rule"), f"must be one of {', '.join(RULES)}")
    return VarianceConfig.from_mapping(raw)
