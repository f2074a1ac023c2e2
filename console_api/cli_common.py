"""What every API-backed ``vsc`` command shares: the client, error handling and output.

The API URL and key come from ``VSC_API_URL`` / ``VSC_API_KEY``, else from the key
``vsc login`` (or ``vsc up``, for the demo tenant) saved under ``VSC_HOME``.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from console_api.client import ConsoleApiError, ConsoleClient, load_key
from console_api.settings import ConsoleSettings

console = Console(width=None if sys.stdout.isatty() else 160)
SETTINGS = ConsoleSettings()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
LocationOpt = Annotated[str, typer.Option(help="local (reached by an agent) or cloud")]
AgentForOpt = Annotated[
    str | None, typer.Option("--agent", help="Local: the agent (or group) that reaches it")
]
CredentialOpt = Annotated[str | None, typer.Option(help="Local: the credential name in the agent's vault")]
ConfigOpt = Annotated[list[str] | None, typer.Option(help="key=value of the config, repeatable (no secrets)")]
SecretOpt = Annotated[list[str] | None, typer.Option(help="Cloud: a secret field's NAME; asked for, hidden")]
WriteOpt = Annotated[bool, typer.Option(help="Grant write (destinations)")]


def _key(home: Path) -> str:
    if SETTINGS.api_key is not None:
        return SETTINGS.api_key.get_secret_value()
    saved = load_key(home)
    if saved is None:
        console.print(
            "[red]error:[/] no API key: run `vsc login --key <key>` or set VSC_API_KEY "
            "(`vsc up` saves the demo tenant's admin key for you)"
        )
        raise typer.Exit(2)
    return saved


@contextmanager
def api(home: Path | None = None, *, timeout: float = 30.0) -> Iterator[ConsoleClient]:
    """A client of the console API; an API error ends the command with its detail and exit code 1.

    ``timeout`` is per request: longer for requests that build an SDK (``vsc api add``).
    """
    with ConsoleClient(base_url=SETTINGS.api_url, key=_key(home or SETTINGS.home), timeout=timeout) as client:
        try:
            yield client
        except ConsoleApiError as exc:
            console.print(f"[red]error:[/] {exc.message}")
            raise typer.Exit(1) from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def emit(data: Any, *, columns: Sequence[str], as_json: bool, title: str | None = None) -> None:
    """Print a response: a list page (``{"data": [...]}``) or one object, as a table or as JSON."""
    if as_json:
        console.print_json(json.dumps(data))
        return
    rows = data["data"] if isinstance(data, dict) and isinstance(data.get("data"), list) else [data]
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)


def read_json_file(path: Path) -> Any:
    """The JSON in ``path``; invalid JSON ends the command with the parser's position (exit 2)."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        console.print(f"[red]error:[/] {path} is not valid JSON: {exc}")
        raise typer.Exit(2) from None


def parse_pairs(pairs: Sequence[str], *, option: str) -> dict[str, Any]:
    """``key=value`` options as a dict; integers and true/false become JSON numbers and booleans."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint=option)
        value: Any = raw
        if raw.lstrip("-").isdigit():
            value = int(raw)
        elif raw in ("true", "false"):
            value = raw == "true"
        out[key] = value
    return out


def show(path: str, *, columns: Sequence[str], as_json: bool, **params: Any) -> None:
    """GET ``path`` (with query ``params``) and print it: what every list and show command does."""
    with api() as client:
        emit(client.get(path, **params), columns=columns, as_json=as_json)


def connection_body(
    *,
    name: str,
    location: str,
    write: bool,
    agent: str | None,
    credential: str | None,
    config: Sequence[str] | None,
    secret: Sequence[str] | None,
) -> dict[str, Any]:
    """The body of a new connection (``POST /connections`` or a marketplace install).

    Secret values are asked for without echo, one per named field, and go only into the body.
    """
    body: dict[str, Any] = {"name": name, "location": location, "write": write}
    if agent is not None:
        body["agent"] = agent
    if credential is not None:
        body["credential_name"] = credential
    if config:
        body["config"] = parse_pairs(config, option="--config")
    if secret:
        body["secret"] = {field: getpass.getpass(f"{field}: ") for field in secret}
    return body
