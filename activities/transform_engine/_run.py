"""Run a checked plan: load inputs chunk by chunk, materialise each step, stream the output out.

Every step is materialised as a table of the session database rather than fused into
one query: a row step (filter, derive, select) runs in Python between two tables, and a table
is what DuckDB can spill and re-read without holding it in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from activities.errors import TransformError
from activities.transform_engine._check import CheckedPlan, SqlOp
from activities.transform_engine._session import ResourceSampler, Session, engine_errors
from workflows.transform_plan import EngineLimits, EngineStats


class PlanRun:
    """One run of a checked plan; a context manager that removes every local file on exit.

    Call :meth:`load` for every input, then :meth:`execute`, then read :meth:`output`. Each
    yields once per chunk, batch or step so the caller can heartbeat and honour a cancel
    between them.
    """

    def __init__(
        self,
        plan: CheckedPlan,
        limits: EngineLimits,
        *,
        workdir: Path | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self._plan = plan
        self._session = Session(limits, workdir=workdir)
        self._sampler = ResourceSampler(self._session.spill_dir, tick=tick)
        self._loaded: set[str] = set()
        self._input_rows = 0
        self._input_bytes = 0

    def __enter__(self) -> PlanRun:
        self._session.__enter__()
        try:
            self._sampler.__enter__()
        except BaseException:
            self._session.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._sampler.__exit__()
        self._session.__exit__(None, None, None)

    def load(self, name: str, chunks: Iterable[pa.Table]) -> Iterator[int]:
        """Insert one input's chunks, each read only when the previous one is in; yields rows per chunk."""
        table, schema = self._plan.inputs[name]
        with engine_errors(f"load {name}"):
            arrow = self._session.create(table, schema)
            for chunk in chunks:
                self._session.insert(table, chunk, arrow)
                self._input_rows += chunk.num_rows
                self._input_bytes += chunk.nbytes
                self._sampler.sample()
                yield chunk.num_rows
        self._loaded.add(name)

    def execute(self) -> Iterator[str]:
        """Materialise every step in order; yields a step's table after each batch or statement."""
        missing = [n for n in self._plan.inputs if n not in self._loaded]
        if missing:
            raise TransformError(f"input {missing[0]!r} was not loaded", relation=missing[0])
        schemas = {table: schema for table, schema in self._plan.inputs.values()}
        for op in self._plan.ops:
            with engine_errors(op.schema.table):
                if isinstance(op, SqlOp):
                    self._session.run_sql(op)
                    yield op.table
                else:
                    try:
                        for _ in self._session.run_rows(op, schemas[op.source]):
                            self._sampler.sample()
                            yield op.table
                    except TransformError as exc:  # a value the expression cannot compute
                        step = op.schema.table
                        raise TransformError(
                            f"step {step!r}: {exc.message}", step=step, **exc.fields
                        ) from None
            schemas[op.table] = op.schema

    def output(self) -> Iterator[pa.RecordBatch]:
        """The output relation in batches of ``limits.output_batch_rows`` rows."""
        plan = self._plan
        with engine_errors("output"):
            for batch in self._session.batches(plan.output_table, plan.output_schema):
                self._sampler.sample()
                yield batch

    @property
    def stats(self) -> EngineStats:
        """Rows and bytes read, and the resource peaks sampled so far."""
        return EngineStats(
            input_rows=self._input_rows,
            input_bytes=self._input_bytes,
            start_rss_bytes=self._sampler.start_rss,
            peak_rss_bytes=self._sampler.peak_rss,
            peak_spill_bytes=self._sampler.peak_spill,
        )
