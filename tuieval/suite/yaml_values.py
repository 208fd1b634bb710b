"""A suite's YAML as plain values: the node tree read straight into dicts, lists and scalars.

The loader used to build values with PyYAML's SafeConstructor (a generator per mapping, a
memo of every node, the type checks of each tag) and then copy them once more into what
JSON can store (`loader._plain`: dates become their ISO text). For what suites are made
of — mappings, sequences and scalars with the standard tags — :func:`plain_values` does
both in one walk; a suite of thousands of inline cases loads in a fraction of the time.

Anything else (merge keys ``<<``, ``!!binary``, ``!!set``, ``!!omap``, custom tags, a
collection as a mapping key, an alias to its own ancestor, a scalar the standard
constructor rejects) makes it return :data:`UNSUPPORTED`, and the loader takes the
general path, which gives the same values and every problem as before.
`tests/unit/test_suite_yaml_values.py` holds the two equal over many documents.
"""

from __future__ import annotations

import datetime
from typing import Any

import yaml

#: returned when the tree holds something only the general path handles
UNSUPPORTED = object()

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# the other scalar tags of the YAML 1.1 core schema, built by SafeConstructor's own code
_SCALAR_TAGS = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                          "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"})
# keys that change what a mapping means (SafeConstructor.flatten_mapping)
_SPECIAL_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


class _Unsupported(Exception):
    pass


class SuiteYAMLLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's parser when present) resolving each distinct plain scalar's
    tag once. Without path resolvers (the safe loader has none) a tag depends only on the
    node's kind, its text and whether it was plain: quoted text is a string, a collection
    its default tag, and a suite repeats the same keys and values in every case."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._tags: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return self.DEFAULT_SCALAR_TAG
            tag = self._tags.get(value)
            if tag is None:
                tag = self._tags[value] = super().resolve(kind, value, implicit)
            return tag
        return self.DEFAULT_SEQUENCE_TAG if kind is yaml.SequenceNode else self.DEFAULT_MAPPING_TAG


def plain_values(node: yaml.Node | None) -> Any:
    """The document's values as `loader._plain(SafeConstructor().construct_document(node))`
    gives them for a tree without problems, or :data:`UNSUPPORTED`."""
    if node is None:
        return None
    constructor = yaml.constructor.SafeConstructor()
    scalars = constructor.yaml_constructors
    ScalarNode, MappingNode, SequenceNode = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
    active: set[int] = set()  # the collections being built: an alias back to one is recursion

    def scalar(n: yaml.ScalarNode) -> Any:
        tag = n.tag
        if tag == _STR:
            return n.value
        if tag not in _SCALAR_TAGS:
            raise _Unsupported
        value = scalars[tag](constructor, n)
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()  # as _plain: a date in a suite means its text
        return value

    def build(n: yaml.Node) -> Any:
        cls = n.__class__
        if cls is ScalarNode:
            return scalar(n)
        key = id(n)
        if key in active:
            raise _Unsupported
        active.add(key)
        try:
            if cls is MappingNode and n.tag == _MAP:
                out: dict[Any, Any] = {}
                for k, v in n.value:
                    if k.__class__ is not ScalarNode or k.tag in _SPECIAL_KEY_TAGS:
                        raise _Unsupported
                    out[scalar(k)] = build(v)
                return out
            if cls is SequenceNode and n.tag == _SEQ:
                return [build(item) for item in n.value]
            raise _Unsupported
        finally:
            active.discard(key)

    try:
        return build(node)
    except Exception:  # anything unusual: the general path says what it is
        return UNSUPPORTED
