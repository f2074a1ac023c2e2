"""The cloud worker's pool: with ``pool`` set it serves exactly the tenants whose tier maps to it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from activities.metadata import make_engine, provision_tenant
from workers.cloud import build_workers
from workers.settings import CloudSettings


def settings(tmp_path: Path, **extra) -> CloudSettings:
    return CloudSettings(home=tmp_path, tenants=[], metadata_url=f"sqlite:///{tmp_path / 'm.db'}", **extra)


def provision(tmp_path: Path) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    names = {tier: f"t{uuid.uuid4().hex[:8]}" for tier in ("free", "pro", "enterprise")}
    for tier, tenant in names.items():
        provision_tenant(engine, tenant_id=tenant, name=tenant, tier=tier)
    second_pro = f"t{uuid.uuid4().hex[:8]}"
    provision_tenant(engine, tenant_id=second_pro, name=second_pro, tier="pro")
    engine.dispose()
    return {**names, "pro2": second_pro}


async def test_build_workers_pool_serves_tenants_of_its_tiers(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = provision(tmp_path)
    with ThreadPoolExecutor(max_workers=8) as executor:
        queues = {w.task_queue for w in build_workers(env.client, settings(tmp_path, pool="pro"), executor)}
        assert queues == {f"vsc.{names['pro']}.cloud", f"vsc.{names['pro2']}.cloud"}
        shared = [
            w.task_queue for w in build_workers(env.client, settings(tmp_path, pool="shared"), executor)
        ]
        assert shared == [f"vsc.{names['free']}.cloud"]


async def test_build_workers_without_pool_serves_configured_tenants(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = provision(tmp_path)
    configured = settings(tmp_path).model_copy(update={"tenants": [names["enterprise"]]})
    with ThreadPoolExecutor(max_workers=8) as executor:
        workers = build_workers(env.client, configured, executor)
    assert [w.task_queue for w in workers] == [f"vsc.{names['enterprise']}.cloud"]


def test_cloud_settings_unknown_pool_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="VSC_POOL 'primum' is not a worker pool of any tier"):
        settings(tmp_path, pool="primum")
