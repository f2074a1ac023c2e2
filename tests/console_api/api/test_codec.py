"""The codec server routes: decode only the caller's tenant, others unchanged, 401/403/422, CORS."""

from __future__ import annotations

import base64
import json

import pytest

from console_api.api import PROBLEM_JSON

from .conftest import Api, MakeApi

SECRET = "canary-codec-7d2a"
UI = "http://127.0.0.1:8233"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def plain(value: object) -> dict:
    return {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(json.dumps(value).encode())}


def meta(payload: dict, key: str) -> bytes:
    return base64.b64decode(payload["metadata"][key])


@pytest.fixture
async def capi(make_api: MakeApi) -> Api:
    return await make_api(payload_encryption=True)


async def encode(api: Api, caller, *values: object) -> list[dict]:
    r = await api.call("POST", "/codec/encode", caller, json={"payloads": [plain(v) for v in values]})
    assert r.status_code == 200, r.text
    return r.json()["payloads"]


async def test_decode_payloads_happy(capi: Api) -> None:
    [sealed] = await encode(capi, capi.operator, {"hint": SECRET})
    assert meta(sealed, "encoding") == b"binary/encrypted"
    assert meta(sealed, "vsc-tenant") == capi.admin.tenant.encode()
    assert SECRET.encode() not in base64.b64decode(sealed["data"])
    r = await capi.call("POST", "/codec/decode", capi.viewer, json={"payloads": [sealed]})
    assert r.status_code == 200, r.text
    assert r.json() == {"payloads": [plain({"hint": SECRET})]}


async def test_decode_payloads_plain_pass_through(capi: Api) -> None:
    body = {"payloads": [plain({"a": 1}), {"metadata": {}, "data": ""}]}
    r = await capi.call("POST", "/codec/decode", capi.viewer, json=body)
    assert r.status_code == 200 and r.json() == body


async def test_decode_payloads_without_key_401(capi: Api) -> None:
    [sealed] = await encode(capi, capi.operator, SECRET)
    for path in ("/codec/decode", "/codec/encode"):
        r = await capi.http.post(path, json={"payloads": [sealed]})
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM_JSON
        assert SECRET not in r.text
    r = await capi.http.post(
        "/codec/decode", json={"payloads": [sealed]}, headers={"Authorization": "Bearer vsk.x.y.z"}
    )
    assert r.status_code == 401


async def test_decode_payloads_other_tenant_left_encrypted(capi: Api) -> None:
    [theirs] = await encode(capi, capi.other, {"hint": SECRET})
    [mine] = await encode(capi, capi.operator, "mine")
    r = await capi.call("POST", "/codec/decode", capi.admin, json={"payloads": [theirs, mine]})
    assert r.status_code == 200
    out = r.json()["payloads"]
    assert out[0] == theirs  # returned exactly as sent, never decrypted
    assert out[1] == plain("mine")
    assert SECRET not in r.text
    # relabelling the other tenant's payload as ours does not open it either
    forged = {**theirs, "metadata": {**theirs["metadata"], "vsc-tenant": b64(capi.admin.tenant.encode())}}
    r = await capi.call("POST", "/codec/decode", capi.admin, json={"payloads": [mine, forged]})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["detail"].startswith("payloads[1]: ") and SECRET not in r.text


async def test_decode_payloads_not_found_key_422(capi: Api) -> None:
    [sealed] = await encode(capi, capi.operator, SECRET)
    sealed["metadata"]["vsc-key-id"] = b64(b"0" * 32)
    r = await capi.call("POST", "/codec/decode", capi.viewer, json={"payloads": [sealed]})
    assert r.status_code == 422 and "has no data key" in r.json()["detail"]


async def test_decode_payloads_tampered_422(capi: Api) -> None:
    [sealed] = await encode(capi, capi.operator, SECRET)
    data = bytearray(base64.b64decode(sealed["data"]))
    data[20] ^= 0x01
    sealed["data"] = b64(bytes(data))
    r = await capi.call("POST", "/codec/decode", capi.viewer, json={"payloads": [sealed]})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        f"payloads[0]: an encrypted payload of tenant {capi.admin.tenant!r} does not authenticate "
        "(altered, or sealed under other associated data): refused"
    )


async def test_decode_payloads_malformed_422(capi: Api) -> None:
    for bad, loc in (
        ({"payloads": [{"metadata": {"encoding": "***"}, "data": ""}]}, ["body", "payloads", 0, "metadata"]),
        ({"payloads": [{"data": "abc"}]}, ["body", "payloads", 0, "data"]),
        ({"payloads": [{"data": "", "tenant": "x"}]}, ["body", "payloads", 0, "tenant"]),
        ({}, ["body", "payloads"]),
    ):
        r = await capi.call("POST", "/codec/decode", capi.viewer, json=bad)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"][: len(loc)] == loc


async def test_encode_payloads_viewer_403(capi: Api) -> None:
    r = await capi.call("POST", "/codec/encode", capi.viewer, json={"payloads": [plain(1)]})
    assert r.status_code == 403


async def test_decode_payloads_encryption_off_passes_through(make_api: MakeApi) -> None:
    api = await make_api(payload_encryption=False)
    body = {"payloads": [plain(SECRET)]}
    for path in ("/codec/encode", "/codec/decode"):
        r = await api.call("POST", path, api.operator, json=body)
        assert r.status_code == 200 and r.json() == body


async def test_codec_preflight_cors_for_the_web_ui_only(capi: Api) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    r = await capi.http.options("/codec/decode", headers={"Origin": UI, **asked})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == UI
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    r = await capi.http.options("/codec/decode", headers={"Origin": "http://evil.test", **asked})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    [sealed] = await encode(capi, capi.operator, "x")
    r = await capi.http.post(
        "/codec/decode",
        json={"payloads": [sealed]},
        headers={"Origin": UI, "Authorization": f"Bearer {capi.viewer.key}", "X-Namespace": "default"},
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == UI
    # the rest of the API is not opened to the browser origin
    r = await capi.http.options("/tenants/me", headers={"Origin": UI, **asked})
    assert "access-control-allow-origin" not in r.headers
