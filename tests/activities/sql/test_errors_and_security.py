from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from activities.connections import ConnectionProfile
from activities.errors import (
    AuthenticationFailedError,
    HostUnreachableError,
    ReadOnlyViolationError,
)
from activities.sql import SqlConnector, open_connector
from tests.activities.sql.conftest import ITEMS, PG_ADMIN, maria_admin

SECRET = "Sup3r-s3cret-pw"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_role(pg_url: str) -> Iterator[str]:
    """A login role with SELECT only, no TEMP, and a password."""
    role = f"vsc_ro_{uuid.uuid4().hex[:10]}"
    db = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'REVOKE TEMP ON DATABASE "{db}" FROM PUBLIC')
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        yield role
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP ROLE {role}")


@pytest.fixture
def maria_user(mysql_url: str) -> Iterator[str]:
    user = f"vsc_ro_{uuid.uuid4().hex[:10]}"
    db = mysql_url.rsplit("/", 1)[1]
    with maria_admin() as admin, admin.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{SECRET}'")
        cur.execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'%'")
    try:
        yield user
    finally:
        with maria_admin() as admin, admin.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")


def test_refused_login_postgres_is_auth_failure_without_secret(pg_url: str) -> None:
    # the shared server trusts 127.0.0.1, so a wrong password is accepted; a role that may not
    # log in is the authentication refusal this server can produce
    role = f"vsc_nologin_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} NOLOGIN PASSWORD '{SECRET}'")
    try:
        assert_pg_auth_refused(pg_url.replace("postgres@", f"{role}:wrong-{SECRET}@"))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP ROLE {role}")


def test_unknown_role_postgres_is_auth_failure(pg_url: str) -> None:
    assert_pg_auth_refused(pg_url.replace("postgres@", f"vsc_nobody_{uuid.uuid4().hex[:8]}:{SECRET}@"))


def assert_pg_auth_refused(url: str) -> None:
    profile = ConnectionProfile(name="pg-bad-pw", kind="postgresql", url=url)
    with pytest.raises(AuthenticationFailedError, match="pg-bad-pw") as info:
        with open_connector(profile):
            pass
    assert SECRET not in str(info.value) and info.value.fields == {"connection": "pg-bad-pw"}


def test_wrong_password_mariadb_is_auth_failure_without_secret(mysql_url: str, maria_user: str) -> None:
    url = mysql_url.replace("root@", f"{maria_user}:wrong-{SECRET}@")
    profile = ConnectionProfile(name="maria-bad-pw", kind="mysql", url=url)
    with pytest.raises(AuthenticationFailedError, match="maria-bad-pw") as info:
        with open_connector(profile):
            pass
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_closed_port_is_host_unreachable(kind: str) -> None:
    url = f"{kind}://user:{SECRET}@127.0.0.1:{closed_port()}/db"
    profile = ConnectionProfile(name=f"{kind}-down", kind=kind, url=url)
    with pytest.raises(HostUnreachableError, match=f"{kind}-down") as info:
        with open_connector(profile):
            pass
    assert SECRET not in str(info.value)


def test_query_runs_a_read(seeded: SqlConnector) -> None:
    batches = list(seeded.query("SELECT id, name FROM items WHERE id <= 3 ORDER BY id", batch_rows=2))
    assert [b.num_rows for b in batches] == [2, 1]
    assert [v for b in batches for v in b.column(0).to_pylist()] == [1, 2, 3]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; DELETE FROM items",
        "DELETE FROM items",
        "UPDATE items SET note = 'x'",
        "INSERT INTO items (id) VALUES (100)",
        "WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d",
        "SELECT * FROM items FOR UPDATE",
        "DROP TABLE items",
    ],
)
def test_query_refuses_writes_and_multi_statements(seeded: SqlConnector, sql: str) -> None:
    before = seeded.fingerprint(ITEMS)
    with pytest.raises(ReadOnlyViolationError):
        list(seeded.query(sql))
    assert seeded.fingerprint(ITEMS) == before


LAYER2_WRITES = [
    "INSERT INTO items (id, name, updated_at) VALUES (500, 'x', '2024-01-01 00:00:00')",
    "UPDATE items SET note = 'pwned'",
    "DELETE FROM items",
    "DROP TABLE items",
]


@pytest.mark.parametrize("sql", LAYER2_WRITES)
def test_read_only_transaction_alone_blocks_writes(seeded: SqlConnector, sql: str) -> None:
    """Layer 2 without layer 1: the statement reaches the server inside the read-only transaction."""
    before = seeded.fingerprint(ITEMS)
    with pytest.raises(ReadOnlyViolationError, match=seeded.profile.name):
        list(seeded._query_unchecked(sql, batch_rows=10, timeout_s=5))
    assert seeded.fingerprint(ITEMS) == before


def test_statement_timeout_cuts_pg_sleep(seeded: SqlConnector) -> None:
    if seeded.dialect != "postgresql":
        assert seeded.dialect in ("mysql", "sqlite")
        return
    with pytest.raises(Exception, match="statement timeout"):
        list(seeded._query_unchecked("SELECT pg_sleep(30)", batch_rows=1, timeout_s=1))


def test_select_only_pg_role_reports_read_only(pg_url: str, pg_role: str) -> None:
    url = pg_url.replace("postgres@", f"{pg_role}:{SECRET}@")
    with open_connector(ConnectionProfile(name="pg-ro", kind="postgresql", url=url)) as conn:
        report = conn.privileges()
    assert report.user == pg_role
    assert report.can_write is False, report.reasons


def test_postgres_superuser_reports_can_write(pg_url: str) -> None:
    with open_connector(ConnectionProfile(name="pg-su", kind="postgresql", url=pg_url)) as conn:
        report = conn.privileges()
    assert report.can_write is True and "superuser" in report.reasons


def test_select_only_maria_user_reports_read_only(mysql_url: str, maria_user: str) -> None:
    url = mysql_url.replace("root@", f"{maria_user}:{SECRET}@")
    with open_connector(ConnectionProfile(name="maria-ro", kind="mysql", url=url)) as conn:
        report = conn.privileges()
    assert report.can_write is False, report.reasons
    with open_connector(ConnectionProfile(name="maria-root", kind="mysql", url=mysql_url)) as conn:
        assert conn.privileges().can_write is True


def test_sqlite_privileges_follow_file_writability(seeded: SqlConnector) -> None:
    if seeded.dialect != "sqlite":
        return
    assert seeded.privileges().can_write is True
