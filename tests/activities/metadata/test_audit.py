import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from activities.errors import InvalidInputError, TenantNotFoundError
from activities.metadata import AuditEvent, AuditWriter, migrate, provision_tenant, tenant_schema_name

from .conftest import new_tenant_id

EVENTS = "workflow_execution_events"


def _event(n: int = 0, workflow_id: str = "wf-1") -> AuditEvent:
    return AuditEvent(
        workflow_id=workflow_id,
        run_id="run-1",
        activity="extract_table",
        action="read",
        target="erp.orders",
        rows=n,
        bytes=n * 100,
        outcome="ok",
        details={"chunk": n, "columns": ["id", "total"]},
    )


def _events_table(backend, tid):
    return f'"{tenant_schema_name(tid)}".{EVENTS}' if backend.name == "postgresql" else EVENTS


@contextmanager
def _triggers_off(backend, tid):
    """Bypass the append-only guard the way an attacker with superuser/file access would."""
    table = _events_table(backend, tid)
    with backend.engine.begin() as conn:
        if backend.name == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            conn.execute(text(f"DROP TRIGGER {EVENTS}_no_update"))
            conn.execute(text(f"DROP TRIGGER {EVENTS}_no_delete"))
        yield conn
        if backend.name == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


@pytest.fixture
def tenant(backend):
    tid = new_tenant_id()
    provision_tenant(backend.engine, tenant_id=tid, name="Acme")
    return tid


def _fill(writer, tid, count):
    return [writer.append(tid, _event(i)) for i in range(1, count + 1)]


def test_append_returns_gapless_seq_and_verify_is_ok(backend, tenant):
    writer = AuditWriter(backend.engine)
    assert writer.verify(tenant).model_dump() == {
        "ok": True,
        "count": 0,
        "first_bad_seq": None,
        "reason": None,
    }
    assert _fill(writer, tenant, 5) == [1, 2, 3, 4, 5]
    result = writer.verify(tenant)
    assert (result.ok, result.count, result.first_bad_seq) == (True, 5, None)
    records = writer.query(tenant)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == "0" * 64
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(records))
    assert records[2].details == {"chunk": 3, "columns": ["id", "total"]}


def test_tenants_have_independent_chains(backend, tenant):
    other = new_tenant_id()
    provision_tenant(backend.engine, tenant_id=other, name="Other")
    writer = AuditWriter(backend.engine)
    _fill(writer, tenant, 3)
    assert writer.append(other, _event(1, workflow_id="wf-other")) == 1
    assert [r.workflow_id for r in writer.query(other)] == ["wf-other"]
    assert {r.tenant_id for r in writer.query(tenant)} == {tenant}
    assert writer.verify(tenant).count == 3 and writer.verify(other).count == 1


def test_query_filters_by_workflow_and_time(backend, tenant):
    writer = AuditWriter(backend.engine)
    writer.append(tenant, _event(1, workflow_id="wf-a"))
    writer.append(tenant, _event(2, workflow_id="wf-b"))
    writer.append(tenant, _event(3, workflow_id="wf-a"))
    assert [r.seq for r in writer.query(tenant, workflow_id="wf-a")] == [1, 3]
    assert [r.seq for r in writer.query(tenant, limit=2)] == [1, 2]
    first, *_, last = writer.query(tenant)
    assert [r.seq for r in writer.query(tenant, since=last.occurred_at)] == [3]
    assert [r.seq for r in writer.query(tenant, until=first.occurred_at + timedelta(microseconds=1))] == [1]
    assert writer.query(tenant, since=datetime.now(UTC) + timedelta(days=1)) == []
    with pytest.raises(InvalidInputError, match="limit"):
        writer.query(tenant, limit=10**9)


@pytest.mark.parametrize("key", ["password", "db_password", "apiKey", "api_key", "secret", "token", "key"])
def test_audit_event_rejects_secret_looking_detail_keys(key):
    with pytest.raises(ValidationError, match="looks like a secret"):
        AuditEvent(**{**_event().model_dump(), "details": {"conn": {key: "x"}}})


def test_audit_event_rejects_dsn_with_password_and_allows_plain_details():
    with pytest.raises(ValidationError, match="URL with a password"):
        AuditEvent(**{**_event().model_dump(), "details": {"url": "postgresql://u:hunter2@db/x"}})
    assert AuditEvent(**{**_event().model_dump(), "details": {"monkey": 1, "url": "https://h/x"}})


def test_append_for_unknown_tenant_is_refused(backend):
    migrate(backend.engine, tenant=None)
    with pytest.raises(TenantNotFoundError, match="ghost"):
        AuditWriter(backend.engine).append("ghost", _event())


def test_database_refuses_update_and_delete_of_events(backend, tenant):
    writer = AuditWriter(backend.engine)
    _fill(writer, tenant, 2)
    table = _events_table(backend, tenant)
    for statement in (f"UPDATE {table} SET rows = 0 WHERE seq = 1", f"DELETE FROM {table} WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"):
            with backend.engine.begin() as conn:
                conn.execute(text(statement))
    if backend.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            with backend.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table}"))
    assert writer.verify(tenant).ok


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        ("UPDATE {t} SET rows = 999999 WHERE seq = 3", 3),
        ("UPDATE {t} SET details = '{{\"chunk\": 0}}' WHERE seq = 2", 2),
        ("DELETE FROM {t} WHERE seq = 2", 2),
        ("DELETE FROM {t} WHERE seq = 1", 1),
        ("DELETE FROM {t} WHERE seq = 5", 5),
        # Reorder: swap the contents' positions of events 2 and 4.
        (
            "UPDATE {t} SET seq = CASE seq WHEN 2 THEN -4 WHEN 4 THEN -2 END WHERE seq IN (2, 4);"
            "UPDATE {t} SET seq = -seq WHERE seq < 0",
            2,
        ),
    ],
    ids=["alter-rows", "alter-details", "delete-middle", "delete-first", "delete-last", "reorder"],
)
def test_verify_detects_tampering(backend, tenant, tamper, first_bad):
    writer = AuditWriter(backend.engine)
    _fill(writer, tenant, 5)
    with _triggers_off(backend, tenant) as conn:
        for statement in tamper.format(t=_events_table(backend, tenant)).split(";"):
            conn.execute(text(statement))
    result = writer.verify(tenant)
    assert not result.ok
    assert result.first_bad_seq == first_bad, result.reason
    assert result.count == first_bad - 1
    assert result.reason


def test_concurrent_appends_are_gapless_and_verify(backend, tenant):
    writer = AuditWriter(backend.engine)
    seqs: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            got = [writer.append(tenant, _event(n * 100 + i)) for i in range(50)]
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
            return
        with lock:
            seqs.extend(got)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(seqs) == list(range(1, 201))
    result = writer.verify(tenant)
    assert (result.ok, result.count) == (True, 200)
