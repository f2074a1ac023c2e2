"""Logical type -> column DDL per dialect: the one place the demo schema meets real databases.

The choices are the ones schema discovery reads back to the same logical type (a NUMERIC(12,2)
is ``decimal(12,2)``, a BIGINT is ``int64``). Two are lossy by necessity: MariaDB and SQLite
have no zoned timestamp, so ``timestamptz`` is stored as UTC in DATETIME(6) / TIMESTAMP and
discovers as ``timestamp``.
"""

from __future__ import annotations

import re
from typing import Literal

Dialect = Literal["postgresql", "mysql", "sqlite"]
"""SQLAlchemy dialect names; MariaDB uses ``mysql``."""

_DECIMAL = re.compile(r"^decimal\((\d{1,2}),(\d{1,2})\)$")

_TYPES: dict[str, tuple[str, str, str]] = {
    # logical: (postgresql, mysql/mariadb, sqlite)
    "bool": ("BOOLEAN", "BOOLEAN", "BOOLEAN"),
    "int16": ("SMALLINT", "SMALLINT", "SMALLINT"),
    "int32": ("INTEGER", "INT", "INTEGER"),
    "int64": ("BIGINT", "BIGINT", "BIGINT"),
    "float32": ("REAL", "FLOAT", "REAL"),
    "float64": ("DOUBLE PRECISION", "DOUBLE", "DOUBLE"),
    "string": ("TEXT", "VARCHAR(255)", "TEXT"),
    "binary": ("BYTEA", "LONGBLOB", "BLOB"),
    "date": ("DATE", "DATE", "DATE"),
    "time": ("TIME", "TIME(6)", "TIME"),
    "timestamp": ("TIMESTAMP", "DATETIME(6)", "TIMESTAMP"),
    "timestamptz": ("TIMESTAMPTZ", "DATETIME(6)", "TIMESTAMP"),
    "json": ("JSONB", "JSON", "JSON"),
}
_COLUMN = {"postgresql": 0, "mysql": 1, "sqlite": 2}


def ddl_type(logical: str, dialect: Dialect) -> str:
    """Return the column type to declare for a logical type in a dialect.

    Args:
        logical: A logical type such as ``decimal(12,2)`` or ``timestamptz``.
        dialect: ``postgresql``, ``mysql`` (also MariaDB) or ``sqlite``.

    Returns:
        The type as it appears in CREATE TABLE, e.g. ``NUMERIC(12,2)``.

    Raises:
        ValueError: For an unknown logical type or dialect.
    """
    if dialect not in _COLUMN:
        raise ValueError(f"no DDL mapping for dialect {dialect!r}")
    if (m := _DECIMAL.match(logical)) is not None:
        name = "NUMERIC" if dialect == "postgresql" else "DECIMAL"
        return f"{name}({m.group(1)},{m.group(2)})"
    if logical not in _TYPES:
        raise ValueError(f"no DDL mapping for logical type {logical!r}")
    return _TYPES[logical][_COLUMN[dialect]]
