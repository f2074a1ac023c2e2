"""One authenticated agent session on the gateway: its proxy, its tunnel and its presence."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from pathlib import Path

import grpc.aio
from sqlalchemy import Engine
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from activities.buffer import ObjectBackend
from activities.crypto import Keyring
from activities.errors import ObjectStoreUnavailableError, TunnelProtocolError
from console_api.gateway.agents import AgentIdentity, mark_online, touch
from console_api.gateway.artifact_service import ArtifactService
from console_api.gateway.audit import GatewayAudit
from console_api.gateway.buffer_service import BufferService
from console_api.gateway.policy import Decision, SessionScope
from console_api.gateway.proxy import SessionProxy
from console_api.gateway.settings import GatewaySettings
from mini_connector.tunnel.mux import Mux, StreamPair
from mini_connector.tunnel.protocol import CLOSE_REVOKED, Hello, Kind, Welcome
from mini_connector.tunnel.rpc import encode_envelope, error_response
from workflows.queues import agent_queue

log = logging.getLogger("vsc.gateway")
_CLOSE_PROTOCOL_ERROR = 1002
MAX_PENDING_REQUESTS = 16


class AgentSession:
    """Serves one agent's tunnel until the socket closes or the agent is revoked.

    Args:
        ws: The agent's WebSocket, authenticated.
        identity: Who the agent proved to be.
        hello: What it reported (version, host, endpoints) for presence.
        session_id: Random id sent in the welcome and recorded in audit events.
        tokens: Task tokens issued to this agent's group, shared by the sessions of every member
            on this gateway, so an activity that outlives a reconnect can still heartbeat and
            complete (a member can only complete tasks it polled in practice: it never sees the
            others' tokens).
        backend: The gateway's buffer object store, if it serves buffer requests.
        keyring: The gateway's keyring, if it hands out data keys.
        payload_keyring: The tenants' payload keyring, if it hands out payload keys.
        artifact_backend: The artifact registry's object store, if it serves ``artifact.get``.
    """

    def __init__(
        self,
        ws: ServerConnection,
        *,
        identity: AgentIdentity,
        hello: Hello,
        session_id: str,
        settings: GatewaySettings,
        engine: Engine,
        upstream: grpc.aio.Channel,
        audit: GatewayAudit,
        tokens: OrderedDict[bytes, None],
        backend: ObjectBackend | None = None,
        keyring: Keyring | None = None,
        payload_keyring: Keyring | None = None,
        artifact_backend: ObjectBackend | None = None,
    ) -> None:
        self.ws, self.identity, self.session_id = ws, identity, session_id
        self._hello, self._settings, self._engine, self._audit = hello, settings, engine, audit
        # Members of one group all serve the group's queue (by default the agent's own id).
        queues = frozenset({agent_queue(identity.tenant, identity.group)})
        self.scope = SessionScope(
            tenant=identity.tenant,
            agent_id=identity.agent_id,
            namespace=settings.temporal.namespace,
            queues=queues,
            tokens=tokens,
        )
        self._proxy = SessionProxy(self.scope, upstream, self._denied)
        self._buffer = BufferService(
            tenant=identity.tenant,
            backend=backend,
            keyring=keyring,
            payload_keyring=payload_keyring,
            max_frame=settings.max_frame,
            max_object_bytes=settings.max_object_bytes,
            refuse=self._refused,
            artifacts=ArtifactService(
                tenant=identity.tenant,
                backend=artifact_backend,
                max_frame=settings.max_frame,
                max_artifact_bytes=settings.max_artifact_bytes,
                refuse=self._refused,
                record=self._event,
            ),
        )
        self._requests: set[asyncio.Task[None]] = set()
        self._mux: Mux | None = None

    async def run(self) -> None:
        """Open the proxy, welcome the agent, carry its streams; tear everything down at the end."""
        await self._proxy.start()
        try:
            await asyncio.to_thread(mark_online, self._engine, self.identity, self._hello)
            await self.ws.send(
                Welcome(session=self.session_id, queues=sorted(self.scope.queues)).model_dump_json()
            )
            await self._event("gateway.session_opened", "ok", {"host": self._hello.host})
            mux = Mux(
                self.ws,
                max_frame=self._settings.max_frame,
                opener=self._open_stream,
                stream_buffer_frames=self._settings.stream_buffer_frames,
                max_streams=self._settings.max_streams_per_session,
                on_request=self._on_request,
            )
            self._mux = mux
            presence = asyncio.create_task(self._presence())
            try:
                await mux.run()
            except TunnelProtocolError as exc:
                await self._event("gateway.protocol_violation", "refused", {"reason": exc.message})
                await self.ws.close(_CLOSE_PROTOCOL_ERROR, "protocol error")
            finally:
                presence.cancel()
                for task in self._requests:
                    task.cancel()
        finally:
            await self._proxy.stop()
            await self._event("gateway.session_closed", "ok", {"close_code": self.ws.close_code})

    async def close(self, code: int, reason: str) -> None:
        """End the session: stop its proxy first (cancelling in-flight polls upstream), then the socket.

        Stopping the proxy first matters when the socket is half-open: the close handshake may
        wait for its timeout, and a poll still open upstream would take a task into a dead session.
        """
        await self._proxy.stop()
        await self.ws.close(code, reason)

    async def close_revoked(self) -> None:
        """Close the session because its agent was revoked."""
        await self.close(CLOSE_REVOKED, "agent revoked")

    async def _on_request(self, request_id: int, payload: bytes) -> None:
        """Answer in a task of its own so a slow store never stalls the tunnel's read loop."""
        if len(self._requests) >= MAX_PENDING_REQUESTS:
            busy = ObjectStoreUnavailableError("too many requests in flight on this session", code="busy")
            await self._respond(request_id, encode_envelope(error_response(busy)))
            return
        task = asyncio.create_task(self._answer(request_id, payload))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _answer(self, request_id: int, payload: bytes) -> None:
        await self._respond(request_id, await self._buffer.handle(payload))

    async def _respond(self, request_id: int, payload: bytes) -> None:
        if self._mux is None:
            return
        try:
            await self._mux.send_message(Kind.RESPONSE, request_id, payload)
        except ConnectionClosed:
            pass

    async def _refused(self, action: str, details: dict[str, object]) -> None:
        denials = ("gateway.buffer_denied", "gateway.payload_key_denied", "gateway.artifact_denied")
        outcome = "denied" if action in denials else "refused"
        await self._audit.record(
            tenant=self.identity.tenant,
            action=action,
            target=f"agent:{self.identity.agent_id}",
            outcome=outcome,
            details=self._details(details),
        )

    async def _open_stream(self, _stream_id: int) -> StreamPair:
        return await asyncio.open_unix_connection(Path(self._proxy.socket_path))

    async def _presence(self) -> None:
        while True:
            await asyncio.sleep(self._settings.presence_interval)
            if await asyncio.to_thread(touch, self._engine, self.identity):
                await self._event("gateway.session_revoked", "closed", {})
                await self.close_revoked()
                return

    async def _denied(self, decision: Decision) -> None:
        request = decision.request
        workflow_id = ""
        if request is not None and hasattr(request, "workflow_id"):
            workflow_id = str(request.workflow_id)
        log.warning("session %s: %s refused: %s", self.session_id, decision.rpc, decision.reason)
        await self._audit.record(
            tenant=self.identity.tenant,
            action="gateway.rpc_denied",
            target=f"rpc:{decision.rpc}",
            outcome="denied",
            details=self._details({"rpc": decision.rpc, "reason": decision.reason}),
            workflow_id=workflow_id,
        )

    async def _event(self, action: str, outcome: str, details: dict[str, object]) -> None:
        await self._audit.record(
            tenant=self.identity.tenant,
            action=action,
            target=f"agent:{self.identity.agent_id}",
            outcome=outcome,
            details=self._details(details),
        )

    def _details(self, extra: dict[str, object]) -> dict[str, object]:
        return {"session": self.session_id, "agent_id": self.identity.agent_id, **extra}
