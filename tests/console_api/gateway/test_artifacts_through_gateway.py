"""Pinned SDK artifacts through the gateway (``artifact.get``): session tenant only, allow-listed kinds,
size-bounded, windowed, verified and cached on the agent."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.artifacts import ArtifactRegistry
from activities.buffer import DirectoryBackend
from activities.errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    GatewayRefusedError,
    InvalidInputError,
)
from activities.metadata import make_engine
from activities.settings import ArtifactConfig
from console_api.gateway import Gateway
from console_api.gateway.artifact_service import ArtifactService
from mini_connector.artifact_cache import ArtifactCache
from mini_connector.gateway_artifacts import GatewayArtifacts
from mini_connector.gateway_buffer import GatewayChannel
from mini_connector.tunnel.rpc import ENVELOPE_OVERHEAD, Request
from mini_connector.worker import agent_artifacts, connect
from tests.console_api.gateway.conftest import NOWHERE, GatewayRig, gateway_settings, new_tenant
from tests.workflows.harness import Tenant

MAX_ARTIFACT = 8 << 20
MAX_FRAME = 1 << 20
BIG = bytes(range(256)) * (5 * 4096 + 7)  # ~5 MiB: six windows of one frame


class Counted:
    """Counts the artifact.get requests the gateway answers (wraps the real service method)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requests: list[tuple[str, str, int]] = []
        real = ArtifactService.get

        async def counting(service: ArtifactService, request: Request):  # type: ignore[no-untyped-def]
            self.requests.append((request.tenant, request.kind, request.offset))
            return await real(service, request)

        monkeypatch.setattr(ArtifactService, "get", counting)


@pytest.fixture
async def arig(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[GatewayRig]:
    """A gateway that reads the cloud's artifact registry directory."""
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    settings = gateway_settings(
        env,
        tmp_path,
        artifacts=ArtifactConfig(directory=tmp_path / "cloud" / "artifacts"),
        max_artifact_bytes=MAX_ARTIFACT,
        max_frame=MAX_FRAME,
    )
    async with Gateway(settings, engine=engine) as gateway:
        yield GatewayRig(gateway=gateway, engine=engine, namespace=env.client.namespace)
    engine.dispose()


@pytest.fixture
def registry(tmp_path: Path) -> ArtifactRegistry:
    return ArtifactRegistry(backend=DirectoryBackend(tmp_path / "cloud" / "artifacts"))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    return Counted(monkeypatch)


def stored_file(tmp_path: Path, tenant: str, kind: str, digest: str) -> Path:
    return tmp_path / "cloud" / "artifacts" / tenant / kind / digest


async def test_multi_mb_artifact_roundtrips_in_windows_and_is_fetched_once(
    arig: GatewayRig, registry: ArtifactRegistry, counted: Counted, tmp_path: Path
) -> None:
    tenant = new_tenant()
    signer = arig.enroll(tenant)
    ref = registry.put(tenant=tenant, kind="sdk-component", data=BIG)
    cache_dir = tmp_path / "agent" / "artifact-cache"
    async with arig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        channel = GatewayChannel(tunnel, asyncio.get_running_loop())
        first = GatewayArtifacts(channel, cache=ArtifactCache(cache_dir))
        got = await asyncio.to_thread(first.get, tenant=tenant, kind="sdk-component", sha256=ref.sha256)
        assert got == BIG
        windows = -(-len(BIG) // (MAX_FRAME - ENVELOPE_OVERHEAD))
        assert windows > 1
        assert len(counted.requests) == windows
        assert [offset for *_, offset in counted.requests][0] == 0
        # a second get, even by a new source over the same cache (an agent restart), asks nothing
        again = GatewayArtifacts(channel, cache=ArtifactCache(cache_dir))
        assert (
            await asyncio.to_thread(again.get, tenant=tenant, kind="sdk-component", sha256=ref.sha256) == BIG
        )
        assert (
            await asyncio.to_thread(first.get, tenant=tenant, kind="sdk-component", sha256=ref.sha256) == BIG
        )
        assert len(counted.requests) == windows
    assert (cache_dir / tenant / "sdk-component" / ref.sha256).read_bytes() == BIG
    sent = [e for e in arig.audit(tenant) if e.action == "gateway.artifact_sent"]
    assert len(sent) == 1 and sent[0].details["size"] == len(BIG) and sent[0].details["sha256"] == ref.sha256


async def test_altered_cache_file_is_dropped_and_fetched_again(
    arig: GatewayRig, registry: ArtifactRegistry, counted: Counted, tmp_path: Path
) -> None:
    tenant = new_tenant()
    signer = arig.enroll(tenant)
    ref = registry.put(tenant=tenant, kind="api-description", data=b'{"name": "vansales"}')
    cache = ArtifactCache(tmp_path / "agent-cache")
    async with arig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        source = GatewayArtifacts(GatewayChannel(tunnel, asyncio.get_running_loop()), cache=cache)
        await asyncio.to_thread(source.get, tenant=tenant, kind="api-description", sha256=ref.sha256)
        cached = cache.path(tenant=tenant, kind="api-description", sha256=ref.sha256)
        cached.write_bytes(b'{"name": "evil"}')
        got = await asyncio.to_thread(source.get, tenant=tenant, kind="api-description", sha256=ref.sha256)
    assert got == b'{"name": "vansales"}'
    assert len(counted.requests) == 2
    assert cached.read_bytes() == got


async def test_artifact_altered_at_rest_in_the_cloud_is_an_integrity_error_and_audited(
    arig: GatewayRig, registry: ArtifactRegistry, tmp_path: Path
) -> None:
    tenant = new_tenant()
    signer = arig.enroll(tenant)
    ref = registry.put(tenant=tenant, kind="sdk-precompiled", data=b"\0asm" + b"x" * 5000)
    stored = stored_file(tmp_path, tenant, "sdk-precompiled", ref.sha256)
    stored.write_bytes(b"\0asm" + b"y" * 5000)  # same size, other bytes
    cache = ArtifactCache(tmp_path / "agent-cache")
    async with arig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        source = GatewayArtifacts(GatewayChannel(tunnel, asyncio.get_running_loop()), cache=cache)
        with pytest.raises(ArtifactIntegrityError):
            await asyncio.to_thread(source.get, tenant=tenant, kind="sdk-precompiled", sha256=ref.sha256)
    assert not cache.path(tenant=tenant, kind="sdk-precompiled", sha256=ref.sha256).exists()
    events = [e for e in arig.audit(tenant) if e.action == "gateway.artifact_integrity_failed"]
    assert len(events) == 1 and events[0].details["sha256"] == ref.sha256


async def test_other_tenants_artifact_is_refused_and_audited(
    arig: GatewayRig, registry: ArtifactRegistry, tmp_path: Path
) -> None:
    own, other = new_tenant(), new_tenant()
    signer = arig.enroll(own)
    arig.enroll(other, "edge-2")
    ref = registry.put(tenant=other, kind="sdk-component", data=b"other tenant's sdk")
    async with arig.tunnel(own, signer) as tunnel:
        await tunnel.wait_connected()
        source = GatewayArtifacts(GatewayChannel(tunnel, asyncio.get_running_loop()))
        with pytest.raises(GatewayRefusedError) as refused:
            await asyncio.to_thread(source.get, tenant=other, kind="sdk-component", sha256=ref.sha256)
        assert refused.value.fields["code"] == "forbidden"
        # naming its own tenant with the other tenant's digest finds nothing either
        with pytest.raises(ArtifactNotFoundError):
            await asyncio.to_thread(source.get, tenant=own, kind="sdk-component", sha256=ref.sha256)
        # the session carries on
        mine = registry.put(tenant=own, kind="sdk-component", data=b"mine")
        assert (
            await asyncio.to_thread(source.get, tenant=own, kind="sdk-component", sha256=mine.sha256)
            == b"mine"
        )
    denied = [e for e in arig.audit(own) if e.action == "gateway.artifact_denied"]
    assert len(denied) == 1 and denied[0].outcome == "denied"
    assert denied[0].details["requested_tenant"] == other
    assert "gateway.artifact_sent" not in arig.actions(other)


@pytest.mark.parametrize("kind", ["sdk-source", "workflow", "buffer"])
async def test_kinds_agents_do_not_run_are_refused_and_audited(
    arig: GatewayRig, registry: ArtifactRegistry, kind: str
) -> None:
    tenant = new_tenant()
    signer = arig.enroll(tenant)
    ref = registry.put(tenant=tenant, kind=kind, data=b"def call(): ...")
    async with arig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        response, body = await tunnel.request(
            Request(op="artifact.get", tenant=tenant, kind=kind, sha256=ref.sha256)
        )
    assert (response.ok, response.error, response.code, body) == (
        False,
        "GatewayRefusedError",
        "forbidden",
        b"",
    )
    denied = [e for e in arig.audit(tenant) if e.action == "gateway.artifact_denied"]
    assert len(denied) == 1 and denied[0].details["kind"] == kind


async def test_oversized_and_malformed_requests_are_refused(
    arig: GatewayRig, registry: ArtifactRegistry
) -> None:
    tenant = new_tenant()
    signer = arig.enroll(tenant)
    huge = registry.put(tenant=tenant, kind="sdk-component", data=b"\1" * (MAX_ARTIFACT + 1))
    async with arig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        channel = GatewayChannel(tunnel, asyncio.get_running_loop())
        with pytest.raises(InvalidInputError) as too_large:
            await asyncio.to_thread(
                GatewayArtifacts(channel).get, tenant=tenant, kind="sdk-component", sha256=huge.sha256
            )
        assert too_large.value.fields["code"] == "too_large"
        bad, _ = await tunnel.request(
            Request(op="artifact.get", tenant=tenant, kind="sdk-component", sha256="../x")
        )
        assert (bad.ok, bad.code) == (False, "bad_request")
    refused = sorted(
        str(e.details["reason"]) for e in arig.audit(tenant) if e.action == "gateway.request_refused"
    )
    assert len(refused) == 2 and any("exceeds" in r for r in refused)
    assert any("64 hex digits" in r for r in refused)
    assert "gateway.artifact_denied" not in arig.actions(tenant)


async def test_gateway_without_registry_refuses(rig: GatewayRig) -> None:
    tenant = new_tenant()
    signer = rig.enroll(tenant)
    async with rig.tunnel(tenant, signer) as tunnel:
        await tunnel.wait_connected()
        response, _ = await tunnel.request(
            Request(op="artifact.get", tenant=tenant, kind="sdk-component", sha256="0" * 64)
        )
    assert (response.ok, response.code) == (False, "no_artifacts")


async def test_agent_worker_behind_gateway_fetches_artifacts_through_it(
    env: WorkflowEnvironment, arig: GatewayRig, registry: ArtifactRegistry, counted: Counted, tmp_path: Path
) -> None:
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.write_registries()
    signer = arig.enroll(tenant.name, tenant.agent)
    settings = tenant.agent_settings().model_copy(
        update={
            "temporal": NOWHERE,
            "gateway_url": arig.gateway.url,
            "artifact_cache_dir": tmp_path / "agent-home" / "artifact-cache",
        }
    )
    desc = b'{"name": "vansales", "operations": []}'
    ref = registry.put(tenant=tenant.name, kind="api-description", data=desc)
    async with connect(settings, signer=signer) as client:
        source = agent_artifacts(client, settings)
        assert isinstance(source, GatewayArtifacts)
        got = await asyncio.to_thread(
            source.get, tenant=tenant.name, kind="api-description", sha256=ref.sha256
        )
    assert got == desc and len(counted.requests) == 1
    cached = tmp_path / "agent-home" / "artifact-cache" / tenant.name / "api-description" / ref.sha256
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == ref.sha256
