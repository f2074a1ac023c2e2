"""The codec server: the Temporal Web UI and CLI encode and decode payloads here, per tenant.

Temporal's codec-server protocol (``POST <endpoint>/decode`` and ``/encode``, body
``{"payloads": [...]}``) behind the console's API keys: a caller decodes only payloads sealed for
their own tenant; another tenant's encrypted payloads come back exactly as sent, never decrypted,
and plain payloads pass through. Encoding (the UI starting or signalling a workflow) seals for the
caller's tenant and needs the operator role. CORS for the Web UI's origin is in
:class:`CodecCors`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from activities.errors import KeyUnavailableError, PayloadRefusedError
from activities.metadata import ApiKey
from activities.payload_codec import TenantPayloadCodec
from console_api.api.codec_session import COOKIE, TTL, issue_token, read_token
from console_api.api.deps import (
    BearerCredentials,
    ContextDep,
    CurrentPrincipal,
    OperatorPrincipal,
    Principal,
    current_principal,
    principal_of_key,
)
from console_api.api.problems import error_responses
from console_api.api.schemas import CodecPayload, CodecPayloads, CodecSessionPublic

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["codec"], responses=error_responses(401, 422))


def _to_proto(payload: CodecPayload) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in payload.metadata.items()},
        data=base64.b64decode(payload.data),
    )


def _to_json(payloads: Sequence[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


def _open_own(codec: TenantPayloadCodec, payloads: list[Payload]) -> list[Payload]:
    out = []
    for index, payload in enumerate(payloads):
        try:
            out.extend(codec.open_all([payload], keep_foreign=True))
        except (PayloadRefusedError, KeyUnavailableError) as exc:
            raise HTTPException(422, f"payloads[{index}]: {exc.message}") from None
    return out


def codec_principal(
    ctx: ContextDep,
    credentials: BearerCredentials,
    vsc_codec: Annotated[str | None, Cookie(description="A codec session (POST /codec/session)")] = None,
) -> Principal:
    """The caller of a decode: an API key (CLI), else the codec session cookie (the Web UI).

    Raises:
        HTTPException: 401 without either, or when the session or its key is no longer valid.
    """
    if credentials is not None:
        return current_principal(ctx, credentials)
    session = read_token(vsc_codec, pepper=ctx.pepper) if vsc_codec else None
    if session is None:
        raise HTTPException(
            401,
            "an API key (Authorization: Bearer <key>) or a codec session (POST /codec/session) is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal_of_key(ctx, tenant=session.tenant, match=ApiKey.id == session.key_id, secret=None)


@router.post("/session", response_model=CodecSessionPublic, status_code=201)
def create_codec_session(
    principal: CurrentPrincipal, ctx: ContextDep, request: Request, response: Response
) -> CodecSessionPublic:
    """Start a codec session for this browser: a cookie (HttpOnly, SameSite=Strict, path ``/codec``).

    The Web UI's codec calls then decode this key's tenant's payloads when *Include cross-origin
    credentials* is on. The cookie holds a server-signed token (tenant, key id, expiry), never the
    key; revoking the key ends the session.
    """
    token, session = issue_token(tenant=principal.tenant, key_id=principal.key_id, pepper=ctx.pepper)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(TTL.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return CodecSessionPublic(tenant=session.tenant, expires_at=session.expires_at)


@router.delete("/session", status_code=204, response_class=Response)
def delete_codec_session(response: Response) -> None:
    """End this browser's codec session."""
    response.delete_cookie(COOKIE, path=PREFIX)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def codec_login_page() -> str:
    """A page that starts a codec session with a key typed in (the key goes only to this API)."""
    return _LOGIN_PAGE


@router.post("/decode", response_model=CodecPayloads)
async def decode_payloads(
    body: CodecPayloads, principal: Annotated[Principal, Depends(codec_principal)], ctx: ContextDep
) -> CodecPayloads:
    """Decrypt the caller's tenant's payloads; other tenants' and plain ones come back unchanged.

    A payload of the caller's tenant that does not authenticate (altered, relabelled) is 422.
    """
    payloads = [_to_proto(p) for p in body.payloads]
    codec = ctx.payload_codec(principal.tenant)
    if codec is None:
        return _to_json(payloads)
    return _to_json(await asyncio.to_thread(_open_own, codec, payloads))


@router.post("/encode", response_model=CodecPayloads, responses=error_responses(403))
async def encode_payloads(body: CodecPayloads, op: OperatorPrincipal, ctx: ContextDep) -> CodecPayloads:
    """Encrypt payloads for the caller's tenant (what a worker of the tenant would write)."""
    payloads = [_to_proto(p) for p in body.payloads]
    codec = ctx.payload_codec(op.tenant)
    if codec is None:
        return _to_json(payloads)
    return _to_json(await asyncio.to_thread(codec.seal_all, payloads))


class CodecCors:
    """CORS for ``/codec/*`` only: the Web UI's origin may call the codec, not the rest of the API.

    Preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered here; allowed are
    ``POST`` and the headers the UI and CLI send (``Authorization``, ``Content-Type``,
    ``X-Namespace``).

    Args:
        app: The wrapped application.
        origins: Allowed browser origins (``VSC_API_CODEC_CORS_ORIGINS``).
    """

    def __init__(self, app: ASGIApp, *, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            # The Web UI sends the codec session cookie only on credentialed requests.
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route ``/codec/*`` through the CORS layer, everything else straight to the app."""
        if scope["type"] == "http" and str(scope["path"]).startswith(f"{PREFIX}/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


_LOGIN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Van Sales Connector: codec session</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Decode payloads in the Temporal Web UI</h1>
<p>Paste an API key of your tenant (viewer or above). It is sent once to this API, which sets a
session cookie for <code>/codec</code>; the key itself is not stored in the browser.</p>
<form id="f"><input id="k" type="password" size="60" placeholder="vsk...." autocomplete="off">
<button>Start session</button></form>
<p id="out"></p>
<p>Then, in the Web UI: <em>Codec Server</em> &rarr; endpoint <code id="ep"></code>, and turn on
<em>Include cross-origin credentials</em>.</p>
<script>
document.getElementById("ep").textContent = location.origin + "/codec";
document.getElementById("f").onsubmit = async (e) => {
  e.preventDefault();
  const r = await fetch("/codec/session", {method: "POST",
    headers: {"Authorization": "Bearer " + document.getElementById("k").value}});
  const body = await r.json();
  document.getElementById("out").textContent = r.ok
    ? "Session for tenant " + body.tenant + " until " + body.expires_at
    : "Refused: " + body.detail;
  document.getElementById("k").value = "";
};
</script></body></html>
"""
