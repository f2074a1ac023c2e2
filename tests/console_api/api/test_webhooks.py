"""Webhooks: the admin routes (create with a once-shown key, list, read, rotate, revoke), tenant-confined."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from activities.errors import KeyUnavailableError
from activities.metadata import Webhook, tenant_session

from .conftest import Api
from .test_definitions import definition, ready


async def saved_definition(api: Api, caller=None) -> str:
    await ready(api, caller)
    r = await api.call("POST", "/workflow-definitions", caller, json=definition())
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def create_hook(api: Api, caller=None, name: str = "orders-hook") -> dict:
    definition_id = await saved_definition(api, caller)
    r = await api.call("POST", "/webhooks", caller, json={"name": name, "definition_id": definition_id})
    assert r.status_code == 201, r.text
    return r.json()


def stored_key(api: Api, tenant: str, hook_id: str) -> str:
    with tenant_session(api.engine, tenant) as session:
        ref = session.scalars(select(Webhook.secret_ref).where(Webhook.id == hook_id)).one()
        return api.app.state.ctx.secrets.get(session, ref)["hmac_key"]


async def test_create_webhook_happy(api: Api) -> None:
    made = await create_hook(api, api.operator)
    tenant = api.admin.tenant
    assert made["url"] == f"/hooks/{tenant}/{made['id']}"
    assert made["workflow_id"] == f"{tenant}-hook-{made['id']}"
    assert len(made["secret"]) >= 43 and made["revoked_at"] is None
    assert stored_key(api, tenant, made["id"]) == made["secret"]
    for path in ("/webhooks", f"/webhooks/{made['id']}"):
        r = await api.call("GET", path, api.viewer)
        assert r.status_code == 200 and made["secret"] not in r.text


async def test_create_webhook_unknown_definition_422(api: Api) -> None:
    r = await api.call("POST", "/webhooks", json={"name": "h", "definition_id": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "definition_id"]


async def test_create_webhook_other_tenants_definition_422(api: Api) -> None:
    theirs = await saved_definition(api, api.other)
    r = await api.call("POST", "/webhooks", json={"name": "h", "definition_id": theirs})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "definition_id"]


async def test_create_webhook_duplicate_409(api: Api) -> None:
    made = await create_hook(api)
    r = await api.call(
        "POST", "/webhooks", json={"name": made["name"], "definition_id": made["definition_id"]}
    )
    assert r.status_code == 409


async def test_create_webhook_viewer_403(api: Api) -> None:
    definition_id = await saved_definition(api)
    r = await api.call("POST", "/webhooks", api.viewer, json={"name": "h", "definition_id": definition_id})
    assert r.status_code == 403


async def test_create_webhook_mass_assignment_422(api: Api) -> None:
    definition_id = await saved_definition(api)
    for field in ("tenant_id", "secret", "workflow_id"):
        body = {"name": "h", "definition_id": definition_id, field: "x"}
        r = await api.call("POST", "/webhooks", json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field]


async def test_list_webhooks_excludes_other_tenant(api: Api) -> None:
    mine = await create_hook(api)
    await create_hook(api, api.other)
    r = await api.call("GET", "/webhooks", api.viewer)
    assert [h["id"] for h in r.json()["data"]] == [mine["id"]]


async def test_read_webhook_happy(api: Api) -> None:
    made = await create_hook(api)
    r = await api.call("GET", f"/webhooks/{made['id']}", api.viewer)
    assert r.status_code == 200
    assert r.json() == {k: v for k, v in made.items() if k != "secret"}


async def test_read_webhook_not_found(api: Api) -> None:
    assert (await api.call("GET", "/webhooks/nope")).status_code == 404


async def test_read_webhook_other_tenant(api: Api) -> None:
    theirs = await create_hook(api, api.other)
    assert (await api.call("GET", f"/webhooks/{theirs['id']}")).status_code == 404


async def test_rotate_webhook_secret_happy(api: Api) -> None:
    made = await create_hook(api)
    r = await api.call("POST", f"/webhooks/{made['id']}/rotate-secret", api.operator)
    assert r.status_code == 200
    rotated = r.json()
    assert rotated["id"] == made["id"] and rotated["secret"] != made["secret"]
    assert stored_key(api, api.admin.tenant, made["id"]) == rotated["secret"]


async def test_rotate_webhook_secret_not_found(api: Api) -> None:
    assert (await api.call("POST", "/webhooks/nope/rotate-secret")).status_code == 404


async def test_rotate_webhook_secret_other_tenant(api: Api) -> None:
    theirs = await create_hook(api, api.other)
    assert (await api.call("POST", f"/webhooks/{theirs['id']}/rotate-secret")).status_code == 404
    assert stored_key(api, api.other.tenant, theirs["id"]) == theirs["secret"]


async def test_rotate_webhook_secret_revoked_409(api: Api) -> None:
    made = await create_hook(api)
    assert (await api.call("DELETE", f"/webhooks/{made['id']}")).status_code == 204
    assert (await api.call("POST", f"/webhooks/{made['id']}/rotate-secret")).status_code == 409


async def test_delete_webhook_happy(api: Api) -> None:
    made = await create_hook(api)
    assert (await api.call("DELETE", f"/webhooks/{made['id']}", api.operator)).status_code == 204
    shown = (await api.call("GET", f"/webhooks/{made['id']}")).json()
    assert shown["revoked_at"] is not None
    assert (await api.call("DELETE", f"/webhooks/{made['id']}")).status_code == 204  # idempotent
    with tenant_session(api.engine, api.admin.tenant) as session:
        ref = session.scalars(select(Webhook.secret_ref)).one()
        with pytest.raises(KeyUnavailableError):
            api.app.state.ctx.secrets.get(session, ref)


async def test_delete_webhook_viewer_403(api: Api) -> None:
    made = await create_hook(api)
    assert (await api.call("DELETE", f"/webhooks/{made['id']}", api.viewer)).status_code == 403


async def test_delete_webhook_not_found(api: Api) -> None:
    assert (await api.call("DELETE", "/webhooks/nope")).status_code == 404


async def test_delete_webhook_other_tenant(api: Api) -> None:
    theirs = await create_hook(api, api.other)
    assert (await api.call("DELETE", f"/webhooks/{theirs['id']}")).status_code == 404
    assert (await api.call("GET", f"/webhooks/{theirs['id']}", api.other)).json()["revoked_at"] is None
