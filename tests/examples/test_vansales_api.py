"""The example van-sales API over real HTTP: pagination, lookups, API-key auth, idempotent batch POST."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from examples.vansales_api import VanSalesStore, create_app
from examples.vansales_api.store import order_lines, orders
from infra.loopback import serve

KEY = "k-test-0123456789"
OLD = "k-expired-0123456789"


def order(no: str, *, lines: int = 0) -> dict:
    return {
        "order_no": no,
        "customer_id": 7,
        "order_date": "2024-01-03",
        "total_amount": "12.50",
        "lines": [{"product_id": 1, "quantity": 2, "unit_price": "6.25"}] * lines,
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VanSalesStore]:
    s = VanSalesStore(url=f"sqlite:///{tmp_path / 'api.db'}")
    s.add_customers(
        {"id": i, "code": f"C{i:04d}", "name": f"Shop {i}", "city": "Porto", "credit_limit": "500.00"}
        for i in range(1, 121)
    )
    s.add_products(
        {"id": i, "sku": f"SKU{i}", "name": f"Item {i}", "unit_price": "1.10"} for i in range(1, 6)
    )
    yield s
    s.close()


@pytest.fixture
def api(store: VanSalesStore) -> Iterator[httpx.Client]:
    keys = {KEY: None, OLD: datetime.now(UTC) - timedelta(days=1)}
    with serve(create_app(store=store, api_keys=keys)) as url:
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}) as client:
            yield client


def test_list_customers_pages_by_number(api: httpx.Client) -> None:
    first = api.get("/customers", params={"page": 1, "page_size": 50}).json()
    third = api.get("/customers", params={"page": 3, "page_size": 50}).json()
    past = api.get("/customers", params={"page": 4, "page_size": 50}).json()
    assert first["total"] == 120 and len(first["items"]) == 50 and first["items"][0]["id"] == 1
    assert [c["id"] for c in third["items"]] == list(range(101, 121))
    assert past["items"] == []


def test_list_orders_pages_by_cursor_until_null(api: httpx.Client) -> None:
    assert (
        api.post(
            "/orders",
            json={"orders": [order(f"N{i}") for i in range(7)]},
            headers={"Idempotency-Key": "batch-0001"},
        ).status_code
        == 201
    )
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = api.get("/orders", params=params).json()
        seen += [o["order_no"] for o in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"N{i}" for i in range(7)] and pages == 3
    assert api.get("/orders", params={"cursor": "garbage"}).status_code == 400


def test_get_by_id_and_not_found(api: httpx.Client) -> None:
    api.post("/orders", json={"orders": [order("L1", lines=3)]}, headers={"Idempotency-Key": "batch-0002"})
    listed = api.get("/orders").json()["items"][0]
    detail = api.get(f"/orders/{listed['id']}").json()
    assert listed["line_count"] == 3 and [x["line_no"] for x in detail["lines"]] == [1, 2, 3]
    assert api.get("/customers/5").json()["code"] == "C0005"
    assert api.get("/products/2").json()["sku"] == "SKU2"
    for path in ("/customers/999", "/products/999", "/orders/999"):
        assert api.get(path).status_code == 404, path


@pytest.mark.parametrize("key", [None, "wrong-key-000", OLD])
def test_requests_without_a_valid_key_are_unauthorized(api: httpx.Client, key: str | None) -> None:
    headers = {"X-API-Key": key} if key else {}
    with httpx.Client(base_url=str(api.base_url), headers=headers) as anon:
        response = anon.get("/customers")
    assert response.status_code == 401
    assert response.json()["detail"] == ("API key expired" if key == OLD else "invalid or missing API key")


def test_create_orders_repeated_key_returns_first_result_without_new_rows(
    api: httpx.Client, store: VanSalesStore
) -> None:
    batch = {"orders": [order("A1", lines=2), order("A2", lines=1)]}
    first = api.post("/orders", json=batch, headers={"Idempotency-Key": "run-1-batch-0"})
    again = api.post("/orders", json=batch, headers={"Idempotency-Key": "run-1-batch-0"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first.json()["created"] == 2
    assert (store.count(orders), store.count(order_lines)) == (2, 3)
    reused = api.post("/orders", json={"orders": [order("A3")]}, headers={"Idempotency-Key": "run-1-batch-0"})
    assert reused.status_code == 422
    dup = api.post("/orders", json={"orders": [order("A1")]}, headers={"Idempotency-Key": "run-2-batch-0"})
    assert dup.status_code == 409
    assert api.post("/orders", json=batch).status_code == 422  # the key is required
    assert (store.count(orders), store.count(order_lines)) == (2, 3)


def test_create_orders_refuses_unknown_fields(api: httpx.Client) -> None:
    bad = {"orders": [{**order("B1"), "van_id": 3}]}
    assert api.post("/orders", json=bad, headers={"Idempotency-Key": "batch-0003"}).status_code == 422


def test_openapi_document_names_operations_and_key_scheme(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert ops == {
        "list_customers",
        "get_customer",
        "list_products",
        "get_product",
        "list_orders",
        "get_order",
        "create_orders",
    }
    assert doc["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The API key you were issued.",
    }
    params = doc["paths"]["/orders"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in params] == [("Idempotency-Key", "header", True)]


def test_store_in_a_postgresql_schema_of_its_own(pg_database: Callable[[str], str]) -> None:
    url = pg_database("vansales").replace("postgresql://", "postgresql+psycopg://")
    store = VanSalesStore(url=url, schema="vansales_api")
    try:
        with serve(create_app(store=store, api_keys={KEY: None})) as base:
            r = httpx.post(
                f"{base}/orders",
                json={"orders": [order("P1", lines=1)]},
                headers={"X-API-Key": KEY, "Idempotency-Key": "pg-batch-0"},
            )
        assert r.status_code == 201
        with store.engine.connect() as conn:
            tables = (
                conn.exec_driver_sql(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'vansales_api'"
                )
                .scalars()
                .all()
            )
        assert set(tables) == {"customers", "products", "orders", "order_lines", "idempotency_keys"}
        assert store.count(orders) == 1
    finally:
        store.close()
