"""A small user API on loopback for the runtime host tests: it reports what it received and counts tokens."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

ITEMS = list(range(1, 24))  # 23 items: pages of 10 -> 10, 10, 3


class ApiState:
    """Counters the tests read."""

    def __init__(self) -> None:
        self.token_requests = 0
        self.token_lifetime = 3600
        self.revoked: set[str] = set()
        self.tokens: list[str] = []
        self.requests = 0
        self.refuse_all = False


def make_api(state: ApiState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Response:
        state.requests += 1
        return await call_next(request)

    @app.api_route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def echo(request: Request) -> dict[str, Any]:
        return {
            "method": request.method,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "query": dict(request.query_params.multi_items()),
            "body": (await request.body()).decode(),
        }

    @app.get("/big")
    def big(n: int) -> Response:
        return Response(b"x" * n, media_type="application/octet-stream")

    @app.get("/status/{code}")
    def status(code: int) -> Response:
        return JSONResponse({"code": code}, status_code=code)

    @app.get("/text")
    def text() -> Response:
        return PlainTextResponse("<html>not json</html>")

    @app.get("/redirect")
    def redirect(to: str, code: int = 302) -> Response:
        return RedirectResponse(to, status_code=code)

    @app.get("/pages")
    def pages(page: int = 1, size: int = 10) -> dict[str, Any]:
        start = (page - 1) * size
        return {"data": ITEMS[start : start + size]}

    @app.get("/offset")
    def offset(offset: int = 0, limit: int = 10) -> dict[str, Any]:
        return {"data": ITEMS[offset : offset + limit]}

    @app.get("/cursor")
    def cursor(cursor: str = "0", size: int = 10) -> dict[str, Any]:
        start = int(cursor)
        nxt = start + size
        return {"data": ITEMS[start:nxt], "meta": {"next": str(nxt) if nxt < len(ITEMS) else None}}

    @app.get("/link")
    def link(request: Request, page: int = 1, foreign: str = "") -> Response:
        start = (page - 1) * 10
        resp = JSONResponse(ITEMS[start : start + 10])
        if start + 10 < len(ITEMS):
            nxt = f"{foreign}/link?page={page + 1}" if foreign else f"/link?page={page + 1}"
            resp.headers["link"] = f'<{nxt}>; rel="next", </link?page=1>; rel="first"'
        return resp

    @app.get("/endless")
    def endless(page: int = 1) -> dict[str, Any]:
        return {"data": [page]}

    @app.post("/token")
    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant_type, client_id = form.get("grant_type"), form.get("client_id")
        client_secret = form.get("client_secret")
        state.token_requests += 1
        if grant_type != "client_credentials" or client_id != "cid" or client_secret != "client-s3cret":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = f"tok-{state.token_requests}"
        state.tokens.append(value)
        return JSONResponse(
            {"access_token": value, "token_type": "Bearer", "expires_in": state.token_lifetime}
        )

    @app.get("/protected")
    def protected(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        value = auth.removeprefix("Bearer ")
        if (
            state.refuse_all
            or not auth.startswith("Bearer ")
            or value not in state.tokens
            or value in state.revoked
        ):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"ok": True, "token": value})

    @app.get("/basic")
    def basic(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth != "Basic " + base64.b64encode(b"alice:basic-s3cret").decode():
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"ok": True})

    @app.get("/slow")
    def slow(s: float) -> dict[str, Any]:
        time.sleep(s)
        return {"slept": s}

    return app
