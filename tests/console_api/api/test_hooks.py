"""The public webhook endpoint against a real Temporal dev server: signature, timestamp, replay, tenancy.

No worker runs the tenant's queue, so a started run stays RUNNING with its ``event`` signal in
its history (buffered until a handler exists); each test terminates what it started.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.tiers import TIERS
from console_api.api.hook_signature import sign
from console_api.api.quotas import RateLimiter

from .conftest import Api, MakeApi
from .test_webhooks import create_hook


@pytest.fixture
async def hooked(make_api: MakeApi, env: WorkflowEnvironment) -> AsyncIterator[tuple[Api, dict]]:
    api = await make_api(temporal=env.client)
    hook = await create_hook(api)
    yield api, hook
    try:
        await env.client.get_workflow_handle(hook["workflow_id"]).terminate("test over")
    except RPCError:
        pass  # never started


def signed(key: str, body: bytes, *, delivery: str | None = None, ts: int | None = None) -> dict[str, str]:
    delivery = delivery or uuid.uuid4().hex
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "Content-Type": "application/json",
        "X-VSC-Timestamp": stamp,
        "X-VSC-Delivery": delivery,
        "X-VSC-Signature": sign(key=key, timestamp=stamp, delivery_id=delivery, body=body),
    }


async def deliver(api: Api, url: str, body: bytes, headers: dict[str, str]):
    return await api.http.post(url, content=body, headers=headers)


async def signals(env: WorkflowEnvironment, workflow_id: str) -> list[dict]:
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    found = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = e.workflow_execution_signaled_event_attributes
            assert attrs.signal_name == "event"
            found.append(json.loads(attrs.input.payloads[0].data))
    return found


async def started(env: WorkflowEnvironment, workflow_id: str) -> bool:
    try:
        await env.client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return True


async def audit(api: Api) -> list[dict]:
    events = (await api.call("GET", "/audit/events", params={"limit": 1000})).json()["data"]
    return [e for e in events if e["activity"] == "webhook"]


async def test_deliver_webhook_happy(hooked: tuple[Api, dict], env: WorkflowEnvironment) -> None:
    api, hook = hooked
    body = json.dumps({"order": 42, "status": "paid"}).encode()
    r = await deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="d-1"))
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["duplicate"] is False and answer["delivery_id"] == "d-1"
    assert answer["workflow_id"] == f"{api.admin.tenant}-hook-{hook['id']}"
    description = await env.client.get_workflow_handle(answer["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.task_queue == f"vsc.{api.admin.tenant}.cloud"
    assert description.workflow_type == "LocalToLocalSync" and description.run_id == answer["run_id"]
    assert await signals(env, answer["workflow_id"]) == [
        {"source": f"webhook:{hook['id']}", "delivery_id": "d-1", "payload": {"order": 42, "status": "paid"}}
    ]
    listed = (await api.call("GET", f"/executions/{answer['workflow_id']}")).json()
    assert listed["definition_id"] == hook["definition_id"]
    [event] = await audit(api)
    assert event["outcome"] == "accepted" and event["details"]["delivery_id"] == "d-1"
    assert event["workflow_id"] == answer["workflow_id"]


async def test_deliver_webhook_second_event_signals_running_run(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    first = (await deliver(api, hook["url"], b"{}", signed(hook["secret"], b"{}", delivery="a"))).json()
    second = (
        await deliver(api, hook["url"], b'{"n":2}', signed(hook["secret"], b'{"n":2}', delivery="b"))
    ).json()
    assert second["run_id"] == first["run_id"]
    assert [s["delivery_id"] for s in await signals(env, first["workflow_id"])] == ["a", "b"]


async def test_deliver_webhook_replayed_delivery_id_duplicate(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    body = b'{"x": 1}'
    assert (
        await deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="same"))
    ).status_code == 202
    # The sender retries: same delivery id, freshly signed.
    r = await deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="same"))
    assert r.status_code == 200 and r.json()["duplicate"] is True and r.json()["run_id"] is None
    assert len(await signals(env, hook["workflow_id"])) == 1
    assert [e["outcome"] for e in await audit(api)] == ["accepted", "duplicate"]


async def test_deliver_webhook_wrong_signature_401(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    body = b'{"x": 1}'
    for headers in (
        signed("not-the-key", body),
        {**signed(hook["secret"], body), "X-VSC-Signature": "sha256=" + "0" * 64},
        {**signed(hook["secret"], body), "X-VSC-Signature": "md5=abc"},
        {k: v for k, v in signed(hook["secret"], body).items() if k != "X-VSC-Signature"},
        # the signature covers the delivery id: a captured request under a new id does not verify
        {**signed(hook["secret"], body, delivery="orig"), "X-VSC-Delivery": "fresh"},
    ):
        r = await deliver(api, hook["url"], body, headers)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    # a body altered after signing
    r = await deliver(api, hook["url"], b'{"x": 2}', signed(hook["secret"], body))
    assert r.status_code == 401
    assert not await started(env, hook["workflow_id"])
    refusals = await audit(api)
    assert len(refusals) == 6 and {e["details"]["reason"] for e in refusals} == {"bad signature"}


async def test_deliver_webhook_stale_timestamp_401(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    body = b"{}"
    r = await deliver(api, hook["url"], body, signed(hook["secret"], body, ts=int(time.time()) - 301))
    assert r.status_code == 401 and "300 s" in r.json()["detail"]
    assert not await started(env, hook["workflow_id"])
    assert [e["details"]["reason"] for e in await audit(api)] == ["timestamp outside tolerance"]


async def test_deliver_webhook_future_timestamp_401(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    body = b"{}"
    r = await deliver(api, hook["url"], body, signed(hook["secret"], body, ts=int(time.time()) + 600))
    assert r.status_code == 401
    bad = {**signed(hook["secret"], body), "X-VSC-Timestamp": "yesterday"}
    assert (await deliver(api, hook["url"], body, bad)).status_code == 401
    assert not await started(env, hook["workflow_id"])


async def test_deliver_webhook_not_found(hooked: tuple[Api, dict]) -> None:
    api, hook = hooked
    body = b"{}"
    r = await deliver(api, f"/hooks/{api.admin.tenant}/nope", body, signed(hook["secret"], body))
    assert r.status_code == 404
    assert (
        await deliver(api, f"/hooks/tnobody/{hook['id']}", body, signed(hook["secret"], body))
    ).status_code == 404
    assert (
        await deliver(api, f"/hooks/BAD!/{hook['id']}", body, signed(hook["secret"], body))
    ).status_code == 404
    assert [e["details"]["reason"] for e in await audit(api)] == ["unknown hook"]


async def test_deliver_webhook_other_tenant(hooked: tuple[Api, dict], env: WorkflowEnvironment) -> None:
    api, hook = hooked
    theirs = await create_hook(api, api.other)
    body = b"{}"
    # B's hook id under A's tenant, signed with B's key: 404, as if it did not exist
    r = await deliver(api, f"/hooks/{api.admin.tenant}/{theirs['id']}", body, signed(theirs["secret"], body))
    assert r.status_code == 404
    # B's hook signed with A's key: 401
    r = await deliver(api, theirs["url"], body, signed(hook["secret"], body))
    assert r.status_code == 401
    for wid in (theirs["workflow_id"], f"{api.admin.tenant}-hook-{theirs['id']}"):
        assert not await started(env, wid)


async def test_deliver_webhook_revoked_404(hooked: tuple[Api, dict], env: WorkflowEnvironment) -> None:
    api, hook = hooked
    assert (await api.call("DELETE", f"/webhooks/{hook['id']}")).status_code == 204
    body = b"{}"
    r = await deliver(api, hook["url"], body, signed(hook["secret"], body))
    assert r.status_code == 404
    assert not await started(env, hook["workflow_id"])
    assert [e["details"]["reason"] for e in await audit(api)] == ["revoked hook"]


async def test_deliver_webhook_rotated_key(hooked: tuple[Api, dict]) -> None:
    api, hook = hooked
    rotated = (await api.call("POST", f"/webhooks/{hook['id']}/rotate-secret")).json()
    body = b"{}"
    assert (await deliver(api, hook["url"], body, signed(hook["secret"], body))).status_code == 401
    assert (await deliver(api, hook["url"], body, signed(rotated["secret"], body))).status_code == 202


async def test_deliver_webhook_body_not_json_object_422(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    for body in (b"not json", b"[1, 2]", b'"text"', b'{"x": NaN}', b"[" * 5000 + b"]" * 5000, b""):
        r = await deliver(api, hook["url"], body, signed(hook["secret"], body))
        assert r.status_code == 422, body[:20]
        assert "JSON object" in r.json()["detail"]
    assert not await started(env, hook["workflow_id"])


async def test_deliver_webhook_oversized_413(hooked: tuple[Api, dict], env: WorkflowEnvironment) -> None:
    api, hook = hooked
    body = json.dumps({"blob": "x" * 300_000}).encode()
    r = await deliver(api, hook["url"], body, signed(hook["secret"], body))
    assert r.status_code == 413
    assert not await started(env, hook["workflow_id"])


async def test_deliver_webhook_concurrent_same_delivery_id_signals_once(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    body = b'{"race": true}'
    answers = await asyncio.gather(
        *(deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="race")) for _ in range(4))
    )
    statuses = sorted(r.status_code for r in answers)
    # Exactly one is accepted; the others are told "duplicate", or (SQLite's writer lock) to retry.
    assert statuses.count(202) == 1 and set(statuses) <= {200, 202, 503}, statuses
    assert len(await signals(env, hook["workflow_id"])) == 1
    retry = await deliver(api, hook["url"], body, signed(hook["secret"], body, delivery="race"))
    assert retry.status_code == 200 and retry.json()["duplicate"] is True


async def test_deliver_webhook_429_over_rate_before_any_audit(hooked: tuple[Api, dict]) -> None:
    """Deliveries, signed or not, cost the tenant at most its tier's rate; refusals past it write nothing."""
    api, hook = hooked
    now = [0.0]
    api.app.state.ctx.limiter = RateLimiter(clock=lambda: now[0])
    limit = TIERS["free"].api_calls_per_minute
    body = b"{}"
    for _ in range(limit):
        r = await deliver(api, hook["url"], body, signed("not-the-key", body))
        assert r.status_code == 401
    audited = len(await audit(api))
    r = await deliver(api, hook["url"], body, signed(hook["secret"], body))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    assert len(await audit(api)) == audited
    # The tenant's own API calls have a bucket of their own.
    assert (await api.call("GET", "/tenants/me")).status_code == 200


async def test_deliver_webhook_429_when_a_new_run_would_exceed_concurrency(
    hooked: tuple[Api, dict], env: WorkflowEnvironment
) -> None:
    api, hook = hooked
    tenant, body = api.admin.tenant, b"{}"
    assert (await deliver(api, hook["url"], body, signed(hook["secret"], body))).status_code == 202
    others = []
    try:
        # Fill the tenant's other slots (no worker serves the queue, so they stay RUNNING).
        for i in range(TIERS["free"].concurrent_executions - 1):
            handle = await env.client.start_workflow(
                "LocalToLocalSync", {}, id=f"{tenant}-filler-{i}", task_queue=f"vsc.{tenant}.cloud"
            )
            others.append(handle)
        # At the limit, an event for the live run only signals it: no new slot is needed.
        assert (await deliver(api, hook["url"], body, signed(hook["secret"], body))).status_code == 202
        await env.client.get_workflow_handle(hook["workflow_id"]).terminate("make the next event start a run")
        others.append(
            await env.client.start_workflow(
                "LocalToLocalSync", {}, id=f"{tenant}-filler-last", task_queue=f"vsc.{tenant}.cloud"
            )
        )
        r = await deliver(api, hook["url"], body, signed(hook["secret"], body))
        assert r.status_code == 429 and "running executions" in r.json()["detail"], r.text
        description = await env.client.get_workflow_handle(hook["workflow_id"]).describe()
        assert description.status == WorkflowExecutionStatus.TERMINATED  # no new run was started
    finally:
        for handle in others:
            await handle.terminate("test over")
