"""Turn arbitrary spec strings into safe, readable, unique Python identifiers.

Operation ids, parameter and property names come from the spec, i.e. from whoever wrote it, and
end up as names in generated code. Whatever goes in, what comes out is ASCII snake_case that
``str.isidentifier`` accepts, is no keyword or soft keyword, does not shadow a builtin, and is
unique in its scope; so no spec text can reach a code position of the generated SDK as anything
but a plain name.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["MAX_LENGTH", "NameScope", "identifier", "is_safe_identifier"]

MAX_LENGTH = 80
"""Longer names are cut; uniqueness suffixes come after the cut."""

_RESERVED = (
    frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"self", "cls"}
)
_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def is_safe_identifier(name: str) -> bool:
    """True when ``name`` may be used as a generated name (identifier, ASCII, no keyword)."""
    return (
        name.isascii()
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and not keyword.issoftkeyword(name)
    )


def identifier(text: str, *, fallback: str = "value", prefix: str = "n", reserved: Iterable[str] = ()) -> str:
    """A snake_case identifier for ``text``.

    Args:
        text: Any string (operationId, parameter name, path, ...).
        fallback: Used when nothing identifier-like is left (must itself be safe).
        prefix: Put before a name that would start with a digit.
        reserved: More names to avoid (the renderer's own locals); they get a ``_`` suffix.

    Returns:
        ASCII lower snake_case; keywords, soft keywords, builtins and ``reserved`` get ``_`` appended.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    snake = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", ascii_text)).lower()
    name = _NOT_WORD.sub("_", snake).strip("_")[:MAX_LENGTH].rstrip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{prefix}_{name}"
    if name in _RESERVED or name in set(reserved):
        name += "_"
    return name


class NameScope:
    """Names already handed out in one scope (an API's operations, an operation's parameters)."""

    def __init__(self, *, reserved: Iterable[str] = ()) -> None:
        self._reserved = frozenset(reserved)
        self._taken: set[str] = set(self._reserved)

    def claim(self, text: str, *, fallback: str = "value") -> str:
        """A name for ``text`` not yet used in this scope (``_2``, ``_3``, ... on a clash)."""
        base = identifier(text, fallback=fallback, reserved=self._reserved)
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        return name

    def __contains__(self, name: object) -> bool:
        return name in self._taken
