"""The marketplace: the connector catalog, and installing a kind into the caller's tenant as a connection.

An install is checked against the kind (its accessibility, its config and secrets schemas) and
then goes through the same create path as ``POST /connections``. Kinds that cannot run yet are
listed with the reason and refused at install, so nothing is created that no worker can use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, SecretStr, ValidationError

from activities.catalog import CATALOG, KINDS, ConnectorKind
from console_api.api.deps import ContextDep, CurrentPrincipal, OperatorPrincipal, SessionDep
from console_api.api.problems import error_responses, field_error
from console_api.api.routes.connections import add_connection, to_public
from console_api.api.schemas import (
    ConnectionCreate,
    ConnectionPublic,
    KindName,
    MarketplaceInstall,
    MarketplaceKindDetailPublic,
    MarketplaceKindPublic,
    MarketplaceKindsPublic,
)

router = APIRouter(prefix="/marketplace", tags=["marketplace"], responses=error_responses(401, 422))
_REACH = {"local": "only on premise (through an agent)", "internet": "only from the cloud"}


def _summary(entry: ConnectorKind) -> MarketplaceKindPublic:
    return MarketplaceKindPublic(
        kind=entry.kind,
        title=entry.title,
        description=entry.description,
        category=entry.category,
        accessibility=entry.accessibility,
        installable=entry.unavailable is None,
        unavailable=entry.unavailable,
        secret_fields=entry.secret_fields,
    )


def _entry(kind: str) -> ConnectorKind:
    entry = KINDS.get(kind)
    if entry is None:
        raise HTTPException(404, f"the marketplace has no connector kind {kind!r}")
    return entry


def _validate(model: type[BaseModel], values: dict[str, Any], *, loc: Sequence[str]) -> BaseModel:
    """``values`` as ``model``, or a 422 naming each bad field under ``loc`` (values never echoed)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {"loc": (*loc, *e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
        ) from None


def _check_sides(entry: ConnectorKind, body: MarketplaceInstall) -> None:
    if not entry.allows(body.location):
        raise field_error(
            ("body", "location"),
            f"{entry.title} is reachable {_REACH[entry.accessibility]}; "
            f"it cannot be a {body.location} connection",
        )
    if body.location == "local":
        if body.agent is None:
            raise field_error(
                ("body", "agent"), "a local install needs `agent`, the connector id that reaches it"
            )
        if body.credential_name is None:
            raise field_error(
                ("body", "credential_name"), "a local install names the credential its agent holds"
            )
        if body.secret is not None:
            raise field_error(
                ("body", "secret"), "a local connection's secret stays on its agent; give `credential_name`"
            )
    else:
        for field in ("agent", "credential_name"):
            if getattr(body, field) is not None:
                raise field_error(("body", field), f"`{field}` applies to local installs only")


def _secret_values(entry: ConnectorKind, body: MarketplaceInstall) -> dict[str, SecretStr] | None:
    if body.location == "local":
        return None
    plain = {k: v.get_secret_value() for k, v in (body.secret or {}).items()}
    if entry.secrets_model is None:
        if plain:
            raise field_error(("body", "secret"), f"{entry.title} has no secret fields")
        return None
    parsed = _validate(entry.secrets_model, plain, loc=("body", "secret"))
    values = {k: v for k, v in parsed if v is not None}
    return {k: v if isinstance(v, SecretStr) else SecretStr(str(v)) for k, v in values.items()} or None


@router.get("", response_model=MarketplaceKindsPublic)
def list_marketplace(_caller: CurrentPrincipal) -> MarketplaceKindsPublic:
    """Every connector kind, installable or not (``unavailable`` says why not)."""
    data = [_summary(entry) for entry in CATALOG]
    return MarketplaceKindsPublic(data=data, count=len(data))


@router.get("/{kind}", response_model=MarketplaceKindDetailPublic, responses=error_responses(404))
def read_marketplace_kind(kind: KindName, _caller: CurrentPrincipal) -> MarketplaceKindDetailPublic:
    """One kind with the JSON schemas of its config and its secret fields."""
    entry = _entry(kind)
    return MarketplaceKindDetailPublic(
        **_summary(entry).model_dump(),
        config_schema=entry.config_model.model_json_schema(),
        secrets_schema=entry.secrets_model.model_json_schema() if entry.secrets_model else None,
    )


@router.post(
    "/{kind}/install",
    response_model=ConnectionPublic,
    status_code=201,
    responses=error_responses(403, 404, 409, 503),
)
def install_marketplace_kind(
    kind: KindName, body: MarketplaceInstall, _op: OperatorPrincipal, session: SessionDep, ctx: ContextDep
) -> ConnectionPublic:
    """Create a connection of ``kind`` in the caller's tenant (422 naming the field at fault)."""
    entry = _entry(kind)
    if entry.unavailable is not None:
        raise field_error(("path", "kind"), f"{entry.title} cannot be installed: {entry.unavailable}")
    _check_sides(entry, body)
    config: dict[str, Any] = {}
    if body.location == "cloud" or body.config:
        # Local endpoints are reached with the agent's credential; their config is descriptive.
        parsed = _validate(entry.config_model, body.config, loc=("body", "config"))
        config = parsed.model_dump(mode="json", exclude_none=True)
    create = _validate(
        ConnectionCreate,
        {
            "name": body.name,
            "kind": entry.kind,
            "location": body.location,
            "agent": body.agent,
            "config": config,
            "secret": _secret_values(entry, body),
            "credential_name": body.credential_name,
            "write": body.write,
        },
        loc=("body",),
    )
    assert isinstance(create, ConnectionCreate)
    return to_public(add_connection(session, secrets=ctx.secrets, body=create))
