"""``vsc deploy``: the operator's steps of a cloud worker deploy (docs/deploy.md).

Unlike the resource commands these talk to Temporal, not to the console API: versions are
Temporal's Worker Deployment state, and ``workers.versioning`` owns how they are named and set.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError

from console_api.cli_common import SETTINGS, console
from workers.versioning import (
    PromotionError,
    deployment_name,
    deployment_version,
    promote,
    version_states,
    workflow_build_id,
)

deploy_app = typer.Typer(
    help="Cloud worker versions: this build's id, promote it to current, see what still drains.",
    no_args_is_help=True,
)

PoolOpt = Annotated[str | None, typer.Option(help="The worker pool (VSC_POOL) whose deployment to act on")]
AddressOpt = Annotated[str, typer.Option(help="Temporal frontend")]
NamespaceOpt = Annotated[str, typer.Option(help="Temporal namespace")]


async def _client(address: str, namespace: str) -> Client:
    try:
        return await Client.connect(address, namespace=namespace)
    except RuntimeError as exc:
        console.print(f"[red]error:[/] cannot reach Temporal at {address}: {exc}")
        raise typer.Exit(1) from None


@deploy_app.command("build-id")
def build_id() -> None:
    """The build id of this checkout's workflow code (what VSC_BUILD_ID defaults to)."""
    print(workflow_build_id())


@deploy_app.command("promote")
def promote_cmd(
    build: Annotated[str | None, typer.Option("--build-id", help="Default: this checkout's")] = None,
    pool: PoolOpt = None,
    address: AddressOpt = SETTINGS.temporal.address,
    namespace: NamespaceOpt = SETTINGS.temporal.namespace,
    wait: Annotated[float, typer.Option(help="Seconds to wait for its workers to have polled")] = 30.0,
) -> None:
    """Make a started version current: new executions start on it, pinned runs stay where they are."""
    version = deployment_version(pool=pool, build_id=build)

    async def go() -> None:
        await promote(await _client(address, namespace), version, register_within=wait)

    try:
        asyncio.run(go())
    except PromotionError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"{version.to_canonical_string()} is current")


@deploy_app.command("status")
def status(
    pool: PoolOpt = None,
    address: AddressOpt = SETTINGS.temporal.address,
    namespace: NamespaceOpt = SETTINGS.temporal.namespace,
) -> None:
    """Every version of the deployment: stop a version's workers once it is ``drained``."""
    deployment = deployment_name(pool)

    async def go() -> dict[str, str]:
        return await version_states(await _client(address, namespace), deployment)

    try:
        states = asyncio.run(go())
    except RPCError as exc:
        console.print(f"[red]error:[/] {deployment}: {exc.message}")
        raise typer.Exit(1) from None
    table = Table("build_id", "status", title=deployment)
    for build, state in states.items():
        table.add_row(build, state)
    console.print(table)
