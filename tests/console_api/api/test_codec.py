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


async def start_session(api: Api, caller) -> str:
    r = await api.call("POST", "/codec/session", caller)
    assert r.status_code == 201, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/codec" in cookie
    assert caller.key not in cookie  # a signed token, never the key
    api.http.cookies.clear()  # the test holds the cookie itself, as the browser would
    return cookie.split(";", 1)[0].split("=", 1)[1]


async def test_create_codec_session_decodes_with_the_cookie_only(capi: Api) -> None:
    """The Web UI's path: no Authorization header, the session cookie (Include cross-origin credentials)."""
    [sealed] = await encode(capi, capi.operator, {"hint": SECRET})
    [theirs] = await encode(capi, capi.other, {"hint": SECRET})
    token = await start_session(capi, capi.viewer)
    r = await capi.http.post(
        "/codec/decode",
        json={"payloads": [sealed, theirs]},
        headers={"Cookie": f"vsc_codec={token}", "Origin": UI},
    )
    assert r.status_code == 200, r.text
    assert r.json()["payloads"] == [plain({"hint": SECRET}), theirs]  # the other tenant's stays sealed
    assert r.headers["access-control-allow-origin"] == UI
    assert r.headers["access-control-allow-credentials"] == "true"
    # The cookie opens decoding only: encoding (starting runs from the UI) still needs an operator key.
    r = await capi.http.post(
        "/codec/encode", json={"payloads": [plain(1)]}, headers={"Cookie": f"vsc_codec={token}"}
    )
    assert r.status_code == 401


async def test_create_codec_session_revoked_key_ends_it_401(capi: Api) -> None:
    [sealed] = await encode(capi, capi.operator, SECRET)
    token = await start_session(capi, capi.operator)
    assert (await capi.call("DELETE", f"/api-keys/{capi.operator.key_id}")).status_code == 200
    r = await capi.http.post(
        "/codec/decode", json={"payloads": [sealed]}, headers={"Cookie": f"vsc_codec={token}"}
    )
    assert r.status_code == 401 and "revoked" in r.json()["detail"] and SECRET not in r.text


@pytest.mark.parametrize("mangle", ["flip-mac", "other-body", "empty", "garbage"])
async def test_create_codec_session_forged_cookie_401(capi: Api, mangle: str) -> None:
    [sealed] = await encode(capi, capi.operator, SECRET)
    token = await start_session(capi, capi.viewer)
    theirs = await start_session(capi, capi.other)
    forged = {
        "flip-mac": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "other-body": theirs.split(".")[0] + "." + token.split(".")[1],
        "empty": "",
        "garbage": "x.y",
    }[mangle]
    r = await capi.http.post(
        "/codec/decode", json={"payloads": [sealed]}, headers={"Cookie": f"vsc_codec={forged}"}
    )
    assert r.status_code == 401 and SECRET not in r.text


async def test_delete_codec_session_clears_the_cookie(capi: Api) -> None:
    r = await capi.http.delete("/codec/session")
    assert r.status_code == 204 and 'vsc_codec=""' in r.headers["set-cookie"]
    page = await capi.http.get("/codec/login")
    assert page.status_code == 200 and "/codec/session" in page.text
