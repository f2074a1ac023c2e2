from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest

from tests.mini_connector.conftest import all_output, run

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "Canary-Sekret-91c4e"


def vault_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.iterdir() if p.is_file())


def assert_secret_nowhere(home: Path, *outputs: str) -> None:
    for output in outputs:
        assert SECRET not in output
    assert SECRET.encode() not in vault_bytes(home)


@pytest.fixture
def initialised(agent_home: Path) -> Path:
    result = run("init")
    assert result.exit_code == 0, all_output(result)
    return agent_home


def test_add_from_stdin_never_echoes_the_secret(initialised: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://reader:{SECRET}@127.0.0.1:5432/erp"
    added = run("credentials", "add", "erp_pg", "--kind", "postgresql", "--stdin", input=url + "\n")
    assert added.exit_code == 0, all_output(added)
    listed = run("credentials", "list")
    assert "erp_pg" in listed.output and "postgresql://reader:***@127.0.0.1:5432/erp" in listed.output
    assert "read-only" in listed.output
    assert_secret_nowhere(initialised, all_output(added), all_output(listed), caplog.text)


def test_add_from_env_var_and_hidden_prompt(initialised: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_URL", f"mysql://loader:{SECRET}@127.0.0.1:3306/dw")
    from_env = run("credentials", "add", "dw", "--kind", "mariadb", "--write", "--url-env", "DW_URL")
    assert from_env.exit_code == 0, all_output(from_env)
    # no --stdin / --url-env: a hidden prompt (typer echoes nothing of what is typed)
    prompted = run(
        "credentials", "add", "erp", "--kind", "postgresql", input=f"postgresql://r:{SECRET}@h/erp\n"
    )
    assert prompted.exit_code == 0, all_output(prompted)
    assert "input hidden" in prompted.output and "stored credential 'erp'" in prompted.output
    listed = run("credentials", "list")
    lines = {line.split()[0]: line for line in listed.output.splitlines()}
    assert "write" in lines["dw"].split() and "mariadb" in lines["dw"]
    assert "read-only" in lines["erp"].split() and "postgresql://r:***@h/erp" in lines["erp"]
    assert_secret_nowhere(initialised, all_output(from_env), all_output(prompted), all_output(listed))


def test_add_refuses_missing_env_and_bad_url_without_echo(initialised: Path) -> None:
    missing = run("credentials", "add", "x", "--kind", "postgresql", "--url-env", "NOPE_NOT_SET")
    assert missing.exit_code == 1 and "NOPE_NOT_SET" in all_output(missing)
    wrong_kind = run(
        "credentials", "add", "x", "--kind", "postgresql", "--stdin", input=f"mysql://u:{SECRET}@h/db\n"
    )
    assert wrong_kind.exit_code == 1 and "kind is postgresql" in all_output(wrong_kind)
    assert_secret_nowhere(initialised, all_output(missing), all_output(wrong_kind))


def test_remove_and_unknown_name(initialised: Path) -> None:
    run("credentials", "add", "a", "--kind", "postgresql", "--stdin", input="postgresql://u@h/db\n")
    assert run("credentials", "remove", "a").exit_code == 0
    gone = run("credentials", "remove", "a")
    assert gone.exit_code == 1 and "no credential named 'a'" in all_output(gone)
    assert "no credentials" in run("credentials", "list").output


def test_commands_refuse_a_vault_from_another_machine(
    initialised: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VSC_AGENT_MACHINE_ID", "machine-b")
    listed = run("credentials", "list")
    assert listed.exit_code == 1 and "another machine" in all_output(listed)
    status = run("status")
    assert status.exit_code == 1 and "FAIL" in status.output


@pytest.fixture
def pg_with_reader(pg_database: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    url = pg_database("agentcred")
    db = url.rsplit("/", 1)[1]
    role = f"vsc_agent_ro_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'")
        conn.execute(f'REVOKE TEMP ON DATABASE "{db}" FROM PUBLIC')
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        yield url, url.replace("postgres@", f"{role}:{SECRET}@")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP ROLE {role}")


def test_test_warns_when_a_read_only_credential_can_write(
    initialised: Path, pg_with_reader: tuple[str, str]
) -> None:
    superuser_url, reader_url = pg_with_reader
    superuser_url = superuser_url.replace("postgres@", f"postgres:{SECRET}@")
    run("credentials", "add", "su", "--kind", "postgresql", "--stdin", input=superuser_url + "\n")
    run("credentials", "add", "reader", "--kind", "postgresql", "--stdin", input=reader_url + "\n")
    su = run("credentials", "test", "su")
    assert su.exit_code == 0, all_output(su)
    assert "WARN credential su privileges: configured read-only" in su.output and "superuser" in su.output
    reader = run("credentials", "test", "reader")
    assert reader.exit_code == 0, all_output(reader)
    assert "1 tables visible" in reader.output
    assert "OK   credential reader privileges: read-only as configured" in reader.output
    assert "WARN" not in reader.output
    assert_secret_nowhere(initialised, all_output(su), all_output(reader))


def test_test_checks_a_select_only_mariadb_user(
    initialised: Path, mariadb_database: Callable[[str], str]
) -> None:
    url = mariadb_database("agentcred")
    db = url.rsplit("/", 1)[1]
    user = f"vsc_agent_ro_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE TABLE `{db}`.orders (id INT PRIMARY KEY)")
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{SECRET}'")
            cur.execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'%'")
        run(
            "credentials",
            "add",
            "maria",
            "--kind",
            "mariadb",
            "--stdin",
            input=url.replace("root@", f"{user}:{SECRET}@") + "\n",
        )
        result = run("credentials", "test", "maria")
        assert result.exit_code == 0, all_output(result)
        assert "read-only as configured" in result.output and "1 tables visible" in result.output
        assert_secret_nowhere(initialised, all_output(result))
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def test_test_fails_for_an_unreachable_database(initialised: Path) -> None:
    run(
        "credentials",
        "add",
        "gone",
        "--kind",
        "postgresql",
        "--stdin",
        input=f"postgresql://u:{SECRET}@127.0.0.1:1/db\n",
    )
    result = run("credentials", "test", "gone")
    assert result.exit_code == 1 and "FAIL credential gone" in result.output
    assert_secret_nowhere(initialised, all_output(result))
