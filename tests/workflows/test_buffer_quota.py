"""Over its buffer quota a run fails at once with QuotaExceededError and loads nothing of the extract.

Both writers are covered: the cloud worker extracting (3.3.2) and an agent extracting through the
gateway (3.3.1). The free tier's quota is lowered so that the second chunk of a run is one too many.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.tiers import TIERS
from mini_connector.worker import build_worker, connect
from tests.console_api.gateway.conftest import NOWHERE, GatewayRig
from tests.console_api.gateway.test_buffer_through_gateway import brig, cloud_buffer, files_under
from tests.workflows.harness import Tenant, running

__all__ = ["brig"]

ROWS, BATCH = 30, 10
QUOTA = 50_000
"""One chunk of 10 rows of 4000 random base64 characters is 30-41 kB sealed: the first fits, two do not."""


@pytest.fixture(autouse=True)
def small_free_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TIERS, "free", TIERS["free"].model_copy(update={"buffer_bytes": QUOTA}))


def make_notes(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        rows = [(i, base64.b64encode(os.urandom(3000)).decode()) for i in range(ROWS)]
        db.executemany("INSERT INTO notes VALUES (?, ?)", rows)


def sync_body(tenant: Tenant, source: str, destination: str) -> dict:
    return {
        "agent": tenant.agent,
        "source_connection": source,
        "destination_connection": destination,
        "tables": [{"source_table": "notes"}],
        "limits": {"batch_rows": BATCH},
    }


def assert_quota_failure(failure: WorkflowFailureError) -> None:
    cause = failure.cause.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "QuotaExceededError" and cause.non_retryable
    assert f"would exceed its buffer quota of {QUOTA} bytes" in cause.message


def loaded_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchone()
        return 0 if found is None else int(db.execute("SELECT count(*) FROM notes").fetchone()[0])


async def test_cloud_extract_over_buffer_quota_fails_terminally_loads_nothing(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    tenant = Tenant(client=env.client, home=tmp_path)
    make_notes(tmp_path / "cloud.db")
    tenant.cloud_connections = [
        {
            "name": "cloud_erp",
            "kind": "sqlite",
            "url": f"sqlite:///{tmp_path / 'cloud.db'}",
            "location": "cloud",
        }
    ]
    tenant.agent_connections = [
        {"name": "local_dw", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'dw.db'}", "write": True}
    ]
    async with running(tenant):
        handle = await tenant.start("CloudToLocalSync", sync_body(tenant, "cloud_erp", "local_dw"))
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    assert_quota_failure(failed.value)
    assert loaded_rows(tmp_path / "dw.db") == 0
    assert files_under(tenant.buffer_config().directory / tenant.name) == []  # the partial extract is gone
    attempts = [
        e.activity_task_started_event_attributes.attempt
        async for e in handle.fetch_history_events()
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts == [1]  # not retried


async def test_agent_extract_through_gateway_over_buffer_quota_fails_terminally_loads_nothing(
    env: WorkflowEnvironment, tmp_path: Path, brig: GatewayRig
) -> None:
    tenant = Tenant(client=env.client, home=tmp_path, buffer=cloud_buffer(tmp_path / "cloud"))
    make_notes(tmp_path / "erp.db")
    tenant.agent_connections = [{"name": "erp", "kind": "sqlite", "url": f"sqlite:///{tmp_path / 'erp.db'}"}]
    tenant.cloud_connections = [
        {
            "name": "cloud",
            "kind": "sqlite",
            "url": f"sqlite:///{tmp_path / 'cloud-dw.db'}",
            "location": "cloud",
            "write": True,
        }
    ]
    settings = tenant.agent_settings().model_copy(
        update={
            "temporal": NOWHERE,
            "gateway_url": brig.gateway.url,
            "buffer": cloud_buffer(tmp_path / "agent"),
        }
    )
    signer = brig.enroll(tenant.name, tenant.agent)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with running(tenant, agent=False), connect(settings, signer=signer) as client:
            async with build_worker(client, settings, executor):
                handle = await tenant.start(
                    "LocalToCloudSync", sync_body(tenant, "erp", "cloud"), wid=f"q-{uuid.uuid4().hex[:8]}"
                )
                with pytest.raises(WorkflowFailureError) as failed:
                    await handle.result()
    assert_quota_failure(failed.value)
    assert loaded_rows(tmp_path / "cloud-dw.db") == 0
    assert files_under(tmp_path / "cloud" / "buffer" / tenant.name) == []
