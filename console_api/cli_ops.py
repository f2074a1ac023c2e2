"""``vsc`` commands for operating a tenant: marketplace, schedules, control flags, webhooks.

Like :mod:`console_api.cli_api`, each command is one or two requests to the console API.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from console_api.cli_api import resolve_definition
from console_api.cli_common import (
    AgentForOpt,
    ConfigOpt,
    CredentialOpt,
    JsonOpt,
    LocationOpt,
    SecretOpt,
    WriteOpt,
    api,
    connection_body,
    console,
    emit,
    show,
)

marketplace_app = typer.Typer(help="Connector kinds you can install as connections.", no_args_is_help=True)
schedules_app = typer.Typer(help="Periodic runs of a definition (Temporal Schedules).", no_args_is_help=True)
controls_app = typer.Typer(help="Emergency operations: pause, resume, stop everything.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Inbound webhooks that start or signal runs.", no_args_is_help=True)

SCHEDULE_COLUMNS = ("id", "name", "schedule_id", "interval_seconds", "cron", "overlap", "definition_id")
WEBHOOK_COLUMNS = ("id", "name", "definition_id", "url", "workflow_id", "created_at", "revoked_at")
NoteOpt = Annotated[str | None, typer.Option(help="Why (shown in Temporal's schedule state)")]


def _schedule_id(client: Any, ref: str) -> str:
    """A schedule row id from an id or a schedule name."""
    rows = client.get("/schedules")["data"]
    return next((r["id"] for r in rows if r["name"] == ref), ref)


# -- marketplace -------------------------------------------------------------------------------


@marketplace_app.command("list")
def marketplace_list(as_json: JsonOpt = False) -> None:
    """Every connector kind, where it can run and whether it can be installed now."""
    show(
        "/marketplace",
        columns=("kind", "title", "category", "accessibility", "installable", "unavailable"),
        as_json=as_json,
    )


@marketplace_app.command("show")
def marketplace_show(kind: Annotated[str, typer.Argument()]) -> None:
    """One kind with the JSON schema of its config and secrets."""
    with api() as client:
        emit(client.get(f"/marketplace/{kind}"), columns=(), as_json=True)


@marketplace_app.command("install")
def marketplace_install(
    kind: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="Name of the new connection")],
    location: LocationOpt,
    agent: AgentForOpt = None,
    credential: CredentialOpt = None,
    config: ConfigOpt = None,
    secret: SecretOpt = None,
    write: WriteOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Install KIND as a connection of your tenant; secrets are prompted for and never shown again."""
    body = connection_body(
        name=name,
        location=location,
        write=write,
        agent=agent,
        credential=credential,
        config=config,
        secret=secret,
    )
    with api() as client:
        emit(
            client.post(f"/marketplace/{kind}/install", body),
            columns=("id", "name", "kind", "location", "agent", "has_secret", "write"),
            as_json=as_json,
        )


# -- schedules ---------------------------------------------------------------------------------


@schedules_app.command("create")
def schedules_create(
    name: Annotated[str, typer.Argument()],
    definition: Annotated[str, typer.Option(help="Definition id, or name (its newest version)")],
    every: Annotated[int | None, typer.Option(help="Interval in seconds (at least 60)")] = None,
    cron: Annotated[str | None, typer.Option(help="Five-field cron expression, e.g. '0 * * * *'")] = None,
    jitter: Annotated[int, typer.Option(help="Start up to this many seconds late, at random")] = 0,
    overlap: Annotated[str, typer.Option(help="skip, buffer_one, buffer_all, cancel_other, ...")] = "skip",
    paused: Annotated[bool, typer.Option(help="Create it paused")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a definition periodically."""
    with api() as client:
        body = {
            "name": name,
            "definition_id": resolve_definition(client, definition),
            "interval_seconds": every,
            "cron": cron,
            "jitter_seconds": jitter,
            "overlap": overlap,
            "paused": paused,
        }
        emit(
            client.post("/schedules", {k: v for k, v in body.items() if v is not None}),
            columns=SCHEDULE_COLUMNS,
            as_json=as_json,
        )


@schedules_app.command("list")
def schedules_list(as_json: JsonOpt = False) -> None:
    """Your tenant's schedules."""
    show("/schedules", columns=SCHEDULE_COLUMNS, as_json=as_json)


@schedules_app.command("show")
def schedules_show(
    schedule: Annotated[str, typer.Argument(help="Id or name")], as_json: JsonOpt = False
) -> None:
    """One schedule with Temporal's state: paused, next runs, recent runs."""
    with api() as client:
        found = client.get(f"/schedules/{_schedule_id(client, schedule)}")
    emit(found, columns=(*SCHEDULE_COLUMNS, "state"), as_json=as_json)


def _schedule_action(schedule: str, action: str, body: dict[str, Any] | None) -> dict[str, Any]:
    with api() as client:
        result: dict[str, Any] = client.post(f"/schedules/{_schedule_id(client, schedule)}/{action}", body)
    return result


@schedules_app.command("pause")
def schedules_pause(
    schedule: Annotated[str, typer.Argument(help="Id or name")], note: NoteOpt = None
) -> None:
    """Stop a schedule from starting runs."""
    _schedule_action(schedule, "pause", {"note": note})
    console.print(f"schedule {schedule} paused")


@schedules_app.command("unpause")
def schedules_unpause(
    schedule: Annotated[str, typer.Argument(help="Id or name")], note: NoteOpt = None
) -> None:
    """Let a paused schedule start runs again."""
    _schedule_action(schedule, "unpause", {"note": note})
    console.print(f"schedule {schedule} unpaused")


@schedules_app.command("trigger")
def schedules_trigger(schedule: Annotated[str, typer.Argument(help="Id or name")]) -> None:
    """Start a run now (under the schedule's overlap policy)."""
    _schedule_action(schedule, "trigger", None)
    console.print(f"schedule {schedule} triggered")


@schedules_app.command("delete")
def schedules_delete(schedule: Annotated[str, typer.Argument(help="Id or name")]) -> None:
    """Delete a schedule (runs it started are not affected)."""
    with api() as client:
        client.request("DELETE", f"/schedules/{_schedule_id(client, schedule)}")
    console.print(f"schedule {schedule} deleted")


# -- control flags -----------------------------------------------------------------------------

ScopeArg = Annotated[str, typer.Argument(help="tenant, connection or agent")]
TargetArg = Annotated[str | None, typer.Argument(help="The connection name or agent id (not for tenant)")]
ReasonOpt = Annotated[str | None, typer.Option(help="Why; kept in the audit trail")]


def _flip(action: str, scope: str, name: str | None, reason: str | None) -> None:
    with api() as client:
        changed = client.post(f"/controls/{action}", {"scope": scope, "name": name, "reason": reason})
    what = scope if name is None else f"{scope} {name!r}"
    state = "paused" if changed["paused"] else "running"
    console.print(f"{what} {state}; {changed['signalled']} running run(s) signalled")


@controls_app.command("status")
def controls_status(as_json: JsonOpt = False) -> None:
    """Pauses in force."""
    with api() as client:
        page = client.get("/controls")
    if page["data"] or as_json:
        emit(page, columns=("scope", "name", "reason", "updated_at"), as_json=as_json)
    else:
        console.print("nothing is paused")


@controls_app.command("pause")
def controls_pause(scope: ScopeArg, name: TargetArg = None, reason: ReasonOpt = None) -> None:
    """Pause the tenant, a connection or an agent: running runs stop within seconds and wait."""
    _flip("pause", scope, name, reason)


@controls_app.command("resume")
def controls_resume(scope: ScopeArg, name: TargetArg = None, reason: ReasonOpt = None) -> None:
    """Lift a pause: waiting runs carry on where they stopped."""
    _flip("resume", scope, name, reason)


@controls_app.command("emergency-stop")
def controls_emergency_stop(
    reason: Annotated[str, typer.Option(help="Why; kept in the audit trail")],
    grace: Annotated[
        float, typer.Option(help="Seconds runs get to cancel before they are terminated")
    ] = 10.0,
) -> None:
    """Pause the tenant and end every one of its running executions."""
    with api() as client:
        stopped = client.post("/controls/emergency-stop", {"reason": reason, "grace_seconds": grace})
    cancelled, terminated = len(stopped["cancelled"]), len(stopped["terminated"])
    console.print(f"tenant paused; {cancelled} run(s) cancelled, {terminated} terminated")


# -- webhooks ----------------------------------------------------------------------------------


@webhooks_app.command("create")
def webhooks_create(
    name: Annotated[str, typer.Argument()],
    definition: Annotated[str, typer.Option(help="Definition id, or name (its newest version)")],
) -> None:
    """A hook that starts (or signals) runs of a definition; its signing key is printed once."""
    with api() as client:
        made = client.post(
            "/webhooks", {"name": name, "definition_id": resolve_definition(client, definition)}
        )
    console.print(f"webhook {made['id']}: POST {made['url']} (runs as {made['workflow_id']})")
    console.print("signing key (shown once; sign '<timestamp>.<delivery id>.<body>' with HMAC-SHA256):")
    console.print(made["secret"], soft_wrap=True)


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOpt = False) -> None:
    """Your tenant's hooks (never their keys)."""
    show("/webhooks", columns=WEBHOOK_COLUMNS, as_json=as_json)


@webhooks_app.command("rotate")
def webhooks_rotate(webhook_id: Annotated[str, typer.Argument()]) -> None:
    """Give a hook a new signing key (printed once); the old one stops working."""
    with api() as client:
        made = client.post(f"/webhooks/{webhook_id}/rotate-secret")
    console.print(f"webhook {webhook_id}: new signing key (shown once):")
    console.print(made["secret"], soft_wrap=True)


@webhooks_app.command("revoke")
def webhooks_revoke(webhook_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a hook: its deliveries are refused from now on."""
    with api() as client:
        client.request("DELETE", f"/webhooks/{webhook_id}")
    console.print(f"webhook {webhook_id} revoked")
