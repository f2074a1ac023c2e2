"""Type promotion, broadcasting and Arrow error translation for the transform engine.

SQL silently promotes ``int + decimal`` and reads ``'2024-01-01'`` as a date when compared
with a date column; Arrow kernels insist on matching types. These helpers supply the
promotion so expressions read the way users write them in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as exp

from activities.errors import TransformError

Value: TypeAlias = pa.Array | pa.Scalar
"""What an evaluated expression yields: a column, or a constant not yet broadcast."""

# The one mapping table for third-party failures on the transform path; see arrow_errors().
_ARROW_ERRORS: tuple[type[Exception], ...] = (
    pa.ArrowInvalid,
    pa.ArrowNotImplementedError,
    pa.ArrowTypeError,
    pa.ArrowKeyError,
    TypeError,
    ValueError,
)

SQL_TYPES: dict[object, str] = {
    exp.DataType.Type.BOOLEAN: "bool",
    exp.DataType.Type.TINYINT: "int16",
    exp.DataType.Type.SMALLINT: "int16",
    exp.DataType.Type.INT: "int32",
    exp.DataType.Type.BIGINT: "int64",
    exp.DataType.Type.FLOAT: "float32",
    exp.DataType.Type.DOUBLE: "float64",
    exp.DataType.Type.TEXT: "string",
    exp.DataType.Type.VARCHAR: "string",
    exp.DataType.Type.CHAR: "string",
    exp.DataType.Type.NVARCHAR: "string",
    exp.DataType.Type.DATE: "date",
    exp.DataType.Type.TIME: "time",
    exp.DataType.Type.TIMESTAMP: "timestamp",
    exp.DataType.Type.DATETIME: "timestamp",
    exp.DataType.Type.TIMESTAMPTZ: "timestamptz",
    exp.DataType.Type.JSON: "json",
    exp.DataType.Type.VARBINARY: "binary",
    exp.DataType.Type.BINARY: "binary",
}
"""SQL type names accepted in ``CAST(... AS ...)`` and their logical types (DECIMAL aside)."""


@contextmanager
def arrow_errors(context: str, **fields: Any) -> Iterator[None]:
    """Re-raise Arrow failures as ``TransformError`` prefixed with what was being computed.

    Args:
        context: Names the expression or column, e.g. ``"expression 'a / b'"``.
        **fields: Structured fields for the error (expression, column).
    """
    try:
        yield
    except TransformError:
        raise
    except _ARROW_ERRORS as exc:
        raise TransformError(f"{context}: {exc}", **fields) from None


def common_type(types: list[pa.DataType]) -> pa.DataType | None:
    """Return the type SQL would promote mixed operands to, or None when incompatible.

    Integers and decimals meet in a decimal wide enough for both; anything with a float
    becomes float64; NULL adopts the other side's type.
    """
    distinct = list(dict.fromkeys(t for t in types if not pa.types.is_null(t)))
    if len(distinct) <= 1:
        return distinct[0] if distinct else pa.null()
    if not all(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in distinct):
        return None
    if any(pa.types.is_floating(t) for t in distinct):
        return pa.float64()
    decimals = [t for t in distinct if pa.types.is_decimal(t)]
    if not decimals:
        return pa.int64()
    scale = max(t.scale for t in decimals)
    int64_digits = [19] if any(pa.types.is_integer(t) for t in distinct) else []
    digits = max([t.precision - t.scale for t in decimals] + int64_digits)
    return pa.decimal128(min(38, digits + scale), scale)


def narrow_int_literals(values: list[Value]) -> list[Value]:
    """Integer literals next to a decimal take only the digits they need (``0`` -> ``decimal(1,0)``).

    As in SQL: otherwise ``coalesce(amount, 0) * 2`` on a ``decimal(10,2)`` reserves the 19 digits
    of an int64 twice and overflows Arrow's 38-digit decimals.
    """
    if not any(pa.types.is_decimal(v.type) for v in values):
        return values
    return [
        pa.scalar(Decimal(v.as_py()), pa.decimal128(max(1, len(str(abs(v.as_py())))), 0))
        if isinstance(v, pa.Scalar) and pa.types.is_integer(v.type) and v.is_valid
        else v
        for v in values
    ]


def unify(values: list[Value], *, text: str) -> list[Value]:
    """Cast operands to one type; string literals adopt their partners' type (dates, decimals).

    Raises:
        TransformError: If the operands have no common type.
    """
    values = narrow_int_literals(values)
    literals = [v for v in values if isinstance(v, pa.Scalar) and pa.types.is_string(v.type)]
    target = common_type([v.type for v in values if not any(v is lit for lit in literals)])
    if target is None:
        names = ", ".join(str(v.type) for v in values)
        raise TransformError(f"expression {text!r}: incompatible types ({names})", expression=text)
    if pa.types.is_null(target):
        if not literals:
            return values
        target = pa.string()
    return [v if v.type == target else pc.cast(v, target) for v in values]


def unify_nulls(left: Value, right: Value) -> tuple[Value, Value]:
    """Give a NULL operand its partner's type; an integer literal next to a decimal its own digits.

    Arithmetic kernels have no null-type overloads; see :func:`narrow_int_literals` for the other.
    """
    left, right = narrow_int_literals([left, right])
    if pa.types.is_null(left.type) and not pa.types.is_null(right.type):
        return pc.cast(left, right.type), right
    if pa.types.is_null(right.type) and not pa.types.is_null(left.type):
        return left, pc.cast(right, left.type)
    return left, right


def as_bool(value: Value) -> Value:
    """Read an untyped NULL as a boolean NULL so Kleene logic accepts it."""
    return pc.cast(value, pa.bool_()) if pa.types.is_null(value.type) else value


def cast(value: Value, target: pa.DataType) -> Value:
    """Cast like SQL: values are checked one by one, not against the source type's range.

    Arrow refuses ``int64 -> decimal(5,1)`` outright because *some* int64 would not fit;
    SQL only fails for values that do not fit, so integers go through a wide decimal first.
    """
    if value.type == target:
        return value
    if pa.types.is_integer(value.type) and pa.types.is_decimal(target):
        wide = pa.decimal256(76, target.scale) if target.precision > 38 else pa.decimal128(38, target.scale)
        value = pc.cast(value, wide)
    return pc.cast(value, target)


def broadcast(value: Value, n: int) -> pa.Array:
    """Repeat a constant to ``n`` rows; columns pass through."""
    return pa.repeat(value, n) if isinstance(value, pa.Scalar) else value
