"""The ``vsc`` command line: run the embedded stack, start and follow workflows, run the demo."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from activities.errors import VscError
from activities.metadata import make_engine
from console_api import cli_agents, cli_api, cli_apis, cli_conflicts, cli_deploy, cli_ops
from console_api.api.bootstrap import ensure_saved_admin_key
from console_api.api.context import load_pepper
from console_api.api.settings import ApiSettings
from console_api.cli_common import SETTINGS, console
from console_api.client import KEY_FILE, ConsoleClient, load_key
from console_api.demo import prepare_demo, run_demo_flows
from console_api.demo_agent import DEMO_TENANT, agent_env, prepare_demo_agent
from console_api.demo_console import run_console_flow
from console_api.runs import (
    SummaryLine,
    follow_run,
    payload_keys,
    print_results,
    print_summary,
    start_run,
    ui_link,
)
from infra import devstack
from workflows.registry import WORKFLOW_BY_PATTERN

app = typer.Typer(help="Van Sales Connector control plane.", no_args_is_help=True)
app.add_typer(cli_agents.agents_app, name="agents")
app.command("gateway")(cli_agents.gateway)
app.command("login")(cli_api.login)
app.command("tenant")(cli_api.tenant)
app.add_typer(cli_api.keys_app, name="keys")
app.add_typer(cli_api.connections_app, name="connections")
app.add_typer(cli_api.definitions_app, name="definitions")
app.add_typer(cli_api.executions_app, name="executions")
app.add_typer(cli_api.audit_app, name="audit")
app.add_typer(cli_ops.marketplace_app, name="marketplace")
app.add_typer(cli_ops.schedules_app, name="schedules")
app.add_typer(cli_ops.controls_app, name="controls")
app.add_typer(cli_ops.webhooks_app, name="webhooks")
app.add_typer(cli_conflicts.conflicts_app, name="conflicts")
app.add_typer(cli_apis.api_app, name="api")
app.add_typer(cli_deploy.deploy_app, name="deploy")

HomeOpt = Annotated[Path, typer.Option("--home", help="Where the stack keeps its state (VSC_HOME).")]


def save_demo_admin_key(home: Path, metadata_url: str) -> str:
    """Save an admin key of the demo tenant for the CLI on first ``vsc up``; returns what was done."""
    settings = ApiSettings(home=home, metadata_url=metadata_url)
    engine = make_engine(metadata_url)
    try:
        made = ensure_saved_admin_key(engine, home=home, tenant_id=DEMO_TENANT, pepper=load_pepper(settings))
    finally:
        engine.dispose()
    if made is None:
        return f"CLI key already saved in {home / KEY_FILE}"
    return f"admin key {made} of tenant {DEMO_TENANT!r} saved for the CLI in {home / KEY_FILE} (mode 0600)"


def _service_env(home: Path, metadata_url: str, name: str) -> dict[str, str]:
    if name == devstack.AGENT:
        return agent_env(home)  # its own home; no Temporal address, no JSON registry
    env = {**os.environ, "VSC_HOME": str(home), "VSC_METADATA_URL": metadata_url}
    if name == "cloud-worker":
        from console_api.demo_apis import cloud_worker_env, reserve_demo_apis

        # The demo's "internet" van-sales API runs on loopback: its origin is allowed, nothing else.
        env.update(cloud_worker_env(reserve_demo_apis(home)))
    if name == devstack.API:
        env.update(
            VSC_API_HOME=str(home), VSC_API_METADATA_URL=metadata_url, VSC_API_PORT=str(devstack.API_PORT)
        )
    if name == "gateway":
        env.update(
            VSC_GATEWAY_HOST="127.0.0.1",
            VSC_GATEWAY_PORT=str(devstack.GATEWAY_PORT),
            VSC_GATEWAY_GATEWAY_ID="devstack",
            VSC_GATEWAY_METADATA_URL=metadata_url,
            # The gateway serves the agent's buffer and data-key requests from the cloud's own store.
            VSC_GATEWAY_BUFFER__DIRECTORY=str((home / "buffer").resolve()),
            VSC_GATEWAY_BUFFER__KEYRING_DIR=str((home / "keys").resolve()),
            VSC_GATEWAY_BUFFER__MASTER_KEYFILE=str((home / "master.key").resolve()),
            # ... and hands the agent its tenant's payload keys (the cloud worker's keyring).
            VSC_GATEWAY_PAYLOAD_KEYRING_DIR=str((home / "payload-keys").resolve()),
            # ... and the generated SDKs of its tenant's local APIs from the artifact registry.
            VSC_GATEWAY_ARTIFACTS__DIRECTORY=str((home / "artifacts").resolve()),
        )
    return env


@app.command()
def up(home: HomeOpt = SETTINGS.home) -> None:
    """Start the embedded stack: Temporal dev server, gateway, agent (through the gateway), cloud worker."""
    home.mkdir(parents=True, exist_ok=True)
    metadata_url = f"sqlite:///{(home / 'metadata.db').resolve()}"
    for service in devstack.services(home):
        with console.status(f"starting {service.name}..."):
            try:
                if service.name == devstack.AGENT:
                    done = prepare_demo_agent(
                        home, gateway_url=devstack.GATEWAY_URL, metadata_url=metadata_url
                    )
                    console.print(done)
                if service.name == devstack.API:
                    console.print(save_demo_admin_key(home, metadata_url))
                pid = devstack.start(home, service, env=_service_env(home, metadata_url, service.name))
            except devstack.StackError as exc:
                console.print(f"[red]error:[/] {exc}")
                raise typer.Exit(1) from None
            except VscError as exc:
                console.print(f"[red]error:[/] {exc.message}")
                raise typer.Exit(1) from None
        console.print(f"[green]up[/] {service.name} (pid {pid})")
    console.print(f"agent gateway: {devstack.GATEWAY_URL}  (agents: `vsc agents list`)")
    console.print(f"console API: {devstack.API_URL}/docs  (`vsc tenant`, `vsc connections list`, ...)")
    console.print(f"Temporal Web UI: http://127.0.0.1:{devstack.UI_PORT}  (stop everything with `vsc down`)")


@app.command()
def down(home: HomeOpt = SETTINGS.home) -> None:
    """Stop every process `vsc up` started (Temporal history is kept in .vsc/temporal.db)."""
    for service in reversed(devstack.services(home)):
        stopped = devstack.stop(home, service.name)
        console.print(f"{'stopped' if stopped else 'not running'} {service.name}")


@app.command()
def status(home: HomeOpt = SETTINGS.home) -> None:
    """Show which stack processes are running."""
    table = Table("service", "pid", "port", "state")
    for service in devstack.services(home):
        pid = devstack.running_pid(home, service.name)
        port = "" if service.port is None else str(service.port)
        state = "running" if pid else "stopped"
        if pid and service.port is not None and not devstack.port_open(service.port):
            state = "starting"
        table.add_row(service.name, str(pid or ""), port, state)
    console.print(table)


@app.command()
def run(
    pattern: Annotated[str, typer.Argument(help=f"One of: {', '.join(WORKFLOW_BY_PATTERN)}")],
    params: Annotated[Path, typer.Option("--params", exists=True, readable=True, help="JSON workflow input")],
    tenant: Annotated[str, typer.Option(help="Tenant whose cloud queue runs the workflow")] = SETTINGS.tenant,
    address: Annotated[str, typer.Option(help="Temporal frontend")] = SETTINGS.temporal.address,
) -> None:
    """Start a pattern's workflow with the JSON in FILE and follow its progress."""
    if pattern not in WORKFLOW_BY_PATTERN:
        console.print(f"[red]error:[/] unknown pattern {pattern!r}; known: {', '.join(WORKFLOW_BY_PATTERN)}")
        raise typer.Exit(2)
    try:
        body: dict[str, Any] = json.loads(params.read_text())
    except json.JSONDecodeError as exc:
        console.print(f"[red]error:[/] {params} is not valid JSON: {exc}")
        raise typer.Exit(2) from None
    workflow_id = f"{pattern}-{uuid.uuid4().hex[:12]}"

    async def go() -> None:
        handle = await start_run(
            address=address,
            tenant=tenant,
            pattern=pattern,
            body=body,
            workflow_id=workflow_id,
            keyring=payload_keys(SETTINGS, home=SETTINGS.home),
        )
        console.print(f"started {workflow_id}: {ui_link(handle.id, handle.result_run_id)}")
        result = await follow_run(handle, console=console, pattern=pattern)
        print_results(console, result, link=ui_link(handle.id, handle.result_run_id))

    try:
        asyncio.run(go())
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def demo(
    home: HomeOpt = SETTINGS.home,
    scale: Annotated[float, typer.Option(help="1.0 is about 100k order lines")] = 1.0,
) -> None:
    """Load the van-sales ERP into the 'on-premise' databases and run every pattern on it."""
    prepare_demo(home=home, scale=scale, console=console)
    summary: list[SummaryLine] = []
    keyring = payload_keys(SETTINGS, home=home)
    ok = asyncio.run(run_demo_flows(console=console, keyring=keyring, summary=summary, home=home))
    key = load_key(home)
    if key is None:
        console.print(f"[red]error:[/] no CLI key in {home / KEY_FILE}; run `vsc up` first")
        raise typer.Exit(1)
    with ConsoleClient(base_url=SETTINGS.api_url, key=key) as client:
        ok = run_console_flow(client, console=console, api_url=SETTINGS.api_url, summary=summary) and ok
    print_summary(console, summary)
    console.print(
        f"Console API: {SETTINGS.api_url}/docs; try `.venv/bin/vsc executions list`, `vsc audit verify`"
    )
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    app()
