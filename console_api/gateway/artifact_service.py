"""``artifact.get`` requests of one agent session: pinned SDK artifacts from the cloud's artifact registry.

An agent that calls a local user API needs the SDK the console built for it (component,
precompiled copy, API description); it holds no object-store credential, so the gateway reads
the artifact for it. Only the session's tenant, only the kinds an agent runs
(:data:`AGENT_ARTIFACT_KINDS`), only up to ``max_artifact_bytes``; every refusal is audited,
and so is every artifact sent (one ``gateway.artifact_sent`` per download, at its first window).

Large artifacts go in windows of at most one frame, like ``obj.get``. So that an 18 MB
component is not read and hashed once per window, the session keeps the artifacts it is in
the middle of sending in memory (at most :data:`OPEN_ARTIFACTS`), dropping each after its last
window.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from activities.artifacts import ArtifactRegistry
from activities.buffer import ObjectBackend
from activities.errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    GatewayRefusedError,
    InvalidInputError,
    VscError,
)
from mini_connector.tunnel.rpc import ENVELOPE_OVERHEAD, Request, Response

log = logging.getLogger("vsc.gateway")

AGENT_ARTIFACT_KINDS = frozenset({"sdk-component", "sdk-precompiled", "api-description", "openapi-spec"})
"""What an agent may fetch: what ``call_api`` loads, plus the spec (``vsc api diff`` on the premises).
Rendered sources and workflow definitions stay in the cloud."""
OPEN_ARTIFACTS = 2
"""Artifacts held in memory per session between windows (description and component in parallel)."""
_DIGEST = re.compile(r"^[0-9a-f]{64}$")

Refusal = Callable[[str, dict[str, object]], Awaitable[None]]
"""Audits one refusal: ``(action, details)``."""
Event = Callable[[str, str, dict[str, object]], Awaitable[None]]
"""Audits one event: ``(action, outcome, details)``."""


class ArtifactService:
    """Answers one session's ``artifact.get`` requests.

    Args:
        tenant: The session's authenticated tenant; the only one whose artifacts it reads.
        backend: The artifact registry's object store (``None``: no registry, every request refused).
        max_frame: The session's frame limit; windows stay below it.
        max_artifact_bytes: Largest artifact sent; a larger one is refused before it is read.
        refuse: Audit callback for refusals.
        record: Audit callback for artifacts sent and integrity failures.
    """

    def __init__(
        self,
        *,
        tenant: str,
        backend: ObjectBackend | None,
        max_frame: int,
        max_artifact_bytes: int,
        refuse: Refusal,
        record: Event,
    ) -> None:
        self._tenant = tenant
        self._backend = backend
        self._registry = ArtifactRegistry(backend=backend) if backend is not None else None
        self._part = max_frame - ENVELOPE_OVERHEAD
        self._max = max_artifact_bytes
        self._refuse = refuse
        self._record = record
        self._open: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    async def get(self, request: Request) -> tuple[Response, bytes]:
        """One window of an artifact: bytes ``[offset, offset + window)``, its size and whether more follow.

        Raises:
            GatewayRefusedError: Another tenant, or a kind agents may not fetch (``forbidden``).
            InvalidInputError: Malformed digest (``bad_request``), too large (``too_large``), or
                no registry on this gateway (``no_artifacts``).
            ArtifactNotFoundError: The tenant has no such artifact.
            ArtifactIntegrityError: The stored bytes do not hash to their name (altered at rest).
        """
        if request.tenant != self._tenant:
            raise await self._deny(request, "tenant is not the session's tenant", GatewayRefusedError)
        if request.kind not in AGENT_ARTIFACT_KINDS:
            raise await self._deny(request, "artifact kind not served to agents", GatewayRefusedError)
        if not _DIGEST.match(request.sha256):
            raise await self._deny(
                request,
                "an artifact is named by 64 hex digits",
                InvalidInputError,
                "bad_request",
                action="gateway.request_refused",
            )
        if self._registry is None or self._backend is None:
            raise InvalidInputError("this gateway serves no artifacts", code="no_artifacts")
        name = (request.kind, request.sha256)
        data = self._open.get(name)
        if data is None:
            data = await self._read(request)
        window = data[request.offset : request.offset + self._part]
        more = request.offset + len(window) < len(data)
        if more:
            self._open[name] = data
            self._open.move_to_end(name)
            while len(self._open) > OPEN_ARTIFACTS:
                self._open.popitem(last=False)
        else:
            self._open.pop(name, None)
        return Response(ok=True, size=len(data), more=more), window

    async def _read(self, request: Request) -> bytes:
        assert self._registry is not None and self._backend is not None
        key = f"{self._tenant}/{request.kind}/{request.sha256}"
        backend, registry = self._backend, self._registry
        sizes = await asyncio.to_thread(lambda: [i.size for i in backend.list(key) if i.key == key])
        if not sizes:
            raise ArtifactNotFoundError(
                f"tenant {self._tenant!r} has no artifact {request.kind}/{request.sha256[:12]}",
                tenant=self._tenant,
            )
        if sizes[0] > self._max:
            raise await self._deny(
                request,
                f"artifact of {sizes[0]} bytes exceeds the limit of {self._max}",
                InvalidInputError,
                "too_large",
                action="gateway.request_refused",
            )
        try:
            data = await asyncio.to_thread(
                registry.get, tenant=self._tenant, kind=request.kind, sha256=request.sha256
            )
        except ArtifactIntegrityError:
            await self._record("gateway.artifact_integrity_failed", "error", self._details(request, ""))
            log.error("tenant %s: artifact %s/%s altered at rest", self._tenant, request.kind, request.sha256)
            raise
        if request.offset == 0:
            sent = {**self._details(request, ""), "size": len(data)}
            await self._record("gateway.artifact_sent", "ok", sent)
        return data

    async def _deny(
        self,
        request: Request,
        reason: str,
        error: type[VscError],
        code: str = "forbidden",
        *,
        action: str = "gateway.artifact_denied",
    ) -> VscError:
        await self._refuse(action, self._details(request, reason))
        log.warning("tenant %s: artifact.get refused: %s", self._tenant, reason)
        return error(f"artifact.get refused: {reason}", code=code)

    @staticmethod
    def _details(request: Request, reason: str) -> dict[str, object]:
        details: dict[str, object] = {
            "op": request.op,
            "requested_tenant": request.tenant,
            "kind": request.kind[:40],
            "sha256": request.sha256[:64],
        }
        if reason:
            details["reason"] = reason
        return details
