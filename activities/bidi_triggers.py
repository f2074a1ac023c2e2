"""Trigger change detection of the bidirectional sync (3.4.3) for tables without a change column.

On PostgreSQL the sync installs, on each side, a log table ``<shadow>_log`` (the primary key and
``seq``, a value of the sequence ``<shadow>_seq``) and an ``AFTER INSERT OR UPDATE`` trigger that
stamps every changed key with the next ``seq``. Collect then reads the side's rows joined to the
log at or after its ``seq`` cursor, just as column mode reads ``change_column >= cursor``.

The sync's own writes are not logged: its apply transaction sets ``vsc.origin = 'sync'``
(``SET LOCAL``, so it ends with the transaction) and the trigger returns early for them. A user
edit is logged whatever it writes, so no writer has to maintain anything.
"""

from __future__ import annotations

from activities.errors import InvalidInputError
from activities.sql import SqlConnector
from activities.sql.postgres import PostgresConnector
from workflows.types import ColumnSchema, TableSchema

SEQ = "_vsc_seq"
"""The cursor column collect reads from the log (never a column of the user's table)."""


def log_table(shadow_table: str) -> str:
    """The side's change log, next to its shadow."""
    return f"{shadow_table}_log"


def require_postgres(conn: SqlConnector, table: str) -> PostgresConnector:
    """Trigger mode is implemented for PostgreSQL only; refuse the others by name."""
    if not isinstance(conn, PostgresConnector):
        raise InvalidInputError(
            f"connection {conn.profile.name!r} is {conn.dialect}: change detection by trigger (no "
            f"change_column) is supported on PostgreSQL only; give table {table!r} a timestamp or "
            "version column every writer advances and name it in change_column",
            connection=conn.profile.name,
            table=table,
        )
    return conn


def install(conn: PostgresConnector, schema: TableSchema, shadow_table: str) -> None:
    """Create the log, its sequence and the trigger if missing (idempotent; one transaction)."""
    q = conn.quote
    log, seq = log_table(shadow_table), f"{shadow_table}_seq"
    fn, trigger = f"{shadow_table}_fn", f"{shadow_table}_trg"
    keys = [schema.column(k) for k in schema.primary_key]
    key_cols = ", ".join(q(k) for k in schema.primary_key)
    defs = ", ".join(f"{q(c.name)} {native(conn, schema.table, c.name)} NOT NULL" for c in keys if c)
    new = ", ".join(f"NEW.{q(k)}" for k in schema.primary_key)
    body = (
        "BEGIN IF current_setting('vsc.origin', true) = 'sync' THEN RETURN NULL; END IF; "
        f"INSERT INTO {q(log)} ({key_cols}, {q(SEQ)}) VALUES ({new}, nextval('{q(seq)}')) "
        f"ON CONFLICT ({key_cols}) DO UPDATE SET {q(SEQ)} = EXCLUDED.{q(SEQ)}; RETURN NULL; END"
    )
    installed = conn.conn.execute(
        "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = %s", [q(schema.table), trigger]
    ).fetchone()
    if installed:
        return  # once: re-creating a trigger every round would lock the user's table each time
    with conn.conn.transaction():
        conn.conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {q(seq)}")
        columns = f"{defs}, {q(SEQ)} bigint NOT NULL, PRIMARY KEY ({key_cols})"
        conn.conn.execute(f"CREATE TABLE IF NOT EXISTS {q(log)} ({columns})")
        conn.conn.execute(
            f"CREATE OR REPLACE FUNCTION {q(fn)}() RETURNS trigger LANGUAGE plpgsql AS $vsc$ {body} $vsc$"
        )
        conn.conn.execute(
            f"CREATE OR REPLACE TRIGGER {q(trigger)} AFTER INSERT OR UPDATE ON {q(schema.table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {q(fn)}()"
        )


def native(conn: PostgresConnector, table: str, column: str) -> str:
    """The column's own PostgreSQL type, so the log's key compares with the table's exactly."""
    row = conn.conn.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(%s) "
        "AND attname = %s",
        [conn.quote(table), column],
    ).fetchone()
    assert row is not None
    return str(row[0])


def changes_source(conn: PostgresConnector, schema: TableSchema, shadow_table: str) -> TableSchema:
    """Register the side's rows joined to its log as a readable source; its schema adds ``SEQ``."""
    q = conn.quote
    name = f"{shadow_table}_changes"
    cols = ", ".join(f"t.{q(c.name)}" for c in schema.columns)
    on = " AND ".join(f"t.{q(k)} = l.{q(k)}" for k in schema.primary_key)
    sql = f"SELECT {cols}, l.{q(SEQ)} FROM {q(schema.table)} t JOIN {q(log_table(shadow_table))} l ON {on}"
    conn.define_query(name, sql, key=list(schema.primary_key))
    seq = ColumnSchema(name=SEQ, type="int64", nullable=False)
    return TableSchema(table=name, columns=(*schema.columns, seq), primary_key=schema.primary_key)


def mark_sync_origin(conn: SqlConnector) -> None:
    """Inside the apply's write transaction: the trigger must not log the sync's own writes."""
    if isinstance(conn, PostgresConnector):
        conn.conn.execute("SELECT set_config('vsc.origin', 'sync', true)")
