"""``vsc gateway`` and ``vsc agents``: run the agent gateway, enroll, list and revoke agents.

The enrollment token is printed once and never stored in clear (only its sha256 is kept).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from activities.errors import VscError
from activities.metadata import make_engine, migrate
from console_api.gateway import GatewaySettings, issue_enrollment_token, revoke_agent, serve
from console_api.presence import list_agents
from console_api.settings import ConsoleSettings
from workflows.queues import QueueNameError

agents_app = typer.Typer(help="Enroll, list and revoke on-premise agents.", no_args_is_help=True)
console = Console(width=200)
SETTINGS = ConsoleSettings()

MetadataOpt = Annotated[
    str,
    typer.Option("--metadata-url", help="Metadata store (VSC_METADATA_URL; default: <home>/metadata.db)."),
]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant of the agent.")]
AgentOpt = Annotated[str, typer.Option("--agent", help="Agent (connector) id.")]

_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(value: str) -> timedelta:
    """``90s``, ``30m``, ``1h`` or ``2d`` as a timedelta.

    Raises:
        typer.BadParameter: Any other form, or zero.
    """
    match = _TTL.match(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(f"{value!r} is not a duration like 90s, 30m, 1h or 2d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@contextmanager
def _store(metadata_url: str) -> Iterator[Engine]:
    engine = make_engine(metadata_url)
    try:
        with _errors():
            migrate(engine, tenant=None)
            yield engine
    finally:
        engine.dispose()


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except VscError as exc:
        console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None


def gateway(
    host: Annotated[str | None, typer.Option("--host", help="Listen address (VSC_GATEWAY_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Listen port (VSC_GATEWAY_PORT).")] = None,
    metadata_url: Annotated[
        str | None,
        typer.Option("--metadata-url", help="Default: VSC_GATEWAY_METADATA_URL, else VSC_METADATA_URL."),
    ] = None,
) -> None:
    """Run the agent gateway in the foreground until interrupted (settings: VSC_GATEWAY_*)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    overrides: dict[str, object] = {
        "metadata_url": metadata_url or os.environ.get("VSC_GATEWAY_METADATA_URL") or SETTINGS.metadata_url
    }
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    with _errors():
        settings = GatewaySettings(**overrides)  # type: ignore[arg-type]
        try:
            asyncio.run(serve(settings))
        except KeyboardInterrupt:
            pass


@agents_app.command()
def token(
    tenant: TenantOpt,
    agent: AgentOpt,
    ttl: Annotated[str, typer.Option("--ttl", help="How long the token is valid: 90s, 30m, 1h, 2d.")] = "1h",
    group: Annotated[
        str | None,
        typer.Option("--group", help="Agent group the agent joins (it serves the group's queue)."),
    ] = None,
    metadata_url: MetadataOpt = SETTINGS.metadata_url,
) -> None:
    """Print a one-time enrollment token for AGENT (shown once; only its hash is stored)."""
    lifetime = parse_ttl(ttl)
    with _store(metadata_url) as engine, _errors():
        try:
            value = issue_enrollment_token(
                engine, tenant_id=tenant, agent_id=agent, ttl=lifetime, group_id=group
            )
        except QueueNameError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
    typer.echo(value)
    member = f" in group {group!r}" if group else ""
    typer.echo(
        f"one-time token for agent {agent!r}{member} of tenant {tenant!r}, valid {ttl}; on the agent run:\n"
        f"  vsc-agent enroll --gateway wss://<gateway> --agent-id {agent} --token <the token above>",
        err=True,
    )


@agents_app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's agents.")] = None,
    metadata_url: MetadataOpt = SETTINGS.metadata_url,
) -> None:
    """Enrolled agents with their presence: state, last heartbeat, version, host, endpoints."""
    with _store(metadata_url) as engine:
        agents = list_agents(engine, tenant=tenant)
    if not agents:
        console.print("no enrolled agents")
        return
    table = Table("tenant", "agent", "group", "state", "last heartbeat (UTC)", "version", "host", "endpoints")
    for a in agents:
        colour = {"online": "green", "revoked": "red"}.get(a.state, "yellow")
        seen = a.last_heartbeat.strftime("%Y-%m-%d %H:%M:%S") if a.last_heartbeat else "never"
        table.add_row(
            a.tenant,
            a.agent_id,
            a.group,
            f"[{colour}]{a.state}[/]",
            seen,
            a.version,
            a.host,
            ", ".join(a.endpoints),
        )
    console.print(table)


@agents_app.command()
def revoke(tenant: TenantOpt, agent: AgentOpt, metadata_url: MetadataOpt = SETTINGS.metadata_url) -> None:
    """Revoke AGENT: gateways refuse its reconnects and close its live sessions within seconds."""
    with _store(metadata_url) as engine:
        existed = revoke_agent(engine, tenant_id=tenant, agent_id=agent)
    if not existed:
        console.print(f"[red]error:[/] tenant {tenant!r} has no enrolled agent {agent!r}")
        raise typer.Exit(1)
    console.print(
        f"revoked agent {agent!r} of tenant {tenant!r}; gateways close its sessions within their "
        "presence interval (VSC_GATEWAY_PRESENCE_INTERVAL, 5 s by default)"
    )
