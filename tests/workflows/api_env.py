"""Real Mode 2 pieces for the end-to-end pattern tests: the example API served, its SDK, secrets.

An ``ApiInstance`` is the van-sales API on a loopback port with its own SQLite store and an
optional fault injector in front of it (5xx, non-JSON, a response lost after the store
committed). The SDK is compiled once per session (``SdkBuild``) and published into each test
tenant's artifact registry, which is the directory both the agent and the cloud worker read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import SecretStr

from activities.api_pins import pin_sdk
from activities.artifacts import ArtifactRegistry
from activities.buffer import DirectoryBackend
from console_api import demo_apis
from examples.vansales_api.app import create_app
from examples.vansales_api.seed import seed_orders as seed
from examples.vansales_api.store import VanSalesStore, idempotency_keys, orders
from infra.loopback import serve
from sdkgen.build import publish_sdk
from sdkgen.model import ApiDescription
from sdkgen.operations import describe
from sdkgen.spec import load_spec
from tests.workflows.harness import Tenant
from workflows.api_types import SdkPin

KEY_HEADER = "X-API-Key"
CURSOR_PAGES = {
    "kind": "cursor",
    "param": "cursor",
    "size_param": "limit",
    "size": 100,
    "items_path": "items",
    "cursor_path": "next_cursor",
}


def vansales_spec() -> bytes:
    """The example API's OpenAPI document, exactly as its ``/openapi.json`` serves it."""
    app = create_app(store=VanSalesStore(url="sqlite://"), api_keys={})
    return json.dumps(app.openapi(), separators=(",", ":")).encode()


@dataclass(frozen=True)
class SdkBuild:
    """The example API's spec, description and the build cache its one compile lives in."""

    spec: bytes
    desc: ApiDescription
    cache_dir: Path

    @classmethod
    def make(cls, cache_dir: Path) -> SdkBuild:
        spec = vansales_spec()
        return cls(spec=spec, desc=describe(load_spec(spec)), cache_dir=cache_dir)

    def pin(self, tenant: Tenant) -> SdkPin:
        """Publish into ``tenant``'s registry (a cache hit after the first) and pin the version."""
        registry = ArtifactRegistry(backend=DirectoryBackend(tenant.home / "artifacts"))
        published = publish_sdk(
            registry=registry,
            tenant=tenant.name,
            spec_bytes=self.spec,
            desc=self.desc,
            cache_dir=self.cache_dir,
        )
        return pin_sdk(registry=registry, tenant=tenant.name, desc=self.desc, artifacts=published)


def binding(
    name: str, *, url: str, pin: SdkPin, accessibility: str, credential: str | None
) -> dict[str, Any]:
    """A flow's ``ApiBinding`` of an example API instance (key in ``X-API-Key``, POST /orders granted)."""
    return {
        "name": name,
        "sdk": pin.model_dump(mode="json"),
        "base_url": url,
        "accessibility": accessibility,
        "auth": {"kind": "api_key", "name": KEY_HEADER},
        "credential": credential,
        "writable_ops": ["create_orders"],
    }


@dataclass
class Faults:
    """What the fault injector in front of an API instance does; counts the requests it saw."""

    post_status: int | None = None
    """Answer every POST with this status (the store sees nothing)."""
    list_garbage: bool = False
    """Answer GET /orders with 200 and a body that is not JSON although it says it is."""
    lose_post: int | None = None
    """The n-th POST (1-based) reaches the store, but its response is replaced by a 503."""
    posts: int = 0
    lists: int = 0
    """GET /orders requests seen."""
    keys: list[str] = field(default_factory=list)

    async def __call__(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method == "POST":
            self.posts += 1
            self.keys.append(request.headers.get("idempotency-key", ""))
            if self.post_status is not None:
                return JSONResponse({"detail": "injected"}, status_code=self.post_status)
            if self.lose_post == self.posts:
                await call_next(request)  # stored and committed; the client never hears of it
                return JSONResponse({"detail": "injected after commit"}, status_code=503)
        if request.method == "GET" and request.url.path == "/orders":
            self.lists += 1
        if request.method == "GET" and request.url.path == "/orders" and self.list_garbage:
            return PlainTextResponse("<html>upstream proxy error</html>", media_type="application/json")
        return await call_next(request)


ORDER_FIELDS = ("order_no", "customer_id", "order_date", "status", "total_amount", "note")
"""What an order is to its owner; the API's own ids differ between two stores of the same orders."""


@dataclass
class ApiInstance:
    """One running example API: its base URL, store, the key it accepts and its fault injector."""

    url: str
    store: VanSalesStore
    key: str
    faults: Faults

    def order_rows(self, *where: sa.ColumnElement[bool]) -> list[tuple[Any, ...]]:
        """The stored orders' business fields (not the API's own ids), optionally filtered."""
        query = sa.select(*(orders.c[name] for name in ORDER_FIELDS)).where(*where)
        with self.store.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]

    def orders_digest(self) -> tuple[int, str]:
        """Count and content hash of the stored orders' business fields."""
        rows = self.order_rows()
        return len(rows), digest(rows)

    def keys_stored(self) -> int:
        """Idempotency keys the store remembers: one per batch it accepted."""
        return self.store.count(idempotency_keys)


@contextmanager
def api_instance(
    home: Path, name: str, *, key: str, expires: datetime | None = None, faults: Faults | None = None
) -> Iterator[ApiInstance]:
    """Serve an example API instance on a free loopback port, its store a SQLite file under ``home``."""
    store = VanSalesStore(url=f"sqlite:///{home / f'{name}.db'}")
    app: FastAPI = create_app(store=store, api_keys={key: expires}, title=f"Van Sales API ({name})")
    injector = faults or Faults()
    app.middleware("http")(injector)
    try:
        with serve(app) as url:
            yield ApiInstance(url=url, store=store, key=key, faults=injector)
    finally:
        store.close()


def digest(rows: Iterable[tuple[Any, ...]]) -> str:
    """Order-independent sha256 of rows, values normalized (decimals to cents, dates to ISO)."""

    def norm(value: Any) -> str:
        if isinstance(value, Decimal | float):
            return str(Decimal(str(value)).quantize(Decimal("0.01")))
        if hasattr(value, "isoformat"):
            return str(value.isoformat())
        return "\x00" if value is None else str(value)

    lines = sorted("\x1f".join(norm(v) for v in row) for row in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def store_cloud_secret(tenant: Tenant, value: str) -> str:
    """Keep an internet API's key in the tenant's secret store (as the console does); its reference.

    Call it once the cloud worker has provisioned the tenant (inside ``running``).
    """
    return demo_apis.store_cloud_secret(
        settings=tenant.cloud_settings(), tenant=tenant.name, value=SecretStr(value)
    )


def seed_orders(api: ApiInstance, count: int) -> None:
    """``count`` sample orders straight into an API instance's store (see examples/vansales_api/seed.py)."""
    seed(api.store, count)
