import pytest

from activities.errors import InvalidInputError
from activities.metadata import get_sync_state, provision_tenant, save_sync_state, tenant_session

from .conftest import new_tenant_id


def test_sync_state_round_trip(backend):
    tid = new_tenant_id()
    provision_tenant(backend.engine, tenant_id=tid, name="Acme")
    key = {"tenant_id": tid, "pipeline": "orders-to-dwh", "table": "orders"}
    with tenant_session(backend.engine, tid) as session:
        assert get_sync_state(session, **key) is None
        save_sync_state(session, **key, cursor={"updated_at": "2025-01-01T00:00:00Z", "id": 41})
    with tenant_session(backend.engine, tid) as session:
        assert get_sync_state(session, **key) == {"updated_at": "2025-01-01T00:00:00Z", "id": 41}
        save_sync_state(session, **key, cursor={"updated_at": "2025-01-02T00:00:00Z", "id": 97})
    with tenant_session(backend.engine, tid) as session:
        assert get_sync_state(session, **key) == {"updated_at": "2025-01-02T00:00:00Z", "id": 97}
        assert get_sync_state(session, tenant_id=tid, pipeline="orders-to-dwh", table="lines") is None


def test_sync_state_refuses_a_session_of_another_tenant(backend):
    a, b = new_tenant_id(), new_tenant_id()
    for tid in (a, b):
        provision_tenant(backend.engine, tenant_id=tid, name=tid)
    with tenant_session(backend.engine, a) as session:
        save_sync_state(session, tenant_id=a, pipeline="p", table="t", cursor={"n": 1})
    with tenant_session(backend.engine, b) as session:
        with pytest.raises(InvalidInputError, match="scoped to tenant"):
            get_sync_state(session, tenant_id=a, pipeline="p", table="t")
        assert get_sync_state(session, tenant_id=b, pipeline="p", table="t") is None


def test_sync_state_refuses_non_json_cursor(backend):
    tid = new_tenant_id()
    provision_tenant(backend.engine, tenant_id=tid, name="Acme")
    with tenant_session(backend.engine, tid) as session:
        with pytest.raises(InvalidInputError, match="orders"):
            save_sync_state(session, tenant_id=tid, pipeline="p", table="orders", cursor={"at": object()})
