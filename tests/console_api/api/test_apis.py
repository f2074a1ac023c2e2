"""/apis: register custom APIs from OpenAPI documents, their SDK versions, refresh, diff, delete.

Real spec loader, real builds (componentize-py) and a real artifact registry; the build cache
is shared by the session (conftest ``sdk_cache``), so only the three documents of
:mod:`.openapi_docs` are compiled.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from temporalio.testing import WorkflowEnvironment

from activities.metadata import AuditWriter, WorkflowDefinition, tenant_session
from tests.console_api.served import serve
from tests.workflows.test_fetch_spec import fetch_workers

from .conftest import Api, MakeApi, come_online, enroll
from .openapi_docs import CANARY, HOSTILE, V1, V2_YAML, V3_BREAKING, api_body


async def register(api: Api, body: dict, caller=None) -> dict:
    r = await api.call("POST", "/apis", caller, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def artifact_files(home: Path, tenant: str) -> list[Path]:
    root = home / "artifacts"
    return [p for p in root.rglob("*") if p.is_file() and tenant in p.parts] if root.exists() else []


def spec_server(calls: list[str], body: str = V1) -> FastAPI:
    app = FastAPI(openapi_url=None)  # its own /openapi.json would shadow the one served here

    @app.get("/openapi.json", response_class=PlainTextResponse)
    def spec() -> str:
        calls.append("GET")
        return body

    return app


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_create_api_inline_json_happy(api: Api) -> None:
    made = await register(api, api_body())
    assert CANARY not in json.dumps(made)
    assert made["has_secret"] is True and made["auth"]["kind"] == "api_key"
    assert (made["current_version"], made["latest_version"]) == (1, 1)
    assert (made["operations_count"], made["refused_count"]) == (3, 0)
    assert made["writable_operations"] == []
    detail = (await api.call("GET", "/apis/orders", api.viewer)).json()
    assert CANARY not in json.dumps(detail)
    assert [v["version"] for v in detail["versions"]] == [1] and detail["versions"][0]["current"]
    ops = {(o["method"], o["path"]): o for o in detail["operations"]}
    assert set(ops) == {("GET", "/orders"), ("POST", "/orders"), ("GET", "/orders/{order_id}")}
    assert ops[("POST", "/orders")]["read_only"] is False and ops[("POST", "/orders")]["writable"] is False
    version = (await api.call("GET", "/apis/orders/versions/1")).json()
    assert version["title"] == "Van sales orders" and version["openapi"] == "3.0.3"
    assert {"spec", "source", "component", "precompiled"} <= set(version["artifacts"])
    listed = (await api.call("GET", "/apis")).json()
    assert [a["name"] for a in listed["data"]] == ["orders"] and CANARY not in json.dumps(listed)
    events = AuditWriter(api.engine).query(api.admin.tenant, limit=50)
    assert any(e.action == "api.create" and e.target == "api:orders" for e in events)
    assert all(CANARY not in json.dumps(e.details) for e in events)


async def test_create_api_inline_yaml_happy(api: Api) -> None:
    made = await register(api, api_body("orders-yaml", V2_YAML, auth={"kind": "none"}, secret=None))
    assert made["has_secret"] is False and made["operations_count"] == 4


async def test_create_api_writable_operation_granted(api: Api) -> None:
    made = await register(api, api_body())
    ops = (await api.call("GET", "/apis/orders")).json()["operations"]
    post = next(o["op_id"] for o in ops if o["method"] == "POST")
    await api.call("DELETE", "/apis/orders")
    made = await register(api, api_body(writable_operations=[post]))
    assert made["writable_operations"] == [post]
    ops = (await api.call("GET", "/apis/orders")).json()["operations"]
    assert [o["op_id"] for o in ops if o["writable"]] == [post]


async def test_create_api_hostile_spec_422_nothing_created(api: Api) -> None:
    r = await api.call("POST", "/apis", json=api_body(spec=HOSTILE))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["pointer"].startswith("/paths"), problem
    assert (await api.call("GET", "/apis")).json()["count"] == 0
    assert artifact_files(api.home, api.admin.tenant) == []
    r = await api.call("POST", "/apis", json=api_body(spec="{not json"))
    assert r.status_code == 422 and "pointer" in r.json()


async def test_create_api_invalid_body_422(api: Api) -> None:
    cases = [
        api_body(spec_url="https://orders.example.com/openapi.json"),  # both
        api_body(spec=None),  # neither
        api_body(auth={"kind": "none"}),  # a secret with no auth
        api_body(secret=None),  # an auth without its secret
        api_body(auth={"kind": "basic", "username": "u"}, base_url="http://orders.example.com"),
        api_body(accessibility="local"),  # no agent
        api_body(accessibility="local", agent="edge-1"),  # a local API's secret sent to the cloud
        api_body(base_url="file:///etc/passwd"),
        api_body(writable_operations=["no_such_op"]),
        {**api_body(), "tenant_id": "someone-else"},
    ]
    for body in cases:
        r = await api.call("POST", "/apis", json=body)
        assert r.status_code == 422, (body, r.text)
        assert CANARY not in r.text
    assert (await api.call("GET", "/apis")).json()["count"] == 0


async def test_create_api_viewer_403(api: Api) -> None:
    r = await api.call("POST", "/apis", api.viewer, json=api_body())
    assert r.status_code == 403


async def test_create_api_conflict_409(api: Api) -> None:
    await register(api, api_body())
    r = await api.call("POST", "/apis", json=api_body())
    assert r.status_code == 409


async def test_create_api_from_spec_url_allowed_loopback_origin(make_api: MakeApi) -> None:
    calls: list[str] = []
    with serve(spec_server(calls)) as origin:
        api = await make_api(spec_fetch_allowed_origins=[origin])
        made = await register(api, api_body(spec=None, spec_url=f"{origin}/openapi.json"))
        assert made["spec_url"] == f"{origin}/openapi.json" and made["operations_count"] == 3
        r = await api.call("POST", "/apis/orders/refresh", json={})
        assert r.status_code == 200 and r.json()["status"] == "unchanged"
    assert calls == ["GET", "GET"]


async def test_create_api_spec_url_private_refused_before_connect(make_api: MakeApi) -> None:
    calls: list[str] = []
    with serve(spec_server(calls)) as origin:
        api = await make_api()
        for url in (f"{origin}/openapi.json", "http://169.254.169.254/latest/meta-data", "http://[::1]:1/x"):
            r = await api.call("POST", "/apis", json=api_body(spec=None, spec_url=url))
            assert r.status_code == 422 and "may not fetch" in r.json()["detail"], r.text
    assert calls == []
    assert (await api.call("GET", "/apis")).json()["count"] == 0


async def test_create_api_spec_url_unreachable_502(make_api: MakeApi) -> None:
    origin = f"http://127.0.0.1:{closed_port()}"
    api = await make_api(spec_fetch_allowed_origins=[origin])
    r = await api.call("POST", "/apis", json=api_body(spec=None, spec_url=f"{origin}/openapi.json"))
    assert r.status_code == 502, r.text
    assert "refused the connection" in r.json()["detail"]
    assert (await api.call("GET", "/apis")).json()["count"] == 0


async def test_create_api_spec_url_not_200_502(make_api: MakeApi) -> None:
    with serve(FastAPI()) as origin:
        api = await make_api(spec_fetch_allowed_origins=[origin])
        r = await api.call("POST", "/apis", json=api_body(spec=None, spec_url=f"{origin}/missing"))
    assert r.status_code == 502 and "HTTP 404" in r.json()["detail"]


async def test_create_local_api_without_online_agent_409(api: Api) -> None:
    body = api_body(
        spec=None,
        spec_url="http://erp.internal:3000/openapi.json",
        accessibility="local",
        agent="edge-1",
        secret=None,
    )
    r = await api.call("POST", "/apis", json=body)
    assert r.status_code == 409 and "no member online" in r.json()["detail"]


async def test_refresh_api_unchanged_then_non_breaking_then_breaking(api: Api) -> None:
    await register(api, api_body())
    r = await api.call("POST", "/apis/orders/refresh", json={"spec": V1})
    assert r.status_code == 200 and r.json()["status"] == "unchanged" and r.json()["version"] == 1
    r = await api.call("POST", "/apis/orders/refresh", json={"spec": V2_YAML})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "published", r.text
    assert body["version"] == 2 and body["api"]["current_version"] == 2
    assert body["diff"]["breaking"] is False and body["diff"]["changes"]
    r = await api.call("POST", "/apis/orders/refresh", json={"spec": V3_BREAKING})
    body = r.json()
    assert body["status"] == "held" and body["version"] == 3, r.text
    assert body["api"]["current_version"] == 2 and body["api"]["latest_version"] == 3
    assert body["diff"]["breaking"] is True and body["diff"]["changes"][0]["breaking"] is True
    detail = (await api.call("GET", "/apis/orders")).json()
    assert [(v["version"], v["breaking"], v["current"]) for v in detail["versions"]] == [
        (1, False, False),
        (2, False, True),
        (3, True, False),
    ]
    r = await api.call("POST", "/apis/orders/refresh", json={"spec": V3_BREAKING, "accept_breaking": True})
    assert r.json()["status"] == "accepted" and r.json()["api"]["current_version"] == 3
    actions = [e.action for e in AuditWriter(api.engine).query(api.admin.tenant, limit=50)]
    assert actions.count("api.refresh") == 3


async def test_refresh_api_without_spec_or_url_422(api: Api) -> None:
    await register(api, api_body())
    r = await api.call("POST", "/apis/orders/refresh", json={})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "spec"]


async def test_refresh_api_hostile_spec_422_no_version(api: Api) -> None:
    await register(api, api_body())
    r = await api.call("POST", "/apis/orders/refresh", json={"spec": HOSTILE})
    assert r.status_code == 422 and r.json()["pointer"]
    assert (await api.call("GET", "/apis/orders")).json()["latest_version"] == 1


def _save_definition_using(api: Api, name: str, version: int | None) -> None:
    """A saved definition whose steps call the API (the shape the flows helper's patterns use)."""
    step = {"api": "orders", "operation": "list_orders"} | ({"version": version} if version else {})
    with tenant_session(api.engine, api.admin.tenant) as session:
        session.add(
            WorkflowDefinition(
                name=name, version=1, pattern="3.3.3", document={"steps": [step]}, content_hash="0" * 64
            )
        )


async def test_diff_api_report_breaking_first_with_affected_definitions(api: Api) -> None:
    await register(api, api_body())
    await api.call("POST", "/apis/orders/refresh", json={"spec": V3_BREAKING})
    _save_definition_using(api, "nightly-orders", 1)
    r = await api.call("GET", "/apis/orders/diff", params={"from": 1, "to": 2}, caller=api.viewer)
    diff = r.json()
    assert r.status_code == 200 and (diff["from_version"], diff["to_version"]) == (1, 2)
    assert diff["breaking"] is True and diff["report"]
    flags = [c["breaking"] for c in diff["changes"]]
    assert flags == sorted(flags, reverse=True) and flags[0] is True
    assert [(d["name"], d["api_version"]) for d in diff["affected_definitions"]] == [("nightly-orders", 1)]
    default = (await api.call("GET", "/apis/orders/diff")).json()  # current (1) to latest (2)
    assert (default["from_version"], default["to_version"]) == (1, 2)
    assert (await api.call("GET", "/apis/orders/diff", params={"to": 9})).status_code == 404


async def test_delete_api_used_by_definition_409(api: Api) -> None:
    await register(api, api_body())
    _save_definition_using(api, "uses-orders", None)
    r = await api.call("DELETE", "/apis/orders")
    assert r.status_code == 409 and "uses-orders" in r.json()["detail"]
    assert (await api.call("GET", "/apis/orders")).status_code == 200


async def test_delete_api_happy(api: Api) -> None:
    await register(api, api_body())
    assert (await api.call("DELETE", "/apis/orders", api.viewer)).status_code == 403
    assert (await api.call("DELETE", "/apis/orders")).status_code == 204
    assert (await api.call("GET", "/apis/orders")).status_code == 404
    assert (await api.call("GET", "/apis")).json()["count"] == 0
    # The secret went with it: a new registration of the name stores a fresh one.
    await register(api, api_body())


async def test_read_api_not_found(api: Api) -> None:
    for path in ("/apis/nope", "/apis/nope/versions/1", "/apis/nope/diff"):
        r = await api.call("GET", path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    await register(api, api_body())
    assert (await api.call("GET", "/apis/orders/versions/2")).status_code == 404


async def test_api_routes_other_tenant_404(api: Api) -> None:
    await register(api, api_body(), caller=api.other)
    for method, path, body in (
        ("GET", "/apis/orders", None),
        ("GET", "/apis/orders/versions/1", None),
        ("GET", "/apis/orders/diff", None),
        ("POST", "/apis/orders/refresh", {"spec": V1}),
        ("DELETE", "/apis/orders", None),
    ):
        r = await api.call(method, path, api.admin, json=body)
        assert r.status_code == 404, (method, path, r.text)
    assert (await api.call("GET", "/apis")).json()["count"] == 0
    assert (await api.call("GET", "/apis/orders", api.other)).status_code == 200


async def test_create_local_api_spec_fetched_by_agent(make_api: MakeApi, env: WorkflowEnvironment) -> None:
    api = await make_api(temporal=env.client)
    enroll(api.engine, api.admin.tenant)
    come_online(api.engine, api.admin.tenant)
    calls: list[str] = []
    with serve(spec_server(calls)) as origin:
        async with fetch_workers(env.client, api.admin.tenant):
            # Loopback is the agent's own network: no operator allow-list is involved.
            body = api_body(
                spec=None,
                spec_url=f"{origin}/openapi.json",
                accessibility="local",
                agent="edge-1",
                secret=None,
            )
            made = await register(api, body)
            assert made["accessibility"] == "local" and made["agent"] == "edge-1"
            assert made["operations_count"] == 3
            gone = f"http://127.0.0.1:{closed_port()}/openapi.json"
            r = await api.call("POST", "/apis", json={**body, "name": "gone", "spec_url": gone})
    assert calls == ["GET"]
    assert r.status_code == 502 and "agent 'edge-1'" in r.json()["detail"], r.text
