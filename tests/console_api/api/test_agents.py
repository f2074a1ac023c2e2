"""Agents: enrollment tokens, presence, revocation, all per tenant."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

from sqlalchemy import update

from activities.metadata import Agent, tenant_session
from activities.metadata._models import utcnow
from console_api.gateway import consume_enrollment_token
from console_api.presence import online_members

from .conftest import Api, enroll


async def agent_row_id(api: Api, caller=None) -> str:
    data = (await api.call("GET", "/agents", caller)).json()["data"]
    return data[0]["id"]


async def test_create_enrollment_token_happy(api: Api) -> None:
    r = await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": "edge-9", "ttl_minutes": 5})
    assert r.status_code == 201
    consume_enrollment_token(
        api.engine,
        token=r.json()["token"],
        agent_id="edge-9",
        public_key=base64.b64encode(os.urandom(32)).decode(),
        host="h",
        version="1",
    )
    listed = (await api.call("GET", "/agents", api.viewer)).json()["data"]
    assert [(a["agent_id"], a["online"], a["queue"]) for a in listed] == [
        ("edge-9", False, f"vsc.{api.admin.tenant}.agent.edge-9")
    ]


async def test_create_enrollment_token_operator_403(api: Api) -> None:
    r = await api.call("POST", "/agents/enrollment-tokens", api.operator, json={"agent_id": "edge-9"})
    assert r.status_code == 403


async def test_create_enrollment_token_bad_agent_id_422(api: Api) -> None:
    r = await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": "../x"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "agent_id"]


async def test_list_agents_presence(api: Api) -> None:
    enroll(api.engine, api.admin.tenant)
    with tenant_session(api.engine, api.admin.tenant) as session:
        session.execute(update(Agent).values(status="online", last_heartbeat=utcnow()))
    listed = (await api.call("GET", "/agents")).json()["data"]
    assert listed[0]["online"] is True and listed[0]["status"] == "online"


async def test_list_agents_excludes_other_tenant(api: Api) -> None:
    enroll(api.engine, api.other.tenant)
    assert (await api.call("GET", "/agents")).json() == {"count": 0, "data": []}


async def test_read_agent_happy(api: Api) -> None:
    enroll(api.engine, api.admin.tenant)
    row_id = await agent_row_id(api)
    r = await api.call("GET", f"/agents/{row_id}", api.viewer)
    assert r.status_code == 200 and r.json()["agent_id"] == "edge-1"


async def test_read_agent_not_found(api: Api) -> None:
    assert (await api.call("GET", "/agents/nope")).status_code == 404


async def test_read_agent_other_tenant(api: Api) -> None:
    enroll(api.engine, api.other.tenant)
    theirs = await agent_row_id(api, api.other)
    assert (await api.call("GET", f"/agents/{theirs}")).status_code == 404


async def test_revoke_agent_happy(api: Api) -> None:
    enroll(api.engine, api.admin.tenant)
    row_id = await agent_row_id(api)
    r = await api.call("POST", f"/agents/{row_id}/revoke")
    assert r.status_code == 200
    assert r.json()["status"] == "revoked" and r.json()["revoked_at"] is not None


async def test_revoke_agent_operator_403(api: Api) -> None:
    enroll(api.engine, api.admin.tenant)
    row_id = await agent_row_id(api)
    assert (await api.call("POST", f"/agents/{row_id}/revoke", api.operator)).status_code == 403


async def test_revoke_agent_not_found(api: Api) -> None:
    assert (await api.call("POST", "/agents/nope/revoke")).status_code == 404


async def test_revoke_agent_other_tenant(api: Api) -> None:
    enroll(api.engine, api.other.tenant)
    theirs = await agent_row_id(api, api.other)
    assert (await api.call("POST", f"/agents/{theirs}/revoke")).status_code == 404
    assert (await api.call("GET", f"/agents/{theirs}", api.other)).json()["revoked_at"] is None


async def test_enrollment_token_with_group_puts_members_on_the_group_queue(api: Api) -> None:
    for agent_id in ("edge-a", "edge-b"):
        r = await api.call(
            "POST", "/agents/enrollment-tokens", json={"agent_id": agent_id, "group_id": "vans"}
        )
        assert r.status_code == 201 and r.json()["group"] == "vans"
        consume_enrollment_token(
            api.engine,
            token=r.json()["token"],
            agent_id=agent_id,
            public_key=base64.b64encode(os.urandom(32)).decode(),
            host="h",
            version="1",
        )
    enroll(api.engine, api.admin.tenant, "edge-solo")
    listed = (await api.call("GET", "/agents", api.viewer)).json()["data"]
    queue = f"vsc.{api.admin.tenant}.agent."
    assert [(a["agent_id"], a["group"], a["queue"]) for a in listed] == [
        ("edge-a", "vans", queue + "vans"),
        ("edge-b", "vans", queue + "vans"),
        ("edge-solo", "edge-solo", queue + "edge-solo"),
    ]


async def test_online_members_counts_fresh_unrevoked_members_of_the_group(api: Api) -> None:
    tenant = api.admin.tenant
    for agent_id in ("edge-a", "edge-b", "edge-c"):
        enroll(api.engine, tenant, agent_id, group_id="vans")
    with tenant_session(api.engine, tenant) as session:
        assert online_members(session, "vans") == []
        session.execute(update(Agent).values(status="online", last_heartbeat=utcnow()))
        session.execute(update(Agent).where(Agent.connector_id == "edge-a").values(revoked_at=utcnow()))
        stale = utcnow() - timedelta(seconds=31)
        session.execute(update(Agent).where(Agent.connector_id == "edge-c").values(last_heartbeat=stale))
    with tenant_session(api.engine, tenant) as session:
        assert online_members(session, "vans") == ["edge-b"]
        assert online_members(session, "edge-b") == []  # a member is reached through its group only
    with tenant_session(api.engine, api.other.tenant) as session:
        assert online_members(session, "vans") == []


async def test_enrollment_token_bad_group_id_422(api: Api) -> None:
    r = await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": "edge-1", "group_id": "A B"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "group_id"]
