"""Walking the pages of a list operation: page, offset, cursor or Link header, bounded by ``max_pages``.

Page, offset and cursor pagination call the guest once per page with the page argument changed,
so every page goes through the SDK like the first. A ``Link: <...>; rel="next"`` URL is fetched by
the host itself (the SDK only builds URLs from its own arguments), through the same egress check,
credential injection, limits and audit as a guest request: a next link to another origin is refused.
Reaching ``max_pages`` ends the walk quietly; it is the registration's explicit bound.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from activities.errors import ApiCallError
from sdkgen.model import Operation, Pagination
from sdkgen.runtime._target import ApiResponse

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of a Link header (RFC 8288), if any."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        rel = _REL.search(match.group(2))
        if rel and "next" in rel.group(1).lower().split():
            return match.group(1).strip()
    return None


def dig(body: Any, path: str) -> Any:
    """The value at dot ``path`` in ``body`` ('' = the body itself); None when absent."""
    value = body
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def items_of(body: Any, path: str) -> list[Any]:
    """The list of items of a page.

    Raises:
        ApiCallError: The page has no list at ``path``.
    """
    items = dig(body, path)
    if items is None:
        return []
    if not isinstance(items, list):
        raise ApiCallError(f"the page has no list of items at {path or '(body)'!r}")
    return items


def iter_items(pages: Iterable[ApiResponse], items_path: str) -> Iterator[Any]:
    """Every item of every page, in order."""
    for page in pages:
        yield from items_of(page.body, items_path)


def _ident(operation: Operation, wire_name: str) -> str:
    """The SDK argument name of query parameter ``wire_name`` (the wire name when not declared)."""
    for param in operation.params:
        if param.name == wire_name:
            return param.ident
    return wire_name


def paginate(
    *,
    run: Callable[[dict[str, Any]], ApiResponse],
    fetch: Callable[[str], ApiResponse],
    operation: Operation,
    args: dict[str, Any],
    pagination: Pagination,
) -> Iterator[ApiResponse]:
    """Yield pages.

    Args:
        run: Calls the operation through the SDK with the given arguments.
        fetch: GETs a next-page URL through the host's egress path (Link pagination).
        operation: The list operation.
        args: Its arguments for the first page.
        pagination: How pages are addressed and where the items are.
    """
    p = pagination
    args = dict(args)
    if p.size_param:
        args.setdefault(_ident(operation, p.size_param), p.size)
    if p.kind == "none":
        yield run(args)
        return
    if p.kind == "link":
        page = run(args)
        yield page
        seen: set[str] = set()
        for _ in range(p.max_pages - 1):
            link = next_link(page.headers.get("link"))
            if not link or link in seen:
                return
            seen.add(link)
            page = fetch(link)
            yield page
        return
    key = _ident(operation, p.param)
    if p.kind == "page":
        args.setdefault(key, 1)
    elif p.kind == "offset":
        args.setdefault(key, 0)
    cursors: set[str] = set()
    for _ in range(p.max_pages):
        page = run(args)
        yield page
        items = items_of(page.body, p.items_path)
        if p.kind in ("page", "offset"):
            if not items or (p.size_param and len(items) < p.size):
                return
            args[key] = args[key] + (1 if p.kind == "page" else len(items))
            continue
        cursor = dig(page.body, p.cursor_path)
        if cursor in (None, "") or str(cursor) in cursors:
            return
        cursors.add(str(cursor))
        args[key] = cursor
