"""`vsc` resource commands as a user runs them: a separate process talking to the API over HTTP."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from tests.console_api.api.conftest import MakeApi, come_online, enroll, new_tenant
from tests.console_api.api.test_executions import make_erp
from tests.console_api.served import run_vsc, serve
from tests.workflows.harness import Tenant, running

ROOT = Path(__file__).resolve().parents[2]


async def vsc(*args: str, home: Path, url: str, stdin: str = "", key: str | None = None) -> tuple[int, str]:
    code, out, err = await run_vsc(*args, home=home, url=url, stdin=stdin, key=key)
    return code, out + err


async def test_cli_flow_login_to_audit_verify(
    make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    name = new_tenant()
    address = env.client.service_client.config.target_host
    # The served app connects to Temporal itself, in its own thread's event loop.
    api = await make_api(tenant=name, temporal_address=address)
    tenant = Tenant(client=env.client, home=tmp_path, name=name)
    make_erp(tmp_path / "erp.db", rows=40)
    tenant.agent_connections = [
        {"name": "erp", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'erp.db'}"},
        {"name": "dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True},
    ]
    enroll(api.engine, name)
    come_online(api.engine, name)
    home = tmp_path / "cli"
    with serve(api.app) as url:

        async def run(*args: str, stdin: str = "") -> tuple[int, str]:
            return await vsc(*args, home=home, url=url, stdin=stdin)

        code, out = await run("tenant")
        assert code == 2 and "no API key" in out
        code, out = await run("login", "--key", api.other.key[:-2] + "xx")
        assert code == 1 and "401" in out and not (home / "api-key").exists()
        code, out = await run("login", "--key", api.admin.key)
        assert code == 0 and repr(name) in out, out
        assert stat.S_IMODE(os.stat(home / "api-key").st_mode) == 0o600

        code, out = await run("tenant", "--json")
        assert code == 0 and json.loads(out)["cloud_queue"] == f"vsc.{name}.cloud"
        for args in (
            (
                "connections",
                "add",
                "erp",
                "--kind",
                "sqlite",
                "--location",
                "local",
                "--agent",
                "edge-1",
                "--credential",
                "erp",
            ),
            (
                "connections",
                "add",
                "dw",
                "--kind",
                "sqlite",
                "--location",
                "local",
                "--agent",
                "edge-1",
                "--credential",
                "dw",
                "--write",
            ),
        ):
            code, out = await run(*args)
            assert code == 0, out
        code, out = await run(
            "connections",
            "add",
            "cloud_dw",
            "--kind",
            "postgresql",
            "--location",
            "cloud",
            "--config",
            "host=dw.example",
            "--config",
            "port=5432",
            "--secret",
            "password",
            "--write",
            stdin="canary-pw-1234\n",
        )
        assert code == 0, out
        code, out = await run("connections", "list", "--json")
        listed = json.loads(out)["data"]
        assert {c["name"] for c in listed} == {"erp", "dw", "cloud_dw"}
        assert "canary-pw-1234" not in out
        cloud = next(c for c in listed if c["name"] == "cloud_dw")
        assert cloud["has_secret"] is True and cloud["config"] == {"host": "dw.example", "port": 5432}

        code, out = await run("connections", "add", "bad", "--kind", "oracle", "--location", "cloud")
        assert code == 1 and "422" in out and "kind" in out

        (tmp_path / "orders.json").write_text(
            json.dumps(
                {
                    "agent": "edge-1",
                    "source_connection": "erp",
                    "destination_connection": "dw",
                    "tables": [{"source_table": "orders"}],
                }
            )
        )
        code, out = await run(
            "definitions", "save", "orders", "--pattern", "3.1.1", "--input", str(tmp_path / "orders.json")
        )
        assert code == 0 and "orders v1" in out and f"vsc.{name}.agent.edge-1" in out, out

        come_online(api.engine, name)  # fresh presence: the commands above can take longer than its window
        async with running(tenant):
            code, out = await run(
                "executions", "start", "orders", "--table", "orders", "--batch-rows", "15", "--follow"
            )
        assert code == 0 and "COMPLETED" in out, out
        code, out = await run("executions", "list", "--json")
        runs = json.loads(out)["data"]
        assert len(runs) == 1 and runs[0]["status"] == "COMPLETED"
        wid = runs[0]["workflow_id"]
        code, out = await run("audit", "events", "--workflow-id", wid, "--json")
        assert code == 0 and json.loads(out)["count"] > 0

        code, out = await run("audit", "verify")
        assert code == 0 and "intact" in out, out
        # An attacker with file access drops the append-only triggers and alters one row.
        with api.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER workflow_execution_events_no_update"))
            conn.execute(
                text("UPDATE workflow_execution_events SET rows = rows + 1 WHERE tenant_id = :t AND seq = 2"),
                {"t": name},
            )
        code, out = await run("audit", "verify")
        assert code == 1 and "ALTERED" in out and "seq 2" in out, out

        # The other tenant's chain is untouched, and its key sees none of these runs.
        code, out = await vsc("executions", "list", "--json", home=home, url=url, key=api.other.key)
        assert code == 0 and json.loads(out)["count"] == 0
        code, out = await vsc("audit", "verify", home=home, url=url, key=api.other.key)
        assert code == 0, out


@pytest.mark.parametrize("command", [("definitions", "show", "nope"), ("connections", "show", "nope")])
async def test_cli_not_found_is_a_clear_error(
    make_api: MakeApi, tmp_path: Path, command: tuple[str, ...]
) -> None:
    api = await make_api()
    with serve(api.app) as url:
        code, out = await vsc(*command, home=tmp_path, url=url, key=api.admin.key)
    assert code == 1 and "404" in out and "not found" in out, out


async def test_cli_api_down_is_a_clear_error(tmp_path: Path) -> None:
    code, out = await vsc("tenant", home=tmp_path, url="http://127.0.0.1:9", key="vsk.x.y.z")
    assert code == 1 and "did not answer" in out, out


async def test_cli_temporal_down_is_a_clear_error(make_api: MakeApi, tmp_path: Path) -> None:
    api = await make_api(temporal_address="127.0.0.1:9")
    with serve(api.app) as url:
        code, out = await vsc("executions", "list", home=tmp_path, url=url, key=api.admin.key)
    assert code == 1 and "503" in out and "workflow service is unavailable" in out, out


async def test_cli_operations_schedules_controls_webhooks_marketplace(
    make_api: MakeApi, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The operating commands, against the served API and a real Temporal server (no workers needed)."""
    api = await make_api(temporal_address=env.client.service_client.config.target_host)
    enroll(api.engine, api.admin.tenant)
    home = tmp_path / "cli"
    with serve(api.app) as url:

        async def run(*args: str) -> tuple[int, str]:
            return await vsc(*args, home=home, url=url, key=api.admin.key)

        code, out = await run("marketplace", "list", "--json")
        kinds = {k["kind"]: k for k in json.loads(out)["data"]}
        assert code == 0 and kinds["postgresql"]["installable"] is True
        for name, credential, extra in (("erp", "erp", ()), ("dw", "dw", ("--write",))):
            code, out = await run(
                "marketplace",
                "install",
                "sqlite",
                "--name",
                name,
                "--location",
                "local",
                "--agent",
                "edge-1",
                "--credential",
                credential,
                *extra,
            )
            assert code == 0, out
        code, out = await run("marketplace", "install", "rest-openapi", "--name", "x", "--location", "cloud")
        assert code == 1 and "422" in out, out

        (tmp_path / "orders.json").write_text(
            json.dumps(
                {
                    "agent": "edge-1",
                    "source_connection": "erp",
                    "destination_connection": "dw",
                    "tables": [{"source_table": "orders"}],
                }
            )
        )
        code, out = await run(
            "definitions", "save", "orders", "--pattern", "3.1.1", "--input", str(tmp_path / "orders.json")
        )
        assert code == 0, out

        code, out = await run(
            "schedules", "create", "hourly", "--definition", "orders", "--every", "3600", "--paused"
        )
        assert code == 0, out
        code, out = await run("schedules", "show", "hourly", "--json")
        shown = json.loads(out)
        assert shown["state"]["paused"] is True and shown["schedule_id"] == f"{api.admin.tenant}.hourly"
        code, out = await run("schedules", "create", "bad", "--definition", "orders", "--every", "5")
        assert code == 1 and "422" in out and "interval_seconds" in out, out
        assert (await run("schedules", "unpause", "hourly", "--note", "go"))[0] == 0
        code, out = await run("schedules", "show", "hourly", "--json")
        assert json.loads(out)["state"]["paused"] is False

        code, out = await run("controls", "pause", "connection", "erp", "--reason", "maintenance")
        assert code == 0 and "paused" in out, out
        code, out = await run("controls", "status", "--json")
        assert [(f["scope"], f["name"]) for f in json.loads(out)["data"]] == [("connection", "erp")]
        code, out = await run("controls", "pause", "connection", "nope")
        assert code == 1 and "404" in out
        assert (await run("controls", "resume", "connection", "erp"))[0] == 0
        code, out = await run("controls", "status")
        assert "nothing is paused" in out

        code, out = await run("webhooks", "create", "orders-hook", "--definition", "orders")
        assert code == 0 and "signing key" in out, out
        code, out = await run("webhooks", "list", "--json")
        [hook] = json.loads(out)["data"]
        assert (await run("webhooks", "revoke", hook["id"]))[0] == 0
        code, out = await run("webhooks", "list", "--json")
        assert json.loads(out)["data"][0]["revoked_at"] is not None

        code, out = await run("schedules", "delete", "hourly")
        assert code == 0, out
        code, out = await run("schedules", "list", "--json")
        assert json.loads(out)["count"] == 0
