"""Copy parts of a resolved spec into the ``ApiDescription`` as small, plain JSON trees.

The resolved document is a DAG with shared subtrees and recursion markers; what goes into the
description is stored and sent around, so it must be a bounded tree: at most ``MAX_DEPTH`` levels
(deeper containers become empty), at most ``NODE_BUDGET`` values per schema, strings cut at
``MAX_TEXT``, and no ``$ref`` left anywhere (a recursion marker becomes ``{"x-recursive": ref}``).
"""

from __future__ import annotations

from typing import Any, Literal

from sdkgen._spec_refs import RECURSIVE

MAX_DEPTH = 8
NODE_BUDGET = 1_000
MAX_TEXT = 2_000

JsonType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]
_JSON_TYPES: frozenset[str] = frozenset({"string", "integer", "number", "boolean", "array", "object"})


def is_marker(obj: Any) -> bool:
    """True for the marker the resolver leaves where a reference cycle closes."""
    return isinstance(obj, dict) and obj.get(RECURSIVE) is True and "$ref" in obj


def bounded(obj: Any, *, max_depth: int = MAX_DEPTH, budget: int = NODE_BUDGET) -> Any:
    """A bounded plain-JSON copy of ``obj`` (see the module docstring)."""
    left = [budget]

    def copy(value: Any, depth: int) -> Any:
        left[0] -= 1
        if isinstance(value, dict):
            if is_marker(value):
                return {RECURSIVE: str(value["$ref"])[:MAX_TEXT]}
            if depth >= max_depth or left[0] <= 0:
                return {}
            out: dict[str, Any] = {}
            for key, item in value.items():
                if left[0] <= 0:
                    break
                out[str(key)[:MAX_TEXT]] = copy(item, depth + 1)
            return out
        if isinstance(value, list):
            if depth >= max_depth or left[0] <= 0:
                return []
            items: list[Any] = []
            for item in value:
                if left[0] <= 0:
                    break
                items.append(copy(item, depth + 1))
            return items
        if isinstance(value, str):
            return value[:MAX_TEXT]
        if isinstance(value, bool | int | float) or value is None:
            return value
        return str(value)[:MAX_TEXT]

    return copy(obj, 0)


def json_type(schema: Any) -> JsonType:
    """The JSON type a schema describes, or ``"any"`` when it does not say one clearly."""
    for _ in range(MAX_DEPTH):
        if not isinstance(schema, dict) or is_marker(schema):
            return "any"
        declared = schema.get("type")
        if isinstance(declared, list):
            kinds = [t for t in declared if isinstance(t, str) and t != "null"]
            declared = kinds[0] if len(kinds) == 1 else None
        if isinstance(declared, str) and declared in _JSON_TYPES:
            return declared  # type: ignore[return-value]
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        for combinator in ("allOf", "oneOf", "anyOf"):
            parts = schema.get(combinator)
            if isinstance(parts, list) and len(parts) == 1:
                schema = parts[0]
                break
        else:
            return "any"
    return "any"


def media_schema(content: Any) -> tuple[str, Any] | None:
    """The first JSON media type of a ``content`` map and its schema, or None when there is none."""
    if not isinstance(content, dict):
        return None
    for media_type, media in content.items():
        if is_json_media(str(media_type)):
            schema = media.get("schema", {}) if isinstance(media, dict) else {}
            return str(media_type), schema
    return None


def is_json_media(media_type: str) -> bool:
    """True for media types a JSON body can be sent or read as."""
    base = media_type.split(";", 1)[0].strip().lower()
    return base in {"application/json", "text/json", "*/*", "application/*"} or base.endswith("+json")
