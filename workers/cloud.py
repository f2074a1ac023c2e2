"""Cloud worker process: serves ``vsc.<tenant>.cloud`` for each configured tenant.

Run with ``python -m workers.cloud``. Wiring only: the workflows and activities live elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.api_calls import ApiCalls
from activities.api_wiring import MetadataAuditSink, StoreSecrets
from activities.artifacts import ArtifactRegistry
from activities.bidi_steps import BidiSteps
from activities.bookkeeping import Bookkeeping
from activities.conflict_book import ConflictBook
from activities.connections import registry_loader
from activities.crypto import Keyring
from activities.merge import BufferMerge
from activities.metadata import make_engine, migrate, provision_tenant
from activities.payload_codec import encrypting_client
from activities.quotas import tenant_tiers, tier_buffer_quota
from activities.sync_steps import HEARTBEAT_THROTTLE, SyncSteps
from activities.tenant_connections import tenant_registry_loader
from activities.tiers import tenants_in_pool
from activities.transform_engine import TransformActivities
from activities.wiring import build_backend, build_buffer, build_payload_keyring, build_secret_store
from workers.settings import CloudSettings
from workers.versioning import PromotionError, deployment_config, deployment_version, promote_on_start
from workflows.converter import DATA_CONVERTER
from workflows.queues import cloud_queue
from workflows.registry import ALL_WORKFLOWS

log = logging.getLogger("vsc.cloud")


def tenant_client(client: Client, *, tenant: str, keyring: Keyring | None) -> Client:
    """The client a tenant's worker uses: ``client``'s connection with the tenant's payload codec.

    Without a payload keyring (payload encryption off), ``client`` itself.
    """
    return client if keyring is None else encrypting_client(client, tenant=tenant, keyring=keyring)


def cloud_version(settings: CloudSettings) -> WorkerDeploymentVersion | None:
    """The Worker Deployment version this process polls as; None with versioning off."""
    if not settings.worker_versioning:
        return None
    return deployment_version(pool=settings.pool, build_id=settings.build_id)


async def promote_at_start(client: Client, settings: CloudSettings) -> None:
    """The start-time promotion ``settings.promote`` asks for, beside the running workers.

    A failure is logged, not raised: the workers still serve their pinned runs, and the operator
    promotes with ``vsc deploy promote`` once the cause (see docs/deploy.md) is fixed.
    """
    version = cloud_version(settings)
    if version is None or settings.promote is None:
        return
    try:
        await promote_on_start(client, version, settings.promote)
    except (PromotionError, RPCError) as err:
        log.error("start-time promotion of %s failed: %s", version.to_canonical_string(), err)


def build_workers(client: Client, settings: CloudSettings, executor: ThreadPoolExecutor) -> list[Worker]:
    """One worker per served tenant queue, sharing one activity thread pool and one metadata engine.

    Without a pool the worker serves ``settings.tenants``; with ``settings.pool`` it serves every
    provisioned tenant whose tier maps to that pool (read at start: restart after tier changes).
    All of them poll as one deployment version (:func:`cloud_version`), so a promotion moves every
    queue of the pool at once.
    """
    version = cloud_version(settings)
    engine = make_engine(settings.metadata_url)
    migrate(engine, tenant=None)
    for tenant in settings.tenants:
        provision_tenant(engine, tenant_id=tenant, name=tenant)
    pool = settings.pool
    served = settings.tenants if pool is None else tenants_in_pool(tenant_tiers(engine), pool)
    book = Bookkeeping(engine=engine)
    assert settings.connections_file is not None
    quota = tier_buffer_quota(engine, ttl=settings.buffer.ttl)
    buffer = build_buffer(settings.buffer, on_integrity_failure=book.integrity_hook, quota=quota)
    secrets = build_secret_store(
        vault=settings.vault,
        master_key=settings.secret_master_key,
        master_keyfile=settings.secret_master_keyfile,
        keyring_dir=settings.secret_keyring_dir,
        create_missing=settings.environment == "local",
    )
    file_registry = registry_loader(settings.connections_file)

    # Per tenant: its connections saved through the API resolve before the shared file's.
    connections = {
        tenant: tenant_registry_loader(engine=engine, tenant=tenant, secrets=secrets, fallback=file_registry)
        for tenant in served
    }
    conflicts = ConflictBook(engine=engine)

    # One SDK host per process: loaded SDKs and idle instances are shared by every tenant's worker.
    api = ApiCalls(
        runs_on="cloud",
        artifacts=ArtifactRegistry(backend=build_backend(settings.artifacts)),
        secrets=StoreSecrets(engine=engine, store=secrets),
        buffer=buffer,
        connections=lambda tenant: connections[tenant](),
        audit=MetadataAuditSink(book.audit),
        private_origins=tuple(settings.api_private_origins),
    )
    # Set-level transform steps (DuckDB); each run spills to a private directory under the temp dir.
    transforms = TransformActivities(buffer=buffer)
    keyring = (
        build_payload_keyring(settings.buffer, keyring_dir=settings.payload_keyring_dir)
        if settings.payload_encryption
        else None
    )
    return [
        Worker(
            tenant_client(client, tenant=tenant, keyring=keyring),
            task_queue=cloud_queue(tenant),
            workflows=ALL_WORKFLOWS,
            activities=[
                *SyncSteps(connections=connections[tenant], buffer=buffer).all(),
                *BidiSteps(connections=connections[tenant], buffer=buffer).all(),
                *book.all(),
                *conflicts.all(),
                *api.all(),
                *BufferMerge(buffer=buffer).all(),
                *transforms.all(),
            ],
            activity_executor=executor,
            max_concurrent_activities=8,
            max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
            deployment_config=None if version is None else deployment_config(version),
        )
        for tenant in served
    ]


async def main(settings: CloudSettings | None = None) -> None:
    """Connect to Temporal and serve until cancelled."""
    settings = settings or CloudSettings()
    client = await Client.connect(
        settings.temporal.address, namespace=settings.temporal.namespace, data_converter=DATA_CONVERTER
    )
    with ThreadPoolExecutor(max_workers=8) as executor:
        workers = build_workers(client, settings, executor)
        version = cloud_version(settings)
        log.info(
            "cloud worker %s serving %s",
            "unversioned" if version is None else version.to_canonical_string(),
            ", ".join(w.task_queue for w in workers),
        )
        await asyncio.gather(*(w.run() for w in workers), promote_at_start(client, settings))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
