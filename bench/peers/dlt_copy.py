"""Run inside the dlt peer venv (``bench/.venvs/dlt``): copy one table with dlt's best offline setup.

ConnectorX reads Arrow tables, dlt writes Parquet and loads it through ADBC (BENCHMARKS.md
Part 2: 0.25x raw, 3x faster than its csv path). One fix a user would also need: ConnectorX
reads PostgreSQL ``real`` as Arrow float32 while dlt creates the column as ``double precision``,
and the ADBC COPY then fails ("insufficient data left in message"), so float32 columns are widened
to float64 before they are written. Arguments: ``SRC_URL DST_URL TABLE DATASET WORKDIR``.
This file imports only what the dlt venv has; it is not part of the ``bench`` package's imports.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    src, dst, table, dataset, workdir = sys.argv[1:6]
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    import pyarrow as pa
    from dlt.sources.sql_database import sql_table

    def widen(batch: pa.Table) -> pa.Table:
        for i, field in enumerate(batch.schema):
            if pa.types.is_float32(field.type):
                batch = batch.set_column(i, field.name, batch.column(i).cast(pa.float64()))
        return batch

    resource = sql_table(
        credentials=src,
        table=table,
        backend="connectorx",
        chunk_size=100_000,
        backend_kwargs={"return_type": "arrow"},
    ).add_map(widen)
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination=dlt.destinations.postgres(dst),
        dataset_name=dataset,
        pipelines_dir=workdir,
    )
    info = pipeline.run(resource, loader_file_format="parquet", write_disposition="replace")
    info.raise_on_failed_jobs()


if __name__ == "__main__":
    main()
