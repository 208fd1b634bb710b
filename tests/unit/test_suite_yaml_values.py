"""The suite loader's one-walk YAML values (tuieval.suite.yaml_values) against the general path
(PyYAML's SafeConstructor with the stock safe loader, then the loader's `_plain`): equal, value
for value and type for type, wherever the fast path answers, and it declines exactly what only
the general path handles."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuieval.suite import loader
from tuieval.suite.loader import load_suite
from tuieval.suite.yaml_values import UNSUPPORTED, SuiteYAMLLoader, plain_values

ROOT = Path(__file__).resolve().parents[2]


def general(text: str):
    """What the loader built before: the stock loader's tree, SafeConstructor, `_plain`."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.constructor.SafeConstructor().construct_document(node) if node is not None else None
    col = loader._Collector("x.yaml")
    return loader._plain(data, (), col), col.problems


def fast(text: str):
    return plain_values(yaml.compose(text, Loader=SuiteYAMLLoader))


def same(a, b) -> bool:
    """Equal with types and order (True is not 1, NaN equals NaN, dict order counts)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return (len(a) == len(b) and all(same(ka, kb) and same(va, vb)
                                         for (ka, va), (kb, vb) in zip(a.items(), b.items())))
    return a == b


def check(text: str) -> object:
    got = fast(text)
    if got is not UNSUPPORTED:
        want, problems = general(text)
        assert problems == []
        assert same(got, want), (text, got, want)
    return got


FILES = sorted(p for d in ("sample_suites", "tests/fixtures", "tuieval/sample_suites")
               for p in (ROOT / d).rglob("*.y*ml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_and_fixture_yaml_file_is_read_the_same(path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig")
    try:
        general(text)
    except yaml.YAMLError:
        pytest.skip("not valid YAML (a fixture for the error path)")
    check(text)


def test_the_common_suite_shape_takes_the_fast_path_with_every_scalar_type() -> None:
    text = ("name: s\ntemplate: 'Q: {{ q }}'\ncases:\n"
            "  - {id: c1, q: what, target: 7, n: 0x1F, o: 017, oo: 0o17, f: 1_000.5, big: 1.0e+3, e: 1e3, t: yes, of: Off,\n"
            "     nul: ~, day: 2024-01-02, when: 2001-12-14t21:59:43.10-05:00, inf: -.inf, s: '012'}\n"
            "  - id: c2\n    q: |\n      two\n      lines\n    target: [a, 'b', \"c\"]\n"
            "    2024-03-04: dated key\n    2: two\n    true: t\n    null: n\n")
    got = check(text)
    assert got is not UNSUPPORTED
    c1, c2 = got["cases"]
    # hand-read values of the YAML 1.1 core schema
    assert (c1["target"], c1["n"], c1["o"], c1["f"], c1["big"]) == (7, 31, 15, 1000.5, 1000.0)
    assert (c1["oo"], c1["e"]) == ("0o17", "1e3")  # YAML 1.1: no 0o prefix, an exponent needs a dot
    assert c1["t"] is True and c1["of"] is False and c1["nul"] is None and c1["s"] == "012"
    assert c1["day"] == "2024-01-02" and c1["inf"] == -math.inf
    assert c1["when"].startswith("2001-12-14T21:59:43.1")
    assert c2["q"] == "two\nlines\n" and c2["target"] == ["a", "b", "c"]
    assert list(c2)[-4:] == ["2024-03-04", 2, True, None]


def test_anchors_and_aliases_give_equal_copies() -> None:
    got = check("base: &b {model: m, n: 2}\nuse: *b\nlist: &l [1, 2]\nagain: *l\n")
    assert got["use"] == {"model": "m", "n": 2} and got["again"] == [1, 2]


@pytest.mark.parametrize("text", [
    "a: &x {b: 1}\nc: {<<: *x, d: 2}\n",          # merge key
    "blob: !!binary aGVsbG8=\n",                  # bytes
    "s: !!set {a, b}\n",                           # a set
    "o: !!omap [{a: 1}, {b: 2}]\n",                # ordered pairs
    "x: !custom 3\n",                              # an unknown tag
    "? [a, b]\n: 1\n",                             # a list as a key
    "? {a: 1}\n: 1\n",                             # a mapping as a key
    "a: &r [1, *r]\n",                             # an alias to its own ancestor
    "= : 1\n",                                     # the value key
])
def test_what_only_the_general_path_handles_is_declined(text: str) -> None:
    assert fast(text) is UNSUPPORTED


# Random documents of plain, quoted and tricky scalars in flow and block collections.
TRICKY = ["yes", "No", "on", "OFF", "~", "null", "Null", "true", "False", "0", "-0", "+12", "012", "0x1F", "0o17",
          "0b101", "1_000", "1:30", "190:20:30", "1e3", "1.5e-3", "6.8523015e+5", ".inf", "-.Inf", ".NaN", "3.",
          "2024-01-01", "2024-1-1", "2001-12-14 21:59:43.10 -5", "2001-12-14t21:59:43.10-05:00", "a", "b c",
          "'quoted'", '"dq \\u00e9"', "héllo", "-", "=x", "<<x", "12abc", "0.", "._", "1__2"]
scalars = st.sampled_from(TRICKY)
keys = st.sampled_from(["id", "q", "target", "1", "true", "~", "2024-01-01", "k k", "0x10", "yes", "'s'"])


def flow(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    return value


values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, min_size=1, max_size=5), st.booleans())
def test_random_documents_read_the_same(doc: dict, block: bool) -> None:
    text = ("\n".join(f"{k}: {flow(v)}" for k, v in doc.items()) + "\n") if block else flow(doc) + "\n"
    try:
        general(text)
    except (yaml.YAMLError, ValueError):
        return  # not valid YAML for either path (e.g. a duplicate merge of tricky text)
    got = check(text)
    assert got is not UNSUPPORTED, text


def test_a_suite_loads_to_the_same_cases_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntemplate: 'Say {{ token }}'\nscorers: [exact]\ncases:\n"
                    + "".join(f"  - {{id: c{i}, token: t{i}, target: t{i}, metadata: {{lang: en, n: {i}}}}}\n"
                              for i in range(20)))
    quick = load_suite(path)
    monkeypatch.setattr(loader, "plain_values", lambda node: UNSUPPORTED)
    slow = load_suite(path)
    assert [(c.id, c.vars, c.targets, c.metadata, c.line) for c in quick.cases] == \
           [(c.id, c.vars, c.targets, c.metadata, c.line) for c in slow.cases]
    assert quick.cases[3].metadata == {"lang": "en", "n": 3} and quick.cases[3].line == 8
