"""The agent's end of the tunnel: dials the gateway, proves its identity, carries its worker's gRPC.

The Temporal client of the agent connects to :attr:`TunnelClient.address` (127.0.0.1 only);
each accepted TCP connection becomes one tunnel stream. Connections accepted while the gateway
is unreachable wait for the next session instead of failing, so the worker resumes as soon as
the tunnel is back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import time
from types import TracebackType

import websockets
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from activities.errors import GatewayRefusedError, TunnelProtocolError
from mini_connector.tunnel.backoff import Backoff
from mini_connector.tunnel.mux import Mux, set_nodelay
from mini_connector.tunnel.protocol import (
    CONNECT_PATH,
    DEFAULT_MAX_FRAME,
    PING_INTERVAL_S,
    PING_TIMEOUT_S,
    Challenge,
    ErrorMessage,
    Hello,
    Kind,
    Welcome,
    auth_message,
    check_gateway_url,
)
from mini_connector.tunnel.rpc import Request, RequestChannel, Response, encode_envelope, session_errors
from mini_connector.tunnel.signer import Signer

log = logging.getLogger("vsc.tunnel")
_HANDSHAKE_TIMEOUT_S = 15.0

FINAL_REFUSALS = frozenset({"revoked", "unknown_agent", "bad_signature", "bad_certificate"})
"""Refusal codes that retrying cannot cure: the client stops dialling and reports them."""


class TunnelOptions(BaseModel):
    """Who the agent is, where the gateway is, and how the tunnel behaves."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    gateway_url: str
    """Base URL such as ``wss://gw.example.com``; the session path is appended."""
    tenant: str
    agent_id: str
    version: str = "0.1.0"
    host: str = ""
    endpoints: list[str] = Field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None
    max_frame: int = DEFAULT_MAX_FRAME
    ping_interval: float = PING_INTERVAL_S
    ping_timeout: float = PING_TIMEOUT_S
    backoff: Backoff = Backoff()


class TunnelClient:
    """Keeps one authenticated session to the gateway open, forever, and serves a loopback port.

    Args:
        options: Identity, gateway and tuning.
        signer: Proves the agent's identity; the tunnel never sees the private key.
    """

    def __init__(self, options: TunnelOptions, signer: Signer) -> None:
        check_gateway_url(options.gateway_url)
        self._options = options
        self._signer = signer
        self._server: asyncio.Server | None = None
        self._runner: asyncio.Task[None] | None = None
        self._mux: Mux | None = None
        self._session_ready = asyncio.Event()
        self._requests = RequestChannel()
        self.session_id: str | None = None
        self.sessions_opened = 0
        self.queues: list[str] = []
        """Task queues the gateway's last welcome granted (the agent group's queue)."""
        self.last_refusal: GatewayRefusedError | None = None
        self._final_refusal: asyncio.Future[GatewayRefusedError] | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` for the agent's Temporal client; valid after :meth:`start`."""
        if self._server is None:
            raise RuntimeError("the tunnel client is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def start(self) -> None:
        """Listen on 127.0.0.1 (ephemeral port) and start dialling the gateway in the background."""
        self._final_refusal = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._runner = asyncio.create_task(self._run_forever())

    async def wait_connected(self) -> str:
        """Wait for an open session and return its id."""
        await self._session_ready.wait()
        assert self.session_id is not None
        return self.session_id

    async def request(self, header: Request, body: bytes = b"") -> tuple[Response, bytes]:
        """Send one buffer/key request over the live session (waiting for one) and return the answer.

        Raises:
            GatewayUnreachableError: The session ended or the gateway did not answer in time.
        """
        while True:
            await self._session_ready.wait()
            mux = self._mux
            if mux is not None:
                break
        request_id = self._requests.next_id()
        future = self._requests.open(request_id)
        try:
            with session_errors():
                await mux.send_message(Kind.REQUEST, request_id, encode_envelope(header, body))
        except BaseException:
            self._requests.discard(request_id)
            raise
        return await self._requests.wait(request_id, future)

    @property
    def max_frame(self) -> int:
        """Largest frame the session carries; requests chunk their bodies below it."""
        return self._options.max_frame

    async def wait_refused(self) -> GatewayRefusedError:
        """Wait for a refusal in :data:`FINAL_REFUSALS`; after one the client has stopped dialling."""
        if self._final_refusal is None:
            raise RuntimeError("the tunnel client is not started")
        return await asyncio.shield(self._final_refusal)

    async def wait_connected_or_refused(self) -> str:
        """Wait for an open session and return its id.

        Raises:
            GatewayRefusedError: The gateway refused the agent for good first (revoked, unknown
                agent, key mismatch), so waiting longer would wait forever.
        """
        connected = asyncio.ensure_future(self.wait_connected())
        refused = asyncio.ensure_future(self.wait_refused())
        await asyncio.wait({connected, refused}, return_when=asyncio.FIRST_COMPLETED)
        if connected.done():
            refused.cancel()
            return connected.result()
        connected.cancel()
        raise refused.result()

    async def stop(self) -> None:
        """Stop dialling, close the session and the loopback listener."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._server is not None:
            self._server.close()

    async def __aenter__(self) -> TunnelClient:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        set_nodelay(writer)
        while True:
            await self._session_ready.wait()
            mux = self._mux
            if mux is None:
                continue
            try:
                await mux.attach(reader, writer)
            except ConnectionClosed:
                # The session is going away; wait for its successor without spinning.
                await asyncio.sleep(0.05)
                continue
            return

    async def _run_forever(self) -> None:
        attempt = 0
        while True:
            try:
                await self._session()
                attempt = 0
            except ssl.SSLCertVerificationError as exc:
                # The agent refuses a gateway it cannot verify: retrying would only retry the refusal.
                refusal = GatewayRefusedError(
                    f"the gateway at {self._options.gateway_url} presented a certificate that does not "
                    f"verify ({exc.verify_message or exc.reason})",
                    code="bad_certificate",
                )
                self.last_refusal = refusal
                log.error("%s", refusal.message)
                if self._final_refusal is not None:
                    self._final_refusal.set_result(refusal)
                return
            except GatewayRefusedError as exc:
                self.last_refusal = exc
                log.error("gateway refused the session: %s", exc.message)
                if exc.fields.get("code") in FINAL_REFUSALS and self._final_refusal is not None:
                    self._final_refusal.set_result(exc)
                    return
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, TunnelProtocolError) as exc:
                log.warning("gateway session ended: %s", exc)
            except Exception:
                # Anything unforeseen must not silently end the reconnect loop: log it whole, retry.
                log.exception("gateway session failed unexpectedly")
            delay = self._options.backoff.delay(attempt)
            attempt += 1
            log.info("reconnecting to the gateway in %.2fs", delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        opts = self._options
        url = opts.gateway_url.rstrip("/") + CONNECT_PATH
        async with websockets.connect(
            url,
            ssl=(opts.ssl_context or ssl.create_default_context()) if url.startswith("wss://") else None,
            compression=None,
            max_size=opts.max_frame,
            ping_interval=opts.ping_interval,
            ping_timeout=opts.ping_timeout,
            open_timeout=_HANDSHAKE_TIMEOUT_S,
        ) as ws:
            set_nodelay(ws.transport)
            welcome = await asyncio.wait_for(self._authenticate(ws), _HANDSHAKE_TIMEOUT_S)
            mux = Mux(ws, max_frame=opts.max_frame, on_response=self._requests.deliver)
            self._mux, self.session_id, self.queues = mux, welcome.session, welcome.queues
            self.sessions_opened += 1
            self.last_refusal = None
            self._session_ready.set()
            log.info("gateway session %s open, serving %s", welcome.session, welcome.queues)
            try:
                await mux.run()
            finally:
                self._session_ready.clear()
                self._mux = None
                self._requests.fail_all("socket closed")

    async def _authenticate(self, ws: ClientConnection) -> Welcome:
        opts = self._options
        try:
            challenge = Challenge.model_validate_json(await ws.recv())
        except ValidationError:
            raise TunnelProtocolError("the gateway sent a malformed challenge") from None
        ts = int(time.time())
        message = auth_message(
            gateway=challenge.gateway,
            nonce=challenge.nonce,
            tenant=opts.tenant,
            agent_id=opts.agent_id,
            ts=ts,
        )
        hello = Hello(
            tenant=opts.tenant,
            agent_id=opts.agent_id,
            version=opts.version,
            host=opts.host,
            endpoints=opts.endpoints,
            ts=ts,
            signature=base64.b64encode(self._signer.sign(message)).decode(),
        )
        await ws.send(hello.model_dump_json())
        reply = await ws.recv()
        try:
            return Welcome.model_validate_json(reply)
        except ValidationError:
            pass
        try:
            error = ErrorMessage.model_validate_json(reply)
        except ValidationError:
            raise TunnelProtocolError("the gateway sent neither welcome nor error") from None
        raise GatewayRefusedError(
            f"gateway refused agent {opts.agent_id!r} of tenant {opts.tenant!r}: "
            f"{error.code} ({error.detail})",
            code=error.code,
        )
