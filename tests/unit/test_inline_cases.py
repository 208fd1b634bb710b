"""The suite loader's one-line cases read without YAML nodes (tuieval.suite.inline_cases) against
the loader's general path (the whole file composed by libyaml): the same Suite, the same
problems with the same lines, wherever the fast path answers; and it declines what it cannot
read the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuieval.suite import loader
from tuieval.suite.inline_cases import split_inline_cases

HEAD = "name: s\ntemplate: 'Q: {{ q }}'\nscorers: [{type: exact}]\n"


def _both(tmp_path: Path, text: str):
    """(fast, general): each (suite or None, problems), loaded from the same file."""
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    out = []
    for on in (True, False):
        loader._INLINE_CASES = on
        try:
            out.append(loader._load(path))
        finally:
            loader._INLINE_CASES = True
    return out


def _same(tmp_path: Path, text: str) -> bool:
    """Asserts both ways agree; returns whether the fast path took the cases."""
    (fast_suite, fast_problems), (general_suite, general_problems) = _both(tmp_path, text)
    assert fast_problems == general_problems, text
    assert fast_suite == general_suite, text
    if fast_suite is not None:  # the values' types too (True is not 1, 1.0 is not 1)
        for a, b in zip(fast_suite.cases, general_suite.cases):
            assert [type(v) for v in a.vars.values()] == [type(v) for v in b.vars.values()], text
            assert [type(v) for v in a.targets] == [type(v) for v in b.targets], text
    return split_inline_cases(text) is not None


def test_the_benchmarks_shape_is_read_without_nodes_and_the_same(tmp_path):
    text = HEAD.replace("{{ q }}", "<<{{ token }}>>") + "cases:\n" + "".join(
        f"  - {{id: c{i}, token: tok{i}, target: tok{i}}}\n" for i in range(50))
    assert _same(tmp_path, text)
    suite = loader.load_suite(tmp_path / "s.yaml")
    # read by hand: 50 cases, the first on line 5 with its own token as the target
    assert len(suite.cases) == 50 and suite.cases[0].line == 5 and suite.cases[49].line == 54
    assert suite.cases[7].id == "c7" and suite.cases[7].vars == {"token": "tok7"} and suite.cases[7].targets == ["tok7"]


def test_scalar_types_quotes_and_spaces_read_as_yaml_reads_them(tmp_path):
    text = HEAD + ("cases:\n"
                   "  - {id: a, q: 7, target: 7.5, n: -3, x: 0x1F, o: 017, f: 1_000, e: 1e3, t: yes, u: Off, z: ~}\n"
                   "  - {id: 'b', q: \"Capital of France, in one word\", target: Paris, day: 2024-01-02, s: '012'}\n"
                   "  -   {  id : c ,  q:  two  words here ,target: .5,inf: -.inf }\n"
                   "\n"
                   "  # a comment line between cases\n"
                   "  - {\"id\": \"d\", \"q\": \"json-like\", \"target\": \"x\", \"b\": true, \"n\": null}\n"
                   "sampling: {samples: 2}\n")
    assert _same(tmp_path, text)
    suite = loader.load_suite(tmp_path / "s.yaml")
    a, b, c, d = suite.cases
    # by hand, YAML 1.1 as PyYAML reads it: 017 is octal, 1e3 (no dot) and '012' are text
    assert a.vars == {"q": 7, "n": -3, "x": 31, "o": 15, "f": 1000, "e": "1e3", "t": True, "u": False, "z": None}
    assert a.targets == [7.5] and b.vars["day"] == "2024-01-02" and b.vars["s"] == "012"
    assert c.id == "c" and c.vars["q"] == "two  words here" and c.targets == [0.5]
    assert d.vars == {"q": "json-like", "b": True, "n": None} and d.targets == ["x"]
    assert suite.sampling.samples == 2 and d.line == 10


@pytest.mark.parametrize("case_line", [
    "  - {id: a, q: {nested: 1}, target: x}",        # a nested mapping
    "  - {id: a, q: [1, 2], target: x}",             # a list
    "  - {id: a, q: &anchor v, target: x}",          # an anchor
    "  - {id: a, q: !!str 5, target: x}",            # a tag
    "  - {id: a, q: v, target: x}  # a comment",      # a comment after the mapping
    "  - {id: a, q: v # comment, target: x}",         # a comment inside
    "  - {id: a, 1: v, target: x}",                   # a key that is not text
    "  - {id: a, true: v, target: x}",
    "  - {id: a, <<: v, target: x}",
    "  - {id: a, q: 'it''s', target: x}",            # a quote inside single quotes
    "  - {id: a, q: \"a\\tb\", target: x}",           # an escape
    "  - {id: a, q:\tv, target: x}",                  # a tab
    "  - {id: a, q: http://x, target: x}",            # a ':' in a plain scalar
    "  - {id: a, q: what?, target: x}",               # a '?'
    "  - {id: a, q: v, target: x,}",                  # a trailing comma
    "  - {id: a, q, target: x}",                      # a key without a value
    "  - {}",
    "  - {id: a,\n     q: v, target: x}",             # over two lines
    "  - id: a\n    q: v\n    target: x",              # block style
    "- {id: a, q: v, target: x}",                     # another indentation than the first case
])
def test_what_the_fast_path_declines_is_read_the_general_way(tmp_path, case_line):
    text = HEAD + "cases:\n  - {id: z, q: first, target: y}\n" + case_line + "\n"
    taken = _same(tmp_path, text)
    assert not taken


@pytest.mark.parametrize("text", [
    HEAD + "cases:\n  - {id: a, q: v}\n",                                      # a problem: no target
    HEAD + "cases:\n  - {id: a, q: v, target: x}\n  - {id: a, q: w, target: y}\n",  # a duplicate id
    HEAD.replace("{{ q }}", "{{ missing }}") + "cases:\n  - {id: a, q: v, target: x}\n",
    HEAD + "cases:\n  - {id: a, q: v, target: x}\ncases:\n  - {id: b, q: v, target: x}\n",  # the key twice
    HEAD + "cases:\n  - {id: a, q: v, target: x}\n...\n",
    "description: |\n  cases:\n  - {id: a}\n" + HEAD + "cases:\n  - {id: a, q: v, target: x}\n",
    "name: \"two\n  lines\"\n" + HEAD[8:] + "cases:\n  - {id: a, q: v, target: x}\n",
])
def test_problems_and_odd_documents_are_the_same_both_ways(tmp_path, text):
    _same(tmp_path, text)


_TOKENS = ["a", "tok", "x y", "Paris", "7", "-3", "+4", "0", "012", "0x1F", "0o17", "1_000", "1e3", "1.0e+3", ".5",
           "-.inf", ".nan", "yes", "No", "on", "OFF", "true", "False", "~", "null", "Null", "2024-01-02",
           "2001-12-14t21:59:43.10-05:00", "-", "--x", "<<", "=", "é", "日本", "a.b", "a/b", "a-b", "_x", "%x", "@x",
           "`x", "!x", "&x", "*x", "|x", ">x", "x>", "x|y", "x!", "x&y", "x*y", "x=y", "1:2", "x#y", "a  b"]
_scalar = st.one_of(
    st.sampled_from(_TOKENS),
    st.sampled_from(_TOKENS).map(lambda t: f"'{t}'"),
    st.sampled_from(_TOKENS).map(lambda t: f'"{t}"'),
    st.text(alphabet="ab ,:#'\"-?{}[]\\", min_size=0, max_size=6),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(_scalar, _scalar), min_size=1, max_size=4), min_size=1, max_size=4),
       st.sampled_from(["  ", "", "    "]))
def test_generated_one_line_cases_are_the_same_both_ways(tmp_path, cases, indent):
    lines = [f"{indent}- {{id: c{i}, target: t, " + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
             for i, pairs in enumerate(cases)]
    _same(tmp_path, HEAD + "cases:\n" + "\n".join(lines) + "\n")


ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for d in ("sample_suites", "tests/fixtures", "tuieval/sample_suites")
               for p in (ROOT / d).rglob("*.y*ml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_and_fixture_suite_loads_the_same_both_ways(tmp_path, path):
    _same(tmp_path, path.read_text(encoding="utf-8-sig"))
