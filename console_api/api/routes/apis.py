"""Custom APIs (Mode 2): register an OpenAPI document, publish its SDK versions, diff and refresh them.

A registration is validated and its SDK built before anything is written, so a refused spec
leaves no row and no artifact. Versions are immutable; a changed spec makes a new one, and a
breaking one becomes current only when the caller accepts it (definitions that pin a version
keep it). Secrets go to the tenant's secret store and are never returned.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import select

from activities.api_pins import pin_sdk
from activities.metadata import Api, ApiVersion, TenantSession, tenant_session
from activities.metadata._models import utcnow
from console_api.api.api_registry import (
    PIN_FIELD,
    SECRET_FIELD,
    definitions_using,
    description_of,
    fetch_spec_url,
    get_api,
    get_version,
    operations_public,
    summary_of,
    to_public,
    version_public,
    versions_of,
)
from console_api.api.context import ApiContext
from console_api.api.deps import ContextDep, CurrentPrincipal, OperatorPrincipal, Principal, SessionDep
from console_api.api.problems import error_responses, field_error
from console_api.api.routes.controls import audit
from console_api.api.schemas import (
    ApiCreate,
    ApiDetailPublic,
    ApiDiffPublic,
    ApiPublic,
    ApiRefresh,
    ApiRefreshPublic,
    ApisPublic,
    ApiVersionNumber,
    ApiVersionPublic,
    Name,
)
from console_api.api.sdk_pipeline import compare, describe_spec, diff_changes, publish, report
from sdkgen.model import Accessibility, ApiDescription

router = APIRouter(prefix="/apis", tags=["apis"], responses=error_responses(401, 422))
_FETCH_ERRORS = (409, 502, 503)
RefreshStatus = Literal["unchanged", "published", "held", "accepted"]


async def _spec_bytes(
    ctx: ApiContext, tenant: str, *, inline: str | None, source: tuple[str | None, str, str | None]
) -> bytes:
    """The inline spec, else the one at the registration's URL (``source``: url, accessibility, agent)."""
    if inline is not None:
        return inline.encode()
    url, accessibility, agent = source
    if url is None:
        raise field_error(("body", "spec"), "this API has no `spec_url`: send the new spec inline")
    return await fetch_spec_url(
        ctx, tenant=tenant, url=url, accessibility=Accessibility(accessibility), agent=agent
    )


def _check_writable(desc: ApiDescription, writable: list[str]) -> None:
    known = {op.op_id for op in desc.operations}
    unknown = sorted(set(writable) - known)
    if unknown:
        raise field_error(
            ("body", "writable_operations"), f"the spec has no operation {', '.join(map(repr, unknown))}"
        )


async def _validated(spec: bytes) -> ApiDescription:
    return await asyncio.to_thread(describe_spec, spec)


async def _published(ctx: ApiContext, tenant: str, spec: bytes, desc: ApiDescription) -> dict[str, Any]:
    """Build and publish off the event loop: a compile takes seconds."""
    artifacts = await asyncio.to_thread(
        publish, registry=ctx.artifacts, settings=ctx.settings, tenant=tenant, spec_bytes=spec, desc=desc
    )
    # The description beside the SDK, so the version is runnable: flows carry this pin.
    pin = pin_sdk(registry=ctx.artifacts, tenant=tenant, desc=desc, artifacts=artifacts)
    return {**artifacts.model_dump(mode="json"), PIN_FIELD: pin.model_dump(mode="json", exclude={"version"})}


def _version_row(api_id: str, number: int, desc: ApiDescription, artifacts: dict[str, Any]) -> ApiVersion:
    return ApiVersion(
        api_id=api_id,
        version=number,
        spec_sha256=desc.spec_sha256,
        description=desc.model_dump(mode="json", by_alias=True),
        artifacts=artifacts,
        operations_count=len(desc.operations),
        refused_count=len(desc.refused),
        breaking=False,
        diff_summary=None,
        created_at=utcnow(),
    )


@router.post(
    "", response_model=ApiPublic, status_code=201, responses=error_responses(403, 409, *_FETCH_ERRORS)
)
async def create_api(body: ApiCreate, op: OperatorPrincipal, ctx: ContextDep) -> ApiPublic:
    """Register an API: validate its spec (422 with a JSON pointer), build and publish SDK version 1."""
    with tenant_session(ctx.engine, op.tenant) as session:
        if session.scalar(select(Api.id).where(Api.name == body.name)) is not None:
            raise HTTPException(409, f"an API named {body.name!r} already exists")
    source = (body.spec_url, body.accessibility.value, body.agent)
    spec = await _spec_bytes(ctx, op.tenant, inline=body.spec, source=source)
    desc = await _validated(spec)
    _check_writable(desc, body.writable_operations)
    artifacts = await _published(ctx, op.tenant, spec, desc)
    with tenant_session(ctx.engine, op.tenant) as session:
        if session.scalar(select(Api.id).where(Api.name == body.name)) is not None:
            raise HTTPException(409, f"an API named {body.name!r} already exists")
        ref = None
        if body.secret is not None:
            ref = ctx.secrets.put(session, {SECRET_FIELD: body.secret.get_secret_value()})
        now = utcnow()
        row = Api(
            name=body.name,
            base_url=body.base_url,
            spec_url=body.spec_url,
            auth=body.auth.model_dump(mode="json"),
            secret_ref=ref,
            accessibility=body.accessibility.value,
            agent_id=body.agent,
            agent_credential=body.agent_credential,
            writable_operations=list(body.writable_operations),
            current_version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        version = _version_row(row.id, 1, desc, artifacts)
        session.add(version)
        session.flush()
        public = to_public(row, [version])
    _audit(ctx, op, "api.create", body.name, version=1, operations=public.operations_count)
    return public


def _audit(ctx: ApiContext, op: Principal, action: str, name: str, **details: object) -> None:
    # After the commit: the audit writer takes its own write transaction.
    audit(ctx, op, action=action, target=f"api:{name}", details=dict(details))


@router.get("", response_model=ApisPublic)
def list_apis(
    _caller: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ApisPublic:
    """The tenant's APIs by name."""
    rows = session.scalars(select(Api).order_by(Api.name).limit(limit).offset(offset)).all()
    data = [to_public(r, versions_of(session, r)) for r in rows]
    return ApisPublic(data=data, count=len(data))


@router.get("/{api_name}", response_model=ApiDetailPublic, responses=error_responses(404))
def read_api(api_name: Name, _caller: CurrentPrincipal, session: SessionDep) -> ApiDetailPublic:
    """One API with its versions and the operations of its current version."""
    api = get_api(session, api_name)
    versions = versions_of(session, api)
    current = next(v for v in versions if v.version == api.current_version)
    return ApiDetailPublic(
        **to_public(api, versions).model_dump(),
        versions=[summary_of(v, current=api.current_version) for v in versions],
        operations=operations_public(description_of(current), api.writable_operations),
    )


@router.get("/{api_name}/versions/{version}", response_model=ApiVersionPublic, responses=error_responses(404))
def read_api_version(
    api_name: Name, version: ApiVersionNumber, _caller: CurrentPrincipal, session: SessionDep
) -> ApiVersionPublic:
    """One SDK version: operations, refused operations with their reasons, artifact addresses."""
    api = get_api(session, api_name)
    return version_public(api, get_version(session, api, version))


def _diff(api: Api, old: ApiVersion, new: ApiVersion, session: TenantSession) -> ApiDiffPublic:
    diff = compare(description_of(old), description_of(new))
    changes = diff_changes(diff)
    return ApiDiffPublic(
        api=api.name,
        from_version=old.version,
        to_version=new.version,
        breaking=any(c.breaking for c in changes),
        changes=changes,
        report=report(diff),
        affected_definitions=definitions_using(session, api.name),
    )


@router.get("/{api_name}/diff", response_model=ApiDiffPublic, responses=error_responses(404))
def diff_api(
    api_name: Name,
    _caller: CurrentPrincipal,
    session: SessionDep,
    from_version: Annotated[ApiVersionNumber | None, Query(alias="from")] = None,
    to_version: Annotated[ApiVersionNumber | None, Query(alias="to")] = None,
) -> ApiDiffPublic:
    """Changes between two versions (default: current to latest, or the latest to the one before)."""
    api = get_api(session, api_name)
    versions = versions_of(session, api)
    to = to_version or versions[-1].version
    start = from_version
    if start is None:
        start = api.current_version if api.current_version < to else max(to - 1, 1)
    return _diff(api, get_version(session, api, start), get_version(session, api, to), session)


def _unchanged(
    session: TenantSession, api: Api, versions: list[ApiVersion], *, accept: bool
) -> ApiRefreshPublic:
    """Same bytes as the latest version: nothing new, unless a held version is now accepted."""
    latest = versions[-1]
    status: RefreshStatus = "unchanged"
    if latest.version != api.current_version and accept:
        api.current_version, api.updated_at, status = latest.version, utcnow(), "accepted"
        session.flush()
    previous = versions[-2] if len(versions) > 1 else latest
    diff = _diff(api, previous, latest, session)
    return ApiRefreshPublic(status=status, api=to_public(api, versions), version=latest.version, diff=diff)


def _add_version(
    session: TenantSession, *, name: str, desc: ApiDescription, artifacts: dict[str, Any], accept: bool
) -> ApiRefreshPublic:
    """Insert the next version; it becomes current unless it breaks the current one and is not accepted."""
    api = get_api(session, name)
    versions = versions_of(session, api)
    current = next(v for v in versions if v.version == api.current_version)
    row = _version_row(api.id, versions[-1].version + 1, desc, artifacts)
    changes = diff_changes(compare(description_of(current), desc))
    row.breaking = any(c.breaking for c in changes)
    row.diff_summary = {
        "from_version": current.version,
        "changes": [c.model_dump(mode="json") for c in changes],
    }
    session.add(row)
    status: RefreshStatus = "held" if row.breaking and not accept else "published"
    if status == "published":
        api.current_version = row.version
    api.updated_at = utcnow()
    session.flush()
    diff = _diff(api, current, row, session)
    return ApiRefreshPublic(
        status=status, api=to_public(api, [*versions, row]), version=row.version, diff=diff
    )


@router.post(
    "/{api_name}/refresh",
    response_model=ApiRefreshPublic,
    responses=error_responses(403, 404, *_FETCH_ERRORS),
)
async def refresh_api(
    api_name: Name, body: ApiRefresh, op: OperatorPrincipal, ctx: ContextDep
) -> ApiRefreshPublic:
    """Re-read the spec (inline, or its ``spec_url``): unchanged, a new version, or a held breaking one."""
    with tenant_session(ctx.engine, op.tenant) as session:
        api = get_api(session, api_name)
        source = (api.spec_url, api.accessibility, api.agent_id)
    spec = await _spec_bytes(ctx, op.tenant, inline=body.spec, source=source)
    sha = hashlib.sha256(spec).hexdigest()
    with tenant_session(ctx.engine, op.tenant) as session:
        api = get_api(session, api_name)
        versions = versions_of(session, api)
        result = None
        if sha == versions[-1].spec_sha256:
            result = _unchanged(session, api, versions, accept=body.accept_breaking)
    if result is None:
        desc = await _validated(spec)
        artifacts = await _published(ctx, op.tenant, spec, desc)
        with tenant_session(ctx.engine, op.tenant) as session:
            result = _add_version(
                session, name=api_name, desc=desc, artifacts=artifacts, accept=body.accept_breaking
            )
    if result.status != "unchanged":
        details = {"version": result.version, "status": result.status}
        _audit(
            ctx, op, "api.refresh", api_name, **details, breaking=bool(result.diff and result.diff.breaking)
        )
    return result


@router.delete(
    "/{api_name}", status_code=204, response_class=Response, responses=error_responses(403, 404, 409)
)
def delete_api(api_name: Name, op: OperatorPrincipal, ctx: ContextDep) -> Response:
    """Delete an API, its versions' rows and its secret (409 while a saved definition uses it)."""
    with tenant_session(ctx.engine, op.tenant) as session:
        api = get_api(session, api_name)
        users = definitions_using(session, api.name)
        if users:
            names = ", ".join(sorted({f"{u.name} v{u.version}" for u in users}))
            raise HTTPException(409, f"API {api_name!r} is used by workflow definitions: {names}")
        for version in versions_of(session, api):
            session.delete(version)
        session.flush()
        ref = api.secret_ref
        session.delete(api)
        if ref is not None:
            ctx.secrets.delete(session, ref)
        session.flush()
    # The SDK artifacts stay: they are immutable and content-addressed, and runs may still load them.
    _audit(ctx, op, "api.delete", api_name)
    return Response(status_code=204)
