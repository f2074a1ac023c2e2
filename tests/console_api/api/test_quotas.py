"""Tier quotas at the API: requests per minute, concurrent executions, agents; GET /tenants/me shows them."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.errors import InvalidInputError
from activities.metadata import Tenant, global_session, make_engine, provision_tenant
from activities.tiers import TIERS
from console_api.api.quotas import RateLimiter
from tests.workflows.harness import Tenant as HarnessTenant

from .conftest import Api, come_online, enroll, new_tenant
from .test_definitions import setup_connections
from .test_executions import saved_definition, world  # noqa: F401 - a tenant with its agent online
from .test_schedules import forget_schedules


def set_tier(api: Api, tenant: str, tier: str) -> None:
    with global_session(api.engine) as session:
        session.execute(update(Tenant).where(Tenant.id == tenant).values(tier=tier))


async def running_count(client: Client, tenant: str) -> int:
    query = f'TaskQueue = "vsc.{tenant}.cloud" AND ExecutionStatus = "Running"'
    return (await client.count_workflows(query)).count


async def terminate_all(client: Client, tenant: str) -> None:
    async for run in client.list_workflows(
        f'TaskQueue = "vsc.{tenant}.cloud" AND ExecutionStatus = "Running"'
    ):
        await client.get_workflow_handle(run.id).terminate("test cleanup")


def test_rate_limiter_refills_evenly() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.take("a", per_minute=2) for _ in range(2)] == [None, None]
    assert limiter.take("a", per_minute=2) == pytest.approx(30.0)  # one request every 30 s
    assert limiter.take("b", per_minute=2) is None  # another tenant has its own bucket
    now[0] = 15.0
    assert limiter.take("a", per_minute=2) == pytest.approx(15.0)
    now[0] = 30.0
    assert limiter.take("a", per_minute=2) is None
    assert limiter.remaining("a", per_minute=2) == 0
    now[0] = 1000.0
    assert limiter.remaining("a", per_minute=2) == 2  # never more than one minute's worth


def freeze_clock(api: Api) -> list[float]:
    """Give the API a limiter on a clock the test moves, so refill never races the loop."""
    now = [0.0]
    api.app.state.ctx.limiter = RateLimiter(clock=lambda: now[0])
    return now


async def test_read_tenant_me_429_over_rate_other_tenant_unaffected(api: Api) -> None:
    now = freeze_clock(api)
    limit = TIERS["free"].api_calls_per_minute
    for _ in range(limit):
        assert (await api.call("GET", "/tenants/me", api.viewer)).status_code == 200
    r = await api.call("GET", "/connections", api.admin)  # any route, any key of the tenant
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) >= 1
    assert f"exceeded {limit} API calls per minute (free tier)" in r.json()["detail"]
    assert (await api.call("GET", "/tenants/me", api.other)).status_code == 200
    now[0] += 60.0 / limit  # one request's worth of refill
    assert (await api.call("GET", "/tenants/me")).status_code == 200
    assert (await api.call("GET", "/tenants/me")).status_code == 429


async def test_read_tenant_me_unauthenticated_requests_not_counted(api: Api) -> None:
    freeze_clock(api)
    bad = {"Authorization": f"Bearer vsk.{api.admin.tenant}.0123456789ab.nope"}
    for _ in range(TIERS["free"].api_calls_per_minute + 5):
        assert (await api.http.get("/tenants/me", headers=bad)).status_code == 401
    assert (await api.call("GET", "/tenants/me")).status_code == 200


async def test_read_tenant_me_shows_tier_quotas_usage(api: Api) -> None:
    freeze_clock(api)
    body = (await api.call("GET", "/tenants/me", api.viewer)).json()
    free = TIERS["free"]
    assert body["tier"] == "free"
    assert body["quotas"] == {
        "concurrent_executions": free.concurrent_executions,
        "buffer_bytes": free.buffer_bytes,
        "api_calls_per_minute": free.api_calls_per_minute,
        "agents": free.agents,
        "worker_pool": "shared",
    }
    assert body["usage"] == {"agents": 0, "api_calls_remaining": free.api_calls_per_minute - 1}
    enroll(api.engine, api.admin.tenant)
    set_tier(api, api.admin.tenant, "pro")
    body = (await api.call("GET", "/tenants/me", api.viewer)).json()
    assert body["tier"] == "pro" and body["quotas"]["worker_pool"] == "pro"
    assert body["quotas"]["concurrent_executions"] == TIERS["pro"].concurrent_executions
    assert body["usage"]["agents"] == 1


async def test_read_tenant_me_unknown_stored_tier_gets_free_quotas(api: Api) -> None:
    set_tier(api, api.admin.tenant, "gold")  # edited by hand
    body = (await api.call("GET", "/tenants/me")).json()
    assert body["tier"] == "free" and body["quotas"]["agents"] == TIERS["free"].agents


def test_provision_tenant_unknown_tier_refused(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(InvalidInputError, match="tier 'gold' is not one of free, pro, enterprise"):
        provision_tenant(engine, tenant_id=new_tenant(), name="x", tier="gold")
    assert provision_tenant(engine, tenant_id=new_tenant(), name="x", tier="pro").tier == "pro"
    engine.dispose()


async def test_start_execution_429_at_concurrency_limit(
    world: tuple[Api, HarnessTenant],  # noqa: F811
    env: WorkflowEnvironment,
) -> None:
    api, tenant = world
    definition_id = await saved_definition(api)
    limit = TIERS["free"].concurrent_executions
    try:
        # No workers: the runs stay RUNNING.
        for _ in range(limit):
            r = await api.call("POST", "/executions", api.operator, json={"definition_id": definition_id})
            assert r.status_code == 201, r.text
        assert await running_count(env.client, tenant.name) == limit
        r = await api.call("POST", "/executions", api.operator, json={"definition_id": definition_id})
        assert r.status_code == 429, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["detail"].startswith(
            f"tenant {tenant.name!r} already has {limit} running executions and its free tier allows {limit}"
        )
        assert await running_count(env.client, tenant.name) == limit  # nothing started
        # Trigger-now counts against the same limit.
        body = {"name": "hourly", "definition_id": definition_id, "interval_seconds": 3600, "paused": True}
        made = (await api.call("POST", "/schedules", json=body)).json()
        assert (await api.call("POST", f"/schedules/{made['id']}/trigger")).status_code == 429
        assert (await env.client.get_schedule_handle(made["schedule_id"]).describe()).info.num_actions == 0
        # Another tenant is not limited by this one's runs.
        enroll(api.engine, api.other.tenant)
        come_online(api.engine, api.other.tenant)
        await setup_connections(api, api.other)
        theirs = await saved_definition(api, api.other)
        assert (
            await api.call("POST", "/executions", api.other, json={"definition_id": theirs})
        ).status_code == 201
    finally:
        await forget_schedules(api, env.client)
        await terminate_all(env.client, tenant.name)
        await terminate_all(env.client, api.other.tenant)


async def test_create_enrollment_token_429_beyond_agent_quota(api: Api) -> None:
    limit = TIERS["free"].agents
    enroll(api.engine, api.admin.tenant, "edge-0")  # an enrolled agent counts
    for i in range(1, limit):
        r = await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": f"edge-{i}"})
        assert r.status_code == 201, r.text  # an open token counts too
    r = await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": "edge-new"})
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert f"has {limit} agents" in r.json()["detail"] and "free tier allows" in r.json()["detail"]
    # Revoking an agent frees its slot.
    agents = (await api.call("GET", "/agents")).json()["data"]
    assert [a["agent_id"] for a in agents] == ["edge-0"]
    assert (await api.call("POST", f"/agents/{agents[0]['id']}/revoke")).status_code == 200
    assert (
        await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": "edge-new"})
    ).status_code == 201
    # Full again; a second token for an agent id already counted is allowed.
    assert (
        await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": "edge-0"})
    ).status_code == 429
    assert (
        await api.call("POST", "/agents/enrollment-tokens", json={"agent_id": "edge-1"})
    ).status_code == 201
    # Other tenants are unaffected.
    r = await api.call("POST", "/agents/enrollment-tokens", api.other, json={"agent_id": "edge-new"})
    assert r.status_code == 201
