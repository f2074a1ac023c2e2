"""Pure types that cross the workflow boundary: schemas, buffer references, endpoint names.

Everything here is serialised into Temporal histories, so it carries names and references,
never rows or secrets. New fields are added only with defaults so old histories still load.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_LOGICAL = re.compile(
    r"^(bool|int16|int32|int64|float32|float64|string|binary|date|time|timestamp|timestamptz|json"
    r"|decimal\((\d{1,2}),(\d{1,2})\))$"
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def _check_logical(value: str) -> str:
    if not _LOGICAL.match(value):
        raise ValueError(f"unknown logical type {value!r}")
    return value


def _check_identifier(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, _ and $, max 63)")
    return value


LogicalType = Annotated[str, AfterValidator(_check_logical)]
"""A database-neutral column type: ``int64``, ``decimal(12,2)``, ``timestamptz`` ..."""

Identifier = Annotated[str, AfterValidator(_check_identifier)]
"""A plain table or column name; quoting is the connector's job, odd names are refused."""


class Frozen(BaseModel):
    """Base for values in histories: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnSchema(Frozen):
    """One column as the platform sees it, independent of the database dialect."""

    name: Identifier
    type: LogicalType
    nullable: bool = True


class TableSchema(Frozen):
    """A table's columns and primary key as discovered from the source."""

    table: Identifier
    columns: tuple[ColumnSchema, ...]
    primary_key: tuple[Identifier, ...] = ()

    def column(self, name: str) -> ColumnSchema | None:
        """Return the column called ``name``, or None."""
        return next((c for c in self.columns if c.name == name), None)


class ChunkRef(Frozen):
    """One encrypted object in the buffer."""

    key: str
    seq: int = Field(ge=0)
    rows: int = Field(ge=0)
    size: int = Field(ge=0)
    sha256: str
    write_id: str
    key_id: str | None = None
    """Data key the chunk is sealed under; None means the BufferRef's ``key_id`` (keys rotate mid-run)."""


class BufferRef(Frozen):
    """Claim check for data parked in the encrypted buffer; what histories carry instead of rows."""

    tenant: str
    run_id: str
    table_schema: TableSchema
    key_id: str
    created_at: datetime
    expires_at: datetime
    chunks: tuple[ChunkRef, ...] = ()

    @property
    def rows(self) -> int:
        """Total rows over all chunks."""
        return sum(c.rows for c in self.chunks)


class Fingerprint(Frozen):
    """Row count plus an order-independent content hash of a table."""

    rows: int
    content_hash: str
