"""Mode-1 SQL connectors: PostgreSQL, MySQL/MariaDB and SQLite behind one interface."""

from activities.sql.connector import SqlConnector, open_connector
from activities.sql.errors import ARROW_ERRORS, ERROR_MAP, ColumnValueError, arrow_errors, classify, db_errors
from activities.sql.models import PrivilegeReport
from activities.sql.mysql import MySqlConnector
from activities.sql.pgcopy import batch_to_csv, csv_to_batch, supports_csv
from activities.sql.postgres import PostgresConnector
from activities.sql.readonly import MAX_SQL_CHARS, check_read_only
from activities.sql.sqlite import SqliteConnector
from activities.sql.typemap import (
    ddl_type,
    is_compatible,
    logical_from_mysql,
    logical_from_postgres,
    logical_from_sqlite,
)
from activities.sql.values import from_json_value, infer_array, rows_to_batch, to_json_value

__all__ = [
    # connectors
    "SqlConnector",
    "open_connector",
    "PostgresConnector",
    "MySqlConnector",
    "SqliteConnector",
    "PrivilegeReport",
    # read-only gate (layer 1)
    "check_read_only",
    "MAX_SQL_CHARS",
    # error translation
    "ERROR_MAP",
    "classify",
    "db_errors",
    "ARROW_ERRORS",
    "ColumnValueError",
    "arrow_errors",
    # types and values
    "ddl_type",
    "is_compatible",
    "logical_from_mysql",
    "logical_from_postgres",
    "logical_from_sqlite",
    "from_json_value",
    "infer_array",
    "rows_to_batch",
    # PostgreSQL CSV COPY <-> Arrow
    "batch_to_csv",
    "csv_to_batch",
    "supports_csv",
    "to_json_value",
]
