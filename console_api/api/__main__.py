"""``python -m console_api.api``: serve the API (default); ``bootstrap --tenant T``: a first admin key."""

from __future__ import annotations

from typing import Annotated

import typer

from activities.metadata import make_engine
from console_api.api.bootstrap import bootstrap_tenant
from console_api.api.context import load_pepper
from console_api.api.settings import ApiSettings

cli = typer.Typer(add_completion=False, no_args_is_help=False)


@cli.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """Serve the console API on VSC_API_HOST:VSC_API_PORT (127.0.0.1:8000) unless a command is given."""
    if ctx.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    from console_api.api.app import create_app

    settings = ApiSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


@cli.command()
def bootstrap(
    tenant: Annotated[str, typer.Option(help="tenant id to provision")],
    name: Annotated[str | None, typer.Option(help="display name (defaults to the id)")] = None,
) -> None:
    """Provision a tenant and print a new admin API key (shown once; store it now)."""
    settings = ApiSettings()
    engine = make_engine(settings.metadata_url)
    result = bootstrap_tenant(engine, tenant_id=tenant, name=name or tenant, pepper=load_pepper(settings))
    typer.echo(f"tenant {result.tenant}: admin key {result.key_id}")
    typer.echo(result.key)


if __name__ == "__main__":
    cli()
