"""Parked 3.4.3 conflicts over REST: tenant-scoped listing, resolution by the operator role only."""

from __future__ import annotations

from activities.metadata import AuditWriter, close_conflicts, park_conflicts, tenant_session

from .conftest import Api, MakeApi


def park(api: Api, tenant: str, pipeline: str, keys: range) -> None:
    with tenant_session(api.engine, tenant) as session:
        park_conflicts(
            session,
            pipeline=pipeline,
            left_table="items",
            right_table="items",
            workflow_id="bidi-1",
            conflicts=[(f"[{i}]", f"v{i}-left", f"v{i}-right") for i in keys],
        )


async def test_conflicts_are_listed_and_resolved_only_within_the_callers_tenant(make_api: MakeApi) -> None:
    api = await make_api()
    park(api, api.admin.tenant, "items", range(1, 4))
    park(api, api.other.tenant, "items", range(100, 102))
    ours = (await api.call("GET", "/conflicts", api.viewer)).json()
    theirs = (await api.call("GET", "/conflicts", api.other)).json()
    assert [c["row_key"] for c in ours["data"]] == ["[1]", "[2]", "[3]"] and ours["count"] == 3
    assert [c["row_key"] for c in theirs["data"]] == ["[100]", "[101]"]
    first, their_first = ours["data"][0], theirs["data"][0]
    assert first["status"] == "open" and first["winner"] is None and first["left_version"] == "v1-left"

    r = await api.call("POST", f"/conflicts/{their_first['id']}/resolve", api.admin, json={"winner": "left"})
    assert r.status_code == 404 and their_first["id"] in r.json()["detail"]
    r = await api.call("POST", f"/conflicts/{first['id']}/resolve", api.viewer, json={"winner": "left"})
    assert r.status_code == 403
    r = await api.call("POST", f"/conflicts/{first['id']}/resolve", api.operator, json={"winner": "middle"})
    assert r.status_code == 422
    r = await api.call("POST", f"/conflicts/{first['id']}/resolve", api.operator, json={"winner": "right"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved" and r.json()["winner"] == "right"

    open_now = (await api.call("GET", "/conflicts", api.admin)).json()["data"]
    resolved = (await api.call("GET", "/conflicts?status=resolved", api.admin)).json()["data"]
    every = (await api.call("GET", "/conflicts?status=all&pipeline=items", api.admin)).json()["data"]
    assert [c["row_key"] for c in open_now] == ["[2]", "[3]"]
    assert [c["id"] for c in resolved] == [first["id"]] and len(every) == 3
    # the other tenant's conflict is untouched
    theirs_after = (await api.call("GET", "/conflicts", api.other)).json()["data"]
    assert theirs_after == theirs["data"]

    with tenant_session(api.engine, api.admin.tenant) as session:
        assert close_conflicts(session, conflict_ids=[first["id"]]) == 1
    r = await api.call("POST", f"/conflicts/{first['id']}/resolve", api.operator, json={"winner": "left"})
    assert r.status_code == 409 and "already" in r.json()["detail"]
    events = AuditWriter(api.engine).query(api.admin.tenant, limit=100)
    assert [e.action for e in events if e.action == "resolve_conflict"] == ["resolve_conflict"]
    assert not [
        e
        for e in AuditWriter(api.engine).query(api.other.tenant, limit=100)
        if e.action == "resolve_conflict"
    ]
