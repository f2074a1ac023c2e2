"""A deterministic van-sales ERP: eight tables of plausible data for demos, tests and benches.

Every value comes from ``random.Random`` streams seeded from ``(seed, table)`` and a fixed
base date, never the wall clock, so the same seed and scale give byte-identical Arrow
batches on every machine. Rows are produced lazily and handed out in batches of at most
``chunk_rows`` so memory stays flat at any scale. Orders, their lines and their invoices
come from one shared stream (re-run per table), which keeps the foreign keys and the
order totals consistent without holding any table in memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from activities.arrowtypes import arrow_schema
from activities.errors import InvalidInputError
from workflows.types import ColumnSchema, TableSchema

MAX_CHUNK_ROWS = 50_000
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
"""Fixed origin of every date and timestamp in the demo data."""

_EPOCH_DAY = (BASE_TIME.date() - date(1970, 1, 1)).days
_BASE_US = int(BASE_TIME.timestamp()) * 1_000_000
_HOUR_US = 3_600 * 1_000_000
_DAY_US = 24 * _HOUR_US

# Rows per table at scale 1.0; order lines average 4 per order, so about 100k lines.
_BASE_ROWS = {"customers": 2_000, "products": 400, "vans": 25, "routes": 75, "orders": 25_000}
_STOCKED_SHARE = 0.4


def _table(name: str, key: tuple[str, ...], *columns: tuple[str, str, bool]) -> TableSchema:
    cols = tuple(ColumnSchema(name=n, type=t, nullable=nullable) for n, t, nullable in columns)
    return TableSchema(table=name, columns=cols, primary_key=key)


_Row = tuple[Any, ...]
_MONEY = "decimal(12,2)"
_UPDATED = ("updated_at", "timestamptz", False)

# fmt: off
TABLES: tuple[TableSchema, ...] = (
    _table(
        "customers", ("customer_id",),
        ("customer_id", "int64", False), ("code", "string", False), ("name", "string", False),
        ("email", "string", True), ("phone", "string", True), ("city", "string", False),
        ("credit_limit", _MONEY, False), ("is_active", "bool", False), ("created_on", "date", False),
        _UPDATED,
    ),
    _table(
        "products", ("product_id",),
        ("product_id", "int64", False), ("sku", "string", False), ("name", "string", False),
        ("category", "string", False), ("unit_price", _MONEY, False), ("vat_rate", "decimal(5,2)", False),
        ("barcode", "string", True), ("is_active", "bool", False), _UPDATED,
    ),
    _table(
        "vans", ("van_id",),
        ("van_id", "int64", False), ("plate", "string", False), ("driver_name", "string", True),
        ("depot", "string", False), ("capacity_kg", "int32", False), ("in_service", "bool", False),
        _UPDATED,
    ),
    _table(
        "routes", ("route_id",),
        ("route_id", "int64", False), ("code", "string", False), ("name", "string", False),
        ("van_id", "int64", False), ("weekday", "int16", False), _UPDATED,
    ),
    _table(
        "van_stock", ("van_id", "product_id"),
        ("van_id", "int64", False), ("product_id", "int64", False), ("quantity", "int32", False),
        ("reorder_level", "int32", False), ("last_counted_on", "date", True), _UPDATED,
    ),
    _table(
        "orders", ("order_id",),
        ("order_id", "int64", False), ("order_no", "string", False), ("customer_id", "int64", False),
        ("route_id", "int64", False), ("van_id", "int64", False), ("order_date", "date", False),
        ("status", "string", False), ("delivered_at", "timestamptz", True),
        ("total_amount", _MONEY, False), ("note", "string", True), _UPDATED,
    ),
    _table(
        "order_lines", ("order_id", "line_no"),
        ("order_id", "int64", False), ("line_no", "int32", False), ("product_id", "int64", False),
        ("quantity", "int32", False), ("unit_price", _MONEY, False), ("discount", _MONEY, True),
        ("line_total", _MONEY, False), _UPDATED,
    ),
    _table(
        "invoices", ("invoice_id",),
        ("invoice_id", "int64", False), ("invoice_no", "string", False), ("order_id", "int64", False),
        ("customer_id", "int64", False), ("invoice_date", "date", False), ("due_date", "date", False),
        ("amount", _MONEY, False), ("status", "string", False), ("paid_at", "timestamptz", True),
        _UPDATED,
    ),
)
# fmt: on
"""The demo tables in load order: every table comes after the tables it references."""

_BY_NAME = {t.table: t for t in TABLES}

_FIRST = ("Ana", "Ben", "Carla", "Dario", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonas", "Kemal", "Lea")
_LAST = ("Silva", "Novak", "Okafor", "Rossi", "Yilmaz", "Jensen", "Moreau", "Kowalski", "Haddad", "Berg")
_SHOPS = ("Mini Market", "Kiosk", "Corner Shop", "Bakery", "Cafe", "Pharmacy", "Fuel Station", "Deli")
_CITIES = ("Porto", "Lyon", "Graz", "Gdansk", "Izmir", "Aarhus", "Turin", "Ghent", "Brno", "Malaga")
_CATEGORIES = ("beverages", "snacks", "dairy", "bakery", "household", "tobacco", "frozen", "personal care")
_ADJECTIVES = ("Classic", "Zero", "Family", "Mini", "Organic", "Spicy", "Fresh", "Extra")
_NOUNS = ("Cola", "Chips", "Yoghurt", "Croissant", "Detergent", "Water", "Ice Cream", "Soap", "Juice")
_DEPOTS = ("North", "South", "East", "West", "Harbour")
_NOTES = ("call before delivery", "back door", "pay on delivery", "closed on Mondays")
_ORDER_STATUS = (("delivered", 70), ("confirmed", 12), ("open", 10), ("cancelled", 8))
_INVOICE_STATUS = (("paid", 65), ("issued", 25), ("overdue", 10))


def table_schema(name: str) -> TableSchema:
    """Return the schema of one demo table.

    Raises:
        InvalidInputError: If ``name`` is not a demo table.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InvalidInputError(f"unknown demo table {name!r}", table=name) from None


def iter_batches(
    table: str, *, seed: int = 42, scale: float = 1.0, chunk_rows: int = MAX_CHUNK_ROWS
) -> Iterator[pa.RecordBatch]:
    """Yield a demo table as Arrow batches of at most ``chunk_rows`` rows.

    Args:
        table: One of the names in ``TABLES``.
        seed: Same seed and scale give byte-identical batches.
        scale: Multiplies every row count (1.0 is about 100k order lines).
        chunk_rows: Upper bound on rows per batch, at most ``MAX_CHUNK_ROWS``.

    Yields:
        Batches whose schema is ``arrow_schema(table_schema(table))``.

    Raises:
        InvalidInputError: On an unknown table, a non-positive scale or a bad chunk size.
    """
    schema = table_schema(table)
    if not scale > 0:
        raise InvalidInputError(f"scale must be positive, got {scale}", table=table)
    if not 0 < chunk_rows <= MAX_CHUNK_ROWS:
        raise InvalidInputError(f"chunk_rows must be in 1..{MAX_CHUNK_ROWS}, got {chunk_rows}", table=table)
    yield from _chunked(_ROWS[table](seed, scale), arrow_schema(schema), chunk_rows)


def _chunked(rows: Iterable[tuple[Any, ...]], schema: pa.Schema, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    pending: list[tuple[Any, ...]] = []
    for row in rows:
        pending.append(row)
        if len(pending) == chunk_rows:
            yield _batch(pending, schema)
            pending = []
    if pending:
        yield _batch(pending, schema)


def _batch(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    # Dates are day numbers and timestamps microseconds since the epoch: Arrow takes both as-is.
    columns = zip(*rows, strict=True)
    return pa.RecordBatch.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def _count(table: str, scale: float) -> int:
    return max(1, round(_BASE_ROWS[table] * scale))


def _rng(seed: int, stream: str) -> random.Random:
    return random.Random(f"{seed}/{stream}")


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _stamp(rng: random.Random, day: int) -> int:
    """Microseconds for a moment on ``day`` (days after the base date), in shop hours."""
    return _BASE_US + day * _DAY_US + rng.randrange(6 * _HOUR_US, 20 * _HOUR_US)


def _customers(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    rng = _rng(seed, "customers")
    for cid in range(1, _count("customers", scale) + 1):
        owner = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        name = f"{owner.split()[1]} {rng.choice(_SHOPS)}"
        email = f"shop{cid}@example.com" if rng.random() < 0.8 else None
        phone = f"+351 2{rng.randrange(10**7, 10**8)}" if rng.random() < 0.7 else None
        created = rng.randrange(-900, 0)
        yield (
            cid,
            f"C{cid:06d}",
            name,
            email,
            phone,
            rng.choice(_CITIES),
            _money(rng.randrange(50, 500) * 1000),
            rng.random() < 0.95,
            _EPOCH_DAY + created,
            _stamp(rng, rng.randrange(created, 365)),
        )


def _products(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    rng = _rng(seed, "products")
    for pid in range(1, _count("products", scale) + 1):
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice((250, 330, 500, 1000))}"
        barcode = f"{rng.randrange(10**12, 10**13)}" if rng.random() < 0.9 else None
        yield (
            pid,
            f"SKU-{pid:05d}",
            name,
            rng.choice(_CATEGORIES),
            _money(rng.randrange(49, 2999)),
            _money(rng.choice((600, 1300, 2300))),
            barcode,
            rng.random() < 0.97,
            _stamp(rng, rng.randrange(365)),
        )


def _vans(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    rng = _rng(seed, "vans")
    for vid in range(1, _count("vans", scale) + 1):
        driver = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" if rng.random() < 0.9 else None
        yield (
            vid,
            f"VS-{vid:03d}-{rng.choice('ABCDEFGHJK')}{rng.choice('LMNPRSTVWX')}",
            driver,
            rng.choice(_DEPOTS),
            rng.choice((800, 1000, 1200, 1500)),
            rng.random() < 0.9,
            _stamp(rng, rng.randrange(365)),
        )


def _route_van(route_id: int, scale: float) -> int:
    return (route_id - 1) % _count("vans", scale) + 1


def _routes(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    rng = _rng(seed, "routes")
    for rid in range(1, _count("routes", scale) + 1):
        weekday = (rid - 1) % 5 + 1
        yield (
            rid,
            f"R{rid:04d}",
            f"{rng.choice(_CITIES)} {rng.choice(_DEPOTS)} loop",
            _route_van(rid, scale),
            weekday,
            _stamp(rng, rng.randrange(365)),
        )


def _van_stock(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    rng = _rng(seed, "van_stock")
    n_products = _count("products", scale)
    stocked = max(1, round(n_products * _STOCKED_SHARE))
    for vid in range(1, _count("vans", scale) + 1):
        for pid in sorted(rng.sample(range(1, n_products + 1), stocked)):
            counted = _EPOCH_DAY + rng.randrange(300, 365) if rng.random() < 0.85 else None
            yield (
                vid,
                pid,
                rng.randrange(0, 120),
                rng.choice((5, 10, 20)),
                counted,
                _stamp(rng, rng.randrange(300, 365)),
            )


def _list_prices(seed: int, scale: float) -> list[int]:
    """Cents per product id (index 0 unused): lines are priced from the product list."""
    return [0] + [int(row[4].scaleb(2)) for row in _products(seed, scale)]


def _sales(seed: int, scale: float) -> Iterator[tuple[_Row, list[_Row], _Row | None]]:
    """One pass over orders, yielding each order with its lines and its invoice (if any)."""
    rng = _rng(seed, "orders")
    prices = _list_prices(seed, scale)
    n_customers, n_routes = _count("customers", scale), _count("routes", scale)
    invoice_id = 0
    for oid in range(1, _count("orders", scale) + 1):
        route = rng.randint(1, n_routes)
        day = rng.randrange(365)
        created = _stamp(rng, day)
        lines, total = [], 0
        for line_no in range(1, rng.randint(1, 7) + 1):
            pid, qty = rng.randrange(1, len(prices)), rng.randint(1, 24)
            gross = qty * prices[pid]
            discount = gross * rng.choice((5, 10)) // 100 if rng.random() < 0.2 else None
            net = gross - (discount or 0)
            total += net
            lines.append(
                (
                    oid,
                    line_no,
                    pid,
                    qty,
                    _money(prices[pid]),
                    None if discount is None else _money(discount),
                    _money(net),
                    created,
                )
            )
        status = _weighted(rng, _ORDER_STATUS)
        delivered = created + rng.randrange(1, 48) * _HOUR_US if status == "delivered" else None
        note = rng.choice(_NOTES) if rng.random() < 0.1 else None
        customer = rng.randint(1, n_customers)
        order = (
            oid,
            f"SO-{oid:07d}",
            customer,
            route,
            _route_van(route, scale),
            _EPOCH_DAY + day,
            status,
            delivered,
            _money(total),
            note,
            delivered or created,
        )
        invoice = None
        if delivered is not None:
            invoice_id += 1
            inv_status = _weighted(rng, _INVOICE_STATUS)
            paid = delivered + rng.randrange(1, 30) * _DAY_US if inv_status == "paid" else None
            invoice = (
                invoice_id,
                f"INV-{invoice_id:07d}",
                oid,
                customer,
                _EPOCH_DAY + day,
                _EPOCH_DAY + day + 30,
                _money(total),
                inv_status,
                paid,
                paid or delivered,
            )
        yield order, lines, invoice


def _orders(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    return (order for order, _, _ in _sales(seed, scale))


def _order_lines(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    return (line for _, lines, _ in _sales(seed, scale) for line in lines)


def _invoices(seed: int, scale: float) -> Iterator[tuple[Any, ...]]:
    return (invoice for _, _, invoice in _sales(seed, scale) if invoice is not None)


_ROWS = {
    "customers": _customers,
    "products": _products,
    "vans": _vans,
    "routes": _routes,
    "van_stock": _van_stock,
    "orders": _orders,
    "order_lines": _order_lines,
    "invoices": _invoices,
}
