"""One DuckDB database per plan run: memory-capped, spilling to a private directory, locked down.

Rows enter chunk by chunk (each buffer chunk is decrypted, inserted and dropped before the
next is read) and leave in Arrow batches, so the process holds a chunk or a batch of rows plus
DuckDB's ``memory_limit``; past that limit DuckDB writes blocks (tables and operator state
alike) to ``temp_directory``. The database itself is DuckDB's in-memory kind: it spills the
same way as a database file would, without the WAL and fsync a file database pays on every
insert for durability this throwaway database does not need (loading was ~4x faster here).

Hardening, because the only SQL is the engine's own but defence in depth is cheap: external
access (files, URLs), extension autoloading and further configuration changes are switched
off before the first statement. Spilled blocks hold decrypted rows on the worker's disk, in a
0700 directory removed when the run ends, success or not; DuckDB's own encryption needs an
extension this deployment cannot install, so the worker's volume must be encrypted at rest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa

from activities.arrowtypes import arrow_schema
from activities.coercion import arrow_errors, cast
from activities.errors import TransformError
from activities.transform_engine._check import RowOp, SqlOp
from workflows.transform_plan import EngineLimits
from workflows.types import TableSchema

_CHUNK = "vsc_chunk"
_SAMPLE_SECONDS = 0.02
_LOCKDOWN = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET lock_configuration = true",
)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _dir_bytes(path: Path) -> int:
    try:
        return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
    except OSError:  # not created yet, or a spill file vanished mid-scan
        return 0


class ResourceSampler:
    """Samples process RSS and spill-directory size in a thread: DuckDB's peaks are inside one call.

    ``tick`` (if given) is called from the thread about every ``tick_seconds``, so an activity
    can heartbeat while one long DuckDB statement runs.
    """

    def __init__(
        self, spill_dir: Path, *, tick: Callable[[], None] | None = None, tick_seconds: float = 1.0
    ) -> None:
        self._spill_dir = spill_dir
        self._tick = tick
        self._tick_every = max(1, round(tick_seconds / _SAMPLE_SECONDS))
        self.start_rss = _rss_bytes()
        self.peak_rss = self.start_rss
        self.peak_spill = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="transform-sampler", daemon=True)

    def _run(self) -> None:
        samples = 0
        while True:
            self.sample()
            samples += 1
            if self._tick is not None and samples % self._tick_every == 0:
                self._tick()
            if self._stop.wait(_SAMPLE_SECONDS):
                return

    def sample(self) -> None:
        """Take one sample now (also called at every chunk boundary)."""
        self.peak_rss = max(self.peak_rss, _rss_bytes())
        self.peak_spill = max(self.peak_spill, _dir_bytes(self._spill_dir))

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


@contextmanager
def engine_errors(step: str) -> Iterator[None]:
    """Re-raise DuckDB failures (overflow, out of memory or disk) as a ``TransformError`` naming the step."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        raise TransformError(
            f"step {step!r} ran out of engine memory or spill space ({exc}); raise "
            "limits.memory_limit_mb or limits.max_disk_mb",
            step=step,
        ) from None
    except duckdb.Error as exc:
        raise TransformError(f"step {step!r} failed in the engine: {exc}", step=step) from None


def conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast columns to the declared Arrow types (DuckDB says ``Etc/UTC``, wide decimals, ...)."""
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            raise TransformError(f"batch has no column {field.name!r}", column=field.name)
        with arrow_errors(f"column {field.name!r}", column=field.name):
            arrays.append(cast(batch.column(index), field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class Session:
    """A private DuckDB database (spilling to its own directory) for one plan run; a context manager."""

    def __init__(self, limits: EngineLimits, *, workdir: Path | None = None) -> None:
        self._limits = limits
        self._root = Path(tempfile.mkdtemp(prefix="vsc-transform-", dir=workdir))  # mode 0700
        self.spill_dir = self._root / "spill"
        self._con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> Session:
        try:
            self._con = duckdb.connect(
                ":memory:",
                config={
                    "memory_limit": f"{self._limits.memory_limit_mb}MB",
                    "threads": self._limits.threads,
                    "temp_directory": str(self.spill_dir),
                    "max_temp_directory_size": f"{self._limits.max_disk_mb}MB",
                    # Row order between steps carries no meaning; not keeping it lets DuckDB spill more.
                    "preserve_insertion_order": False,
                },
            )
            for statement in _LOCKDOWN:
                self._con.execute(statement)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        shutil.rmtree(self._root, ignore_errors=True)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The open connection."""
        if self._con is None:
            raise RuntimeError("session is not open")
        return self._con

    def create(self, table: str, schema: TableSchema) -> pa.Schema:
        """Create an empty table with the Arrow types of ``schema``; returns that Arrow schema."""
        arrow = arrow_schema(schema)
        self._insert(table, arrow.empty_table(), create=True)
        return arrow

    def insert(self, table: str, rows: pa.Table, arrow: pa.Schema) -> None:
        """Append rows (cast to ``arrow`` first) to a table made by :meth:`create`."""
        self._insert(table, conform(rows, arrow), create=False)

    def _insert(self, table: str, rows: pa.Table, *, create: bool) -> None:
        con = self.con
        con.register(_CHUNK, rows)
        try:
            verb = f"CREATE TABLE {table} AS" if create else f"INSERT INTO {table}"
            con.execute(f"{verb} SELECT * FROM {_CHUNK}")
        finally:
            con.unregister(_CHUNK)

    def run_sql(self, op: SqlOp) -> None:
        """Materialise a set-level step."""
        self.con.execute(f"CREATE TABLE {op.table} AS {op.sql}")

    def batches(self, table: str, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        """Stream a table out in batches of ``output_batch_rows``, typed as ``schema`` says.

        Reads through a cursor of its own, so the caller may insert on the main connection
        while the stream is open.
        """
        arrow = arrow_schema(schema)
        names = ", ".join(f'"{c.name}"' for c in schema.columns)
        cursor = self.con.cursor()
        try:
            reader = cursor.sql(f"SELECT {names} FROM {table}").to_arrow_reader(
                self._limits.output_batch_rows
            )
            for batch in reader:
                yield from conform(batch, arrow).to_batches()
        finally:
            cursor.close()

    def run_rows(self, op: RowOp, source_schema: TableSchema) -> Iterator[int]:
        """Stream ``op.source`` through the row transform into ``op.table``; yields rows per batch."""
        arrow = self.create(op.table, op.schema)
        for batch in self.batches(op.source, source_schema):
            out = op.transform.apply(batch)
            self.insert(op.table, pa.Table.from_batches([out]), arrow)
            yield batch.num_rows
