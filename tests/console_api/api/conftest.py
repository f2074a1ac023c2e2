"""A console API on a fresh SQLite metadata store with two tenants and keys of every role."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.metadata import make_engine, provision_tenant
from activities.settings import TemporalConfig
from console_api.api import ApiSettings, Role, create_api_key, create_app
from console_api.gateway import consume_enrollment_token, issue_enrollment_token
from console_api.gateway.agents import AgentIdentity, mark_online
from mini_connector.tunnel.protocol import Hello
from tests.sdkgen.conftest import shared_build_cache
from tests.workflows.harness import Tenant


@dataclass
class Caller:
    tenant: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    engine: Engine
    home: Path
    admin: Caller
    operator: Caller
    viewer: Caller
    other: Caller
    """Admin of the second tenant."""

    async def call(self, method: str, path: str, caller: Caller | None = None, **kwargs) -> httpx.Response:
        headers = (caller or self.admin).headers
        return await self.http.request(method, path, headers=headers, **kwargs)


def new_tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def enroll(engine: Engine, tenant: str, agent_id: str = "edge-1", group_id: str | None = None) -> None:
    token = issue_enrollment_token(engine, tenant_id=tenant, agent_id=agent_id, group_id=group_id)
    consume_enrollment_token(
        engine,
        token=token,
        agent_id=agent_id,
        public_key=base64.b64encode(os.urandom(32)).decode(),
        host="test",
        version="0",
    )


def come_online(engine: Engine, tenant: str, agent_id: str = "edge-1") -> None:
    """Record presence as a gateway would when the agent's session opens."""
    hello = Hello(tenant=tenant, agent_id=agent_id, ts=0, signature="-")
    mark_online(engine, AgentIdentity(tenant=tenant, agent_id=agent_id, group=agent_id), hello)


MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture(scope="session")
def sdk_cache() -> Path:
    """The machine-wide SDK build cache of the tests (see ``tests/sdkgen/conftest.py``)."""
    return shared_build_cache()


@pytest.fixture
async def make_api(tmp_path: Path, sdk_cache: Path) -> AsyncIterator[MakeApi]:
    clients: list[httpx.AsyncClient] = []
    engines: list[Engine] = []

    async def make(
        *,
        tenant: str | None = None,
        temporal: Client | None = None,
        temporal_address: str | None = None,
        **overrides,
    ) -> Api:
        """``temporal`` is a client to inject; ``temporal_address`` lets the app connect by itself
        (an app served in another thread must not share this loop's client)."""
        if temporal_address is not None:
            overrides["temporal"] = TemporalConfig(address=temporal_address)
        # The harness's workers use the plain converter (tests/workflows/harness.py); codec tests turn it on.
        overrides.setdefault("payload_encryption", False)
        overrides.setdefault("sdk_cache_dir", sdk_cache)
        settings = ApiSettings(home=tmp_path, **overrides)
        engine = make_engine(settings.metadata_url)
        engines.append(engine)
        app = create_app(settings, engine=engine, temporal=temporal)
        pepper = app.state.ctx.pepper
        a, b = tenant or new_tenant(), new_tenant()
        for t in (a, b):
            provision_tenant(engine, tenant_id=t, name=t.upper())

        def caller(t: str, role: Role) -> Caller:
            made = create_api_key(engine, tenant_id=t, name=role.value, role=role, pepper=pepper)
            return Caller(tenant=t, key=made.key, key_id=made.key_id)

        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")
        clients.append(http)
        return Api(
            app=app,
            http=http,
            engine=engine,
            home=tmp_path,
            admin=caller(a, Role.ADMIN),
            operator=caller(a, Role.OPERATOR),
            viewer=caller(a, Role.VIEWER),
            other=caller(b, Role.ADMIN),
        )

    yield make
    for client in clients:
        await client.aclose()
    for engine in engines:
        engine.dispose()


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api()


@pytest.fixture
async def pg_world(
    make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> tuple[Api, Tenant]:
    """An API tenant with PostgreSQL connections ``erp`` (20k rows) and ``dw``, its agent online."""
    from tests.console_api.api.pgworld import add_connections
    from tests.workflows.test_controls import make_source

    name = new_tenant()
    api = await make_api(tenant=name, temporal=env.client)
    src, dst = pg_database("erp"), pg_database("dw")
    make_source(src)
    tenant = Tenant(client=env.client, home=tmp_path, name=name)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src},
        {"name": "dw", "kind": "postgresql", "url": dst, "write": True},
    ]
    await add_connections(api)
    enroll(api.engine, name)
    come_online(api.engine, name)
    return api, tenant


@pytest.fixture
async def temporal_api(make_api: MakeApi, env: WorkflowEnvironment) -> Api:
    """An API whose Temporal client is the test server's."""
    return await make_api(temporal=env.client)
