"""`vsc conflicts list|resolve` as a user runs it: a separate process against the API over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from activities.metadata import park_conflicts, tenant_session
from tests.console_api.api.conftest import MakeApi
from tests.console_api.served import run_vsc, serve


async def test_cli_lists_and_resolves_parked_conflicts(make_api: MakeApi, tmp_path: Path) -> None:
    api = await make_api()
    with tenant_session(api.engine, api.admin.tenant) as session:
        park_conflicts(
            session,
            pipeline="items",
            left_table="items",
            right_table="items",
            workflow_id="bidi-1",
            conflicts=[("[7]", "2026-01-02T00:00:00+00:00", "2026-01-02T00:05:00+00:00"), ("[8]", "3", "4")],
        )
    home = tmp_path / "cli"
    with serve(api.app) as url:

        async def run(*args: str) -> tuple[int, str]:
            code, out, err = await run_vsc(*args, home=home, url=url, key=api.admin.key)
            return code, out + err

        code, out = await run("conflicts", "list", "--json")
        listed = json.loads(out)["data"]
        assert code == 0 and [c["row_key"] for c in listed] == ["[7]", "[8]"]
        code, out = await run("conflicts", "list", "--pipeline", "items")
        assert code == 0 and listed[0]["id"] in out and "open" in out
        code, out = await run("conflicts", "resolve", listed[0]["id"], "--winner", "left")
        assert code == 0 and f"conflict {listed[0]['id']} (items [7]) resolved for left" in out, out
        code, out = await run("conflicts", "resolve", "no-such-id", "--winner", "left")
        assert code == 1 and "404" in out
        code, out = await run("conflicts", "list", "--status", "all", "--json")
        shown = {c["row_key"]: (c["status"], c["winner"]) for c in json.loads(out)["data"]}
        assert code == 0 and shown == {"[7]": ("resolved", "left"), "[8]": ("open", None)}
