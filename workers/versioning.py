"""Worker Deployment Versioning of the cloud worker: deployment name, build id, config, promotion.

A deploy must never break a running execution. Every cloud worker therefore polls as one
version ``<deployment>.<build id>`` of a Temporal Worker Deployment, and the sync workflows are
``PINNED``: a run stays on the build it started on until it completes, so workflow code may
change incompatibly between builds without patching. (``AUTO_UPGRADE`` would move runs to new
code mid-history and need ``workflow.patched`` discipline on every change.) Long syncs do not
pin forever: they continue-as-new with ``AUTO_UPGRADE`` (``workflows.sync_loop``), so each new
run starts on the current build and the only thing crossing builds is the ``SyncState`` model.

The build id defaults to a hash of what determines workflow histories (the ``workflows`` package
sources and the SDK version), so an activity-only change keeps the version and is a plain rolling
restart. New executions go to the deployment's *current* version, which someone must set:
:func:`promote` (``vsc deploy promote``, or the worker itself at start per ``VSC_PROMOTE``).
Agents run activities only, which are never replayed, so they need no workflow versioning.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Literal

import temporalio.api.workflowservice.v1 as wsv1
from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig

import workflows

log = logging.getLogger("vsc.versioning")

DEPLOYMENT = "vsc-cloud"
Promote = Literal["never", "first", "always"]
"""What a starting worker does about the current version: leave it to the operator, take it
when the deployment has none yet (first deploy), or always (the local dev stack, which restarts
every worker at once)."""
REGISTER_TIMEOUT = 30.0
"""How long :func:`promote` waits for the version's pollers to be registered by the server."""


class PromotionError(RuntimeError):
    """A version could not be made current (never polled, or it misses task queues of the current one)."""


def deployment_name(pool: str | None) -> str:
    """The Worker Deployment of a worker pool: pools deploy independently, so each is its own."""
    return DEPLOYMENT if pool is None else f"{DEPLOYMENT}-{pool}"


def workflow_build_id() -> str:
    """sha256 of the ``workflows`` package sources and the SDK version, first 16 hex digits.

    Workflows import only ``workflows.*``, pydantic models and temporalio, so these are what a
    replay depends on.
    """
    root = Path(workflows.__file__).parent
    digest = hashlib.sha256(f"temporalio={package_version('temporalio')}\n".encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def deployment_version(*, pool: str | None, build_id: str | None) -> WorkerDeploymentVersion:
    """This process's version: ``build_id`` (``VSC_BUILD_ID``) or the workflow code hash."""
    return WorkerDeploymentVersion(
        deployment_name=deployment_name(pool), build_id=build_id or workflow_build_id()
    )


def deployment_config(version: WorkerDeploymentVersion) -> WorkerDeploymentConfig:
    """Versioned polling with every workflow pinned to the build it started on."""
    return WorkerDeploymentConfig(
        version=version, use_worker_versioning=True, default_versioning_behavior=VersioningBehavior.PINNED
    )


async def current_build_id(client: Client, deployment: str) -> str | None:
    """The deployment's current build id; None when unversioned or the deployment never polled."""
    try:
        info = await _describe(client, deployment)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    current = info.worker_deployment_info.routing_config.current_deployment_version
    return current.build_id or None


async def promote(
    client: Client, version: WorkerDeploymentVersion, *, register_within: float = REGISTER_TIMEOUT
) -> None:
    """Make ``version`` current once its workers have polled: new executions then start on it.

    Running pinned executions stay on their own version. The server refuses when ``version``
    lacks a task queue the current version serves (those would become unversioned): start the
    new workers on every queue first.
    """
    await _registered(client, version, within=register_within)
    try:
        await client.workflow_service.set_worker_deployment_current_version(
            wsv1.SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace, deployment_name=version.deployment_name, build_id=version.build_id
            )
        )
    except RPCError as err:
        raise PromotionError(f"cannot make {version.to_canonical_string()} current: {err.message}") from err
    log.info("current version of %s is now %s", version.deployment_name, version.build_id)


async def promote_on_start(client: Client, version: WorkerDeploymentVersion, policy: Promote) -> None:
    """The worker's own promotion at start, per ``policy``; run beside the polling workers."""
    if policy == "never":
        return
    if policy == "first" and await current_build_id(client, version.deployment_name) is not None:
        log.info("%s is not current; promote it with `vsc deploy promote`", version.to_canonical_string())
        return
    await promote(client, version)


async def version_states(client: Client, deployment: str) -> dict[str, str]:
    """Build id -> status of every version of ``deployment``.

    ``current``, ``ramping``, ``draining`` (pinned runs may remain: keep its workers), ``drained``
    (none remain: stop them) or ``inactive`` (never current). The server re-checks draining
    versions periodically, so ``drained`` lags the last run's close.
    """
    info = await _describe(client, deployment)
    return {
        s.deployment_version.build_id: WorkerDeploymentVersionStatus.Name(s.status)
        .removeprefix("WORKER_DEPLOYMENT_VERSION_STATUS_")
        .lower()
        for s in info.worker_deployment_info.version_summaries
    }


async def _describe(client: Client, deployment: str) -> wsv1.DescribeWorkerDeploymentResponse:
    return await client.workflow_service.describe_worker_deployment(
        wsv1.DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
    )


async def _registered(client: Client, version: WorkerDeploymentVersion, *, within: float) -> None:
    """Wait until the server lists ``version`` (it does once one of its workers has polled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            info = await _describe(client, version.deployment_name)
            if any(
                s.deployment_version.build_id == version.build_id
                for s in info.worker_deployment_info.version_summaries
            ):
                return
            seen = "not listed yet"
        except RPCError as err:
            # NOT_FOUND until a first poll; other errors while the server registers it are retried too.
            seen = err.message
        if loop.time() >= deadline:
            raise PromotionError(
                f"no worker of {version.to_canonical_string()} polled within {within:.1f}s; "
                f"start it first (server: {seen})"
            )
        await asyncio.sleep(0.1)
