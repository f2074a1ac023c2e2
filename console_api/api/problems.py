"""RFC 9457 problem details: every error the API returns is ``application/problem+json``.

One mapping table turns the platform's own errors into statuses; anything unexpected becomes
a 500 whose detail says nothing about internals (the traceback goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from activities.errors import (
    ApiNotFoundError,
    ArtifactIntegrityError,
    EgressDeniedError,
    InvalidInputError,
    KeyUnavailableError,
    SdkBuildError,
    SecretStoreUnavailableError,
    SpecUnreachableError,
    TemporalUnavailableError,
    TenantNotFoundError,
    TransientDatabaseError,
    VscError,
)

PROBLEM_JSON = "application/problem+json"
_LOG = logging.getLogger(__name__)

VSC_ERROR_STATUS: tuple[tuple[type[VscError], int], ...] = (
    (InvalidInputError, 422),
    (EgressDeniedError, 422),
    (ApiNotFoundError, 404),
    (SpecUnreachableError, 502),
    (SdkBuildError, 500),
    (ArtifactIntegrityError, 409),
    (TenantNotFoundError, 404),
    (TransientDatabaseError, 503),
    (TemporalUnavailableError, 503),
    (SecretStoreUnavailableError, 503),
    (KeyUnavailableError, 500),
)
"""First match wins; other platform errors are 500."""

SERVER_ERROR_DETAIL: dict[type[VscError], str] = {
    SecretStoreUnavailableError: "the secret store is unavailable; nothing was changed; retry later",
    TemporalUnavailableError: "the workflow service is unavailable; retry later",
    SdkBuildError: "the SDK of this spec could not be built; nothing was published",
}
"""What a client is told about a 5xx of these classes; the specific reason goes only to the log."""


class FieldError(BaseModel):
    """One invalid input field: where it is and what is wrong with it."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    pointer: str | None = None
    """For a refused OpenAPI document: the JSON pointer of the offending part."""


def problem_response(
    status: int,
    detail: str,
    *,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    pointer: str | None = None,
) -> JSONResponse:
    """A problem+json response with the standard title of ``status``."""
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
        pointer=pointer,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


def field_error(loc: Sequence[str | int], msg: str) -> RequestValidationError:
    """A 422 naming one field, for checks that need the database (unknown connection names ...)."""
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": "value_error"}])


def _loc_text(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            loc=[p if isinstance(p, int) else str(p) for p in e["loc"]],
            msg=str(e["msg"]),
            type=str(e["type"]),
        )
        for e in exc.errors()
    ]
    detail = "; ".join(f"{_loc_text(e.loc)}: {e.msg}" for e in errors[:5]) or "invalid request"
    return problem_response(422, detail, errors=errors)


def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, detail, headers=exc.headers)


def _vsc(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VscError)
    for source, status in VSC_ERROR_STATUS:
        if isinstance(exc, source):
            # An unreachable spec URL is the caller's upstream: its origin and reason help (no secret).
            if status >= 500 and source is not SpecUnreachableError:
                _LOG.error("request failed: %s", exc.message)
                detail = SERVER_ERROR_DETAIL.get(
                    source, "the server could not complete the request; retry later"
                )
                return problem_response(status, detail)
            pointer = exc.fields.get("pointer")
            return problem_response(
                status, exc.message, pointer=pointer if isinstance(pointer, str) else None
            )
    _LOG.error("request failed: %s", exc.message)
    return problem_response(500, "the server could not complete the request")


def _temporal(_request: Request, exc: Exception) -> JSONResponse:
    _LOG.error("Temporal call failed: %s", exc)
    return problem_response(503, "the workflow service is unavailable; retry later")


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    _LOG.exception("unhandled error", exc_info=exc)
    return problem_response(500, "the server could not complete the request")


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem+json."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(VscError, _vsc)
    app.add_exception_handler(RPCError, _temporal)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json errors for ``statuses``."""
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses}
