"""Load an OpenAPI document from bytes: bounded, offline, internal references resolved.

The front of the Mode 2 pipeline. Specs come from users (uploads or URLs of their own APIs), so
every step assumes hostile input: the size is checked before parsing, depth and value count before
and after, YAML goes through a safe loader that refuses tags and alias bombs, every ``$ref`` must
point inside the document (nothing is ever read from a file or the network), and the whole load
runs against a deadline. Failures are ``SpecInvalidError`` with a JSON pointer to the culprit.

Resolution is our own (``sdkgen._spec_refs`` says why not prance's ``ResolvingParser``);
validation is openapi-spec-validator's, run offline on the unresolved document.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activities.errors import SpecInvalidError
from sdkgen._spec_parse import parse_document, walk_bounds
from sdkgen._spec_refs import RECURSIVE, check_refs, resolve_refs
from sdkgen._spec_validate import validate_document

__all__ = ["RECURSIVE", "LoadedSpec", "SpecLimits", "load_spec"]

SWAGGER2_MESSAGE = "Swagger 2.0 is not supported; convert it to OpenAPI 3 first, e.g. with swagger2openapi"


class SpecLimits(BaseModel):
    """The bounds a spec must stay within; defaults fit every public spec we test (GitHub's included)."""

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    max_depth: int = Field(default=64, ge=2, le=500)
    """Nesting of the document as written (references followed do not count)."""
    max_nodes: int = Field(default=2_000_000, ge=1)
    """Values (objects, arrays and scalars) in the document as written."""
    max_paths: int = Field(default=20_000, ge=1)
    max_seconds: float = Field(default=30.0, gt=0)
    """Wall-clock budget for the whole load, parsing and validation included."""
    strict: bool = False
    """Also run openapi-spec-validator's keyword walk (defaults vs schemas, path parameters, unique
    operationIds). Off by default: it is quadratic and its cost is hard to predict (12 s on GitHub's
    spec, 2.4 s on Vercel's 24k-value one); ``describe`` repeats the checks code generation needs."""


@dataclass(frozen=True)
class LoadedSpec:
    """A validated document with its internal references resolved.

    ``document`` shares subtrees wherever the spec used a ``$ref`` twice, and carries
    ``{"$ref": ..., "x-recursive": True}`` markers where a reference cycle closes: walk it with a
    budget and never serialize it (store the original bytes instead).
    """

    document: dict[str, Any]
    sha256: str
    openapi: str
    title: str
    version: str


def load_spec(data: bytes, *, limits: SpecLimits = SpecLimits()) -> LoadedSpec:  # noqa: B008 (frozen)
    """Parse, check, validate and resolve one OpenAPI 3.0/3.1 document.

    Args:
        data: The spec as uploaded or fetched (JSON or YAML, UTF-8).
        limits: Bounds on size, depth, values, paths and time.

    Returns:
        The loaded spec.

    Raises:
        SpecInvalidError: Malformed, hostile, over a limit or unsupported; ``pointer`` locates it.
    """
    if len(data) > limits.max_bytes:
        raise SpecInvalidError(
            f"the spec is {len(data)} bytes, more than the limit of {limits.max_bytes}", pointer=""
        )
    return _with_deadline(data, limits)


def _with_deadline(data: bytes, limits: SpecLimits) -> LoadedSpec:
    """Run the load in a worker thread and give up on it after ``max_seconds``.

    A timed-out worker is sent an asynchronous exception so it stops at its next bytecode
    instead of burning a core until it finishes on its own.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["spec"] = _load(data, limits)
        except BaseException as exc:  # noqa: BLE001 (handed to the caller below)
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="sdkgen-load-spec", daemon=True)
    worker.start()
    worker.join(limits.max_seconds)
    if worker.is_alive():
        if worker.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(worker.ident), ctypes.py_object(_Abandoned)
            )
        raise SpecInvalidError(f"the spec took longer than {limits.max_seconds:g} s to load", pointer="")
    error = outcome.get("error")
    if isinstance(error, SpecInvalidError):
        raise error
    if error is not None:
        # A library failing on odd input is still the input's fault; never let it escape untyped.
        raise SpecInvalidError(
            f"the spec could not be processed ({type(error).__name__})", pointer=""
        ) from error
    spec: LoadedSpec = outcome["spec"]
    return spec


class _Abandoned(BaseException):
    """Raised inside a timed-out load to stop it; never seen by callers."""


def _load(data: bytes, limits: SpecLimits) -> LoadedSpec:
    document = parse_document(data, max_depth=limits.max_depth, max_nodes=limits.max_nodes)
    if not isinstance(document, dict):
        raise SpecInvalidError(f"the spec must be a mapping, not {_kind(document)}", pointer="")
    refs, _ = walk_bounds(document, max_depth=limits.max_depth, max_nodes=limits.max_nodes)
    version = _openapi_version(document)
    paths = document.get("paths")
    if paths is None and "webhooks" not in document and "components" not in document:
        raise SpecInvalidError("the spec has no 'paths'", pointer="/paths")
    if isinstance(paths, dict) and len(paths) > limits.max_paths:
        raise SpecInvalidError(
            f"the spec has {len(paths)} paths, more than {limits.max_paths}", pointer="/paths"
        )
    check_refs(document, refs)
    validate_document(document, version=version, full=limits.strict)
    info = document.get("info") or {}
    return LoadedSpec(
        document=resolve_refs(document),
        sha256=hashlib.sha256(data).hexdigest(),
        openapi=version,
        title=str(info.get("title", "")),
        version=str(info.get("version", "")),
    )


def _openapi_version(document: dict[str, Any]) -> str:
    if "swagger" in document:
        raise SpecInvalidError(SWAGGER2_MESSAGE, pointer="/swagger")
    version = document.get("openapi")
    if version is None:
        raise SpecInvalidError("the spec has no 'openapi' version field", pointer="/openapi")
    text = str(version)
    if not (text.startswith("3.0") or text.startswith("3.1")):
        raise SpecInvalidError(
            f"OpenAPI {text[:20]!r} is not supported; use 3.0.x or 3.1.x", pointer="/openapi"
        )
    if not isinstance(version, str):
        raise SpecInvalidError("the 'openapi' field must be a string such as \"3.0.3\"", pointer="/openapi")
    return text


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "empty"}.get(type(value), type(value).__name__)
