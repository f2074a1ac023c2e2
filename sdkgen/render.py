"""Render an ``ApiDescription`` into the Python source of its SDK component.

The spec is hostile input (TESTPLAN S7), so nothing it says reaches a code position as text.
Every ``{{ ... }}`` of the templates must go through one of four filters, and the environment's
``finalize`` refuses any value that did not (a forgotten filter fails the build, it does not
leak):

- ``py``: a Python literal (``ascii()`` of a str, so the source is pure ASCII inside literals);
- ``ident``: an identifier, re-checked here even though the spec loader made it;
- ``text``: prose for comments and docstrings, with quotes, backslashes, newlines and
  non-printables removed;
- ``pytype``: an annotation from a fixed table keyed by ``Param.json_type``.

Operation functions live in a class namespace of the module and internal names carry the
``_sdk_`` prefix, so identifiers that are valid but awkward (``list``, ``json``, ``host``) are
safe; identifiers starting with ``_sdk_`` or ``__`` (name mangling, dunders) are refused.
"""

from __future__ import annotations

import keyword
import math
from pathlib import Path
from typing import Any

import jinja2

from activities.errors import SdkBuildError
from sdkgen.model import ApiDescription, Operation

TEMPLATES = Path(__file__).parent / "templates"
RESERVED_PREFIX = "_sdk_"

_PYTYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list[Any]",
    "object": "dict[str, Any]",
    "any": "Any",
}
_TEXT_LIMIT = 300


class Code(str):
    """Template output a filter vouched for; ``finalize`` lets nothing else through."""

    __slots__ = ()


def check_identifier(name: object, *, what: str) -> str:
    """``name`` if it is safe to place in code as an identifier.

    ASCII only: Python NFKC-normalizes identifiers, so two distinct non-ASCII names could
    collide into one.

    Raises:
        SdkBuildError: Not an ASCII identifier, a keyword, reserved or a dunder.
    """
    if (
        not isinstance(name, str)
        or not name.isascii()
        or not name.isidentifier()
        or keyword.iskeyword(name)
        or name.startswith((RESERVED_PREFIX, "__"))
    ):
        raise SdkBuildError(f"{what} {ascii(name)[:80]} is not a safe Python identifier")
    return name


def py_literal(value: Any) -> Code:
    """The Python literal of JSON-like data (str, int, float, bool, None, list, tuple, dict).

    Raises:
        SdkBuildError: Anything else (including non-finite floats, which have no literal).
    """
    if value is None or isinstance(value, bool | int):
        return Code(repr(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SdkBuildError("a non-finite number cannot be written as a literal")
        return Code(repr(value))
    if isinstance(value, str):
        return Code(ascii(value))
    if isinstance(value, list | tuple):
        return Code("[" + ", ".join(py_literal(v) for v in value) + "]")
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise SdkBuildError("only string keys can be written as literals")
            items.append(f"{py_literal(k)}: {py_literal(v)}")
        return Code("{" + ", ".join(items) + "}")
    raise SdkBuildError(f"a {type(value).__name__} cannot be written as a literal")


def safe_text(value: object) -> Code:
    """Spec prose made safe for one line of a comment or docstring.

    Drops what could end or escape a docstring (``"``, backslashes) or a comment (line breaks,
    including the Unicode ones, which are not printable), collapses whitespace and truncates.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    text = " ".join(text.replace("\\", "/").replace('"', "'").split())
    if len(text) > _TEXT_LIMIT:
        text = text[: _TEXT_LIMIT - 3] + "..."
    return Code(text)


def _defined(value: Any) -> Any:
    """``value``, after StrictUndefined has had its chance to raise (filters see it before finalize)."""
    if isinstance(value, jinja2.Undefined):
        str(value)
    return value


def _py(value: Any) -> Code:
    return py_literal(_defined(value))


def _text(value: Any) -> Code:
    return safe_text(_defined(value))


def _ident(value: object) -> Code:
    return Code(check_identifier(_defined(value), what="identifier"))


def _pytype(value: object) -> Code:
    value = _defined(value)
    if not isinstance(value, str) or value not in _PYTYPES:
        raise SdkBuildError(f"no annotation for json type {ascii(value)[:40]}")
    return Code(_PYTYPES[value])


def _finalize(value: Any) -> Any:
    if not isinstance(_defined(value), Code):
        raise SdkBuildError(f"template emitted an unfiltered {type(value).__name__}")
    return value


def environment() -> jinja2.Environment:
    """The one template environment: strict, unescaped (it is code, not HTML), every output filtered."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(py=_py, ident=_ident, text=_text, pytype=_pytype)
    return env


def _fresh(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def _schema_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    return kind if isinstance(kind, str) and kind in _PYTYPES else "any"


def _operation_view(op: Operation) -> dict[str, Any]:
    check_identifier(op.op_id, what="operation id")
    idents = [check_identifier(p.ident, what=f"parameter of {op.op_id}") for p in op.params]
    if len(set(idents)) != len(idents):
        raise SdkBuildError(f"operation {op.op_id} has two parameters with the same identifier")
    taken = set(idents)
    body_arg = _fresh("body", taken)
    base_arg = _fresh("base_url", taken | {body_arg})
    args = [
        {"ident": p.ident, "json_type": p.json_type, "required": p.required, "is_body": False}
        for p in op.params
    ]
    body = None
    if op.body is not None:
        body = {
            "required": op.body.required,
            "content_type": op.body.content_type,
            "json_type": _schema_type(op.body.schema_),
        }
        args.append(
            {"ident": body_arg, "json_type": body["json_type"], "required": op.body.required, "is_body": True}
        )
    args.sort(key=lambda a: not a["required"])  # stable: required first, spec order kept within each
    return {
        "op_id": op.op_id,
        "method": op.method,
        "path": op.path,
        "summary": op.summary,
        "doc": op.summary or f"The {op.op_id} operation.",
        "read_only": op.read_only,
        "body": body,
        "params": [
            {
                "name": p.name,
                "ident": p.ident,
                "location": p.location.value,
                "required": p.required,
                "json_type": p.json_type,
            }
            for p in op.params
        ],
        "base_arg": base_arg,
        "args": args,
    }


def render_sdk(desc: ApiDescription) -> str:
    """The SDK module's source for one spec version (deterministic: same description, same text).

    Raises:
        SdkBuildError: An identifier is unsafe or duplicated, or the template misbehaved.
    """
    ops = [_operation_view(op) for op in desc.operations]
    if len({op["op_id"] for op in ops}) != len(ops):
        raise SdkBuildError("two operations have the same id")
    try:
        return (
            environment()
            .get_template("sdk.py.j2")
            .render(
                title=desc.title,
                version=desc.version,
                openapi=desc.openapi,
                spec_sha256=desc.spec_sha256,
                ops=ops,
            )
        )
    except jinja2.TemplateError as exc:
        raise SdkBuildError(f"the SDK template failed: {exc}") from None
