"""A real gateway on loopback in front of the real Temporal dev server, with enrolled agents."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.metadata import AuditRecord, AuditWriter, make_engine, provision_tenant
from activities.settings import TemporalConfig
from console_api.gateway import Gateway, GatewaySettings, consume_enrollment_token, issue_enrollment_token
from mini_connector.settings import AgentSettings
from mini_connector.tunnel import InMemoryEd25519Signer, TunnelClient, TunnelOptions
from mini_connector.worker import build_worker, connect
from tests.workflows.harness import Tenant

NOWHERE = TemporalConfig(address="127.0.0.1:1")  # the agent must never dial Temporal itself


@dataclass
class GatewayRig:
    gateway: Gateway
    engine: Engine
    namespace: str

    def audit(self, tenant: str) -> list[AuditRecord]:
        return AuditWriter(self.engine).query(tenant, limit=1000)

    def actions(self, tenant: str) -> list[str]:
        return [e.action for e in self.audit(tenant)]

    def enroll(self, tenant: str, agent_id: str = "edge-1") -> InMemoryEd25519Signer:
        provision_tenant(self.engine, tenant_id=tenant, name=tenant)
        signer = InMemoryEd25519Signer()
        token = issue_enrollment_token(self.engine, tenant_id=tenant, agent_id=agent_id)
        consume_enrollment_token(
            self.engine,
            token=token,
            agent_id=agent_id,
            public_key=signer.public_key_b64(),
            host="h",
            version="t",
        )
        return signer

    def options(self, tenant: str, agent_id: str = "edge-1", url: str | None = None, **kw) -> TunnelOptions:
        return TunnelOptions(gateway_url=url or self.gateway.url, tenant=tenant, agent_id=agent_id, **kw)

    @asynccontextmanager
    async def tunnel(
        self, tenant: str, signer, agent_id: str = "edge-1", **kw
    ) -> AsyncIterator[TunnelClient]:
        async with TunnelClient(self.options(tenant, agent_id, **kw), signer) as client:
            yield client


def new_tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def gateway_settings(env: WorkflowEnvironment, tmp_path: Path, **overrides: Any) -> GatewaySettings:
    """A loopback gateway on a free port, on the test's Temporal server and its own SQLite metadata."""
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "gateway_id": "gw-test",
        "temporal": TemporalConfig(
            address=env.client.service_client.config.target_host, namespace=env.client.namespace
        ),
        "metadata_url": f"sqlite:///{tmp_path / 'metadata.db'}",
    }
    return GatewaySettings(**{**base, **overrides})


@pytest.fixture
async def rig(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[GatewayRig]:
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    settings = gateway_settings(env, tmp_path, presence_interval=0.3)
    async with Gateway(settings, engine=engine) as gateway:
        yield GatewayRig(gateway=gateway, engine=engine, namespace=env.client.namespace)
    engine.dispose()


def agent_settings(tenant: Tenant, gateway_url: str) -> AgentSettings:
    return tenant.agent_settings().model_copy(update={"temporal": NOWHERE, "gateway_url": gateway_url})


@asynccontextmanager
async def gateway_agent(
    tenant: Tenant, signer, gateway_url: str, executor: ThreadPoolExecutor
) -> AsyncIterator[tuple[Client, Worker]]:
    """The agent's worker, connected to Temporal only through the gateway."""
    tenant.write_registries()
    settings = agent_settings(tenant, gateway_url)
    async with connect(settings, signer=signer) as client:
        worker = build_worker(client, settings, executor)
        async with worker:
            yield client, worker


@asynccontextmanager
async def raw_session(rig: GatewayRig, tenant: str, signer, agent_id: str = "edge-1"):
    """A hand-driven authenticated session: yields the WebSocket right after the welcome."""
    import base64
    import time

    import websockets

    from mini_connector.tunnel import CONNECT_PATH, auth_message
    from mini_connector.tunnel.protocol import Challenge, Hello, Welcome

    async with websockets.connect(rig.gateway.url + CONNECT_PATH, compression=None, max_size=None) as ws:
        challenge = Challenge.model_validate_json(await ws.recv())
        ts = int(time.time())
        msg = auth_message(
            gateway=challenge.gateway, nonce=challenge.nonce, tenant=tenant, agent_id=agent_id, ts=ts
        )
        sig = base64.b64encode(signer.sign(msg)).decode()
        await ws.send(Hello(tenant=tenant, agent_id=agent_id, ts=ts, signature=sig).model_dump_json())
        Welcome.model_validate_json(await ws.recv())
        yield ws
