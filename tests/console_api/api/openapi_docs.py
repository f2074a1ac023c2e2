"""The few OpenAPI documents the console's API tests register; each distinct one costs a compile.

``V1`` (JSON) is the baseline; ``V2_YAML`` adds an operation (not breaking); ``V3_BREAKING``
drops one and adds a required parameter (breaking). Everything else reuses these bytes, so a
test session compiles three SDKs and the build cache serves the rest.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml


def _order_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "total"],
        "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
    }


BASE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Van sales orders", "version": "1.0.0"},
    "servers": [{"url": "https://orders.example.com"}],
    "paths": {
        "/orders": {
            "get": {
                "operationId": "listOrders",
                "summary": "List orders",
                "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": _order_schema()}}
                        },
                    }
                },
            },
            "post": {
                "operationId": "createOrder",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _order_schema()}},
                },
                "responses": {"201": {"description": "created"}},
            },
        },
        "/orders/{order_id}": {
            "get": {
                "operationId": "getOrder",
                "parameters": [
                    {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": _order_schema()}}}
                },
            }
        },
    },
}


def _v2() -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["info"]["version"] = "1.1.0"
    doc["paths"]["/customers"] = {
        "get": {
            "operationId": "listCustomers",
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array"}}}}
            },
        }
    }
    return doc


def _v3() -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["info"]["version"] = "2.0.0"
    del doc["paths"]["/orders/{order_id}"]
    doc["paths"]["/orders"]["get"]["parameters"].append(
        {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
    )
    return doc


V1 = json.dumps(BASE, indent=2)
V2_YAML = yaml.safe_dump(_v2(), sort_keys=False)
V3_BREAKING = json.dumps(_v3(), indent=2)
HOSTILE = json.dumps(
    {
        **BASE,
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "file:///etc/passwd"}}},
                        }
                    }
                }
            }
        },
    }
)
CANARY = "sk-canary-7f3a9e1d"


def api_body(name: str = "orders", spec: str = V1, **extra: Any) -> dict[str, Any]:
    """A valid registration of ``spec`` with an API key in a header."""
    body: dict[str, Any] = {
        "name": name,
        "base_url": "https://orders.example.com",
        "spec": spec,
        "auth": {"kind": "api_key", "name": "X-Api-Key", "location": "header"},
        "secret": CANARY,
        "accessibility": "internet",
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}
