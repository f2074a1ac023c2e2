"""``vsc api``: register custom APIs from their OpenAPI documents, inspect, refresh and diff their versions.

Like every API-backed command, each is one request to the console API; the secret of an API is
read from an environment variable or asked for without echo, sent once and never shown again.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from console_api.cli_common import JsonOpt, api, console, emit

api_app = typer.Typer(help="Custom APIs (OpenAPI) and their generated SDK versions.", no_args_is_help=True)

API_COLUMNS = (
    "name",
    "base_url",
    "accessibility",
    "current_version",
    "latest_version",
    "operations_count",
    "refused_count",
    "has_secret",
)
VERSION_COLUMNS = ("version", "spec_sha256", "operations_count", "refused_count", "breaking", "current")
OPERATION_COLUMNS = ("op_id", "method", "path", "read_only", "writable", "summary")
BUILD_TIMEOUT_S = 600.0
"""Per request that may compile an SDK (tens of seconds on a busy machine)."""
HELD_EXIT = 3
"""Exit code of a refresh whose new version breaks callers and was not made current."""
_AUTH_KINDS = {
    "none": "none",
    "api_key": "api_key",
    "basic": "basic",
    "bearer": "bearer",
    "oauth2": "oauth2_client_credentials",
}

NameArg = Annotated[str, typer.Argument(help="The API's name in your tenant")]
SpecFileOpt = Annotated[
    Path | None,
    typer.Option("--spec", exists=True, readable=True, help="The OpenAPI document (JSON or YAML)"),
]


def _auth(
    kind: str,
    *,
    key_name: str,
    key_in: str,
    username: str | None,
    token_url: str | None,
    client_id: str | None,
    scopes: list[str] | None,
) -> dict[str, Any]:
    if kind not in _AUTH_KINDS:
        raise typer.BadParameter(f"one of {', '.join(_AUTH_KINDS)}", param_hint="--auth")
    auth: dict[str, Any] = {"kind": _AUTH_KINDS[kind]}
    if kind == "api_key":
        auth |= {"name": key_name, "location": key_in}
    elif kind == "basic":
        if not username:
            raise typer.BadParameter("basic auth needs --username", param_hint="--username")
        auth["username"] = username
    elif kind == "oauth2":
        if not token_url or not client_id:
            raise typer.BadParameter("oauth2 needs --token-url and --client-id", param_hint="--token-url")
        auth |= {"token_url": token_url, "client_id": client_id, "scopes": list(scopes or [])}
    return auth


def _secret(kind: str, secret_env: str | None, *, accessibility: str) -> str | None:
    """The API's secret: from ``secret_env``, else asked for (hidden).

    None for auth ``none``, and for a local API, whose secret is kept in the agent's vault and
    never sent to the console.
    """
    if kind == "none":
        return None
    if accessibility == "local":
        if secret_env is not None:
            console.print(
                "[red]error:[/] a local API's secret stays on premises: add it on the agent with "
                "`vsc-agent credentials add-api`, not --secret-env"
            )
            raise typer.Exit(2)
        return None
    if secret_env is not None:
        value = os.environ.get(secret_env)
        if not value:
            console.print(f"[red]error:[/] environment variable {secret_env} is not set")
            raise typer.Exit(2)
        return value
    return getpass.getpass(f"secret for {kind} auth: ")


@api_app.command("add")
def api_add(
    name: NameArg,
    base_url: Annotated[str, typer.Option(help="Where the API answers, e.g. https://api.example.com")],
    spec: SpecFileOpt = None,
    spec_url: Annotated[str | None, typer.Option(help="Fetch the document from this URL instead")] = None,
    auth: Annotated[str, typer.Option(help="none, api_key, basic, bearer or oauth2")] = "none",
    key_name: Annotated[str, typer.Option(help="api_key: header or query parameter name")] = "X-Api-Key",
    key_in: Annotated[str, typer.Option(help="api_key: header or query")] = "header",
    username: Annotated[str | None, typer.Option(help="basic: the user name")] = None,
    token_url: Annotated[str | None, typer.Option(help="oauth2: the token endpoint")] = None,
    client_id: Annotated[str | None, typer.Option(help="oauth2: the client id")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="oauth2: a scope, repeatable")] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(help="Read the secret from this environment variable (else asked for; not for local)"),
    ] = None,
    accessibility: Annotated[str, typer.Option(help="local, internet or both")] = "internet",
    agent: Annotated[
        str | None, typer.Option(help="local: the agent (or group) that reaches the API")
    ] = None,
    agent_credential: Annotated[
        str | None,
        typer.Option(help="local: the agent vault's name for the API's secret (default: the API's name)"),
    ] = None,
    writable: Annotated[
        list[str] | None, typer.Option(help="Grant write to this operation id, repeatable")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an API: its spec is validated, its SDK built and published as version 1."""
    if (spec is None) == (spec_url is None):
        raise typer.BadParameter("give exactly one of --spec and --spec-url", param_hint="--spec")
    body: dict[str, Any] = {
        "name": name,
        "base_url": base_url,
        "auth": _auth(
            auth,
            key_name=key_name,
            key_in=key_in,
            username=username,
            token_url=token_url,
            client_id=client_id,
            scopes=scope,
        ),
        "accessibility": accessibility,
        "writable_operations": list(writable or []),
    }
    if spec is not None:
        body["spec"] = spec.read_text()
    else:
        body["spec_url"] = spec_url
    if agent is not None:
        body["agent"] = agent
    if agent_credential is not None:
        body["agent_credential"] = agent_credential
    secret = _secret(auth, secret_env, accessibility=accessibility)
    if secret is not None:
        body["secret"] = secret
    with api(timeout=BUILD_TIMEOUT_S) as client:
        made = client.post("/apis", body)
    if as_json:
        emit(made, columns=(), as_json=True)
        return
    console.print(
        f"registered {made['name']} v{made['current_version']}: {made['operations_count']} operations, "
        f"{made['refused_count']} refused"
    )


@api_app.command("list")
def api_list(as_json: JsonOpt = False) -> None:
    """Your tenant's APIs (secrets are never shown)."""
    with api() as client:
        emit(client.get("/apis"), columns=API_COLUMNS, as_json=as_json)


@api_app.command("show")
def api_show(
    name: NameArg,
    version: Annotated[int | None, typer.Option(help="One version: operations and refusals")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One API with its versions and operations, or one version with its refused operations."""
    with api() as client:
        path = f"/apis/{name}" if version is None else f"/apis/{name}/versions/{version}"
        found = client.get(path)
    if as_json:
        emit(found, columns=(), as_json=True)
        return
    if version is None:
        emit(found, columns=API_COLUMNS, as_json=False)
        emit({"data": found["versions"]}, columns=VERSION_COLUMNS, as_json=False, title="versions")
    else:
        emit(found, columns=("api", *VERSION_COLUMNS, "title", "spec_version"), as_json=False)
        for refusal in found["refused"]:
            console.print(f"  refused {refusal['method']} {refusal['path']}: {refusal['reason']}")
    emit({"data": found["operations"]}, columns=OPERATION_COLUMNS, as_json=False, title="operations")


def print_diff(diff: dict[str, Any]) -> None:
    """The report, breaking changes first, then the definitions it affects."""
    verdict = "[red]BREAKING[/]" if diff["breaking"] else "not breaking"
    console.print(f"{diff['api']} v{diff['from_version']} -> v{diff['to_version']}: {verdict}")
    console.print(diff["report"], markup=False, highlight=False)
    users = diff["affected_definitions"]
    if not users:
        console.print("no saved workflow definition uses this API")
    for user in users:
        pinned = f"pins v{user['api_version']}" if user["api_version"] else "follows the current version"
        console.print(f"  affects definition {user['name']} v{user['version']} ({user['id']}): {pinned}")


@api_app.command("refresh")
def api_refresh(
    name: NameArg,
    spec: SpecFileOpt = None,
    accept_breaking: Annotated[bool, typer.Option(help="Make a breaking version current")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-read the spec (the file, or the registered URL); a held breaking version exits with code 3."""
    body: dict[str, Any] = {"accept_breaking": accept_breaking}
    if spec is not None:
        body["spec"] = spec.read_text()
    with api(timeout=BUILD_TIMEOUT_S) as client:
        result = client.post(f"/apis/{name}/refresh", body)
    if as_json:
        emit(result, columns=(), as_json=True)
    elif result["status"] == "unchanged":
        console.print(f"{name}: spec unchanged, still v{result['api']['current_version']}")
    else:
        console.print(f"{name}: v{result['version']} {result['status']}")
        if result["diff"] is not None:
            print_diff(result["diff"])
    if result["status"] == "held":
        console.print(
            f"[red]refused:[/] v{result['version']} breaks callers of v{result['api']['current_version']}; "
            "it is not current until `vsc api refresh --accept-breaking` (pinned definitions keep theirs)"
        )
        raise typer.Exit(HELD_EXIT)


@api_app.command("diff")
def api_diff(
    name: NameArg,
    from_version: Annotated[
        int | None, typer.Option("--from", help="Older version (default: current)")
    ] = None,
    to_version: Annotated[int | None, typer.Option("--to", help="Newer version (default: latest)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The changes between two versions, breaking first, and the workflow definitions they affect."""
    with api() as client:
        diff = client.get(f"/apis/{name}/diff", **{"from": from_version, "to": to_version})
    if as_json:
        emit(diff, columns=(), as_json=True)
        return
    print_diff(diff)


@api_app.command("remove")
def api_remove(name: NameArg) -> None:
    """Delete an API registration and its secret (refused while a definition uses it)."""
    with api() as client:
        client.request("DELETE", f"/apis/{name}")
    console.print(f"API {name} removed")
