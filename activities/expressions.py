"""SQL-like expressions compiled to vectorised pyarrow.compute calls through an allow-list.

Users write expressions as text, so the text is parsed with sqlglot and only node types in
``_HANDLERS`` are compiled; everything else (subqueries, ``*``, unknown functions, qualified
columns) is refused before any data is touched. Semantics follow SQL where engines agree:
three-valued logic for AND/OR/NOT, NULL in -> NULL out, ``round`` halves away from zero.
Where engines disagree the choice is documented on the handler (division by zero gives
NULL, ``concat`` skips NULLs as PostgreSQL does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import SqlglotError

from activities.arrowtypes import arrow_type
from activities.coercion import SQL_TYPES, Value, arrow_errors, as_bool, broadcast, cast, unify, unify_nulls
from activities.errors import TransformError

Evaluator = Callable[[pa.RecordBatch], Value]


@dataclass(frozen=True)
class CompiledExpression:
    """An expression checked against a schema; ``arrow_type`` is what it produces."""

    text: str
    arrow_type: pa.DataType
    _evaluate: Evaluator

    def evaluate(self, batch: pa.RecordBatch) -> pa.Array:
        """Evaluate over a batch, broadcasting constants to the batch length.

        Raises:
            TransformError: If a value makes the expression fail (overflow, bad cast).
        """
        with arrow_errors(f"expression {self.text!r}", expression=self.text):
            value = self._evaluate(batch)
            if isinstance(value, pa.Scalar):
                return pa.repeat(value, batch.num_rows)
            return value


def compile_expression(text: str, schema: pa.Schema) -> CompiledExpression:
    """Parse, allow-list and type-check an expression against the columns it may use.

    The type check runs the compiled expression on an empty batch of ``schema``, so every
    kernel a real batch would need is resolved before any row is read.

    Args:
        text: The expression, e.g. ``"round(qty * unit_price, 2)"``.
        schema: Columns the expression may reference.

    Returns:
        The compiled expression.

    Raises:
        TransformError: On a parse error, a disallowed construct, an unknown column or a
            type error; the message names the expression and the offending part.
    """
    try:
        statements = sqlglot.parse(text)
    except SqlglotError as exc:
        raise TransformError(f"expression {text!r} does not parse: {exc}", expression=text) from None
    if len(statements) != 1 or statements[0] is None:
        raise TransformError(f"expression {text!r} must be exactly one expression", expression=text)
    evaluate = _Compiler(text, schema).compile(statements[0])
    empty = pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    with arrow_errors(f"expression {text!r}", expression=text):
        result = evaluate(empty)
    return CompiledExpression(text=text, arrow_type=result.type, _evaluate=evaluate)


def _literal_int(node: exp.Expr | None, *, text: str, what: str) -> int:
    value = node.this if isinstance(node, exp.Neg) else node
    if not isinstance(value, exp.Literal) or value.is_string or not value.this.lstrip("-").isdigit():
        raise TransformError(f"expression {text!r}: {what} must be an integer literal", expression=text)
    number = int(value.this)
    return -number if isinstance(node, exp.Neg) else number


class _Compiler:
    """Walks a sqlglot tree once and returns a closure over pyarrow.compute calls."""

    def __init__(self, text: str, schema: pa.Schema) -> None:
        self.text = text
        self.schema = schema

    def fail(self, why: str) -> TransformError:
        return TransformError(f"expression {self.text!r}: {why}", expression=self.text)

    def compile(self, node: exp.Expr) -> Evaluator:
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise self.fail(f"{node.sql()!r} ({type(node).__name__}) is not allowed")
        return handler(self, node)

    def check_args(self, node: exp.Expr, *keys: str) -> None:
        # Boolean flags are read by the handlers that honour them; any other argument
        # (a clause, a string option such as TRIM's LEADING) changes meaning, so refuse it.
        extra = [k for k, v in node.args.items() if k not in keys and not isinstance(v, bool) and v]
        if extra:
            raise self.fail(f"{node.sql()!r} uses unsupported clause {extra[0]!r}")

    def operands(self, node: exp.Expr, *keys: str) -> list[Evaluator]:
        self.check_args(node, *keys)
        found: list[Evaluator] = []
        for key in keys:
            arg = node.args.get(key)
            for child in arg if isinstance(arg, list) else [arg]:
                if child is not None:
                    found.append(self.compile(child))
        return found

    # ---- leaves -------------------------------------------------------------------------
    def column(self, node: exp.Column) -> Evaluator:
        if node.args.get("table") is not None:
            raise self.fail(f"qualified column {node.sql()!r} is not allowed")
        name = node.name
        if self.schema.get_field_index(name) < 0:
            raise TransformError(
                f"expression {self.text!r}: unknown column {name!r}", expression=self.text, column=name
            )
        return lambda batch: batch.column(name)

    def literal(self, node: exp.Literal) -> Evaluator:
        raw: str = node.this
        value: Value
        if node.is_string:
            value = pa.scalar(raw, pa.string())
        elif raw.isdigit():
            value = pa.scalar(int(raw), pa.int64())
        else:
            try:
                value = pa.scalar(Decimal(raw))
            except ArithmeticError:
                raise self.fail(f"bad number {raw!r}") from None
        return lambda batch: value

    def boolean(self, node: exp.Boolean) -> Evaluator:
        value = pa.scalar(bool(node.this), pa.bool_())
        return lambda batch: value

    def null(self, node: exp.Null) -> Evaluator:
        return lambda batch: pa.scalar(None)

    def paren(self, node: exp.Paren) -> Evaluator:
        return self.compile(node.this)

    # ---- arithmetic ---------------------------------------------------------------------
    def binary(self, node: exp.Binary) -> Evaluator:
        left, right = self.operands(node, "this", "expression")
        fn = _ARITHMETIC[type(node)]
        text = self.text
        return lambda batch: fn(*unify_nulls(left(batch), right(batch)), text=text)

    def negate(self, node: exp.Neg) -> Evaluator:
        (inner,) = self.operands(node, "this")
        return lambda batch: pc.negate_checked(inner(batch))

    # ---- comparisons and logic ----------------------------------------------------------
    def compare(self, node: exp.Binary) -> Evaluator:
        left, right = self.operands(node, "this", "expression")
        fn = _COMPARISONS[type(node)]
        text = self.text
        return lambda batch: fn(*unify([left(batch), right(batch)], text=text))

    def logical(self, node: exp.Binary) -> Evaluator:
        left, right = self.operands(node, "this", "expression")
        fn = pc.and_kleene if isinstance(node, exp.And) else pc.or_kleene
        return lambda batch: fn(as_bool(left(batch)), as_bool(right(batch)))

    def not_(self, node: exp.Not) -> Evaluator:
        (inner,) = self.operands(node, "this")
        return lambda batch: pc.invert(as_bool(inner(batch)))

    def is_(self, node: exp.Is) -> Evaluator:
        if not isinstance(node.expression, exp.Null):
            raise self.fail("only IS NULL / IS NOT NULL are supported")
        self.check_args(node, "this", "expression")
        inner = self.compile(node.this)
        return lambda batch: pc.is_null(inner(batch))

    def in_(self, node: exp.In) -> Evaluator:
        self.check_args(node, "this", "expressions")
        subject = self.compile(node.this)
        items = node.expressions
        if not items or not all(isinstance(i, exp.Literal | exp.Null | exp.Boolean | exp.Neg) for i in items):
            raise self.fail("IN needs a list of literals")
        options = [self.compile(i) for i in items]
        text = self.text

        def evaluate(batch: pa.RecordBatch) -> Value:
            # SQL: NULL IN (...) is NULL; a miss is NULL when the list holds a NULL.
            value, *listed = unify([subject(batch)] + [o(batch) for o in options], text=text)
            present = [s for s in listed if s.is_valid]
            value_set = pa.array([s.as_py() for s in present], value.type if present else pa.null())
            hit = pc.is_in(value, value_set=value_set)
            miss: Any = None if len(present) < len(listed) else False
            return pc.if_else(pc.is_null(value), None, pc.if_else(hit, True, miss))

        return evaluate

    def between(self, node: exp.Between) -> Evaluator:
        if node.args.get("symmetric"):
            raise self.fail("BETWEEN SYMMETRIC is not supported")
        subject, low, high = self.operands(node, "this", "low", "high")
        text = self.text

        def evaluate(batch: pa.RecordBatch) -> Value:
            value, lo, hi = unify([subject(batch), low(batch), high(batch)], text=text)
            return pc.and_kleene(pc.greater_equal(value, lo), pc.less_equal(value, hi))

        return evaluate

    def like(self, node: exp.Like) -> Evaluator:
        self.check_args(node, "this", "expression")
        subject = self.compile(node.this)
        pattern = node.expression
        if not isinstance(pattern, exp.Literal) or not pattern.is_string:
            raise self.fail("LIKE needs a string literal pattern")
        negate = bool(node.args.get("negate"))

        def evaluate(batch: pa.RecordBatch) -> Value:
            matched = pc.match_like(subject(batch), pattern=pattern.this)
            return pc.invert(matched) if negate else matched

        return evaluate

    def case(self, node: exp.Case) -> Evaluator:
        self.check_args(node, "this", "ifs", "default")
        operand = self.compile(node.this) if node.this is not None else None
        branches = []
        for branch in node.args["ifs"]:
            cond, result = self.operands(branch, "this", "true")
            branches.append((cond, result))
        default = self.compile(node.args["default"]) if node.args.get("default") is not None else None
        text = self.text

        def evaluate(batch: pa.RecordBatch) -> Value:
            n = batch.num_rows
            conds = []
            for cond, _ in branches:
                c = cond(batch)
                if operand is not None:  # simple CASE x WHEN v: compare like "=".
                    c = pc.equal(*unify([operand(batch), c], text=text))
                conds.append(broadcast(pc.fill_null(as_bool(c), False), n))
            results = [r(batch) for _, r in branches] + ([default(batch)] if default else [])
            results = [broadcast(r, n) for r in unify(results, text=text)]
            names = [f"c{i}" for i in range(len(conds))]
            return pc.case_when(pa.StructArray.from_arrays(conds, names), *results)

        return evaluate

    def cast(self, node: exp.Cast) -> Evaluator:
        self.check_args(node, "this", "to")
        inner = self.compile(node.this)
        target = arrow_type(_logical_of(node.to, self))
        return lambda batch: cast(inner(batch), target)

    # ---- functions ----------------------------------------------------------------------
    def unary_fn(self, node: exp.Func) -> Evaluator:
        (inner,) = self.operands(node, "this")
        fn = _UNARY_FUNCTIONS[type(node)]
        return lambda batch: fn(inner(batch))

    def coalesce(self, node: exp.Coalesce) -> Evaluator:
        args = self.operands(node, "this", "expressions")
        text = self.text
        return lambda batch: pc.coalesce(*unify([a(batch) for a in args], text=text))

    def round_(self, node: exp.Round) -> Evaluator:
        self.check_args(node, "this", "decimals")
        if node.args.get("truncate"):
            raise self.fail("round with a truncate flag is not supported")
        inner = self.compile(node.this)
        digits = 0
        if node.args.get("decimals") is not None:
            digits = _literal_int(node.args["decimals"], text=self.text, what="round digits")
        return lambda batch: pc.round(inner(batch), ndigits=digits, round_mode="half_towards_infinity")

    def concat(self, node: exp.Concat) -> Evaluator:
        args = self.operands(node, "expressions")

        def evaluate(batch: pa.RecordBatch) -> Value:
            parts = [pc.cast(a(batch), pa.string()) for a in args]
            return pc.binary_join_element_wise(*parts, "", null_handling="skip")

        return evaluate

    def substr(self, node: exp.Substring) -> Evaluator:
        self.check_args(node, "this", "start", "length")
        inner = self.compile(node.this)
        start = _literal_int(node.args.get("start"), text=self.text, what="substr start")
        length = node.args.get("length")
        count = _literal_int(length, text=self.text, what="substr length") if length is not None else None
        if start < 1 or (count is not None and count < 0):
            raise self.fail("substr needs start >= 1 and length >= 0")
        stop = None if count is None else start - 1 + count
        return lambda batch: pc.utf8_slice_codeunits(inner(batch), start=start - 1, stop=stop)


def _divide(left: Value, right: Value, *, text: str) -> Value:
    # x / 0 is NULL (MySQL/SQLite) rather than an error that would fail a whole sync.
    safe = pc.if_else(pc.equal(right, 0), None, right)
    return pc.divide(left, safe)


def _modulo(left: Value, right: Value, *, text: str) -> Value:
    if not (pa.types.is_integer(left.type) and pa.types.is_integer(right.type)):
        raise TransformError(f"expression {text!r}: % needs integer operands", expression=text)
    # Truncating division keeps the dividend's sign, as in PostgreSQL and MySQL.
    safe = pc.if_else(pc.equal(right, 0), None, right)
    return pc.subtract(left, pc.multiply(pc.divide(left, safe), safe))


_ARITHMETIC: dict[type[exp.Expr], Callable[..., Value]] = {
    exp.Add: lambda a, b, text: pc.add_checked(a, b),
    exp.Sub: lambda a, b, text: pc.subtract_checked(a, b),
    exp.Mul: lambda a, b, text: pc.multiply_checked(a, b),
    exp.Div: _divide,
    exp.Mod: _modulo,
}
_COMPARISONS: dict[type[exp.Expr], Callable[[Value, Value], Value]] = {
    exp.EQ: pc.equal,
    exp.NEQ: pc.not_equal,
    exp.GT: pc.greater,
    exp.GTE: pc.greater_equal,
    exp.LT: pc.less,
    exp.LTE: pc.less_equal,
}
_UNARY_FUNCTIONS: dict[type[exp.Expr], Callable[[Value], Value]] = {
    exp.Upper: pc.utf8_upper,
    exp.Lower: pc.utf8_lower,
    exp.Trim: pc.utf8_trim_whitespace,
    exp.Length: lambda v: pc.cast(pc.utf8_length(v), pa.int64()),
    exp.Abs: pc.abs_checked,
}
_HANDLERS: dict[type[exp.Expr], Callable[[_Compiler, Any], Evaluator]] = {
    exp.Column: _Compiler.column,
    exp.Literal: _Compiler.literal,
    exp.Boolean: _Compiler.boolean,
    exp.Null: _Compiler.null,
    exp.Paren: _Compiler.paren,
    exp.Neg: _Compiler.negate,
    **{t: _Compiler.binary for t in _ARITHMETIC},
    **{t: _Compiler.compare for t in _COMPARISONS},
    exp.And: _Compiler.logical,
    exp.Or: _Compiler.logical,
    exp.Not: _Compiler.not_,
    exp.Is: _Compiler.is_,
    exp.In: _Compiler.in_,
    exp.Between: _Compiler.between,
    exp.Like: _Compiler.like,
    exp.Case: _Compiler.case,
    exp.Cast: _Compiler.cast,
    **{t: _Compiler.unary_fn for t in _UNARY_FUNCTIONS},
    exp.Coalesce: _Compiler.coalesce,
    exp.Round: _Compiler.round_,
    exp.Concat: _Compiler.concat,
    exp.Substring: _Compiler.substr,
}


def _logical_of(dtype: exp.DataType, compiler: _Compiler) -> str:
    kind = dtype.this
    if kind == exp.DataType.Type.DECIMAL:
        params = [p.this for p in dtype.expressions]
        if len(params) != 2:
            raise compiler.fail("CAST to DECIMAL needs DECIMAL(precision, scale)")
        precision, scale = (_literal_int(p, text=compiler.text, what="decimal precision") for p in params)
        if not (0 < precision <= 38 and 0 <= scale <= precision):
            raise compiler.fail(f"DECIMAL({precision},{scale}) is out of range")
        return f"decimal({precision},{scale})"
    if kind not in SQL_TYPES:
        raise compiler.fail(f"CAST to {dtype.sql()} is not supported")
    return SQL_TYPES[kind]
