"""The gateway on wss:// with a real self-signed certificate; plain ws:// only on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.errors import GatewayCertificateError, GatewayRefusedError, InvalidInputError
from activities.metadata import make_engine
from console_api.gateway import Gateway, GatewaySettings, issue_enrollment_token
from infra.demo.load import create_and_load
from infra.loopback_tls import self_signed
from mini_connector.enroll import enroll
from mini_connector.identity import AgentKey
from mini_connector.worker import build_worker, connect
from tests.console_api.gateway.conftest import GatewayRig, agent_settings, gateway_settings
from tests.workflows.harness import Tenant, running
from tests.workflows.test_sync_patterns import NAMES, all_tables, assert_verified
from workflows.sync_types import SyncResult


@pytest.fixture
async def tls_rig(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[tuple[GatewayRig, Path]]:
    cert, key = self_signed(tmp_path, name="gateway")
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    settings = gateway_settings(env, tmp_path, gateway_id="gw-tls", tls_cert=cert, tls_key=key)
    async with Gateway(settings, engine=engine) as gateway:
        yield GatewayRig(gateway=gateway, engine=engine, namespace=env.client.namespace), cert
    engine.dispose()


async def test_agent_trusting_the_ca_runs_311_and_one_without_it_gets_a_certificate_error(
    env: WorkflowEnvironment,
    tmp_path: Path,
    pg_database: Callable[[str], str],
    tls_rig: tuple[GatewayRig, Path],
) -> None:
    rig, cert = tls_rig
    assert rig.gateway.url.startswith("wss://127.0.0.1:")
    tenant = Tenant(client=env.client, home=tmp_path)
    signer = rig.enroll(tenant.name, tenant.agent)

    # Without the CA: refused by the agent with a certificate error naming the gateway; the token
    # is never sent, so it stays usable.
    token = issue_enrollment_token(rig.engine, tenant_id=tenant.name, agent_id="edge-2")
    with pytest.raises(GatewayCertificateError, match="TLS certificate that does not verify") as refused:
        await enroll(gateway_url=rig.gateway.url, token=token, agent_id="edge-2", key=AgentKey.generate())
    assert refused.value.fields["gateway"] == f"127.0.0.1:{rig.gateway.port}"
    assert token not in refused.value.message

    # A running agent without the CA stops at once with the same clear refusal, instead of redialling.
    untrusting = agent_settings(tenant, rig.gateway.url)
    with pytest.raises(GatewayRefusedError, match="does not verify") as stopped:
        async with asyncio.timeout(30), connect(untrusting, signer=signer):
            pass
    assert stopped.value.fields["code"] == "bad_certificate"

    # With the CA: the gateway kept serving, and 3.1.1 runs through wss.
    src_url, dst_url = pg_database("erp"), pg_database("dw")
    counts = create_and_load(src_url, scale=0.01)
    tenant.agent_connections = [
        {"name": "erp", "kind": "postgresql", "url": src_url},
        {"name": "dw", "kind": "postgresql", "url": dst_url, "write": True},
    ]
    tenant.write_registries()
    settings = agent_settings(tenant, rig.gateway.url).model_copy(update={"gateway_ca_file": cert})
    body = {
        "agent": tenant.agent,
        "source_connection": "erp",
        "destination_connection": "dw",
        "tables": all_tables(),
        "limits": {"batch_rows": 1000},
    }
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with running(tenant, agent=False), connect(settings, signer=signer) as client:
            async with build_worker(client, settings, executor):
                result: SyncResult = await (await tenant.start("LocalToLocalSync", body)).result()
    assert_verified(result, len(NAMES))
    assert {t.source_table: t.rows_read for t in result.tables} == counts
    assert "gateway.session_opened" in rig.actions(tenant.name)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.10", "gateway.example.com"])
def test_plain_ws_is_refused_off_loopback_before_listening(host: str, tmp_path: Path) -> None:
    settings = GatewaySettings(host=host, port=0, metadata_url=f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(InvalidInputError, match=f"gateway on {host} needs tls_cert and tls_key"):
        Gateway(settings)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1"])
def test_plain_ws_is_allowed_on_loopback(host: str, tmp_path: Path) -> None:
    Gateway(GatewaySettings(host=host, port=0, metadata_url=f"sqlite:///{tmp_path / 'm.db'}"))


def test_a_certificate_on_a_public_address_is_accepted_without_listening(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, name="gateway")
    settings = GatewaySettings(
        host="0.0.0.0", port=0, tls_cert=cert, tls_key=key, metadata_url=f"sqlite:///{tmp_path / 'm.db'}"
    )
    assert Gateway(settings).settings.tls_cert == cert


def test_half_a_tls_pair_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key must be given together"):
        GatewaySettings(tls_cert=Path("/nonexistent.pem"))
