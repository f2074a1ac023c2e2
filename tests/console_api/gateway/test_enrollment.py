"""Enrollment over the real WebSocket: a token works once; reused, expired and unknown ones are refused."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from activities.errors import GatewayRefusedError
from activities.metadata import Agent, EnrollmentToken, provision_tenant, tenant_session
from console_api.gateway import issue_enrollment_token
from mini_connector.enroll import agent_version, enroll
from mini_connector.tunnel import InMemoryEd25519Signer
from tests.console_api.gateway.conftest import GatewayRig, new_tenant


async def _refusal(rig: GatewayRig, token: str, agent_id: str = "edge-1") -> str:
    with pytest.raises(GatewayRefusedError) as caught:
        await enroll(gateway_url=rig.gateway.url, token=token, agent_id=agent_id, key=InMemoryEd25519Signer())
    return str(caught.value.fields["code"])


def _refusals(rig: GatewayRig, tenant: str) -> list[dict]:
    return [e.details for e in rig.audit(tenant) if e.action == "gateway.enroll_refused"]


async def test_valid_token_enrolls_once_and_stores_only_the_public_key(rig: GatewayRig) -> None:
    tenant = new_tenant()
    provision_tenant(rig.engine, tenant_id=tenant, name=tenant)
    token = issue_enrollment_token(rig.engine, tenant_id=tenant, agent_id="edge-1")
    signer = InMemoryEd25519Signer()
    enrolled = await enroll(gateway_url=rig.gateway.url, token=token, agent_id="edge-1", key=signer)
    assert (enrolled.tenant, enrolled.agent_id) == (tenant, "edge-1")
    with tenant_session(rig.engine, tenant) as s:
        agent = s.scalars(select(Agent)).one()
        stored = s.scalars(select(EnrollmentToken.token_hash)).one()
        assert (agent.public_key, agent.host, agent.version) == (
            signer.public_key_b64(),
            socket.gethostname(),
            agent_version(),
        )
    assert stored != token and len(stored) == 64
    assert await _refusal(rig, token) == "token_used"
    refusals = _refusals(rig, tenant)
    assert [r["code"] for r in refusals] == ["token_used"]
    assert all(token not in str(e.model_dump()) for e in rig.audit(tenant))
    assert "gateway.agent_enrolled" in rig.actions(tenant)


async def test_expired_token_is_refused_and_audited(rig: GatewayRig) -> None:
    tenant = new_tenant()
    provision_tenant(rig.engine, tenant_id=tenant, name=tenant)
    token = issue_enrollment_token(rig.engine, tenant_id=tenant, agent_id="edge-1", ttl=timedelta(seconds=-1))
    assert await _refusal(rig, token) == "token_expired"
    assert [r["code"] for r in _refusals(rig, tenant)] == ["token_expired"]


async def test_unknown_token_is_refused_and_audited_in_the_platform_log(rig: GatewayRig) -> None:
    provision_tenant(rig.engine, tenant_id=new_tenant(), name="someone")
    assert await _refusal(rig, "not-a-token") == "token_invalid"
    platform = rig.gateway.audit.platform_tenant
    assert [r["code"] for r in _refusals(rig, platform)][-1] == "token_invalid"


async def test_token_for_another_agent_id_is_refused(rig: GatewayRig) -> None:
    tenant = new_tenant()
    provision_tenant(rig.engine, tenant_id=tenant, name=tenant)
    token = issue_enrollment_token(rig.engine, tenant_id=tenant, agent_id="edge-1")
    assert await _refusal(rig, token, agent_id="edge-2") == "agent_id_mismatch"
    assert [r["code"] for r in _refusals(rig, tenant)] == ["agent_id_mismatch"]
