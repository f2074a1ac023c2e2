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

from fastapi import APIRouter, HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from activities.errors import KeyUnavailableError, PayloadRefusedError
from activities.payload_codec import TenantPayloadCodec
from console_api.api.deps import ContextDep, CurrentPrincipal, OperatorPrincipal
from console_api.api.problems import error_responses
from console_api.api.schemas import CodecPayload, CodecPayloads

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


@router.post("/decode", response_model=CodecPayloads)
async def decode_payloads(body: CodecPayloads, principal: CurrentPrincipal, ctx: ContextDep) -> CodecPayloads:
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
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route ``/codec/*`` through the CORS layer, everything else straight to the app."""
        if scope["type"] == "http" and str(scope["path"]).startswith(f"{PREFIX}/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
