"""The van-sales API: customers, products and orders of a van-sales business, behind an API key.

It is the kind of home-grown REST API the platform's Mode 2 integrates: FastAPI generates its
OpenAPI document at ``/openapi.json``, from which the platform builds a sandboxed SDK.
``create_app`` makes one instance; the demo and the tests run two (an on-premise one and a
"central ordering platform" on the internet) with :func:`infra.loopback.serve`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, status
from fastapi.security import APIKeyHeader

from examples.vansales_api.schemas import (
    CustomerPublic,
    CustomersPublic,
    OrderDetailPublic,
    OrdersCreate,
    OrdersCreated,
    OrdersPublic,
    ProductPublic,
    ProductsPublic,
)
from examples.vansales_api.store import (
    DuplicateOrderError,
    KeyReusedError,
    VanSalesStore,
    customers,
    decode_cursor,
    products,
)

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="The API key you were issued.")


def _store(request: Request) -> VanSalesStore:
    store: VanSalesStore = request.app.state.store
    return store


def _authenticated(request: Request, key: Annotated[str | None, Depends(_api_key)]) -> str:
    """Accept a known, unexpired key; compared in constant time."""
    keys: Mapping[str, datetime | None] = request.app.state.api_keys
    for known, expires in keys.items():
        if key is not None and hmac.compare_digest(known.encode(), key.encode()):
            if expires is not None and expires <= datetime.now(UTC):
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "API key expired")
            return known
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or missing API key")


StoreDep = Annotated[VanSalesStore, Depends(_store)]
Page = Annotated[int, Query(ge=1, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=500)]

customers_router = APIRouter(prefix="/customers", tags=["customers"])
products_router = APIRouter(prefix="/products", tags=["products"])
orders_router = APIRouter(prefix="/orders", tags=["orders"])


@customers_router.get("", response_model=CustomersPublic, operation_id="list_customers")
def list_customers(store: StoreDep, page: Page = 1, page_size: PageSize = 50) -> CustomersPublic:
    """List customers by page."""
    rows, total = store.page(customers, page=page, page_size=page_size)
    return CustomersPublic(
        items=[CustomerPublic.model_validate(r) for r in rows], page=page, page_size=page_size, total=total
    )


@customers_router.get("/{customer_id}", response_model=CustomerPublic, operation_id="get_customer")
def get_customer(store: StoreDep, customer_id: int) -> CustomerPublic:
    """One customer."""
    found = store.customer(customer_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such customer")
    return found


@products_router.get("", response_model=ProductsPublic, operation_id="list_products")
def list_products(store: StoreDep, page: Page = 1, page_size: PageSize = 50) -> ProductsPublic:
    """List products by page."""
    rows, total = store.page(products, page=page, page_size=page_size)
    return ProductsPublic(
        items=[ProductPublic.model_validate(r) for r in rows], page=page, page_size=page_size, total=total
    )


@products_router.get("/{product_id}", response_model=ProductPublic, operation_id="get_product")
def get_product(store: StoreDep, product_id: int) -> ProductPublic:
    """One product."""
    found = store.product(product_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such product")
    return found


@orders_router.get("", response_model=OrdersPublic, operation_id="list_orders")
def list_orders(
    store: StoreDep,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: PageSize = 100,
) -> OrdersPublic:
    """List orders in id order, by cursor."""
    try:
        after = 0 if cursor is None else decode_cursor(cursor)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    items, next_cursor = store.list_orders(after=after, limit=limit)
    return OrdersPublic(items=items, next_cursor=next_cursor)


@orders_router.get("/{order_id}", response_model=OrderDetailPublic, operation_id="get_order")
def get_order(store: StoreDep, order_id: int) -> OrderDetailPublic:
    """One order with its lines."""
    found = store.order(order_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such order")
    return found


@orders_router.post(
    "", response_model=OrdersCreated, status_code=status.HTTP_201_CREATED, operation_id="create_orders"
)
def create_orders(
    store: StoreDep,
    batch: OrdersCreate,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=8,
            max_length=200,
            description="Repeat it to retry safely: a repeated key returns the first result, stores nothing.",
        ),
    ],
) -> OrdersCreated:
    """Place a batch of orders, all or none."""
    try:
        return store.create_orders(batch.orders, key=idempotency_key)
    except KeyReusedError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except DuplicateOrderError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


def create_app(
    *, store: VanSalesStore, api_keys: Mapping[str, datetime | None], title: str = "Van Sales API"
) -> FastAPI:
    """One instance of the API over ``store``.

    Args:
        store: Where its data lives.
        api_keys: Accepted keys and when each expires (None: never).
        title: The OpenAPI title (the demo names its two instances apart).
    """
    app = FastAPI(title=title, version="1.0.0", dependencies=[Depends(_authenticated)])
    app.state.store = store
    app.state.api_keys = dict(api_keys)
    for router in (customers_router, products_router, orders_router):
        app.include_router(router)
    return app
