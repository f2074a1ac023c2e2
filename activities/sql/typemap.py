"""Type mapping between dialect column types, logical types and DDL.

The logical type is the contract between source and destination. Each dialect maps onto it so
that the same table declared on PostgreSQL, MariaDB and SQLite discovers as the same
``TableSchema`` (logical <-> Arrow is ``activities.arrowtypes``); DDL is generated back from it
so a round trip lands on the same schema again.
"""

from __future__ import annotations

import re

__all__ = [
    "ddl_type",
    "decimal_parts",
    "is_compatible",
    "logical_from_mysql",
    "logical_from_postgres",
    "logical_from_sqlite",
]

_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
_NATIVE = re.compile(r"^\s*([a-z][a-z0-9_ ]*)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*([a-z ]*)$")


def decimal_parts(logical: str) -> tuple[int, int] | None:
    """Return ``(precision, scale)`` of a ``decimal(p,s)`` logical type, else None."""
    match = _DECIMAL.match(logical)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _split(native: str) -> tuple[str, int | None, int | None, str]:
    match = _NATIVE.match(native.lower())
    if not match:
        return native.lower(), None, None, ""
    base, p, s, tail = match.groups()
    return base.strip(), int(p) if p else None, int(s) if s else None, tail.strip()


def _decimal(p: int | None, s: int | None, fallback: str = "string") -> str:
    return f"decimal({p},{s or 0})" if p else fallback


_PG = {
    "boolean": "bool", "smallint": "int16", "integer": "int32", "bigint": "int64",
    "real": "float32", "double precision": "float64", "text": "string", "character varying": "string",
    "character": "string", "bytea": "binary", "date": "date", "json": "json", "jsonb": "json",
    "uuid": "string", "time without time zone": "time", "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
}  # fmt: skip


def logical_from_postgres(native: str) -> str:
    """Map ``format_type()`` output (``numeric(12,2)``, ``timestamp(6) without time zone``)."""
    # format_type puts a time precision in the middle of the name; it does not change the logical type
    base, p, s, tail = _split(re.sub(r"\(\d+\)\s+(with|without)", r" \1", native))
    if base == "numeric":
        return _decimal(p, s)
    return _PG.get(f"{base} {tail}".strip(), _PG.get(base, "string"))


_MYSQL = {
    "smallint": "int16", "mediumint": "int32", "int": "int32", "integer": "int32", "bigint": "int64",
    "float": "float32", "double": "float64", "real": "float64", "char": "string", "varchar": "string",
    "tinytext": "string", "text": "string", "mediumtext": "string", "longtext": "string", "enum": "string",
    "set": "string", "binary": "binary", "varbinary": "binary", "tinyblob": "binary", "blob": "binary",
    "mediumblob": "binary", "longblob": "binary", "date": "date", "time": "time", "datetime": "timestamp",
    "timestamp": "timestamptz", "json": "json", "year": "int16", "bool": "bool", "boolean": "bool",
}  # fmt: skip
_MYSQL_UNSIGNED = {"tinyint": "int16", "smallint": "int32", "mediumint": "int32", "int": "int64"}


def logical_from_mysql(native: str, *, is_json: bool = False) -> str:
    """Map ``information_schema.COLUMNS.COLUMN_TYPE`` (``tinyint(1)``, ``int(11) unsigned`` ...).

    ``TIMESTAMP`` is stored as UTC and read in a UTC session, so it is ``timestamptz``; MariaDB's
    JSON is a LONGTEXT with a ``json_valid`` check, which the caller detects and passes as ``is_json``.
    """
    if is_json:
        return "json"
    base, p, s, tail = _split(native)
    if base == "tinyint":
        return "bool" if p == 1 and "unsigned" not in tail else "int16"
    if base in ("decimal", "numeric"):
        return _decimal(p, s)
    if "unsigned" in tail:
        return _MYSQL_UNSIGNED.get(base, "decimal(20,0)")
    return _MYSQL.get(base, "string")


_SQLITE = {
    "boolean": "bool", "bool": "bool", "smallint": "int16", "int2": "int16", "tinyint": "int16",
    "int": "int32", "int4": "int32", "mediumint": "int32", "integer": "int64", "bigint": "int64",
    "int8": "int64", "real": "float64", "float": "float32", "double": "float64",
    "double precision": "float64", "text": "string", "varchar": "string", "character varying": "string",
    "char": "string", "clob": "string", "blob": "binary", "bytea": "binary", "date": "date",
    "time": "time", "datetime": "timestamp", "timestamp": "timestamp", "timestamptz": "timestamptz",
    "json": "json", "jsonb": "json",
}  # fmt: skip


def logical_from_sqlite(declared: str) -> str:
    """Map a SQLite declared type by its name first, then by SQLite's affinity rules."""
    base, p, s, _ = _split(declared)
    if base in ("decimal", "numeric"):
        return _decimal(p, s, fallback="float64")
    if base in _SQLITE:
        return _SQLITE[base]
    upper = declared.upper()
    if "INT" in upper:
        return "int64"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "string"
    if not upper or "BLOB" in upper:
        return "binary"
    return "float64"


_DDL: dict[str, dict[str, str]] = {
    "postgresql": {
        "bool": "boolean", "int16": "smallint", "int32": "integer", "int64": "bigint", "float32": "real",
        "float64": "double precision", "string": "text", "json": "jsonb", "binary": "bytea", "date": "date",
        "time": "time(6)", "timestamp": "timestamp(6)", "timestamptz": "timestamptz(6)",
    },
    "mysql": {
        "bool": "BOOLEAN", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT", "float32": "FLOAT",
        "float64": "DOUBLE", "string": "LONGTEXT", "json": "JSON", "binary": "LONGBLOB", "date": "DATE",
        "time": "TIME(6)", "timestamp": "DATETIME(6)", "timestamptz": "TIMESTAMP(6) NULL",
    },
    "sqlite": {
        "bool": "BOOLEAN", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT", "float32": "FLOAT",
        "float64": "DOUBLE", "string": "TEXT", "json": "JSON", "binary": "BLOB", "date": "DATE",
        "time": "TIME", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
    },
}  # fmt: skip
# MariaDB cannot index a LONGTEXT/LONGBLOB without a prefix length, so key columns get bounded types
_MYSQL_KEY = {"string": "VARCHAR(255)", "binary": "VARBINARY(255)"}


def ddl_type(logical: str, dialect: str, *, key: bool = False) -> str:
    """Column type to declare for ``logical`` in ``dialect``; ``key`` marks primary-key columns."""
    parts = decimal_parts(logical)
    if parts:
        return f"{'NUMERIC' if dialect == 'postgresql' else 'DECIMAL'}({parts[0]},{parts[1]})"
    if key and dialect == "mysql" and logical in _MYSQL_KEY:
        return _MYSQL_KEY[logical]
    return _DDL[dialect][logical]


_WIDER = {"int16": 1, "int32": 2, "int64": 3}


def is_compatible(source: str, dest: str) -> bool:
    """Whether values of logical type ``source`` fit losslessly into a ``dest`` column."""
    if source == dest or {source, dest} <= {"json", "string"}:
        return True
    if source in _WIDER and dest in _WIDER:
        return _WIDER[source] <= _WIDER[dest]
    if source == "float32" and dest == "float64":
        return True
    src_dec, dst_dec = decimal_parts(source), decimal_parts(dest)
    if src_dec and dst_dec:
        return dst_dec[1] >= src_dec[1] and dst_dec[0] - dst_dec[1] >= src_dec[0] - src_dec[1]
    return False
