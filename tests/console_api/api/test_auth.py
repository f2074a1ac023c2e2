"""API keys: authentication failures are 401, roles are enforced, keys rotate and revoke."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from activities.metadata import ApiKey, tenant_session
from activities.metadata._models import utcnow
from console_api.api import PROBLEM_JSON, ApiSettings, create_app

from .conftest import Api

ROOT = Path(__file__).resolve().parents[3]


async def test_read_tenant_me_happy(api: Api) -> None:
    r = await api.call("GET", "/tenants/me")
    assert r.status_code == 200
    assert r.json()["id"] == api.admin.tenant
    assert r.json()["cloud_queue"] == f"vsc.{api.admin.tenant}.cloud"


async def test_read_tenant_me_without_key_401(api: Api) -> None:
    r = await api.http.get("/tenants/me")
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["status"] == 401 and r.json()["title"] == "Unauthorized"


async def test_read_tenant_me_malformed_key_401(api: Api) -> None:
    for bad in ("nope", "vsk.x.y.z", api.admin.key + "x", "Basic abc"):
        r = await api.http.get("/tenants/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad


async def test_read_tenant_me_wrong_secret_401(api: Api) -> None:
    prefix, secret = api.admin.key.rsplit(".", 1)
    forged = f"{prefix}.{'A' * len(secret)}"
    r = await api.http.get("/tenants/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_read_tenant_me_key_moved_to_other_tenant_401(api: Api) -> None:
    _, _, prefix, secret = api.admin.key.split(".")
    moved = f"vsk.{api.other.tenant}.{prefix}.{secret}"
    r = await api.http.get("/tenants/me", headers={"Authorization": f"Bearer {moved}"})
    assert r.status_code == 401


async def test_read_tenant_me_unknown_tenant_401(api: Api) -> None:
    _, _, prefix, secret = api.admin.key.split(".")
    r = await api.http.get("/tenants/me", headers={"Authorization": f"Bearer vsk.nosuch.{prefix}.{secret}"})
    assert r.status_code == 401


async def test_read_tenant_me_expired_key_401(api: Api) -> None:
    with tenant_session(api.engine, api.viewer.tenant) as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == api.viewer.key_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = await api.call("GET", "/tenants/me", api.viewer)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_create_api_key_happy(api: Api) -> None:
    r = await api.call("POST", "/api-keys", json={"name": "ci", "role": "viewer", "expires_in_days": 30})
    assert r.status_code == 201
    body = r.json()
    assert body["role"] == "viewer" and body["expires_at"] is not None
    assert body["key"].startswith(f"vsk.{api.admin.tenant}.{body['prefix']}.")
    me = await api.http.get("/tenants/me", headers={"Authorization": f"Bearer {body['key']}"})
    assert me.status_code == 200
    listed = await api.call("GET", "/api-keys")
    assert all("key" not in k and "key_hash" not in k for k in listed.json()["data"])
    with tenant_session(api.engine, api.admin.tenant) as session:
        stored = session.scalars(select(ApiKey.key_hash).where(ApiKey.id == body["id"])).one()
    assert body["key"] not in stored and len(stored) == 64


async def test_create_api_key_viewer_403(api: Api) -> None:
    for caller in (api.viewer, api.operator):
        r = await api.call("POST", "/api-keys", caller, json={"name": "x", "role": "admin"})
        assert r.status_code == 403, caller
        assert r.headers["content-type"] == PROBLEM_JSON


async def test_create_api_key_mass_assignment_422(api: Api) -> None:
    r = await api.call(
        "POST", "/api-keys", json={"name": "x", "role": "viewer", "tenant_id": api.other.tenant}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "tenant_id"]
    assert "body.tenant_id" in r.json()["detail"]


async def test_create_api_key_bad_role_422(api: Api) -> None:
    r = await api.call("POST", "/api-keys", json={"name": "x", "role": "root"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "role"]


async def test_rotate_api_key_happy(api: Api) -> None:
    r = await api.call("POST", f"/api-keys/{api.viewer.key_id}/rotate")
    assert r.status_code == 200
    new = r.json()["key"]
    assert (await api.call("GET", "/tenants/me", api.viewer)).status_code == 401
    ok = await api.http.get("/tenants/me", headers={"Authorization": f"Bearer {new}"})
    assert ok.status_code == 200 and r.json()["rotated_at"] is not None


async def test_rotate_api_key_not_found(api: Api) -> None:
    assert (await api.call("POST", "/api-keys/nope/rotate")).status_code == 404


async def test_rotate_api_key_other_tenant(api: Api) -> None:
    r = await api.call("POST", f"/api-keys/{api.other.key_id}/rotate")
    assert r.status_code == 404
    assert (await api.call("GET", "/tenants/me", api.other)).status_code == 200


async def test_revoke_api_key_happy(api: Api) -> None:
    r = await api.call("DELETE", f"/api-keys/{api.operator.key_id}")
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    denied = await api.call("GET", "/tenants/me", api.operator)
    assert denied.status_code == 401 and "revoked" in denied.json()["detail"]
    again = await api.call("POST", f"/api-keys/{api.operator.key_id}/rotate")
    assert again.status_code == 409


async def test_revoke_api_key_not_found(api: Api) -> None:
    assert (await api.call("DELETE", "/api-keys/nope")).status_code == 404


async def test_revoke_api_key_other_tenant(api: Api) -> None:
    assert (await api.call("DELETE", f"/api-keys/{api.other.key_id}")).status_code == 404
    assert (await api.call("GET", "/tenants/me", api.other)).status_code == 200


async def test_read_api_key_happy(api: Api) -> None:
    r = await api.call("GET", f"/api-keys/{api.viewer.key_id}")
    assert r.status_code == 200 and r.json()["role"] == "viewer"


async def test_read_api_key_not_found(api: Api) -> None:
    assert (await api.call("GET", "/api-keys/nope")).status_code == 404


async def test_read_api_key_other_tenant(api: Api) -> None:
    r = await api.call("GET", f"/api-keys/{api.other.key_id}")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON


async def test_list_api_keys_excludes_other_tenant(api: Api) -> None:
    ids = {k["id"] for k in (await api.call("GET", "/api-keys")).json()["data"]}
    assert ids == {api.admin.key_id, api.operator.key_id, api.viewer.key_id}


async def test_create_api_key_oversized_body_413(make_api) -> None:
    api = await make_api(max_body_bytes=2048)
    big = {"name": "x" * 5000, "role": "viewer"}
    r = await api.call("POST", "/api-keys", json=big)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM_JSON

    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    streamed = await api.call("POST", "/api-keys", content=chunks())
    assert streamed.status_code == 413


async def test_bootstrap_command_prints_a_working_admin_key(tmp_path: Path) -> None:
    env = {**os.environ, "VSC_API_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console_api.api",
        "bootstrap",
        "--tenant",
        "boot-t",
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0
    key = out.decode().strip().splitlines()[-1]
    assert key.startswith("vsk.boot-t.")
    app = create_app(ApiSettings(home=tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as http:
        r = await http.get("/tenants/me", headers={"Authorization": f"Bearer {key}"})
        made = await http.post(
            "/api-keys", headers={"Authorization": f"Bearer {key}"}, json={"name": "ops", "role": "operator"}
        )
    assert r.status_code == 200 and r.json()["id"] == "boot-t"
    assert made.status_code == 201
