"""Deterministic van-sales ERP demo data and its loader for PostgreSQL, MariaDB and SQLite."""

from infra.demo.load import Dialect, Progress, create_and_load
from infra.demo.vansales import BASE_TIME, MAX_CHUNK_ROWS, TABLES, iter_batches, table_schema

__all__ = [
    # schema and data
    "TABLES",
    "table_schema",
    "iter_batches",
    "BASE_TIME",
    "MAX_CHUNK_ROWS",
    # loading
    "create_and_load",
    "Progress",
    "Dialect",
]
