"""The one owner of tenant ids and the schema names they map to.

Models declare placeholder schemas; only :func:`translate_map` turns a placeholder into a
physical schema, so no other code ever formats ``tenant_<id>`` itself.
"""

from __future__ import annotations

import hashlib
import re

from activities.errors import InvalidInputError

TENANT_PLACEHOLDER = "tenant"
GLOBAL_PLACEHOLDER = "global"
GLOBAL_SCHEMA = "vsc_global"

_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# PostgreSQL silently truncates identifiers past 63 bytes, which could merge two tenants.
_PG_IDENT_MAX = 63
_PREFIX = "tenant_"


def validate_tenant_id(tenant_id: str) -> str:
    """Return ``tenant_id`` unchanged if it follows the naming rule.

    Raises:
        InvalidInputError: The id is not 1-63 chars of ``[a-z0-9_-]`` starting with a letter or digit.
    """
    if not isinstance(tenant_id, str) or not _TENANT_ID.match(tenant_id):
        raise InvalidInputError(
            f"tenant id {tenant_id!r} must be 1-63 chars of lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit",
            tenant=str(tenant_id),
        )
    return tenant_id


def tenant_schema_name(tenant_id: str) -> str:
    """Physical PostgreSQL schema of one tenant.

    Long ids are shortened with a hash suffix instead of letting PostgreSQL truncate them,
    so distinct ids never share a schema by accident of length.
    """
    name = _PREFIX + validate_tenant_id(tenant_id).replace("-", "_")
    if len(name) <= _PG_IDENT_MAX:
        return name
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:10]
    return f"{name[: _PG_IDENT_MAX - len(digest) - 1]}_{digest}"


def physical_schema(dialect_name: str, tenant_id: str | None) -> str | None:
    """Schema that holds the global tables (``tenant_id=None``) or one tenant's tables.

    SQLite has no schemas: everything lives in the main database and the ``tenant_id``
    column separates tenants.
    """
    if dialect_name == "sqlite":
        if tenant_id is not None:
            validate_tenant_id(tenant_id)
        return None
    return GLOBAL_SCHEMA if tenant_id is None else tenant_schema_name(tenant_id)


def translate_map(dialect_name: str, tenant_id: str | None) -> dict[str | None, str | None]:
    """``schema_translate_map`` for a connection scoped to the global schema or one tenant."""
    mapping: dict[str | None, str | None] = {GLOBAL_PLACEHOLDER: physical_schema(dialect_name, None)}
    if tenant_id is not None:
        mapping[TENANT_PLACEHOLDER] = physical_schema(dialect_name, tenant_id)
    return mapping
