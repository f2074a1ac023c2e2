"""First-run provisioning: a tenant and its first admin key, outside the API (nobody holds a key yet)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import Engine

from activities.metadata import ApiKey, provision_tenant, tenant_session
from activities.metadata._models import utcnow
from console_api.api.keys import Role, new_key
from console_api.client import load_key, save_key


class BootstrapResult(BaseModel):
    """The tenant and its admin key; ``key`` is shown once."""

    tenant: str
    key_id: str
    key: str


def create_api_key(
    engine: Engine, *, tenant_id: str, name: str, role: Role, pepper: bytes
) -> BootstrapResult:
    """Store a new key for an existing tenant and return it in clear, once."""
    made = new_key(tenant_id, pepper=pepper)
    with tenant_session(engine, tenant_id) as session:
        row = ApiKey(
            name=name, role=role.value, prefix=made.prefix, key_hash=made.key_hash, created_at=utcnow()
        )
        session.add(row)
        session.flush()
        key_id = row.id
    return BootstrapResult(tenant=tenant_id, key_id=key_id, key=made.key)


def bootstrap_tenant(engine: Engine, *, tenant_id: str, name: str, pepper: bytes) -> BootstrapResult:
    """Provision ``tenant_id`` (idempotent) and give it a new admin key.

    Raises:
        InvalidInputError: The tenant id is malformed.
    """
    provision_tenant(engine, tenant_id=tenant_id, name=name)
    return create_api_key(engine, tenant_id=tenant_id, name="bootstrap admin", role=Role.ADMIN, pepper=pepper)


def ensure_saved_admin_key(engine: Engine, *, home: Path, tenant_id: str, pepper: bytes) -> str | None:
    """Give a local stack's CLI an admin key of ``tenant_id`` once, saved under ``home`` (mode 0600).

    Returns:
        The new key's id, or ``None`` when a key was saved already (it is left alone).
    """
    if load_key(home) is not None:
        return None
    made = bootstrap_tenant(engine, tenant_id=tenant_id, name=tenant_id, pepper=pepper)
    save_key(home, made.key)
    return made.key_id
