"""Check and resolve a spec's ``$ref``s: internal only, linear in memory, cycles cut into markers.

Why not prance's ``ResolvingParser``: it parses the text again with its own YAML/JSON loaders
(bypassing the bounded safe loader), resolves by copying every referenced subtree at every use, so
a document whose schemas reference each other twice per level grows exponentially (a "billion
laughs" made of ``$ref``s), and it stops at recursive references with an error rather than keeping
them. Here every referenced object is copied once and shared by all its uses, so the resolved
document is never larger than the original; recursive references are kept as
``{"$ref": ..., "x-recursive": true}`` markers at the point where the cycle closes.

Consequence for callers: the resolved document is a DAG (shared subtrees), not a tree. Walk it with
a depth or node budget (``sdkgen.operations`` does) and never serialize it; the original bytes are
what gets stored.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from activities.errors import SpecInvalidError
from sdkgen._spec_parse import RefSite, pointer

RECURSIVE = "x-recursive"
"""Key set on the marker left where a reference cycle closes."""

_USERINFO = re.compile(r"//[^/@\s]*@")
_LOOP = object()


def _shown(ref: str) -> str:
    """The reference as it may appear in a message: shortened, with any user:password removed."""
    return _USERINFO.sub("//***@", ref)[:200]


def _is_ref(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("$ref"), str)


def _lookup(document: Any, ref: str) -> Any:
    """The object an internal reference names, in the unresolved document (KeyError if none)."""
    fragment = unquote(ref[1:])
    if fragment == "":
        return document
    if not fragment.startswith("/"):
        raise KeyError(ref)
    obj = document
    for raw in fragment[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            raise KeyError(ref)
    return obj


def check_refs(document: Any, refs: list[RefSite]) -> None:
    """Refuse any reference that leaves the document or names nothing in it.

    Raises:
        SpecInvalidError: With the JSON pointer of the offending ``$ref``.
    """
    for site in refs:
        where = pointer((*site.where, "$ref"))
        if not site.ref.startswith("#"):
            raise SpecInvalidError(
                f"external reference {_shown(site.ref)!r} is not allowed: only references inside the "
                "document ('#/...') are resolved; files and URLs are never read",
                pointer=where,
            )
        try:
            _lookup(document, site.ref)
        except KeyError:
            raise SpecInvalidError(
                f"reference {_shown(site.ref)!r} names nothing in the document", pointer=where
            ) from None


def resolve_refs(document: Any) -> Any:
    """A copy of ``document`` with every internal reference replaced by its (shared) target.

    Only call after ``check_refs``: every reference is then internal and names something.
    """
    shells: dict[int, Any] = {}
    shell_ref: dict[int, str] = {}
    finals: dict[str, Any] = {}
    todo: list[Any] = []

    def final_target(ref: str) -> Any:
        if ref not in finals:
            seen = {ref}
            obj = _lookup(document, ref)
            while _is_ref(obj):
                nxt = obj["$ref"]
                if nxt in seen:
                    obj = _LOOP
                    break
                seen.add(nxt)
                obj = _lookup(document, nxt)
            finals[ref] = obj
        return finals[ref]

    def shell_for(orig: Any) -> Any:
        shell = shells.get(id(orig))
        if shell is None:
            shell = {} if isinstance(orig, dict) else []
            shells[id(orig)] = shell
            todo.append(orig)
        return shell

    def value_for(orig: Any) -> Any:
        if _is_ref(orig):
            ref = orig["$ref"]
            target = final_target(ref)
            if target is _LOOP:
                return {"$ref": ref, RECURSIVE: True}
            if isinstance(target, dict | list):
                shell = shell_for(target)
                shell_ref.setdefault(id(shell), ref)
                return shell
            return target
        if isinstance(orig, dict | list):
            return shell_for(orig)
        return orig

    root = value_for(document)
    while todo:
        orig = todo.pop()
        shell = shells[id(orig)]
        if isinstance(orig, dict):
            for key, value in orig.items():
                shell[key] = value_for(value)
        else:
            shell.extend(value_for(value) for value in orig)
    _cut_cycles(root, shell_ref)
    return root


def _cut_cycles(root: Any, shell_ref: dict[int, str]) -> None:
    """Replace every back edge of an iterative depth-first walk by a marker, leaving a DAG.

    Removing the back edges of a depth-first search removes every cycle; shared subtrees are
    entered once (black), so the walk is linear in the number of distinct objects.
    """
    if not isinstance(root, dict | list):
        return
    gray, black = 1, 2
    color: dict[int, int] = {id(root): gray}
    stack: list[tuple[Any, Any]] = [(root, iter(_keys(root)))]
    while stack:
        node, keys = stack[-1]
        for key in keys:
            child = node[key]
            if not isinstance(child, dict | list):
                continue
            state = color.get(id(child))
            if state == gray:
                node[key] = {"$ref": shell_ref.get(id(child), "#"), RECURSIVE: True}
            elif state is None:
                color[id(child)] = gray
                stack.append((child, iter(_keys(child))))
                break
        else:
            color[id(node)] = black
            stack.pop()


def _keys(obj: Any) -> list[Any]:
    return list(obj) if isinstance(obj, dict) else list(range(len(obj)))
