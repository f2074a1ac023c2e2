"""Shared checks for sdkgen tests: no file or network access, and safe descriptions."""

from __future__ import annotations

import builtins
import io
import json
import keyword
import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sdkgen.model import ApiDescription

_GUARDED: list[tuple[Any, str]] = [
    (builtins, "open"),
    (io, "open"),
    (os, "open"),
    (socket.socket, "connect"),
    (socket.socket, "connect_ex"),
    (socket, "create_connection"),
    (socket, "getaddrinfo"),
    (urllib.request, "urlopen"),
]


@contextmanager
def no_io() -> Iterator[list[str]]:
    """Make file opens and network connects raise, and record each attempt in the yielded list.

    Recording matters: ``load_spec`` turns unexpected exceptions into ``SpecInvalidError``, so an
    attempted read would otherwise look like a correct rejection.
    """
    calls: list[str] = []
    saved = [(obj, name, getattr(obj, name)) for obj, name in _GUARDED]

    def deny(name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise PermissionError(f"{name} called during a guarded spec load")

        return refuse

    for obj, name in _GUARDED:
        setattr(obj, name, deny(name))
    try:
        yield calls
    finally:
        for obj, name, original in saved:
            setattr(obj, name, original)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def assert_safe_description(desc: ApiDescription) -> None:
    """Every generated name is a safe, unique identifier; schemas are bounded plain JSON."""
    op_ids = [op.op_id for op in desc.operations]
    assert len(op_ids) == len(set(op_ids))
    for op in desc.operations:
        idents = [p.ident for p in op.params]
        assert len(idents) == len(set(idents)), op.op_id
        for name in [op.op_id, *idents]:
            assert name.isidentifier() and name.isascii(), name
            assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name), name
            assert name != "body" or name == op.op_id
        for schema in [
            op.response_schema,
            op.body.schema_ if op.body else None,
            *[p.schema_ for p in op.params],
        ]:
            if schema is not None:
                assert depth(schema) <= 9
    for refusal in desc.refused:
        assert refusal.reason
    text = desc.model_dump_json()
    assert '"$ref"' not in text
    json.loads(text)
