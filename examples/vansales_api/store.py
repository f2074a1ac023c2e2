"""The van-sales API's own tables, in SQLite or in a PostgreSQL schema of their own.

Plain SQLAlchemy Core: four business tables plus one that remembers each ``Idempotency-Key``
with the response it produced, written in the same transaction as the orders, so a batch is
either stored with its key or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from examples.vansales_api.schemas import (
    CustomerPublic,
    OrderCreate,
    OrderDetailPublic,
    OrderLinePublic,
    OrderPublic,
    OrdersCreated,
    ProductPublic,
)

META = sa.MetaData()
MONEY = sa.Numeric(12, 2)

customers = sa.Table(
    "customers",
    META,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("code", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("city", sa.String(100), nullable=False),
    sa.Column("credit_limit", MONEY, nullable=False),
)
products = sa.Table(
    "products",
    META,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("sku", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("unit_price", MONEY, nullable=False),
)
orders = sa.Table(
    "orders",
    META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_no", sa.String(64), nullable=False, unique=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("order_date", sa.Date, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("total_amount", MONEY, nullable=False),
    sa.Column("note", sa.String(500)),
)
order_lines = sa.Table(
    "order_lines",
    META,
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("product_id", sa.BigInteger, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", MONEY, nullable=False),
)
idempotency_keys = sa.Table(
    "idempotency_keys",
    META,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class DuplicateOrderError(Exception):
    """An order number of the batch is already stored (under another idempotency key)."""


class KeyReusedError(Exception):
    """An idempotency key came back with a different request body."""


def _without(row: Mapping[Any, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in names}


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The last order id a cursor points after.

    Raises:
        ValueError: Not a cursor this API issued.
    """
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a cursor of this API") from None
    if not isinstance(value, int):
        raise ValueError("not a cursor of this API")
    return value


class VanSalesStore:
    """The API's data, behind a SQLAlchemy engine.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        schema: PostgreSQL schema to keep the tables in (created if missing); None for SQLite.
    """

    def __init__(self, *, url: str, schema: str | None = None) -> None:
        args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        engine = sa.create_engine(url, connect_args=args)
        if schema is not None:
            with engine.begin() as conn:
                conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
            engine = engine.execution_options(schema_translate_map={None: schema})
        self.engine = engine
        META.create_all(engine)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def add_customers(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert customers (seed data); returns how many."""
        return self._insert(customers, rows)

    def add_products(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert products (seed data); returns how many."""
        return self._insert(products, rows)

    def _insert(self, table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> int:
        names = {c.name for c in table.columns}
        values = [{k: v for k, v in row.items() if k in names} for row in rows]
        if values:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), values)
        return len(values)

    def page(self, table: sa.Table, *, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        """One page of ``table`` in id order, and the table's total row count."""
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            query = sa.select(table).order_by(table.c.id).limit(page_size).offset((page - 1) * page_size)
            return [dict(r._mapping) for r in conn.execute(query)], int(total)

    def one(self, table: sa.Table, row_id: int) -> dict[str, Any] | None:
        """The row with ``id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == row_id)).one_or_none()
        return None if row is None else dict(row._mapping)

    def customer(self, row_id: int) -> CustomerPublic | None:
        """One customer, or None."""
        row = self.one(customers, row_id)
        return None if row is None else CustomerPublic.model_validate(row)

    def product(self, row_id: int) -> ProductPublic | None:
        """One product, or None."""
        row = self.one(products, row_id)
        return None if row is None else ProductPublic.model_validate(row)

    def _orders_query(self) -> sa.Select[Any]:
        count = (
            sa.select(sa.func.count())
            .where(order_lines.c.order_id == orders.c.id)
            .scalar_subquery()
            .label("line_count")
        )
        return sa.select(orders, count)

    def list_orders(self, *, after: int, limit: int) -> tuple[list[OrderPublic], str | None]:
        """Orders with id > ``after``, at most ``limit``, and the next page's cursor (None at the end)."""
        query = self._orders_query().where(orders.c.id > after).order_by(orders.c.id).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = [OrderPublic.model_validate(dict(r._mapping)) for r in conn.execute(query)]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, _encode_cursor(rows[-1].id) if more else None

    def order(self, row_id: int) -> OrderDetailPublic | None:
        """One order with its lines, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(self._orders_query().where(orders.c.id == row_id)).one_or_none()
            if row is None:
                return None
            lines = conn.execute(
                sa.select(order_lines).where(order_lines.c.order_id == row_id).order_by(order_lines.c.line_no)
            )
            return OrderDetailPublic(
                **dict(row._mapping),
                lines=[OrderLinePublic.model_validate(_without(x._mapping, "order_id")) for x in lines],
            )

    def create_orders(self, batch: list[OrderCreate], *, key: str) -> OrdersCreated:
        """Store a batch under an idempotency key, or return what the key's first request produced.

        Raises:
            KeyReusedError: The key was used before with a different batch.
            DuplicateOrderError: An order number is already stored under another key.
        """
        body = json.dumps([o.model_dump(mode="json") for o in batch], sort_keys=True)
        digest = hashlib.sha256(body.encode()).hexdigest()
        replay = self._replay(key, digest)
        if replay is not None:
            return replay
        try:
            with self.engine.begin() as conn:
                ids = []
                for o in batch:
                    values = o.model_dump(exclude={"lines"})
                    inserted = conn.execute(orders.insert().values(**values)).inserted_primary_key
                    assert inserted is not None
                    ids.append(int(inserted[0]))
                    for no, line in enumerate(o.lines, start=1):
                        row = {"order_id": ids[-1], "line_no": no, **line.model_dump()}
                        conn.execute(order_lines.insert().values(**row))
                result = OrdersCreated(created=len(ids), order_ids=ids)
                conn.execute(
                    idempotency_keys.insert().values(
                        key=key,
                        request_sha256=digest,
                        response=result.model_dump_json(),
                        created_at=datetime.now(UTC),
                    )
                )
            return result
        except IntegrityError:
            # Either the same key raced us (its first request committed meanwhile) or an order number exists.
            replay = self._replay(key, digest)
            if replay is not None:
                return replay
            raise DuplicateOrderError("an order number of the batch is already stored") from None

    def _replay(self, key: str, digest: str) -> OrdersCreated | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(idempotency_keys).where(idempotency_keys.c.key == key)).one_or_none()
        if row is None:
            return None
        if row.request_sha256 != digest:
            raise KeyReusedError("this Idempotency-Key was used with a different request body")
        return OrdersCreated.model_validate_json(row.response)

    def count(self, table: sa.Table) -> int:
        """Rows in ``table`` (tests and the demo check counts with it)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
