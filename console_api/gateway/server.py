"""The agent gateway: a WebSocket server for enrollment and agent sessions.

Plain ``ws://`` is served only on a loopback address; anywhere else TLS is required. Every
refusal is audited, and one agent's misbehaviour (bad frames, oversized frames, floods of
attempts) only ever closes that agent's socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import ssl
import uuid
from collections import OrderedDict
from http import HTTPStatus
from types import TracebackType

import grpc.aio
from pydantic import ValidationError
from sqlalchemy import Engine
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from activities.buffer import ObjectBackend
from activities.crypto import Keyring
from activities.errors import GatewayRefusedError, InvalidInputError
from activities.metadata import make_engine
from activities.quotas import tier_buffer_quota
from activities.wiring import build_backend, build_keyring, build_payload_keyring
from console_api.gateway.agents import AgentIdentity, authenticate, mark_offline
from console_api.gateway.audit import GatewayAudit
from console_api.gateway.enrollment import consume_enrollment_token
from console_api.gateway.proxy import GRPC_OPTIONS
from console_api.gateway.session import AgentSession
from console_api.gateway.settings import GatewaySettings
from mini_connector.tunnel.mux import set_nodelay
from mini_connector.tunnel.protocol import (
    CLOSE_AUTH,
    CLOSE_REVOKED,
    CONNECT_PATH,
    ENROLL_PATH,
    Challenge,
    Enroll,
    Enrolled,
    ErrorMessage,
    Hello,
    is_loopback_host,
)

log = logging.getLogger("vsc.gateway")
_CLOSE_SUPERSEDED = 4409
_CLOSE_TIMEOUT_S = 2.0  # a peer that does not answer a close (half-open) is aborted after this


class Gateway:
    """The running gateway; use as ``async with Gateway(settings) as gw`` or via :func:`serve`.

    Args:
        settings: Listening address, TLS, Temporal frontend, metadata store.
        engine: Metadata-store engine; made from ``settings.metadata_url`` when omitted.
    """

    def __init__(self, settings: GatewaySettings, *, engine: Engine | None = None) -> None:
        if settings.tls_cert is None and not is_loopback_host(settings.host):
            raise InvalidInputError(
                f"gateway on {settings.host} needs tls_cert and tls_key; plain ws:// is for loopback only",
                host=settings.host,
            )
        self.settings = settings
        self.engine = engine or make_engine(settings.metadata_url)
        self.audit = GatewayAudit(self.engine, platform_tenant=settings.audit_tenant)
        self._server: Server | None = None
        self._upstream: grpc.aio.Channel | None = None
        self._sessions: dict[tuple[str, str], set[AgentSession]] = {}
        self._tokens: dict[tuple[str, str], OrderedDict[bytes, None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._handshakes = 0
        self._backend: ObjectBackend | None = None
        self._keyring: Keyring | None = None
        self._payload_keyring: Keyring | None = None
        self._artifacts: ObjectBackend | None = None
        if settings.artifacts is not None:
            self._artifacts = build_backend(settings.artifacts)
        if settings.buffer is not None:
            quota = tier_buffer_quota(self.engine, ttl=settings.buffer.ttl)
            self._backend = build_backend(settings.buffer, quota=quota)
            self._keyring = build_keyring(settings.buffer)
            if settings.payload_keyring_dir is not None:
                self._payload_keyring = build_payload_keyring(
                    settings.buffer, keyring_dir=settings.payload_keyring_dir
                )

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL agents dial."""
        scheme = "ws" if self.settings.tls_cert is None else "wss"
        return f"{scheme}://{self.settings.host}:{self.port}"

    def sessions_of(self, tenant: str, agent_id: str) -> list[AgentSession]:
        """Live sessions of one agent on this gateway."""
        return list(self._sessions.get((tenant, agent_id), ()))

    async def start(self) -> None:
        """Provision the platform audit tenant, open the Temporal channel and start listening."""
        await asyncio.to_thread(self.audit.ensure_platform_tenant)
        self._upstream = grpc.aio.insecure_channel(self.settings.temporal.address, options=GRPC_OPTIONS)
        s = self.settings
        self._server = await ws_serve(
            self._handle,
            s.host,
            s.port,
            ssl=self._ssl_context(),
            compression=None,
            max_size=s.max_frame,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            close_timeout=_CLOSE_TIMEOUT_S,
            open_timeout=s.handshake_timeout,
            process_request=self._route,
        )
        log.info("gateway listening on %s", self.url)

    async def close(self) -> None:
        """Stop accepting, close every session and the Temporal channel."""
        for task in self._background:
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._upstream is not None:
            await self._upstream.close()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def revoke(self, *, tenant_id: str, agent_id: str) -> bool:
        """Revoke an agent and close its live sessions on this gateway now."""
        from console_api.gateway.agents import revoke_agent

        existed = await asyncio.to_thread(revoke_agent, self.engine, tenant_id=tenant_id, agent_id=agent_id)
        revoked = self.sessions_of(tenant_id, agent_id)
        groups = {s.identity.group for s in revoked}
        for session in revoked:
            await session.close_revoked()
        # The group's tokens stay while other members are connected: they may retry its tasks.
        live_groups = {
            s.identity.group
            for (tenant, agent), sessions in self._sessions.items()
            if tenant == tenant_id and agent != agent_id
            for s in sessions
        }
        for group in groups - live_groups:
            self._tokens.pop((tenant_id, group), None)
        return existed

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.settings.tls_cert is None or self.settings.tls_key is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        return context

    async def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path not in (ENROLL_PATH, CONNECT_PATH):
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if self._handshakes >= self.settings.max_handshakes:
            await self.audit.record(
                tenant=None,
                action="gateway.auth_refused",
                target=f"peer:{_peer(connection)}",
                outcome="refused",
                details={
                    "code": "busy",
                    "reason": "too many handshakes in progress",
                    "peer": _peer(connection),
                },
            )
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many handshakes in progress\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        set_nodelay(ws.transport)
        try:
            if ws.request is not None and ws.request.path == ENROLL_PATH:
                await self._enroll(ws)
            else:
                await self._connect(ws)
        except ConnectionClosed:
            pass

    async def _first_message(self, ws: ServerConnection, *, action: str) -> str | bytes | None:
        """The peer's first message, counted against ``max_handshakes``; None if it timed out (refused)."""
        self._handshakes += 1
        try:
            return await asyncio.wait_for(ws.recv(), self.settings.handshake_timeout)
        except TimeoutError:
            await self._refuse(
                ws,
                tenant=None,
                action=action,
                code="timeout",
                detail=f"no message within {self.settings.handshake_timeout:g} s",
                close_code=CLOSE_AUTH,
            )
            return None
        finally:
            self._handshakes -= 1

    async def _refuse(
        self,
        ws: ServerConnection,
        *,
        tenant: str | None,
        action: str,
        code: str,
        detail: str,
        close_code: int,
    ) -> None:
        await self.audit.record(
            tenant=tenant,
            action=action,
            target=f"peer:{_peer(ws)}",
            outcome="refused",
            details={"code": code, "reason": detail, "peer": _peer(ws)},
        )
        with contextlib.suppress(ConnectionClosed):
            await ws.send(ErrorMessage(code=code, detail=detail).model_dump_json())
        await ws.close(close_code, code)

    async def _enroll(self, ws: ServerConnection) -> None:
        raw = await self._first_message(ws, action="gateway.enroll_refused")
        if raw is None:
            return
        try:
            msg = Enroll.model_validate_json(raw)
        except ValidationError:
            await self._refuse(
                ws,
                tenant=None,
                action="gateway.enroll_refused",
                code="bad_request",
                detail="malformed enroll message",
                close_code=CLOSE_AUTH,
            )
            return
        try:
            result = await asyncio.to_thread(
                consume_enrollment_token,
                self.engine,
                token=msg.token,
                agent_id=msg.agent_id,
                public_key=msg.public_key,
                host=msg.host,
                version=msg.version,
            )
        except GatewayRefusedError as exc:
            await self._refuse(
                ws,
                tenant=exc.fields.get("tenant") or None,
                action="gateway.enroll_refused",
                code=str(exc.fields["code"]),
                detail=exc.message,
                close_code=CLOSE_AUTH,
            )
            return
        await self.audit.record(
            tenant=result.tenant,
            action="gateway.agent_enrolled",
            target=f"agent:{result.agent_id}",
            outcome="ok",
            details={"agent_id": result.agent_id, "host": msg.host, "version": msg.version},
        )
        await ws.send(Enrolled(tenant=result.tenant, agent_id=result.agent_id).model_dump_json())
        await ws.close()

    async def _connect(self, ws: ServerConnection) -> None:
        nonce = base64.b64encode(secrets.token_bytes(32)).decode()
        await ws.send(Challenge(nonce=nonce, gateway=self.settings.gateway_id).model_dump_json())
        raw = await self._first_message(ws, action="gateway.auth_refused")
        if raw is None:
            return
        try:
            hello = Hello.model_validate_json(raw)
        except ValidationError:
            await self._refuse(
                ws,
                tenant=None,
                action="gateway.auth_refused",
                code="bad_request",
                detail="malformed hello message",
                close_code=CLOSE_AUTH,
            )
            return
        try:
            identity = await asyncio.to_thread(
                authenticate, self.engine, hello, gateway_id=self.settings.gateway_id, nonce=nonce
            )
        except GatewayRefusedError as exc:
            code = str(exc.fields["code"])
            await self._refuse(
                ws,
                tenant=hello.tenant if code != "unknown_agent" else None,
                action="gateway.auth_refused",
                code=code,
                detail=exc.message,
                close_code=CLOSE_REVOKED if code == "revoked" else CLOSE_AUTH,
            )
            return
        await self._serve_session(ws, identity, hello)

    async def _serve_session(self, ws: ServerConnection, identity: AgentIdentity, hello: Hello) -> None:
        assert self._upstream is not None
        key = (identity.tenant, identity.agent_id)
        session = AgentSession(
            ws,
            identity=identity,
            hello=hello,
            session_id=uuid.uuid4().hex,
            settings=self.settings,
            engine=self.engine,
            upstream=self._upstream,
            audit=self.audit,
            tokens=self._tokens.setdefault((identity.tenant, identity.group), OrderedDict()),
            backend=self._backend,
            keyring=self._keyring,
            payload_keyring=self._payload_keyring,
            artifact_backend=self._artifacts,
        )
        # A reconnecting agent supersedes its older sessions here: after a half-open drop the old
        # one would otherwise keep long-polling and swallow tasks until its ping timeout. This is
        # per agent id: other members of its group keep their sessions.
        for old in self._sessions.get(key, set()):
            task = asyncio.create_task(old.close(_CLOSE_SUPERSEDED, "superseded by a newer session"))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        self._sessions.setdefault(key, set()).add(session)
        try:
            await session.run()
        finally:
            live = self._sessions.get(key, set())
            live.discard(session)
            if not live:
                self._sessions.pop(key, None)
                await asyncio.to_thread(mark_offline, self.engine, identity)


def _peer(ws: ServerConnection) -> str:
    address = ws.remote_address
    return str(address[0]) if address else "unknown"


async def serve(settings: GatewaySettings | None = None) -> None:
    """Run a gateway until cancelled."""
    async with Gateway(settings or GatewaySettings()):
        await asyncio.Future()
