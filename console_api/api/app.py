"""The FastAPI application: routers, problem+json errors, the request-body cap."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from console_api.api.context import build_context
from console_api.api.problems import PROBLEM_JSON, error_responses, install_problem_handlers, problem_response
from console_api.api.routes import (
    agents,
    api_keys,
    apis,
    audit,
    codec,
    conflicts,
    connections,
    controls,
    definitions,
    executions,
    hooks,
    marketplace,
    schedules,
    tenants,
    webhooks,
)
from console_api.api.settings import ApiSettings

ROUTERS = (
    tenants.router,
    api_keys.router,
    connections.router,
    marketplace.router,
    apis.router,
    agents.router,
    definitions.router,
    executions.router,
    schedules.router,
    controls.router,
    conflicts.router,
    audit.router,
    webhooks.router,
    hooks.router,
    codec.router,
)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, by declared length or as they stream in.

    Args:
        app: The wrapped application.
        max_bytes: Largest body accepted.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the bytes actually received."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await problem_response(413, self._detail())(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPExceptions from body reading, so this becomes the 413 problem.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counted, send)

    def _detail(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"


def _problem_media_type(app: FastAPI) -> Any:
    """Document error responses as ``application/problem+json``, which is what they are."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[:1] in ("4", "5") and "application/json" in content:
                        response["content"] = {PROBLEM_JSON: content["application/json"]}
        app.openapi_schema = schema
        return schema

    return openapi


def create_app(
    settings: ApiSettings | None = None, *, engine: Engine | None = None, temporal: Client | None = None
) -> FastAPI:
    """Build the console API; ``engine`` and ``temporal`` may be injected (tests), else come from settings."""
    settings = settings or ApiSettings()
    app = FastAPI(
        title="Van Sales Connector console API",
        version="0.1.0",
        description="Control plane of the platform. Authenticate with `Authorization: Bearer <API key>`.",
        # Any request can carry an unreadable (400) or oversized (413) body, or exceed its
        # tenant's request rate (429).
        responses=error_responses(400, 413, 429),
    )
    app.state.ctx = build_context(settings, engine=engine, temporal=temporal)
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(codec.CodecCors, origins=settings.codec_cors_origins)
    app.openapi = _problem_media_type(app)  # type: ignore[method-assign]
    return app
