"""Sample orders for an instance of the example API: what a SaaS already holds in demos and tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from examples.vansales_api.schemas import OrderCreate, OrderLineCreate
from examples.vansales_api.store import VanSalesStore

BATCH = 300


def sample_orders(count: int, *, prefix: str = "S") -> list[OrderCreate]:
    """``count`` orders, a pure function of the index: every fifth cancelled, some with a line."""
    return [
        OrderCreate(
            order_no=f"{prefix}{i:05d}",
            customer_id=i % 41 + 1,
            order_date=date(2024, 3, 1) + timedelta(days=i % 90),
            status="cancelled" if i % 5 == 0 else "open",
            total_amount=Decimal(i * 3) / 4,
            note=None if i % 4 == 0 else f"route {i % 7}",
            lines=[OrderLineCreate(product_id=1, quantity=i % 3 + 1, unit_price=Decimal("2.50"))] * (i % 2),
        )
        for i in range(1, count + 1)
    ]


def seed_orders(store: VanSalesStore, count: int, *, prefix: str = "S") -> None:
    """Store :func:`sample_orders` directly (not through HTTP), in idempotent batches."""
    batch = sample_orders(count, prefix=prefix)
    for start in range(0, count, BATCH):
        store.create_orders(batch[start : start + BATCH], key=f"seed-{prefix}-{start:06d}")
