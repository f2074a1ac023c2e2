"""Rows and views of registered APIs: lookups, public models, who uses an API, getting a spec by URL.

The routes in :mod:`console_api.api.routes.apis` stay a sequence of steps; what a step needs
from the metadata store, the agent or ``sdkgen`` is here or in :mod:`console_api.api.sdk_pipeline`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import TypeAdapter
from sqlalchemy import select
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from activities.api_pins import pin_sdk
from activities.artifacts import ArtifactRegistry
from activities.errors import EgressDeniedError, SpecUnreachableError
from activities.metadata import Api, ApiVersion, TenantSession, WorkflowDefinition, tenant_session
from console_api.api.context import ApiContext
from console_api.api.schemas import (
    AffectedDefinition,
    ApiPublic,
    ApiVersionPublic,
    ApiVersionSummary,
    OperationPublic,
    RefusalPublic,
)
from console_api.api.sdk_pipeline import fetch_internet_spec
from console_api.presence import online_members
from sdkgen.model import Accessibility, ApiAuth, ApiDescription
from workflows.api_types import SdkPin
from workflows.fetch_spec import INLINE_LIMIT, FetchSpecInput, FetchSpecResult, FetchSpecWorkflowInput
from workflows.queues import cloud_queue

AUTH = TypeAdapter[Any](ApiAuth)
PIN_FIELD = "pin"
"""Key of a version's ``artifacts`` holding its ``SdkPin`` (without the version number)."""
Side = Literal["agent", "cloud"]
"""Which worker calls the API in a flow: the agent (local) or the cloud workers (internet)."""
SECRET_FIELD = "secret"
"""The one field of an API's entry in the secret store."""


def get_api(session: TenantSession, name: str) -> Api:
    """The tenant's API ``name``.

    Raises:
        HTTPException: 404 when the tenant has no API of that name.
    """
    row = session.scalars(select(Api).where(Api.name == name)).one_or_none()
    if row is None or row.tenant_id != session.tenant_id:
        raise HTTPException(404, f"API {name!r} not found")
    return row


def versions_of(session: TenantSession, api: Api) -> list[ApiVersion]:
    """Every SDK version of ``api``, oldest first."""
    stmt = select(ApiVersion).where(ApiVersion.api_id == api.id).order_by(ApiVersion.version)
    return list(session.scalars(stmt).all())


def get_version(session: TenantSession, api: Api, version: int) -> ApiVersion:
    """Version ``version`` of ``api``.

    Raises:
        HTTPException: 404 when the API has no such version.
    """
    row = session.scalars(
        select(ApiVersion).where(ApiVersion.api_id == api.id, ApiVersion.version == version)
    ).one_or_none()
    if row is None:
        raise HTTPException(404, f"API {api.name!r} has no version {version}")
    return row


def description_of(row: ApiVersion) -> ApiDescription:
    """The stored description of a version."""
    return ApiDescription.model_validate(row.description)


def operations_public(desc: ApiDescription, writable: list[str]) -> list[OperationPublic]:
    """The operations of ``desc`` with their write grants."""
    granted = set(writable)
    return [
        OperationPublic(
            op_id=op.op_id,
            method=op.method,
            path=op.path,
            summary=op.summary,
            read_only=op.read_only,
            writable=op.op_id in granted and not op.read_only,
        )
        for op in desc.operations
    ]


def summary_of(row: ApiVersion, *, current: int) -> ApiVersionSummary:
    """One line of an API's version history."""
    return ApiVersionSummary(
        version=row.version,
        spec_sha256=row.spec_sha256,
        operations_count=row.operations_count,
        refused_count=row.refused_count,
        breaking=row.breaking,
        current=row.version == current,
        created_at=row.created_at,
    )


def version_public(api: Api, row: ApiVersion) -> ApiVersionPublic:
    """A version with its operations, refusals (with reasons) and artifact addresses."""
    desc = description_of(row)
    return ApiVersionPublic(
        **summary_of(row, current=api.current_version).model_dump(),
        api=api.name,
        title=desc.title,
        spec_version=desc.version,
        openapi=desc.openapi,
        operations=operations_public(desc, api.writable_operations),
        refused=[RefusalPublic(method=r.method, path=r.path, reason=r.reason) for r in desc.refused],
        artifacts=row.artifacts,
    )


def to_public(api: Api, versions: list[ApiVersion]) -> ApiPublic:
    """The API view of a registration (``has_secret`` only: the secret is never read here)."""
    current = next(v for v in versions if v.version == api.current_version)
    return ApiPublic(
        id=api.id,
        name=api.name,
        base_url=api.base_url,
        spec_url=api.spec_url,
        auth=AUTH.validate_python(api.auth),
        has_secret=api.secret_ref is not None,
        accessibility=Accessibility(api.accessibility),
        agent=api.agent_id,
        agent_credential=agent_credential(api) if api.accessibility != Accessibility.INTERNET else None,
        writable_operations=list(api.writable_operations),
        current_version=api.current_version,
        latest_version=max(v.version for v in versions),
        operations_count=current.operations_count,
        refused_count=current.refused_count,
        created_at=api.created_at,
        updated_at=api.updated_at,
    )


def agent_credential(api: Api) -> str:
    """The agent-vault name of a local API's secret: as registered, else the API's name."""
    return api.agent_credential or api.name


def version_pin(registry: ArtifactRegistry, *, tenant: str, row: ApiVersion) -> SdkPin:
    """The ``SdkPin`` of a published version: its component, precompiled copies and description.

    Versions published since pins were stored carry it in ``artifacts``; an older row is pinned
    now (idempotent: the registry is content-addressed, the description is the row's).
    """
    stored = row.artifacts.get(PIN_FIELD)
    if isinstance(stored, dict):
        return SdkPin.model_validate({**stored, "version": row.version})
    from sdkgen.build import SdkArtifacts  # cloud extra, as for every build

    artifacts = SdkArtifacts.model_validate({k: v for k, v in row.artifacts.items() if k != PIN_FIELD})
    return pin_sdk(
        registry=registry, tenant=tenant, desc=description_of(row), artifacts=artifacts, version=row.version
    )


def api_binding(
    session: TenantSession, registry: ArtifactRegistry, *, name: str, version: int, side: Side
) -> dict[str, Any]:
    """The flow binding (``workflows.api_types.ApiBinding`` as JSON) of version ``version`` of ``name``.

    The credential reference is where the worker that calls the API finds its secret: the
    secret-store reference saved at registration when the cloud calls it, the agent-vault name
    (``agent_credential``, default the API's name) when the agent does. No secret is read.

    Raises:
        HTTPException: 404 when the tenant has no such API or version (other tenants' are not seen).
    """
    api = get_api(session, name)
    row = get_version(session, api, version)
    pin = version_pin(registry, tenant=session.tenant_id, row=row)
    granted = {op.op_id for op in description_of(row).operations if not op.read_only}
    return {
        "name": api.name,
        "sdk": pin.model_dump(mode="json"),
        "base_url": api.base_url,
        "accessibility": api.accessibility,
        "auth": dict(api.auth),
        "credential": api.secret_ref if side == "cloud" else agent_credential(api),
        "writable_ops": [op for op in api.writable_operations if op in granted],
    }


def _api_refs(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"api": ..., ...}`` object anywhere in a definition document."""
    if isinstance(node, dict):
        if isinstance(node.get("api"), str):
            yield node
        for value in node.values():
            yield from _api_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _api_refs(value)


def definitions_using(session: TenantSession, api_name: str) -> list[AffectedDefinition]:
    """Saved definition versions whose document names the API as ``{"api": name, "version": N}``.

    The one place that knows how a definition references an API: adapt it here if the
    workflow steps name APIs differently.
    """
    found = []
    stmt = select(WorkflowDefinition).order_by(WorkflowDefinition.name, WorkflowDefinition.version)
    for row in session.scalars(stmt):
        pins = [ref.get("version") for ref in _api_refs(row.document) if ref["api"] == api_name]
        if pins:
            pinned = next((p for p in pins if isinstance(p, int)), None)
            found.append(
                AffectedDefinition(id=row.id, name=row.name, version=row.version, api_version=pinned)
            )
    return found


def _unreachable(message: str, url: str) -> SpecUnreachableError:
    return SpecUnreachableError(message, url=url)


async def fetch_spec_url(
    ctx: ApiContext, *, tenant: str, url: str, accessibility: Accessibility, agent: str | None
) -> bytes:
    """The document at ``url``: fetched by the console (internet, both) or by the tenant's agent (local).

    Raises:
        EgressDeniedError: The console may not fetch that URL (private address, not allowed).
        SpecUnreachableError: The URL did not answer with a document.
        HTTPException: 409 when the agent that must fetch it has no member online; 503 when it did
            not answer in time.
    """
    if accessibility != Accessibility.LOCAL:
        return await asyncio.to_thread(
            fetch_internet_spec,
            url,
            settings=ctx.settings,
            resolver=ctx.spec_resolver,
            dial_guard=ctx.spec_dial_guard,
        )
    assert agent is not None
    settings = ctx.settings
    with tenant_session(ctx.engine, tenant) as session:
        online = online_members(session, agent, within=timedelta(seconds=settings.agent_online_seconds))
    if not online:
        raise HTTPException(
            409, f"agent or agent group {agent!r} has no member online to fetch the spec of a local API"
        )
    client = await ctx.temporal_client(tenant)
    fetch = FetchSpecInput(
        url=url,
        max_bytes=min(settings.spec_max_bytes, INLINE_LIMIT),
        timeout_seconds=settings.spec_fetch_timeout_seconds,
    )
    wait = 2 * settings.spec_fetch_timeout_seconds + 20
    handle = await client.start_workflow(
        "FetchSpecWorkflow",
        FetchSpecWorkflowInput(agent=agent, fetch=fetch).model_dump(mode="json"),
        id=f"{tenant}-fetch-spec-{uuid.uuid4()}",
        task_queue=cloud_queue(tenant),
        result_type=FetchSpecResult,
        execution_timeout=timedelta(seconds=wait),
    )
    try:
        result: FetchSpecResult = await asyncio.wait_for(handle.result(), timeout=wait)
    except TimeoutError:
        raise HTTPException(503, f"agent {agent!r} did not return the spec in time; retry later") from None
    except WorkflowFailureError as exc:
        cause: BaseException | None = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.__cause__
        if isinstance(cause, ApplicationError) and cause.type == "EgressDeniedError":
            raise EgressDeniedError(cause.message) from None
        message = cause.message if isinstance(cause, ApplicationError) else "the agent could not fetch it"
        raise _unreachable(f"agent {agent!r}: {message}", url) from None
    data = base64.b64decode(result.data_b64)
    if hashlib.sha256(data).hexdigest() != result.sha256:
        raise _unreachable(f"agent {agent!r} returned a spec that does not match its digest", url)
    return data
