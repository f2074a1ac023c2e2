import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

import workflows.transform as transform_module
from workflows.transform import DeriveColumn, TransformSpec


def test_empty_spec_is_identity():
    assert TransformSpec().is_identity


@pytest.mark.parametrize(
    "fields",
    [
        {"filter": "qty > 0"},
        {"derive": [{"name": "t", "expr": "qty * 2"}]},
        {"select": ["qty"]},
        {"rename": {"qty": "quantity"}},
        {"cast": {"qty": "int64"}},
    ],
)
def test_any_operation_makes_spec_non_identity(fields):
    assert not TransformSpec(**fields).is_identity


def test_spec_accepts_lists_and_round_trips_through_json():
    spec = TransformSpec(
        filter="qty > 0 AND status = 'open'",
        derive=[{"name": "total", "expr": "round(qty * unit_price, 2)", "type": "decimal(12,2)"}],
        select=["id", "total"],
        rename={"id": "line_id"},
        cast={"total": "float64"},
    )
    assert spec.select == ("id", "total")
    assert spec.derive == (
        DeriveColumn(name="total", expr="round(qty * unit_price, 2)", type="decimal(12,2)"),
    )
    assert TransformSpec.model_validate_json(spec.model_dump_json()) == spec


def test_spec_is_frozen():
    spec = TransformSpec(filter="qty > 0")
    with pytest.raises(ValidationError):
        spec.filter = "qty < 0"


@pytest.mark.parametrize(
    "fields",
    [
        {"select": ["bad name"]},
        {"select": ["1abc"]},
        {"select": []},
        {"select": ["a", "a"]},
        {"rename": {"a": "b;drop"}},
        {"rename": {"a": "c", "b": "c"}},
        {"cast": {"a": "varchar"}},
        {"cast": {"a b": "int64"}},
        {"derive": [{"name": "x-y", "expr": "1"}]},
        {"derive": [{"name": "x", "expr": ""}]},
        {"derive": [{"name": "x", "expr": "1", "type": "money"}]},
        {"derive": [{"name": "x", "expr": "1"}, {"name": "x", "expr": "2"}]},
        {"filter": ""},
        {"filter": "a" * 4001},
        {"unknown": 1},
    ],
)
def test_invalid_spec_is_refused(fields):
    with pytest.raises(ValidationError):
        TransformSpec(**fields)


def test_module_imports_only_sandbox_safe_modules():
    tree = ast.parse(Path(transform_module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"__future__", "pydantic", "workflows.types"}
