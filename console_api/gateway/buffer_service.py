"""Buffer, data-key and payload-key requests of one agent session, executed against the gateway's own stores.

The gateway answers only for the session's tenant and only under the object prefix
``<tenant>/``; anything else is refused and audited. Payload keys (the Temporal payload codec's)
come from a keyring of their own; every refused payload-key request is audited, including an
unknown key id, since an agent asking for a key its tenant does not have is probing. A malformed
or oversized request is answered with an error and audited; the session (and its tunnel streams)
carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from activities.buffer import ObjectBackend
from activities.crypto import Keyring, check_key_id
from activities.errors import (
    GatewayRefusedError,
    InvalidInputError,
    KeyUnavailableError,
    ObjectStoreUnavailableError,
    TunnelProtocolError,
    VscError,
)
from console_api.gateway.artifact_service import ArtifactService
from mini_connector.tunnel.rpc import (
    ENVELOPE_OVERHEAD,
    Request,
    Response,
    decode_request,
    encode_envelope,
    error_response,
    listing,
)

log = logging.getLogger("vsc.gateway")

Refusal = Callable[[str, dict[str, object]], Awaitable[None]]
"""Audits one refusal: ``(action, details)``."""

LIST_PAGE = 1000
MAX_OPEN_UPLOADS = 4


@dataclass
class _Upload:
    key: str
    size: int
    next_part: int = 0
    data: bytearray = field(default_factory=bytearray)


class BufferService:
    """Answers one session's REQUEST payloads.

    Args:
        tenant: The session's authenticated tenant; the only one it serves.
        backend: The gateway's object store (``None``: no buffer configured, every request refused).
        keyring: The gateway's keyring (shared with the cloud workers).
        payload_keyring: The tenants' payload keyring (shared with the cloud workers and the
            console API); ``None``: payload-key requests are refused.
        max_frame: The session's frame limit; response bodies stay below it.
        max_object_bytes: Largest object an agent may upload.
        refuse: Audit callback for refusals.
        artifacts: Answers ``artifact.get`` (``None``: refused, this gateway serves no artifacts).
    """

    def __init__(
        self,
        *,
        tenant: str,
        backend: ObjectBackend | None,
        keyring: Keyring | None,
        max_frame: int,
        max_object_bytes: int,
        refuse: Refusal,
        payload_keyring: Keyring | None = None,
        artifacts: ArtifactService | None = None,
    ) -> None:
        self._tenant = tenant
        self._artifacts = artifacts
        self._backend = backend
        self._keyring = keyring
        self._payload_keyring = payload_keyring
        self._part = max_frame - ENVELOPE_OVERHEAD
        self._max_object = max_object_bytes
        self._refuse = refuse
        self._uploads: dict[str, _Upload] = {}

    async def handle(self, payload: bytes) -> bytes:
        """Execute one request payload and return the RESPONSE payload; never raises our errors."""
        try:
            request, body = decode_request(payload)
        except TunnelProtocolError as exc:
            await self._refuse("gateway.request_refused", {"reason": exc.message})
            return encode_envelope(error_response(InvalidInputError(exc.message, code="bad_request")))
        try:
            response, data = await self._execute(request, body)
        except VscError as exc:
            return encode_envelope(error_response(exc))
        return encode_envelope(response, data)

    async def _deny(
        self, request: Request, action: str, reason: str, code: str, error: type[VscError] = InvalidInputError
    ) -> VscError:
        details: dict[str, object] = {"op": request.op, "reason": reason, "requested_tenant": request.tenant}
        if request.key:
            details["object"] = request.key[:256]
        if request.key_id:
            details["requested_id"] = request.key_id
        await self._refuse(action, details)
        log.warning("tenant %s: %s refused: %s", self._tenant, request.op, reason)
        return error(f"{request.op} refused: {reason}", code=code)

    async def _execute(self, request: Request, body: bytes) -> tuple[Response, bytes]:
        if request.op == "artifact.get":
            if self._artifacts is None:
                raise InvalidInputError("this gateway serves no artifacts", code="no_artifacts")
            return await self._artifacts.get(request)
        payload_key = request.op.startswith("payload_key.")
        if request.tenant != self._tenant:
            raise await self._deny(
                request,
                "gateway.payload_key_denied" if payload_key else "gateway.buffer_denied",
                "tenant is not the session's tenant",
                "forbidden",
                GatewayRefusedError,
            )
        if payload_key:
            return await self._payload_key(request)
        if request.op.startswith("key."):
            return await self._key(request)
        if self._backend is None:
            raise InvalidInputError("this gateway has no buffer configured", code="no_buffer")
        if not _inside(request.key, self._tenant, prefix=request.op == "obj.list"):
            raise await self._deny(
                request,
                "gateway.buffer_denied",
                "object key outside the tenant's prefix",
                "forbidden",
                GatewayRefusedError,
            )
        backend = self._backend
        if request.op == "obj.put":
            return await self._put(backend, request, body), b""
        if request.op == "obj.get":
            data = await asyncio.to_thread(backend.get, request.key, length=request.length)
            window = data[request.offset : request.offset + self._part]
            more = request.offset + len(window) < len(data)
            return Response(ok=True, size=len(data), more=more), window
        if request.op == "obj.delete":
            await asyncio.to_thread(backend.delete, request.key)
            return Response(ok=True), b""
        infos = await asyncio.to_thread(lambda: sorted(backend.list(request.key), key=lambda i: i.key))
        page = infos[request.offset : request.offset + LIST_PAGE]
        entries = [(i.key, i.size, i.last_modified.isoformat()) for i in page]
        return Response(ok=True, more=request.offset + len(page) < len(infos)), listing(entries)

    async def _key(self, request: Request) -> tuple[Response, bytes]:
        if self._keyring is None:
            raise KeyUnavailableError("this gateway has no keyring configured", tenant=self._tenant)
        keyring = self._keyring
        if request.op == "key.current":
            key = await asyncio.to_thread(keyring.current, self._tenant)
        else:
            try:
                check_key_id(request.key_id)
            except InvalidInputError:
                raise await self._deny(
                    request, "gateway.request_refused", "malformed key id", "bad_request"
                ) from None
            key = await asyncio.to_thread(keyring.get, self._tenant, request.key_id)
        return Response(ok=True, key_id=key.key_id), key.key

    async def _payload_key(self, request: Request) -> tuple[Response, bytes]:
        action = "gateway.payload_key_denied"
        if self._payload_keyring is None:
            raise await self._deny(
                request, action, "this gateway serves no payload keys", "no_payload_keys", KeyUnavailableError
            )
        keyring = self._payload_keyring
        if request.op == "payload_key.current":
            key = await asyncio.to_thread(keyring.current, self._tenant)
            return Response(ok=True, key_id=key.key_id), key.key
        try:
            check_key_id(request.key_id)
        except InvalidInputError:
            raise await self._deny(request, action, "malformed key id", "bad_request") from None
        try:
            key = await asyncio.to_thread(keyring.get, self._tenant, request.key_id)
        except KeyUnavailableError:
            raise await self._deny(
                request, action, "no such payload key for the tenant", "unknown_key", KeyUnavailableError
            ) from None
        return Response(ok=True, key_id=key.key_id), key.key

    async def _put(self, backend: ObjectBackend, request: Request, body: bytes) -> Response:
        if request.size > self._max_object:
            self._uploads.pop(request.upload, None)
            raise await self._deny(
                request,
                "gateway.request_refused",
                f"object of {request.size} bytes exceeds the limit of {self._max_object}",
                "too_large",
            )
        upload = self._uploads.get(request.upload) if request.part else None
        if request.part == 0:
            if len(self._uploads) >= MAX_OPEN_UPLOADS and not request.final:
                raise await self._deny(
                    request,
                    "gateway.request_refused",
                    "too many open uploads",
                    "busy",
                    ObjectStoreUnavailableError,
                )
            upload = _Upload(key=request.key, size=request.size)
        if upload is None or (upload.key, upload.size, upload.next_part) != (
            request.key,
            request.size,
            request.part,
        ):
            self._uploads.pop(request.upload, None)
            raise await self._deny(
                request, "gateway.request_refused", "upload part out of sequence", "bad_request"
            )
        upload.data += body
        upload.next_part += 1
        if len(upload.data) > upload.size or (request.final and len(upload.data) != upload.size):
            self._uploads.pop(request.upload, None)
            raise await self._deny(request, "gateway.request_refused", "upload size mismatch", "bad_request")
        if not request.final:
            self._uploads[request.upload] = upload
            return Response(ok=True)
        self._uploads.pop(request.upload, None)
        await asyncio.to_thread(backend.put, upload.key, bytes(upload.data))
        return Response(ok=True, size=upload.size)


def _inside(key: str, tenant: str, *, prefix: bool) -> bool:
    """Whether ``key`` (or a listing prefix) stays inside ``<tenant>/`` on every backend."""
    if not key.startswith(f"{tenant}/") or "\\" in key or "\x00" in key:
        return False
    parts = key.split("/")
    if any(p in (".", "..") for p in parts) or "//" in key:
        return False
    return prefix or bool(parts[-1])
