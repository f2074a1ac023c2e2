"""``vsc conflicts``: the keys bidirectional syncs (3.4.3, manual policy) parked for a person.

Each command is one request to the console API; resolving records the winning side, and the
pipeline's next run writes that side's row to the other side.
"""

from __future__ import annotations

from typing import Annotated

import typer

from console_api.cli_common import JsonOpt, api, console, emit, show

conflicts_app = typer.Typer(help="Conflicts parked by bidirectional syncs.", no_args_is_help=True)

COLUMNS = ("id", "pipeline", "row_key", "left_version", "right_version", "status", "winner")
StatusOpt = Annotated[str, typer.Option(help="open, resolved, applied or all")]


@conflicts_app.command("list")
def conflicts_list(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline's conflicts")] = None,
    status: StatusOpt = "open",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Conflicts, oldest first (open ones unless --status says otherwise)."""
    show("/conflicts", columns=COLUMNS, as_json=as_json, pipeline=pipeline, status=status, limit=limit)


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: Annotated[str, typer.Argument(help="The id `vsc conflicts list` shows")],
    winner: Annotated[str, typer.Option(help="left or right: the side whose row wins")],
    as_json: JsonOpt = False,
) -> None:
    """Pick the winning side; the pipeline's next run applies it to the other side."""
    with api() as client:
        row = client.post(f"/conflicts/{conflict_id}/resolve", {"winner": winner})
    if as_json:
        emit(row, columns=COLUMNS, as_json=True)
        return
    console.print(
        f"conflict {row['id']} ({row['pipeline']} {row['row_key']}) resolved for {row['winner']}; "
        "the next run of the pipeline applies it"
    )
