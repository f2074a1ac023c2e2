from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from activities.arrowtypes import arrow_type
from activities.sql import (
    ddl_type,
    from_json_value,
    is_compatible,
    logical_from_mysql,
    logical_from_postgres,
    logical_from_sqlite,
    to_json_value,
)


@pytest.mark.parametrize(
    ("native", "logical"),
    [
        ("numeric(12,2)", "decimal(12,2)"),
        ("timestamp(6) without time zone", "timestamp"),
        ("timestamp with time zone", "timestamptz"),
        ("character varying(100)", "string"),
        ("double precision", "float64"),
        ("jsonb", "json"),
        ("bigint", "int64"),
        ("time(3) without time zone", "time"),
    ],
)
def test_postgres_types(native: str, logical: str) -> None:
    assert logical_from_postgres(native) == logical


@pytest.mark.parametrize(
    ("native", "logical"),
    [
        ("tinyint(1)", "bool"),
        ("tinyint(3) unsigned", "int16"),
        ("int(11) unsigned", "int64"),
        ("bigint(20) unsigned", "decimal(20,0)"),
        ("decimal(12,2)", "decimal(12,2)"),
        ("datetime(6)", "timestamp"),
        ("timestamp(6)", "timestamptz"),
        ("varchar(255)", "string"),
        ("longblob", "binary"),
    ],
)
def test_mysql_types(native: str, logical: str) -> None:
    assert logical_from_mysql(native) == logical


@pytest.mark.parametrize(
    ("declared", "logical"),
    [
        ("DECIMAL(12,2)", "decimal(12,2)"),
        ("INTEGER", "int64"),
        ("VARCHAR(10)", "string"),
        ("", "binary"),
        ("UNSIGNED BIG INT", "int64"),
        ("NATIVE CHARACTER(70)", "string"),
        ("TIMESTAMPTZ", "timestamptz"),
    ],
)
def test_sqlite_types_by_name_then_affinity(declared: str, logical: str) -> None:
    assert logical_from_sqlite(declared) == logical


# PostgreSQL normalises type names in format_type(); its DDL round trip runs against the server
# in test_connector.py::test_ensure_table_creates_then_accepts_then_names_mismatched_column
@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
@pytest.mark.parametrize(
    "logical",
    [
        "bool",
        "int16",
        "int32",
        "int64",
        "float64",
        "string",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "decimal(12,2)",
        "binary",
    ],
)
def test_ddl_round_trips_to_the_same_logical_type(dialect: str, logical: str) -> None:
    native = ddl_type(logical, dialect).replace(" NULL", "").lower()
    parse = logical_from_mysql if dialect == "mysql" else logical_from_sqlite
    assert parse(native) == logical


def test_arrow_types_are_exact() -> None:
    assert arrow_type("decimal(12,2)") == pa.decimal128(12, 2)
    assert arrow_type("decimal(60,10)") == pa.decimal256(60, 10)
    assert arrow_type("timestamptz") == pa.timestamp("us", tz="UTC")


def test_compatibility_allows_widening_only() -> None:
    assert is_compatible("int16", "int64") and not is_compatible("int64", "int32")
    assert is_compatible("decimal(10,2)", "decimal(12,3)") and not is_compatible(
        "decimal(12,2)", "decimal(12,3)"
    )
    assert not is_compatible("string", "int64")


def test_json_positions_round_trip() -> None:
    ts = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert from_json_value("timestamptz", to_json_value("timestamptz", ts)) == ts
    assert from_json_value("decimal(12,2)", to_json_value("decimal(12,2)", Decimal("1.50"))) == Decimal(
        "1.50"
    )
