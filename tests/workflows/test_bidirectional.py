"""Pattern 3.4.3 end to end: an agent-local and a cloud PostgreSQL table edited on both sides.

Every policy's expected final table is computed here, independently of the sync, and both
databases must hold exactly it (count and content hash); a further run with no edits must
write nothing on either side (0 echoes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.metadata import list_conflicts, make_engine, resolve_conflict, tenant_session
from tests.console_api.served import run_vsc
from tests.workflows.harness import Tenant, record_history, running
from workflows.bidi_types import BidiResult
from workflows.queues import cloud_queue

ROWS = 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
LEFT_ONLY = range(1, 151)
RIGHT_ONLY = range(151, 301)
LEFT_NEWER = range(301, 351)
RIGHT_NEWER = range(351, 391)
TIES = range(391, 401)
CONFLICTS = range(301, 401)
SAME_EDIT = range(401, 411)

Row = tuple[int, str, int, datetime]
Table = dict[int, Row]


def initial() -> Table:
    return {i: (i, f"item-{i}", i % 17, T0 + timedelta(seconds=i)) for i in range(1, ROWS + 1)}


def edits() -> tuple[Table, Table]:
    """The rows each side's users change after the first sync (everything else stays as it was)."""
    left: Table = {}
    right: Table = {}
    for i in LEFT_ONLY:
        left[i] = (i, f"left-{i}", 100 + i, T1 + timedelta(seconds=i))
    for i in RIGHT_ONLY:
        right[i] = (i, f"right-{i}", 200 + i, T1 + timedelta(seconds=i))
    for i in CONFLICTS:
        lt = rt = T1 + timedelta(hours=2, seconds=i)
        if i in LEFT_NEWER:
            lt += timedelta(minutes=5)
        elif i in RIGHT_NEWER:
            rt += timedelta(minutes=5)
        left[i] = (i, f"left-conflict-{i}", 1, lt)
        right[i] = (i, f"right-conflict-{i}", 2, rt)
    for i in SAME_EDIT:
        left[i] = right[i] = (i, f"both-{i}", 7, T1 + timedelta(hours=3))
    return left, right


def expected(policy: str) -> tuple[Table, Table]:
    """Both sides' final tables under ``policy`` (priority right for source_priority)."""
    base, (left, right) = initial(), edits()
    out_left, out_right = dict(base), dict(base)
    for i in set(left) | set(right):
        if i in CONFLICTS:
            if policy == "manual":
                out_left[i], out_right[i] = left[i], right[i]
                continue
            if policy == "source_priority":
                winner = right[i]
            else:  # last_writer_wins: newer updated_at, ties to the left
                winner = right[i] if right[i][3] > left[i][3] else left[i]
            out_left[i] = out_right[i] = winner
        else:
            out_left[i] = out_right[i] = left.get(i) or right[i]
    return out_left, out_right


def content_hash(rows: Any) -> tuple[int, str]:
    text = "\n".join(f"{i}|{n}|{q}|{t.astimezone(UTC).isoformat()}" for i, n, q, t in sorted(rows))
    return len(rows), hashlib.sha256(text.encode()).hexdigest()


def state_of(url: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        return content_hash(conn.execute("SELECT id, name, qty, updated_at FROM items").fetchall())


def write(url: str, rows: Table, *, create: bool = False) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if create:
            conn.execute(
                "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, "
                "updated_at timestamptz NOT NULL)"
            )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO items VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "name = excluded.name, qty = excluded.qty, updated_at = excluded.updated_at",
                list(rows.values()),
            )


def setup(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> tuple[Tenant, str, str]:
    local, cloud = pg_database("bidi_local"), pg_database("bidi_cloud")
    write(local, initial(), create=True)
    write(cloud, initial(), create=True)
    tenant = Tenant(client=env.client, home=tmp_path)
    tenant.agent_connections = [{"name": "shop", "kind": "postgresql", "url": local, "write": True}]
    tenant.cloud_connections = [
        {"name": "crm", "kind": "postgresql", "url": cloud, "location": "cloud", "write": True}
    ]
    return tenant, local, cloud


def body(tenant: Tenant, policy: str, **extra: Any) -> dict[str, Any]:
    return {
        "agent": tenant.agent,
        "pipeline": "items",
        "left": {"connection": "shop", "table": "items", "location": "local"},
        "right": {"connection": "crm", "table": "items", "location": "cloud"},
        "change_column": "updated_at",
        "policy": policy,
        "limits": {"batch_rows": 300},
        **extra,
    }


async def sync(tenant: Tenant, spec: dict[str, Any], scenario: str | None = None) -> BidiResult:
    handle = await tenant.client.start_workflow(
        "BidirectionalSync",
        spec,
        id=f"bidi-{scenario or 'run'}-{tenant.name}-{datetime.now(UTC).timestamp()}",
        task_queue=cloud_queue(tenant.name),
        result_type=BidiResult,
    )
    try:
        result: BidiResult = await handle.result()
    finally:
        if scenario:
            await record_history(handle, "BidirectionalSync", scenario)
    return result


def assert_no_echo(result: BidiResult) -> None:
    assert (result.left.changed, result.right.changed) == (0, 0)
    assert (result.left.rows_written, result.right.rows_written) == (0, 0)
    assert result.conflicts == 0


@pytest.mark.parametrize(
    ("policy", "extra"), [("last_writer_wins", {}), ("source_priority", {"priority": "right"})]
)
async def test_concurrent_edits_converge_to_the_policy_result_with_no_echoes(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str], policy: str, extra: dict
) -> None:
    tenant, local, cloud = setup(env, tmp_path, pg_database)
    spec = body(tenant, policy, **extra)
    async with running(tenant):
        first = await sync(tenant, spec)
        # The first run finds both tables equal: every row agreed, nothing written.
        assert (first.left.changed, first.right.changed) == (ROWS, ROWS)
        assert (first.left.rows_written, first.right.rows_written, first.conflicts) == (0, 0, 0)
        left_edits, right_edits = edits()
        write(local, left_edits)
        write(cloud, right_edits)
        second = await sync(tenant, spec, scenario=policy)
        third = await sync(tenant, spec)
    want_left, want_right = expected(policy)
    assert want_left == want_right
    assert state_of(local) == content_hash(want_left.values())
    assert state_of(cloud) == content_hash(want_right.values())
    touched = len(LEFT_ONLY) + len(CONFLICTS) + len(SAME_EDIT)
    assert (second.left.changed, second.right.changed) == (touched, touched)
    assert second.conflicts == len(CONFLICTS) and second.parked == 0
    right_wins = len(RIGHT_NEWER) if policy == "last_writer_wins" else len(CONFLICTS)
    assert second.left.rows_written == len(RIGHT_ONLY) + right_wins
    assert second.right.rows_written == len(LEFT_ONLY) + len(CONFLICTS) - right_wins
    assert_no_echo(third)
    assert state_of(local) == state_of(cloud)


async def test_manual_policy_parks_exactly_the_conflicts_until_a_person_resolves_them(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant, local, cloud = setup(env, tmp_path, pg_database)
    spec = body(tenant, "manual")
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    async with running(tenant):
        await sync(tenant, spec)
        left_edits, right_edits = edits()
        write(local, left_edits)
        write(cloud, right_edits)
        parked = await sync(tenant, spec, scenario="manual_parked")
        want_left, want_right = expected("manual")
        assert state_of(local) == content_hash(want_left.values())
        assert state_of(cloud) == content_hash(want_right.values())
        assert parked.conflicts == parked.parked == len(CONFLICTS)
        with tenant_session(engine, tenant.name) as session:
            rows = list_conflicts(session, pipeline="items", limit=1000)
            assert sorted(int(r.row_key.strip("[]")) for r in rows) == list(CONFLICTS)
            by_key = {int(r.row_key.strip("[]")): r.id for r in rows}
        assert_no_echo(await sync(tenant, spec))  # parked keys are held, nothing else moved

        picks = {i: "left" for i in range(301, 321)} | {i: "right" for i in range(321, 341)}
        with tenant_session(engine, tenant.name) as session:
            for i, side in picks.items():
                resolve_conflict(session, conflict_id=by_key[i], winner=side, by="test")
        resolved = await sync(tenant, spec, scenario="manual_resolved")
        again = await sync(tenant, spec)
    assert resolved.resolved == len(picks)
    assert resolved.right.rows_written == 20 and resolved.left.rows_written == 20
    for i, side in picks.items():
        want_left[i] = want_right[i] = (left_edits if side == "left" else right_edits)[i]
    assert state_of(local) == content_hash(want_left.values())
    assert state_of(cloud) == content_hash(want_right.values())
    assert_no_echo(again)
    assert again.resolved == 0
    with tenant_session(engine, tenant.name) as session:
        still_open = list_conflicts(session, pipeline="items", limit=1000)
        applied = list_conflicts(session, pipeline="items", status="applied", limit=1000)
    assert len(still_open) == len(CONFLICTS) - len(picks) and len(applied) == len(picks)
    engine.dispose()


async def test_a_side_without_write_grant_fails_before_anything_is_written(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant, local, cloud = setup(env, tmp_path, pg_database)
    tenant.cloud_connections[0]["write"] = False
    write(local, edits()[0])
    before = state_of(cloud)
    async with running(tenant):
        with pytest.raises(WorkflowFailureError) as info:
            await sync(tenant, body(tenant, "last_writer_wins"), scenario="write_not_granted")
    cause = info.value.cause.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "WriteNotGrantedError" and cause.non_retryable and "'crm'" in cause.message
    assert state_of(cloud) == before


async def test_vsc_run_starts_a_round_and_prints_both_sides(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant, local, cloud = setup(env, tmp_path, pg_database)
    write(local, edits()[0])
    params = tmp_path / "params.json"
    params.write_text(json.dumps(body(tenant, "last_writer_wins")))
    address = env.client.service_client.config.target_host
    async with running(tenant):
        code, out, err = await run_vsc(
            "run", "3.4.3", "--params", str(params), "--tenant", tenant.name, "--address", address,
            home=tmp_path / "cli", env={"VSC_PAYLOAD_ENCRYPTION": "false"},
        )  # fmt: skip
    assert code == 0, out + err
    # No agreed baseline yet: every row the two tables hold differently is a conflict, and the
    # left's newer edits win all 260 of them.
    assert "conflicts 260, parked 0, held 0" in out and "/workflows/3.4.3-" in out
    assert re.search(r"right\s*│\s*1,000\s*│\s*1,000\s*│\s*260", out), out
    assert state_of(local) == state_of(cloud)


def notes(url: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


async def test_tables_without_a_change_column_sync_by_trigger_with_no_echoes(
    env: WorkflowEnvironment, tmp_path: Path, pg_database: Callable[[str], str]
) -> None:
    tenant, local, cloud = setup(env, tmp_path, pg_database)
    rows = [(i, f"note-{i}") for i in range(1, 51)]
    for url in (local, cloud):
        notes(url, "CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL)")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.cursor().executemany("INSERT INTO notes VALUES (%s, %s)", rows)
    spec = body(tenant, "source_priority", priority="right", change_column=None)
    spec["left"]["table"] = spec["right"]["table"] = "notes"

    def state(url: str) -> list[tuple[Any, ...]]:
        return notes(url, "SELECT id, body FROM notes ORDER BY id")

    async with running(tenant):
        first = await sync(tenant, spec)
        assert (first.left.changed, first.right.changed, first.left.rows_written) == (50, 50, 0)
        notes(local, "UPDATE notes SET body = 'left-' || id WHERE id <= 10 OR id = 21")
        notes(cloud, "UPDATE notes SET body = 'right-' || id WHERE id BETWEEN 11 AND 21")
        notes(cloud, "INSERT INTO notes VALUES (51, 'new-on-right')")
        second = await sync(tenant, spec, scenario="trigger_detection")
        third = await sync(tenant, spec)
    want = dict(rows) | {i: f"left-{i}" for i in range(1, 11)} | {i: f"right-{i}" for i in range(11, 22)}
    want[51] = "new-on-right"
    assert state(local) == state(cloud) == sorted(want.items())
    assert (second.left.changed, second.right.changed, second.conflicts) == (11, 12, 1)
    assert (second.left.rows_written, second.right.rows_written) == (12, 10)
    assert_no_echo(third)
    # The sync's own writes were not logged: each log holds exactly its users' edits.
    log = "SELECT id FROM _vsc_bidi_items_{}_log ORDER BY id"
    assert [r[0] for r in notes(local, log.format("left"))] == [*range(1, 11), 21]
    assert [r[0] for r in notes(cloud, log.format("right"))] == [*range(11, 22), 51]
