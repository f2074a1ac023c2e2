"""Request and response bodies of the van-sales API: ``XCreate`` in, ``XPublic`` / ``XsPublic`` out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

Money = Decimal


class _Body(BaseModel):
    # Unknown fields are refused, so a client sending the wrong shape hears about it (422).
    model_config = ConfigDict(extra="forbid")


class CustomerPublic(_Body):
    """A shop the vans deliver to."""

    id: int
    code: str
    name: str
    city: str
    credit_limit: Money


class CustomersPublic(_Body):
    """One page of customers (page-number pagination)."""

    items: list[CustomerPublic]
    page: int
    page_size: int
    total: int


class ProductPublic(_Body):
    """An article the vans carry."""

    id: int
    sku: str
    name: str
    unit_price: Money


class ProductsPublic(_Body):
    """One page of products (page-number pagination)."""

    items: list[ProductPublic]
    page: int
    page_size: int
    total: int


class OrderLineCreate(_Body):
    """One line of an order being placed."""

    product_id: int
    quantity: int = Field(gt=0)
    unit_price: Money = Field(ge=0)


class OrderLinePublic(OrderLineCreate):
    """One line of a stored order."""

    line_no: int


class OrderCreate(_Body):
    """An order being placed; ``order_no`` is the caller's business key and must be new."""

    order_no: str = Field(min_length=1, max_length=64)
    customer_id: int
    order_date: date
    status: str = Field(default="open", max_length=32)
    total_amount: Money = Field(ge=0)
    note: str | None = Field(default=None, max_length=500)
    lines: list[OrderLineCreate] = Field(default_factory=list, max_length=200)


class OrdersCreate(_Body):
    """A batch of orders, stored all together or not at all."""

    orders: list[OrderCreate] = Field(min_length=1, max_length=5000)


class OrderPublic(_Body):
    """An order as listed (without its lines; ``GET /orders/{id}`` has them)."""

    id: int
    order_no: str
    customer_id: int
    order_date: date
    status: str
    total_amount: Money
    note: str | None = None
    line_count: int


class OrderDetailPublic(OrderPublic):
    """An order with its lines."""

    lines: list[OrderLinePublic]


class OrdersPublic(_Body):
    """One page of orders (cursor pagination): pass ``next_cursor`` back as ``cursor``; null at the end."""

    items: list[OrderPublic]
    next_cursor: str | None


class OrdersCreated(_Body):
    """What ``POST /orders`` did; a repeated ``Idempotency-Key`` returns the same body again."""

    created: int
    order_ids: list[int]
