"""The systems under test that run without Temporal: two baselines and our two data paths.

Each takes a :class:`Target` whose destination table already exists (same DDL for every
system, from ``pg_dump -s``) and moves every row of the source table into it. Ours call exactly
what the activities call (``BatchStream``, ``SqlConnector.load``, ``BufferStore``), minus the
Temporal activity context, so the difference to the orchestrated run is the orchestration.
"""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql as pgsql
from temporalio.testing import ActivityEnvironment

from activities.buffer import BufferStore, DirectoryBackend
from activities.connections import ConnectionProfile, ConnectionRegistry
from activities.crypto import LocalKeyring
from activities.sql import SqlConnector, open_connector
from activities.sync_steps import BatchStream, SyncSteps
from bench import procs
from workflows import contracts as c
from workflows.queues import agent_queue

BATCH_ROWS = 50_000
BENCH_TENANT = "bench"


@dataclass(frozen=True, kw_only=True)
class Target:
    """One run's job: copy ``table`` from ``src_url`` into the (empty, existing) table at ``dst_url``."""

    src_url: str
    dst_url: str
    table: str
    workdir: Path


@dataclass(frozen=True, kw_only=True)
class System:
    """A named way of moving a table; ``run`` returns when every row is committed.

    ``figures``, called after the timed run, returns extra figures for its record (the Temporal
    variant's history size). ``own_ddl`` systems create their destination table themselves (in
    ``dest_schema``), so the benchmark does not pre-create it; ``in_process`` ones run inside
    this process, whose peak RSS is then theirs; ``helper_pids`` names long-lived processes
    (a Temporal dev server) whose CPU counts as the system's.
    """

    name: str
    label: str
    run: Callable[[Target], Awaitable[None]]
    in_process: bool = True
    own_ddl: bool = False
    dest_schema: str = "public"
    helper_pids: Callable[[], list[int]] | None = None
    figures: Callable[[], Awaitable[dict[str, float]]] | None = None


def raw_binary_pipe(target: Target) -> None:
    """``psql \\copy ... to stdout (binary) | psql \\copy ... from stdin (binary)``: the physical limit."""
    out = f"\\copy {target.table} to stdout with (format binary)"
    into = f"\\copy {target.table} from stdin with (format binary)"
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    reader = procs.spawn([*psql, target.src_url, "-c", out], stdout=subprocess.PIPE, logdir=target.workdir)
    assert reader.stdout is not None
    writer = procs.spawn([*psql, target.dst_url, "-c", into], stdin=reader.stdout, logdir=target.workdir)
    reader.stdout.close()
    wrote, read = procs.reap(writer), procs.reap(reader)
    if read.returncode != 0 or wrote.returncode != 0:
        detail = (read.stderr + wrote.stderr).decode(errors="replace").strip()
        raise RuntimeError(f"raw binary pipe of table {target.table!r} failed: {detail}")


def psycopg_passthrough(target: Target) -> None:
    """psycopg 3 moving binary COPY bytes without decoding them: Python's best case."""
    out = pgsql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(pgsql.Identifier(target.table))
    into = pgsql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(pgsql.Identifier(target.table))
    with psycopg.connect(target.src_url) as src, psycopg.connect(target.dst_url) as dst:
        with src.cursor().copy(out) as reader, dst.cursor().copy(into) as writer:
            for chunk in reader:
                writer.write(chunk)


def _profiles(target: Target) -> tuple[ConnectionProfile, ConnectionProfile]:
    kind = "mysql" if target.src_url.startswith("mysql") else "postgresql"  # the MariaDB source
    return (
        ConnectionProfile(name="bench_src", kind=kind, url=target.src_url),
        ConnectionProfile(name="bench_dst", kind="postgresql", url=target.dst_url, write=True),
    )


def _slices(source: SqlConnector, *, table: str) -> BatchStream:
    """A fresh read positioned at the start; callers loop slices until ``progress.done``."""
    schema = source.table_schema(table)
    return BatchStream(
        source=source,
        schema=schema,
        read=c.TableRead(connection=source.profile.name, table=table),
        limits=c.BatchLimits(batch_rows=BATCH_ROWS),
        progress=c.StepProgress(),
    )


def _resumed(stream: BatchStream) -> BatchStream:
    # The workflow calls the activity again from the returned position once a slice hits
    # max_rows/max_seconds; the benchmark does the same so large tables are read completely.
    read = stream.read.model_copy(update={"after": stream.progress.after})
    return BatchStream(
        source=stream.source, schema=stream.schema, read=read, limits=stream.limits, progress=stream.progress
    )


def pattern_311(target: Target) -> None:
    """Pattern 3.1.1 in-process: the real ``copy_table`` activity, called until its table is done."""
    registry = ConnectionRegistry(_profiles(target))
    steps = SyncSteps(connections=lambda: registry, buffer=None)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, task_queue=agent_queue(BENCH_TENANT, "bench"))
    progress = c.StepProgress()
    while not progress.done:
        progress = env.run(
            steps.copy_table,
            c.CopyTableInput(
                tenant=BENCH_TENANT,
                read=c.TableRead(connection="bench_src", table=target.table, after=progress.after),
                destination_connection="bench_dst",
                destination_table=target.table,
                limits=c.BatchLimits(batch_rows=50_000),
            ),
        )


def pattern_331(target: Target) -> None:
    """Pattern 3.3.1 in-process: extract to encrypted buffer chunks, then verify, decrypt and upsert them."""
    store = BufferStore(
        backend=DirectoryBackend(target.workdir / "buffer"),
        keyring=LocalKeyring(target.workdir / "keys", secrets.token_bytes(32)),
    )
    run_id = uuid.uuid4().hex
    src_profile, dst_profile = _profiles(target)
    with open_connector(src_profile) as src:
        stream = _slices(src, table=target.table)
        writer = store.open_writer(tenant=BENCH_TENANT, run_id=run_id, table_schema=stream.schema)
        while True:
            for batch in stream:
                writer.write(batch)
            if stream.progress.done:
                break
            stream = _resumed(stream)
        ref = writer.finish()
    schema = ref.table_schema
    with open_connector(dst_profile) as dst:
        dst.ensure_table(schema, table=target.table)
        for chunk in ref.chunks:
            table = store.read_chunk(ref, chunk, tenant=BENCH_TENANT)
            for batch in table.to_batches():
                dst.load(schema=schema, batch=batch, key=schema.primary_key, table=target.table)
    store.purge_run(tenant=BENCH_TENANT, run_id=run_id)
