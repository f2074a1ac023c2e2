"""``vsc`` commands on the console API: login, tenant, keys, connections, definitions, executions, audit.

Each command is one or two API requests (see :mod:`console_api.client`); tenancy, roles and
validation are the API's, so the CLI answers exactly what the API answers.
"""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from console_api.cli_common import (
    SETTINGS,
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
    read_json_file,
    show,
)
from console_api.client import ConsoleApiError, ConsoleClient, save_key

keys_app = typer.Typer(help="API keys of your tenant (admin).", no_args_is_help=True)
connections_app = typer.Typer(help="Named sources and destinations.", no_args_is_help=True)
definitions_app = typer.Typer(help="Versioned workflow definitions.", no_args_is_help=True)
executions_app = typer.Typer(help="Runs of workflow definitions.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)

KEY_COLUMNS = ("id", "name", "role", "prefix", "created_at", "expires_at", "revoked_at")
CONNECTION_COLUMNS = ("id", "name", "kind", "location", "agent", "credential_name", "has_secret", "write")
DEFINITION_COLUMNS = ("id", "name", "version", "pattern", "content_hash", "created_at")
EXECUTION_COLUMNS = ("workflow_id", "workflow_type", "status", "definition_id", "started_at", "closed_at")
_TERMINAL = {"COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT"}


def login(
    key: Annotated[str | None, typer.Option(help="API key; asked for (hidden) when left out.")] = None,
    home: Annotated[Path, typer.Option(help="Where the key is saved (VSC_HOME).")] = SETTINGS.home,
) -> None:
    """Check an API key against the API and save it for later commands (file mode 0600)."""
    key = key or getpass.getpass("API key: ")
    with ConsoleClient(base_url=SETTINGS.api_url, key=key) as client:
        try:
            tenant = client.get("/tenants/me")
        except ConsoleApiError as exc:
            console.print(f"[red]error:[/] {exc.message}")
            raise typer.Exit(1) from None
    path = save_key(home, key)
    console.print(f"logged in to tenant {tenant['id']!r} at {SETTINGS.api_url}; key saved to {path}")


def tenant(as_json: JsonOpt = False) -> None:
    """Show your tenant: tier, pause state, cloud queue, quotas and usage."""
    show("/tenants/me", columns=("id", "tier", "paused", "cloud_queue", "quotas", "usage"), as_json=as_json)


# -- keys --------------------------------------------------------------------------------------


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Every key of the tenant (never its secret)."""
    show("/api-keys", columns=KEY_COLUMNS, as_json=as_json)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="What the key is for")],
    role: Annotated[str, typer.Option(help="admin, operator or viewer")] = "viewer",
    expires_in_days: Annotated[int | None, typer.Option(help="Expiry; none by default")] = None,
) -> None:
    """Create a key; its secret is printed this once."""
    with api() as client:
        made = client.post("/api-keys", {"name": name, "role": role, "expires_in_days": expires_in_days})
    console.print(f"key {made['id']} ({made['role']}); store it now, it is not shown again:")
    console.print(made["key"], soft_wrap=True)


@keys_app.command("rotate")
def keys_rotate(key_id: Annotated[str, typer.Argument(help="Key id")]) -> None:
    """Give a key a new secret; the old one stops working at once."""
    with api() as client:
        made = client.post(f"/api-keys/{key_id}/rotate")
    console.print(f"key {made['id']} rotated; the new secret (shown once):")
    console.print(made["key"], soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id")]) -> None:
    """Revoke a key (its row is kept for the record)."""
    with api() as client:
        client.request("DELETE", f"/api-keys/{key_id}")
    console.print(f"key {key_id} revoked")


# -- connections -------------------------------------------------------------------------------


@connections_app.command("list")
def connections_list(as_json: JsonOpt = False) -> None:
    """The tenant's connections (secrets are never shown)."""
    show("/connections", columns=CONNECTION_COLUMNS, as_json=as_json)


@connections_app.command("show")
def connections_show(connection_id: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """One connection."""
    show(f"/connections/{connection_id}", columns=(*CONNECTION_COLUMNS, "config"), as_json=as_json)


@connections_app.command("add")
def connections_add(
    name: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="postgresql, mysql, mariadb or sqlite")],
    location: LocationOpt,
    agent: AgentForOpt = None,
    credential: CredentialOpt = None,
    config: ConfigOpt = None,
    secret: SecretOpt = None,
    write: WriteOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a connection; cloud secrets are prompted for, sent once and never shown again."""
    body = connection_body(
        name=name,
        location=location,
        write=write,
        agent=agent,
        credential=credential,
        config=config,
        secret=secret,
    )
    body["kind"] = kind
    with api() as client:
        emit(client.post("/connections", body), columns=CONNECTION_COLUMNS, as_json=as_json)


@connections_app.command("remove")
def connections_remove(connection_id: Annotated[str, typer.Argument()]) -> None:
    """Delete a connection and its sealed secret."""
    with api() as client:
        client.request("DELETE", f"/connections/{connection_id}")
    console.print(f"connection {connection_id} removed")


# -- workflow definitions ----------------------------------------------------------------------


@definitions_app.command("save")
def definitions_save(
    name: Annotated[str, typer.Argument()],
    pattern: Annotated[str, typer.Option(help="3.1.1 .. 3.4.3 (docs/api.md)")],
    input_file: Annotated[Path, typer.Option("--input", exists=True, readable=True, help="JSON input")],
    as_json: JsonOpt = False,
) -> None:
    """Save a new version of definition NAME; prints the plan (which step runs where)."""
    body = {"name": name, "pattern": pattern, "input": read_json_file(input_file)}
    with api() as client:
        saved = client.post("/workflow-definitions", body)
    if as_json:
        emit(saved, columns=(), as_json=True)
        return
    console.print(
        f"saved {saved['name']} v{saved['version']} ({saved['id']}), hash {saved['content_hash'][:12]}"
    )
    for step in saved["plan"]["steps"]:
        console.print(f"  {step['kind']:<10} on {step['location']:<6} queue {step['queue']}")


@definitions_app.command("list")
def definitions_list(
    name: Annotated[str | None, typer.Option(help="Only this definition's versions")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Definition versions, newest first."""
    show("/workflow-definitions", name=name, columns=DEFINITION_COLUMNS, as_json=as_json)


@definitions_app.command("show")
def definitions_show(definition_id: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """One definition version with its input and plan."""
    show(
        f"/workflow-definitions/{definition_id}",
        columns=(*DEFINITION_COLUMNS, "input", "plan"),
        as_json=as_json,
    )


def resolve_definition(client: ConsoleClient, ref: str) -> str:
    """A definition id from an id, or from a name (its newest version)."""
    found = client.get("/workflow-definitions", name=ref, limit=1)["data"]
    return str(found[0]["id"]) if found else ref


# -- executions --------------------------------------------------------------------------------


def follow_execution(client: ConsoleClient, workflow_id: str, *, poll_seconds: float = 1.0) -> dict[str, Any]:
    """Poll a run until it closes, printing each status change; returns the last description."""
    last = ""
    while True:
        run: dict[str, Any] = client.get(f"/executions/{workflow_id}")
        if run["status"] != last:
            console.print(f"{workflow_id}: {run['status']}")
            last = run["status"]
        if run["status"] in _TERMINAL:
            return run
        time.sleep(poll_seconds)


@executions_app.command("start")
def executions_start(
    definition: Annotated[str, typer.Argument(help="Definition id, or name (its newest version)")],
    table: Annotated[list[str] | None, typer.Option(help="Only this source table (repeatable)")] = None,
    batch_rows: Annotated[int | None, typer.Option(help="Rows per step")] = None,
    verify: Annotated[
        bool | None, typer.Option("--verify/--no-verify", help="Fingerprint both sides")
    ] = None,
    follow: Annotated[bool, typer.Option(help="Wait for the run to close")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a run of a definition on your tenant's cloud queue, with optional run parameters."""
    params: dict[str, Any] = {}
    if table:
        params["tables"] = table
    if batch_rows is not None:
        params["limits"] = {"batch_rows": batch_rows}
    if verify is not None:
        params["verify"] = verify
    with api() as client:
        body: dict[str, Any] = {"definition_id": resolve_definition(client, definition)}
        if params:
            body["params"] = params
        run = client.post("/executions", body)
        emit(run, columns=(*EXECUTION_COLUMNS, "ui_url"), as_json=as_json)
        if follow:
            closed = follow_execution(client, run["workflow_id"])
            if closed["status"] != "COMPLETED":
                raise typer.Exit(1)


@executions_app.command("list")
def executions_list(
    limit: Annotated[int, typer.Option(help="At most this many")] = 50, as_json: JsonOpt = False
) -> None:
    """Your tenant's runs, newest first (from Temporal visibility)."""
    show("/executions", limit=limit, columns=EXECUTION_COLUMNS, as_json=as_json)


@executions_app.command("show")
def executions_show(workflow_id: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """One run: status, progress and its Temporal Web UI link."""
    show(f"/executions/{workflow_id}", columns=(*EXECUTION_COLUMNS, "ui_url"), as_json=as_json)


@executions_app.command("cancel")
def executions_cancel(workflow_id: Annotated[str, typer.Argument()]) -> None:
    """Ask a run to cancel at its next activity boundary."""
    with api() as client:
        run = client.post(f"/executions/{workflow_id}/cancel")
    console.print(f"{workflow_id}: cancel requested ({run['status']})")


@executions_app.command("terminate")
def executions_terminate(
    workflow_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why; kept in the audit trail and the run's history")],
) -> None:
    """End a run at once (no cleanup in the workflow; loads already committed stay)."""
    with api() as client:
        run = client.post(f"/executions/{workflow_id}/terminate", {"reason": reason})
    console.print(f"{workflow_id}: {run['status']}")


@executions_app.command("signal")
def executions_signal(
    workflow_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument(help="pause, resume or event")],
    args: Annotated[str | None, typer.Option(help="The signal's argument as JSON")] = None,
) -> None:
    """Send one of the allowed signals to a running run."""
    body: dict[str, Any] = {"name": name}
    if args is not None:
        try:
            body["args"] = json.loads(args)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"not valid JSON: {exc}", param_hint="--args") from None
    with api() as client:
        client.post(f"/executions/{workflow_id}/signal", body)
    console.print(f"{workflow_id}: signalled {name}")


# -- audit -------------------------------------------------------------------------------------


@audit_app.command("events")
def audit_events(
    workflow_id: Annotated[str | None, typer.Option(help="Only this run's events")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time, exclusive")] = None,
    limit: Annotated[int, typer.Option(help="1..1000")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Audit events in sequence order."""
    with api() as client:
        page = client.get("/audit/events", workflow_id=workflow_id, since=since, until=until, limit=limit)
    emit(
        page,
        columns=("seq", "occurred_at", "workflow_id", "activity", "action", "target", "rows", "outcome"),
        as_json=as_json,
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk your tenant's hash chain; exit 1 if any event was altered, removed or reordered."""
    with api() as client:
        result = client.get("/audit/verify")
    if result["ok"]:
        console.print(f"audit trail intact: {result['count']} events, chain verified")
        return
    console.print(
        f"[red]audit trail ALTERED:[/] trust ends at seq {result['first_bad_seq']} of {result['count']}: "
        f"{result['reason']}"
    )
    raise typer.Exit(1)
