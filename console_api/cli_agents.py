"""``vsc gateway`` and ``vsc agents``: run the agent gateway; enroll, list and revoke agents through the API.

The enrollment token is printed once and never stored in clear (only its sha256 is kept).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer

from activities.errors import VscError
from console_api.cli_common import SETTINGS, JsonOpt, api, console, emit
from console_api.gateway import GatewaySettings, serve

agents_app = typer.Typer(
    help="Enroll, list and revoke your tenant's on-premise agents.", no_args_is_help=True
)

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
    agent: AgentOpt,
    ttl: Annotated[
        str, typer.Option("--ttl", help="How long the token is valid: 90s, 30m, 1h (1d at most).")
    ] = "1h",
    group: Annotated[
        str | None,
        typer.Option("--group", help="Agent group the agent joins (it serves the group's queue)."),
    ] = None,
) -> None:
    """Print a one-time enrollment token for an agent of your tenant (shown once; only its hash is stored)."""
    minutes = max(1, math.ceil(parse_ttl(ttl).total_seconds() / 60))
    with api() as client:
        made = client.post(
            "/agents/enrollment-tokens", {"agent_id": agent, "ttl_minutes": minutes, "group_id": group}
        )
    typer.echo(made["token"])
    member = f" in group {group!r}" if group else ""
    typer.echo(
        f"one-time token for agent {agent!r}{member}, valid {ttl} (until {made['expires_at']}); "
        "on the agent run:\n"
        f"  vsc-agent enroll --gateway wss://<gateway> --agent-id {agent} --token <the token above>",
        err=True,
    )


@agents_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Your tenant's enrolled agents with their presence: state, group, last heartbeat, version, host."""
    with api() as client:
        page = client.get("/agents")
    if as_json or page["data"]:
        emit(
            page,
            columns=(
                "agent_id",
                "group",
                "status",
                "online",
                "last_heartbeat",
                "version",
                "host",
                "revoked_at",
            ),
            as_json=as_json,
        )
        return
    console.print("no enrolled agents")


@agents_app.command()
def revoke(agent: AgentOpt) -> None:
    """Revoke an agent: gateways refuse its reconnects and close its live sessions within seconds."""
    with api() as client:
        rows = [a for a in client.get("/agents")["data"] if a["agent_id"] == agent]
        if not rows:
            console.print(f"[red]error:[/] your tenant has no enrolled agent {agent!r}")
            raise typer.Exit(1)
        client.post(f"/agents/{rows[0]['id']}/revoke")
    console.print(
        f"revoked agent {agent!r}; gateways close its sessions within their "
        "presence interval (VSC_GATEWAY_PRESENCE_INTERVAL, 5 s by default)"
    )
