"""The authorizing gRPC proxy of one agent session.

A grpcio server on a private unix socket receives the session's tunnel streams. Generic
handlers keep every request and response as raw bytes: the proxy decodes a request only to
authorize it (see :mod:`console_api.gateway.policy`) and forwards the original bytes unchanged.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from console_api.gateway.policy import Decision, SessionScope, after_response, authorize

log = logging.getLogger("vsc.gateway")
OnDenied = Callable[[Decision], Awaitable[None]]
MAX_MESSAGE = 128 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]
_STATUS_DETAILS = "grpc-status-details-bin"
_HOP_BY_HOP = frozenset({"user-agent", "te", "content-type"})


def _forwardable(metadata: Any) -> list[tuple[str, str | bytes]]:
    return [(k, v) for k, v in (metadata or ()) if not k.startswith((":", "grpc-")) and k not in _HOP_BY_HOP]


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, proxy: SessionProxy) -> None:
        self._proxy = proxy

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method

        async def unary(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            return await self._proxy.forward(method, request, context)

        return grpc.unary_unary_rpc_method_handler(unary)


class SessionProxy:
    """Per-session proxy: created at welcome, stopped at disconnect.

    Args:
        scope: The session's tenant, namespace, queues and issued task tokens.
        upstream: Channel to the Temporal frontend, shared by every session of the gateway.
        on_denied: Records a refusal (audit event); called before PERMISSION_DENIED is sent.
    """

    def __init__(self, scope: SessionScope, upstream: grpc.aio.Channel, on_denied: OnDenied) -> None:
        self.scope = scope
        self._upstream = upstream
        self._on_denied = on_denied
        self._dir = tempfile.TemporaryDirectory(prefix="vscgw-")
        self.socket_path = Path(self._dir.name) / "s"
        self._server = grpc.aio.server(options=GRPC_OPTIONS)
        self._server.add_generic_rpc_handlers([_Handler(self)])

    async def start(self) -> None:
        """Bind the unix socket (in a fresh 0700 directory) and start serving."""
        self._server.add_insecure_port(f"unix:{self.socket_path}")
        await self._server.start()

    async def stop(self) -> None:
        """Stop serving at once; in-flight calls of a dropped session are abandoned."""
        await self._server.stop(grace=None)
        self._dir.cleanup()

    async def forward(
        self, method: str, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> bytes:
        """Authorize one call and relay it to Temporal, or refuse it with PERMISSION_DENIED."""
        decision = authorize(method, request, self.scope)
        if not decision.allowed:
            await self._on_denied(decision)
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"refused by the gateway: {decision.reason}"
            )
        call = self._upstream.unary_unary(method)
        try:
            response: bytes = await call(
                request,
                metadata=_forwardable(context.invocation_metadata()),
                timeout=context.time_remaining(),
            )
        except grpc.aio.AioRpcError as exc:
            # Pass Temporal's error through unchanged, including its structured status details.
            trailing = [
                (k, v)
                for k, v in (exc.trailing_metadata() or ())
                if k == _STATUS_DETAILS or not k.startswith((":", "grpc-"))
            ]
            await context.abort(exc.code(), exc.details() or "", trailing_metadata=trailing)
        after_response(decision, response, self.scope)
        return response
