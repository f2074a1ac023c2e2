"""Turn spec bytes into plain JSON data without letting the bytes choose how much work that is.

Every bound is checked before the expensive step it protects: the byte size before anything, a
string-blind bracket scan before ``json.loads`` (which recurses in C and would otherwise decide the
stack depth), an alias and tag check inside the YAML composer before anything is constructed, and
an iterative walk (never recursion) over the parsed tree for depth and node count. The walk also
collects every ``$ref`` with its location, so reference checks need no second pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from activities.errors import SpecInvalidError

_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
"""A JSON string literal; possessive so an unterminated quote cannot make the scan quadratic."""
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")
_STANDARD_TAG = "tag:yaml.org,2002:"

MAX_YAML_ALIASES = 100
"""Real specs use few YAML aliases; an alias bomb needs many, and expands before any node check."""


def pointer(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """The RFC 6901 JSON pointer for a path of keys and indexes (``""`` for the root)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class RefSite:
    """One ``$ref`` found in the document, and where."""

    ref: str
    where: tuple[str | int, ...]


def parse_document(data: bytes, *, max_depth: int, max_nodes: int) -> Any:
    """Parse JSON or YAML bytes into plain Python data, within the given bounds.

    JSON is recognised by its first non-blank character (``{`` or ``[``); anything else is YAML.

    Raises:
        SpecInvalidError: The bytes are not a document, or exceed a bound.
    """
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        _json_prescan(data, max_depth=max_depth, max_nodes=max_nodes)
        try:
            return json.loads(data)
        except RecursionError:
            raise SpecInvalidError(f"the document nests deeper than {max_depth} levels", pointer="") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SpecInvalidError(f"not valid JSON: {exc}", pointer="") from None
    return _load_yaml(data, max_depth=max_depth, max_nodes=max_nodes)


def _json_prescan(data: bytes, *, max_depth: int, max_nodes: int) -> None:
    """Refuse JSON that is too deep or has too many values, looking only at the raw bytes.

    Strings are cut out first so brackets and commas inside them do not count. Each pass of
    ``_INNERMOST_PAIR`` removes one nesting level everywhere at once, so after ``max_depth``
    passes a document within bounds is empty; all of it runs in C. Unbalanced brackets are left
    to ``json.loads`` to report (with their position).
    """
    skeleton = _JSON_STRING.sub(b"", data)
    brackets = skeleton.translate(None, delete=_NOT_BRACKET)
    estimate = skeleton.count(b",") + len(brackets) // 2 + 1
    if estimate > max_nodes:
        raise SpecInvalidError(f"the document has more than {max_nodes} values", pointer="")
    for _ in range(max_depth):
        if not brackets:
            return
        brackets = _INNERMOST_PAIR.sub(b"", brackets)
    opening = brackets.count(b"[") + brackets.count(b"{")
    if brackets and opening * 2 == len(brackets):
        raise SpecInvalidError(f"the document nests deeper than {max_depth} levels", pointer="")


class _BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing explicit tags, alias bombs and deep nesting before construction.

    ``yaml.SafeLoader`` already refuses ``!!python/*``; this also refuses every other explicit
    tag (``!!binary``, ``!!set``, custom ``!x``), since an OpenAPI document needs none. Timestamps
    stay strings and mapping keys become strings, so the result is what the JSON form would give.
    """

    max_depth = 64
    max_nodes = 2_000_000

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._nodes = 0
        self._open_anchors: set[str] = set()

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, counting aliases, depth and nodes and refusing explicit tags."""
        event = self.peek_event()
        mark = getattr(event, "start_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise SpecInvalidError(
                    f"the YAML uses more than {MAX_YAML_ALIASES} aliases{where}; alias bombs are refused",
                    pointer="",
                )
            if event.anchor in self._open_anchors:
                raise SpecInvalidError(f"recursive YAML alias *{str(event.anchor)[:40]}{where}", pointer="")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise SpecInvalidError(f"YAML tag {tag[:80]!r} is not allowed{where}", pointer="")
        self._nodes += 1
        if self._nodes > self.max_nodes:
            raise SpecInvalidError(f"the document has more than {self.max_nodes} values", pointer="")
        anchor = None if isinstance(event, yaml.AliasEvent) else getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise SpecInvalidError(
                    f"the document nests deeper than {self.max_depth} levels{where}", pointer=""
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        """Construct a mapping with every key turned into the string JSON would have."""
        mapping = super().construct_mapping(node, deep=deep)
        return {_key_text(key): value for key, value in mapping.items()}


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float | str):
        return str(key)
    raise SpecInvalidError(f"a mapping key of type {type(key).__name__} is not allowed", pointer="")


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_BoundedSafeLoader.add_constructor(_STANDARD_TAG + "timestamp", _timestamp_as_text)


def _load_yaml(data: bytes, *, max_depth: int, max_nodes: int) -> Any:
    try:
        loader = _BoundedSafeLoader(data)
    except yaml.YAMLError as exc:
        raise SpecInvalidError(f"not valid YAML: {str(exc)[:200]}", pointer="") from None
    loader.max_depth = max_depth
    loader.max_nodes = max_nodes
    try:
        return loader.get_single_data()
    except RecursionError:
        raise SpecInvalidError(f"the document nests deeper than {max_depth} levels", pointer="") from None
    except yaml.YAMLError as exc:
        text = str(exc).replace("\n", " ")[:300]
        raise SpecInvalidError(f"not valid YAML: {text}", pointer="") from None
    finally:
        loader.dispose()


def walk_bounds(document: Any, *, max_depth: int, max_nodes: int) -> tuple[list[RefSite], int]:
    """Check depth and size of parsed data iteratively; return every ``$ref`` in it and the value count.

    Shared objects (YAML aliases) are counted each time they are reached, which is what bounds
    an alias bomb that stayed under the alias count; a recursive alias runs into the node bound.

    Raises:
        SpecInvalidError: The data is deeper or larger than allowed, or has a non-JSON value.
    """
    refs: list[RefSite] = []
    nodes = 0
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        obj, where = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise SpecInvalidError(f"the document has more than {max_nodes} values", pointer=pointer(where))
        if len(where) >= max_depth:
            raise SpecInvalidError(
                f"the document nests deeper than {max_depth} levels", pointer=pointer(where)
            )
        if isinstance(obj, dict):
            ref = obj.get("$ref")
            if isinstance(ref, str):
                refs.append(RefSite(ref=ref, where=where))
            items: Any = obj.items()
        elif isinstance(obj, list):
            items = enumerate(obj)
        else:
            if not isinstance(obj, str | int | float | type(None)):
                raise SpecInvalidError(
                    f"a value of type {type(obj).__name__} is not allowed in a spec", pointer=pointer(where)
                )
            continue
        for key, value in items:
            if isinstance(value, dict | list):
                stack.append((value, (*where, key)))
            else:
                nodes += 1
                if not isinstance(value, str | int | float | type(None)):
                    raise SpecInvalidError(
                        f"a value of type {type(value).__name__} is not allowed in a spec",
                        pointer=pointer((*where, key)),
                    )
    if nodes > max_nodes:
        raise SpecInvalidError(f"the document has more than {max_nodes} values", pointer="")
    return refs, nodes
