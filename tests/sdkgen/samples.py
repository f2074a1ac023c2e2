"""ApiDescriptions for the render, build and diff tests, built directly (no spec loading)."""

from __future__ import annotations

import hashlib
import types
from typing import Any

from sdkgen.model import ApiDescription, Operation, Param, ParamLocation, RequestBody

SPEC_BYTES = b'{"openapi": "3.1.0", "info": {"title": "Van Sales", "version": "1.2.0"}}'


def param(
    ident: str, location: str = "query", *, json_type: str = "string", required: bool = False, name: str = ""
) -> Param:
    return Param(
        name=name or ident,
        ident=ident,
        location=ParamLocation(location),
        required=required,
        json_type=json_type,  # type: ignore[arg-type]
    )


def van_sales() -> ApiDescription:
    """Path, query (array, integer), header and body parameters, an op named like a builtin."""
    return ApiDescription(
        title="Van Sales",
        version="1.2.0",
        openapi="3.1.0",
        spec_sha256=hashlib.sha256(SPEC_BYTES).hexdigest(),
        servers=("https://api.example.test",),
        operations=(
            Operation(
                op_id="get_order",
                method="GET",
                path="/orders/{order id}/lines",
                summary="One order's lines",
                read_only=True,
                params=(
                    param("order_id", "path", required=True, name="order id"),
                    param("status", json_type="array"),
                    param("limit", json_type="integer"),
                    param("x_trace", "header", name="X-Trace"),
                    param("body", name="body"),
                ),
                response_schema={"type": "object", "properties": {"id": {"type": "string"}}},
            ),
            Operation(
                op_id="list",
                method="POST",
                path="/orders",
                summary="Create an order",
                read_only=False,
                params=(param("dry_run", json_type="boolean"),),
                body=RequestBody(required=True, schema={"type": "object"}),
            ),
            Operation(op_id="health", method="GET", path="/health", read_only=True),
        ),
    )


def load_module(source: str) -> types.ModuleType:
    """Exec rendered SDK source as a module on the host (no wit_world: the import is guarded)."""
    module = types.ModuleType("vsc_sdk_under_test")
    exec(compile(source, "vsc_sdk.py", "exec"), module.__dict__)
    return module


def op(op_id: str = "op", **fields: Any) -> Operation:
    fields.setdefault("method", "GET")
    fields.setdefault("path", f"/{op_id}")
    fields.setdefault("read_only", fields["method"] == "GET")
    return Operation(op_id=op_id, **fields)
