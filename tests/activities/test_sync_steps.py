"""The sync activities through ActivityEnvironment: idempotent sinks (R8), resume, integrity audit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.bookkeeping import Bookkeeping
from activities.buffer import BufferStore, DirectoryBackend
from activities.connections import ConnectionRegistry
from activities.crypto import LocalKeyring
from activities.metadata import AuditWriter, make_engine, migrate, provision_tenant
from activities.sync_steps import SyncSteps
from infra.demo.load import create_and_load
from workflows import contracts as c
from workflows.queues import agent_queue, cloud_queue

TENANT = "acme"


@pytest.fixture
def setup(tmp_path: Path, pg_database: Callable[[str], str]):
    src, dst = pg_database("src"), pg_database("dst")
    create_and_load(src, scale=0.01)
    registry = ConnectionRegistry.from_list(
        [
            {"name": "src", "kind": "postgresql", "url": src},
            {"name": "dst", "kind": "postgresql", "url": dst, "write": True},
        ]
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate(engine, tenant=None)
    provision_tenant(engine, tenant_id=TENANT, name=TENANT)
    book = Bookkeeping(engine=engine)
    buffer = BufferStore(
        backend=DirectoryBackend(tmp_path / "buffer"),
        keyring=LocalKeyring(tmp_path / "keys", b"k" * 32),
        on_integrity_failure=book.integrity_hook,
    )
    steps = SyncSteps(connections=lambda: registry, buffer=buffer)
    return steps, engine, tmp_path


def activity_env(queue: str, *, heartbeat: object | None = None) -> tuple[ActivityEnvironment, list]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, task_queue=queue, heartbeat_details=[heartbeat] if heartbeat is not None else []
    )
    beats: list = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    return env, beats


def copy_input(**read: object) -> c.CopyTableInput:
    return c.CopyTableInput(
        tenant=TENANT,
        read=c.TableRead(connection="src", table="order_lines", **read),
        destination_connection="dst",
        destination_table="order_lines",
        limits=c.BatchLimits(batch_rows=100),
    )


def fingerprint(steps: SyncSteps, connection: str, queue: str) -> object:
    env, _ = activity_env(queue)
    inp = c.FingerprintInput(tenant=TENANT, connection=connection, table="order_lines")
    return env.run(steps.fingerprint_table, inp).fingerprint


def test_copy_table_twice_writes_nothing_the_second_time(setup) -> None:
    steps, _, _ = setup
    queue = agent_queue(TENANT, "edge-1")
    env, beats = activity_env(queue)
    first = env.run(steps.copy_table, copy_input())
    after_first = fingerprint(steps, "dst", queue)
    env, _ = activity_env(queue)
    second = env.run(steps.copy_table, copy_input())
    assert first.done and second.done
    assert first.rows_written == first.rows_read > 0
    assert second.rows_read == first.rows_read and second.rows_written == 0
    assert fingerprint(steps, "dst", queue) == after_first == fingerprint(steps, "src", queue)
    # One heartbeat per committed batch, carrying the position to resume from.
    assert len(beats) == first.batches and beats[-1].after == first.after


def test_copy_table_resumes_after_the_heartbeated_position(setup) -> None:
    steps, _, _ = setup
    queue = agent_queue(TENANT, "edge-1")
    env, beats = activity_env(queue)
    full = env.run(steps.copy_table, copy_input())
    third = beats[2]
    env, _ = activity_env(queue, heartbeat=third.model_dump(mode="json"))
    resumed = env.run(steps.copy_table, copy_input())
    # The retry continues from the third batch's key: it reads only the rest, counting on from there.
    assert resumed.rows_read == full.rows_read
    assert resumed.batches == full.batches
    assert resumed.rows_written == third.rows_written  # everything after the heartbeat was already there


def test_load_from_buffer_twice_writes_nothing_the_second_time(setup) -> None:
    steps, _, _ = setup
    env, _ = activity_env(agent_queue(TENANT, "edge-1"))
    extracted = env.run(
        steps.extract_to_buffer,
        c.ExtractToBufferInput(
            tenant=TENANT,
            run_id="run-1",
            read=c.TableRead(connection="src", table="order_lines"),
            limits=c.BatchLimits(batch_rows=250),
        ),
    )
    assert extracted.progress.done and len(extracted.buffer.chunks) > 1
    load = c.LoadFromBufferInput(
        tenant=TENANT, buffer=extracted.buffer, destination_connection="dst", destination_table="order_lines"
    )
    env, _ = activity_env(cloud_queue(TENANT))
    first = env.run(steps.load_from_buffer, load)
    env, _ = activity_env(cloud_queue(TENANT))
    second = env.run(steps.load_from_buffer, load)
    assert first.rows_written == first.rows_read == extracted.progress.rows_read
    assert second.rows_read == first.rows_read and second.rows_written == 0
    env, _ = activity_env(cloud_queue(TENANT))
    assert env.run(steps.purge_buffer, c.PurgeBufferInput(tenant=TENANT, run_id="run-1")) == len(
        extracted.buffer.chunks
    )


def test_tampered_chunk_fails_non_retryable_and_is_audited(setup) -> None:
    steps, engine, tmp_path = setup
    env, _ = activity_env(agent_queue(TENANT, "edge-1"))
    extracted = env.run(
        steps.extract_to_buffer,
        c.ExtractToBufferInput(
            tenant=TENANT, run_id="run-2", read=c.TableRead(connection="src", table="customers")
        ),
    )
    path = tmp_path / "buffer" / extracted.buffer.chunks[0].key
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    env, _ = activity_env(cloud_queue(TENANT))
    with pytest.raises(ApplicationError) as info:
        env.run(
            steps.load_from_buffer,
            c.LoadFromBufferInput(
                tenant=TENANT,
                buffer=extracted.buffer,
                destination_connection="dst",
                destination_table="customers",
            ),
        )
    assert info.value.type == "BufferIntegrityError" and info.value.non_retryable
    events = AuditWriter(engine).query(TENANT)
    assert [(e.action, e.outcome) for e in events] == [("buffer.integrity_failure", "refused")]
    assert AuditWriter(engine).verify(TENANT).ok


def test_activity_refuses_another_tenants_work(setup) -> None:
    steps, _, _ = setup
    env, _ = activity_env(agent_queue("other", "edge-1"))
    with pytest.raises(ApplicationError) as info:
        env.run(steps.copy_table, copy_input())
    assert info.value.type == "InvalidInputError" and "acme" in info.value.message


def test_read_only_profile_whose_user_can_write_is_flagged_once(setup, caplog) -> None:
    steps, _, _ = setup
    queue = agent_queue(TENANT, "edge-1")
    with caplog.at_level("WARNING", logger="activities.sync_steps"):
        for _ in range(2):
            env, _ = activity_env(queue)
            env.run(steps.copy_table, copy_input())
    warnings = [r.getMessage() for r in caplog.records if "configured read-only" in r.getMessage()]
    assert len(warnings) == 1 and "'src'" in warnings[0] and "postgres" in warnings[0]
