"""`vsc api` as a user runs it: a separate process registering, refreshing and diffing an API over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from tests.console_api.api.conftest import MakeApi
from tests.console_api.api.openapi_docs import CANARY, V1, V2_YAML, V3_BREAKING
from tests.console_api.served import run_vsc, serve


async def test_cli_api_add_list_show_refresh_diff_remove(make_api: MakeApi, tmp_path: Path) -> None:
    api = await make_api()
    specs = {"v1.json": V1, "v2.yaml": V2_YAML, "v3.json": V3_BREAKING}
    for file, text in specs.items():
        (tmp_path / file).write_text(text)
    home = tmp_path / "cli"
    with serve(api.app) as url:

        async def run(*args: str, stdin: str = "") -> tuple[int, str]:
            code, out, err = await run_vsc(*args, home=home, url=url, key=api.admin.key, stdin=stdin)
            return code, out + err

        code, out = await run("api", "add", "orders", "--base-url", "https://orders.example.com")
        assert code == 2 and "exactly one of --spec and --spec-url" in out
        code, out = await run(
            "api",
            "add",
            "orders",
            "--base-url",
            "https://orders.example.com",
            "--spec",
            str(tmp_path / "v1.json"),
            "--auth",
            "api_key",
            "--key-name",
            "X-Api-Key",
            stdin=CANARY + "\n",
        )
        assert code == 0 and "registered orders v1: 3 operations, 0 refused" in out, out
        code, out = await run("api", "list")
        assert code == 0 and "orders" in out and CANARY not in out
        code, out = await run("api", "show", "orders", "--json")
        shown = json.loads(out)
        assert code == 0 and shown["has_secret"] is True and CANARY not in out
        assert {o["path"] for o in shown["operations"]} == {"/orders", "/orders/{order_id}"}
        code, out = await run("api", "show", "orders", "--version", "1")
        assert code == 0 and "/orders/{order_id}" in out

        code, out = await run("api", "refresh", "orders", "--spec", str(tmp_path / "v1.json"))
        assert code == 0 and "spec unchanged, still v1" in out, out
        code, out = await run("api", "refresh", "orders", "--spec", str(tmp_path / "v2.yaml"))
        assert code == 0 and "v2 published" in out and "not breaking" in out, out
        code, out = await run("api", "refresh", "orders", "--spec", str(tmp_path / "v3.json"))
        assert code == 3 and "v3 held" in out and "refused:" in out and "BREAKING" in out, out

        code, out = await run("api", "diff", "orders")
        assert code == 0 and "orders v2 -> v3: BREAKING" in out, out
        assert "no saved workflow definition uses this API" in out
        code, out = await run("api", "diff", "orders", "--from", "1", "--to", "2", "--json")
        assert code == 0 and json.loads(out)["breaking"] is False

        code, out = await run(
            "api", "refresh", "orders", "--spec", str(tmp_path / "v3.json"), "--accept-breaking"
        )
        assert code == 0 and "v3 accepted" in out, out
        code, out = await run("api", "remove", "orders")
        assert code == 0 and "API orders removed" in out
        code, out = await run("api", "show", "orders")
        assert code == 1 and "404" in out


async def test_cli_api_add_local_never_asks_for_or_sends_the_secret(
    make_api: MakeApi, tmp_path: Path
) -> None:
    api = await make_api()
    (tmp_path / "v1.json").write_text(V1)
    home = tmp_path / "cli"
    local = (
        "api",
        "add",
        "erp",
        "--base-url",
        "http://erp.internal:3000",
        "--spec",
        str(tmp_path / "v1.json"),
    )
    local += ("--auth", "api_key", "--accessibility", "local", "--agent", "edge-1")
    with serve(api.app) as url:
        code, out, err = await run_vsc(
            *local, "--secret-env", "ERP_KEY", home=home, url=url, key=api.admin.key, env={"ERP_KEY": CANARY}
        )
        assert code == 2 and "stays on premises" in out + err, out + err
        # No prompt (stdin is empty): registered without a secret, which the agent's vault holds.
        code, out, err = await run_vsc(*local, home=home, url=url, key=api.admin.key)
        assert code == 0 and "secret for" not in out + err and "registered erp v1" in out, out + err
        code, out, err = await run_vsc("api", "show", "erp", "--json", home=home, url=url, key=api.admin.key)
    shown = json.loads(out)
    assert shown["has_secret"] is False and shown["agent_credential"] == "erp", shown
