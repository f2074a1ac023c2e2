"""Programmatic Alembic migrations and tenant provisioning.

The Alembic environment is packaged next to this module, so migrations run the same from a
checkout, an installed wheel or any working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateSchema

from activities.errors import InvalidInputError
from activities.metadata._engine import global_session
from activities.metadata._errors import map_metadata_errors
from activities.metadata._models import Tenant, as_utc, utcnow
from activities.metadata._naming import physical_schema, translate_map, validate_tenant_id
from activities.tiers import tier_named

_ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


@dataclass(frozen=True)
class MigrationTarget:
    """What one Alembic run upgrades: a branch and the physical schema holding its version table."""

    branch: Literal["global", "tenant"]
    schema: str | None

    @property
    def version_table(self) -> str:
        """Version table name; distinct per branch because SQLite keeps both in one file."""
        return f"alembic_version_{self.branch}"


class TenantPublic(BaseModel):
    """A provisioned tenant as callers see it."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: str
    name: str
    tier: str
    paused: bool
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return as_utc(value)


def _alembic_config(target: MigrationTarget, connection: Connection) -> Config:
    config = Config(str(_ALEMBIC_INI))
    config.attributes["target"] = target
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, *, tenant: str | None) -> None:
    """Upgrade the global schema (``tenant=None``) or one tenant's schema to head.

    Creates the schema first on PostgreSQL. Safe to call repeatedly.

    Raises:
        InvalidInputError: The tenant id is malformed.
        DatabaseError: The migration failed; nothing of it was committed.
    """
    dialect = engine.dialect.name
    schema = physical_schema(dialect, tenant)
    target = MigrationTarget(branch="global" if tenant is None else "tenant", schema=schema)
    with map_metadata_errors("migrate", tenant=tenant or "<global>"), engine.begin() as conn:
        if schema is not None:
            conn.execute(CreateSchema(schema, if_not_exists=True))
        conn.execution_options(schema_translate_map=translate_map(dialect, tenant))
        command.upgrade(_alembic_config(target, conn), f"{target.branch}@head")


def provision_tenant(engine: Engine, *, tenant_id: str, name: str, tier: str = "free") -> TenantPublic:
    """Register a tenant and bring its schema to head; a repeat call returns the existing tenant.

    The schema is migrated before the tenant row is written, so a registered tenant always
    has usable tables.

    Raises:
        InvalidInputError: The id is malformed, or differs from an existing tenant's only by
            '-' versus '_' (both would map to one schema), or ``tier`` is not a tier
            (:mod:`activities.tiers`).
    """
    validate_tenant_id(tenant_id)
    tier_named(tier)
    migrate(engine, tenant=None)
    with global_session(engine) as session:
        existing = session.get(Tenant, tenant_id)
        if existing is not None:
            return TenantPublic.model_validate(existing)
        clash = session.scalar(
            select(Tenant.id).where(func.replace(Tenant.id, "-", "_") == tenant_id.replace("-", "_"))
        )
        if clash is not None:
            raise InvalidInputError(
                f"tenant id {tenant_id!r} would share a schema with existing tenant {clash!r}",
                tenant=tenant_id,
            )
    migrate(engine, tenant=tenant_id)
    with global_session(engine) as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            tenant = Tenant(id=tenant_id, name=name, tier=tier, paused=False, created_at=utcnow())
            session.add(tenant)
            session.flush()
        return TenantPublic.model_validate(tenant)


def migrate_all(engine: Engine) -> list[str]:
    """Upgrade the global schema and every provisioned tenant's schema, e.g. after a deploy.

    Returns:
        The tenant ids that were migrated, in id order.
    """
    migrate(engine, tenant=None)
    with global_session(engine) as session:
        tenant_ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    for tenant_id in tenant_ids:
        migrate(engine, tenant=tenant_id)
    return tenant_ids
