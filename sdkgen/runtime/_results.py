"""How guest results, HTTP statuses and traps become an ``ApiResponse`` or a typed error.

The host's own record of the HTTP exchange wins over what the guest reports: status and headers
come from the host, only the decoded body comes from the SDK.
"""

from __future__ import annotations

import json
from typing import Any

from activities.errors import (
    ApiCallError,
    ApiNotFoundError,
    ApiUnavailableError,
    AuthenticationFailedError,
    EgressDeniedError,
    InvalidInputError,
    SandboxLimitError,
    VscError,
)
from sdkgen.model import Operation
from sdkgen.runtime._auth import RawResponse
from sdkgen.runtime._http import CallContext
from sdkgen.runtime._target import ApiResponse


def trap_error(exc: Exception, *, timeout_s: float, memory_bytes: int) -> SandboxLimitError:
    """The limit error for a wasmtime trap (epoch interrupt = time; anything else = trap)."""
    text = str(exc)
    if "wasm trap: interrupt" in text:
        return SandboxLimitError(
            f"time limit of {timeout_s:g} s exceeded: the guest was stopped", limit="time"
        )
    # A stubbed capability (files, sockets, clocks) and a failed allocation both end in `unreachable`:
    # the guest runtime cannot tell us which, and wasmtime's C API exposes no memory counters.
    return SandboxLimitError(
        f"the guest trapped: memory limit ({memory_bytes // (1024 * 1024)} MiB) reached, a forbidden "
        "capability (files, sockets) used, or an unhandled error",
        limit="trap",
    )


def status_error(status: int, operation: str) -> VscError | None:
    """The typed error for an HTTP status, None for 2xx."""
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AuthenticationFailedError(f"the API refused the credential ({status})", status=status)
    if status == 429 or status >= 500:
        return ApiUnavailableError(f"the API answered {status}", status=status, operation=operation)
    return ApiCallError(f"the API answered {status}", status=status, operation=operation)


def response_from_raw(raw: RawResponse, *, operation: str, expect_json: bool) -> ApiResponse:
    """An ``ApiResponse`` from a host-made exchange (Link pagination), with the usual status mapping."""
    error = status_error(raw.status, operation)
    if error is not None:
        raise error
    body: Any = None
    if raw.body:
        try:
            body = json.loads(raw.body)
        except ValueError:
            if expect_json:
                raise ApiCallError(
                    "the API answered non-JSON where JSON was promised", operation=operation
                ) from None
            body = raw.body.decode("utf-8", "replace")
    return ApiResponse(status=raw.status, headers=raw.headers, body=body, size=len(raw.body))


def map_result(ctx: CallContext, result: Any, operation: Operation) -> ApiResponse:
    """The ``ApiResponse`` for a guest's ``call`` result, or the typed error it stands for."""
    tag, payload = getattr(result, "tag", None), getattr(result, "payload", None)
    if tag == "err":
        raise guest_error(payload, operation.op_id)
    if tag != "ok" or not isinstance(payload, str):
        raise ApiCallError("the SDK returned something other than result<string, string>")
    try:
        out = json.loads(payload)
        if not isinstance(out, dict):
            raise ValueError
    except ValueError:
        raise ApiCallError("the SDK returned malformed output", operation=operation.op_id) from None
    body = out.get("body") if out.get("body") is not None else out.get("text")
    if ctx.last is None:
        status = out.get("status")
        if not isinstance(status, int):
            raise ApiCallError("the SDK returned no status", operation=operation.op_id)
        hdrs = out.get("headers")
        hdrs = hdrs if isinstance(hdrs, dict) else {}
        error = status_error(status, operation.op_id)
        if error is not None:
            raise error
        return ApiResponse(status=status, headers={str(k): str(v) for k, v in hdrs.items()}, body=body)
    raw = ctx.last
    # The status and headers are the host's own record, not what the guest claims.
    checked = response_from_raw(
        raw, operation=operation.op_id, expect_json=operation.response_schema is not None
    )
    return ApiResponse(status=raw.status, headers=raw.headers, body=body, size=checked.size)


def guest_error(payload: Any, op_id: str) -> VscError:
    """The typed error for a guest's JSON error string."""
    try:
        doc = json.loads(payload)
        kind, message = str(doc["kind"]), str(doc.get("message", ""))[:500]
    except (ValueError, KeyError, TypeError):
        return ApiCallError("the SDK failed with a malformed error", operation=op_id)
    if kind == "invalid_argument":
        return InvalidInputError(f"invalid arguments: {message}", operation=op_id)
    if kind == "unknown_operation":
        return ApiNotFoundError(f"the SDK has no operation {op_id!r}", operation=op_id)
    if kind == "host_refused":
        return EgressDeniedError(f"the host refused the request: {message}", operation=op_id)
    return ApiCallError(f"the SDK failed ({kind[:40]}): {message}", operation=op_id)
