"""Validate an (unresolved) OpenAPI 3.0/3.1 document with openapi-spec-validator, offline and located.

Two stages, both from openapi-spec-validator: the meta-schema check (structure; fast, and fast
indeed with its jsonschema-rs backend) always runs; the keyword walk (path parameters declared,
unique operationIds, defaults matching their schemas) only in strict mode, because it is quadratic
in the number of schemas (12 s on GitHub's spec). ``sdkgen.operations`` repeats
the checks that matter for code generation per operation, so a large spec skipping the walk still
cannot produce a broken SDK.

The validator's own ``iter_errors`` is not used: it is wrapped in an ``lru_cache`` keyed on the
validator instance, which would keep every validated document alive for the life of the worker.
Reference handlers are emptied, so even a missed external ``$ref`` could not be fetched.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.validation.registries import KeywordValidatorRegistry

from activities.errors import SpecInvalidError
from sdkgen._spec_parse import pointer

_PARTS = "_vsc_parts"


class _Offline30(OpenAPIV30SpecValidator):
    resolver_handlers: dict[str, Any] = {}


class _Offline31(OpenAPIV31SpecValidator):
    resolver_handlers: dict[str, Any] = {}


class _Located:
    """A keyword validator that stamps errors with the document path it was called on.

    The innermost validator stamps first, so an error keeps the most precise location.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        where = next((tuple(a.parts) for a in args if getattr(a, "parts", None)), None)
        for err in self._inner(*args, **kwargs):
            if where is not None and getattr(err, _PARTS, None) is None:
                try:
                    setattr(err, _PARTS, where)
                except AttributeError:
                    pass
            yield err


class _LocatingRegistry(KeywordValidatorRegistry):
    def __missing__(self, keyword: str) -> Any:
        if keyword not in self.keyword_validators:
            raise KeyError(keyword)
        self[keyword] = _Located(self.keyword_validators[keyword](self))  # type: ignore[assignment]
        return self[keyword]


def _error_pointer(err: Any) -> str:
    parts = getattr(err, _PARTS, None)
    if parts is None:
        parts = tuple(getattr(err, "absolute_path", ()) or ())
    return pointer([p if isinstance(p, int) else str(p) for p in parts])


def _message(err: Any) -> str:
    text = str(getattr(err, "message", err)).replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."


def validate_document(document: dict[str, Any], *, version: str, full: bool) -> None:
    """Validate the document, raising on its first (most precisely located) error.

    Args:
        document: The parsed, unresolved document (all references already checked internal).
        version: Its ``openapi`` field; ``3.0.*`` or ``3.1.*``.
        full: Also run the keyword walk, not only the meta-schema.

    Raises:
        SpecInvalidError: The document is not valid OpenAPI; ``pointer`` locates the error.
    """
    cls = _Offline31 if version.startswith("3.1") else _Offline30
    validator = cls(document)
    errors = list(islice(validator.schema_validator.iter_errors(document), 50))
    if errors:
        # The deepest error is the most specific one; "not valid under any of oneOf" sits above it.
        err = max(errors, key=lambda e: len(tuple(getattr(e, "absolute_path", ()) or ())))
        raise SpecInvalidError(
            f"not a valid OpenAPI {version} document: {_message(err)}", pointer=_error_pointer(err)
        )
    if not full:
        return
    validator.keyword_validators_registry = _LocatingRegistry(validator.keyword_validators)
    try:
        err = next(iter(validator.root_validator(validator.schema_path)), None)
    except RecursionError:
        raise SpecInvalidError("the document's references nest too deeply to validate", pointer="") from None
    if err is not None:
        raise SpecInvalidError(
            f"not a valid OpenAPI {version} document: {_message(err)}", pointer=_error_pointer(err)
        )


def _warm_up() -> None:
    """Load the validators' meta-schemas now, at import.

    openapi-spec-validator reads them from its package files on first use; doing that at import
    keeps a spec load free of any file access (TESTPLAN S7 checks for exactly that).
    """
    schemas: dict[str, Any] = {
        "3.0.3": {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}},
        "3.1.0": {"type": "object", "properties": {"a": {"type": ["string", "null"]}}},
    }
    for version, schema in schemas.items():
        ok = {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}
        doc = {
            "openapi": version,
            "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"get": {"responses": ok}}},
        }
        validate_document(doc, version=version, full=True)


_warm_up()
