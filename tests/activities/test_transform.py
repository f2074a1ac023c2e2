from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from activities.arrowtypes import arrow_schema, arrow_type, logical_type
from activities.errors import Terminal, TransformError
from activities.transform import compile_transform
from workflows.transform import DeriveColumn, TransformSpec
from workflows.types import ColumnSchema, TableSchema

SCHEMA = TableSchema(
    table="order_lines",
    columns=(
        ColumnSchema(name="order_id", type="int64", nullable=False),
        ColumnSchema(name="line_no", type="int32", nullable=False),
        ColumnSchema(name="qty", type="int32"),
        ColumnSchema(name="unit_price", type="decimal(12,2)"),
        ColumnSchema(name="discount", type="decimal(12,2)"),
        ColumnSchema(name="name", type="string"),
        ColumnSchema(name="status", type="string"),
        ColumnSchema(name="shipped", type="date"),
        ColumnSchema(name="flag", type="bool"),
    ),
    primary_key=("order_id", "line_no"),
)

ROWS = {
    "order_id": [1, 1, 2, 3],
    "line_no": [1, 2, 1, 1],
    "qty": [2, 0, None, -7],
    "unit_price": [Decimal("1.25"), Decimal("2.00"), Decimal("3.10"), None],
    "discount": [None, Decimal("0.50"), None, Decimal("1.00")],
    "name": ["  apple ", "Banana", None, "cherry"],
    "status": ["open", "open", "closed", None],
    "shipped": [date(2024, 1, 5), None, date(2023, 12, 31), date(2024, 2, 1)],
    "flag": [True, False, None, True],
}


def batch(rows=None):
    return pa.RecordBatch.from_pydict(rows or ROWS, schema=arrow_schema(SCHEMA))


def run(**spec):
    compiled = compile_transform(TransformSpec(**spec), SCHEMA)
    result = compiled.apply(batch())
    assert result.schema == arrow_schema(compiled.output_schema)
    return compiled, result


def derive(expr, type=None):
    _, result = run(derive=[{"name": "out", "expr": expr, "type": type}])
    return result.column("out").to_pylist()


def test_identity_spec_passes_batch_through():
    compiled, result = run()
    assert compiled.output_schema == SCHEMA
    assert result.to_pydict() == ROWS


def test_filter_keeps_true_rows_and_drops_null():
    _, result = run(filter="qty >= 0 AND status = 'open'")
    assert result.column("line_no").to_pylist() == [1, 2]
    _, result = run(filter="NOT flag")
    assert result.column("order_id").to_pylist() == [1]


def test_filter_compares_dates_with_string_literals():
    _, result = run(filter="shipped >= '2024-01-01'")
    assert result.column("order_id").to_pylist() == [1, 3]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("qty * unit_price", [Decimal("2.50"), Decimal("0.00"), None, None]),
        ("qty + 1", [3, 1, None, -6]),
        ("qty - line_no", [1, -2, None, -8]),
        ("-qty", [-2, 0, None, 7]),
        ("qty / 2", [1, 0, None, -3]),
        ("qty / 0", [None, None, None, None]),
        ("qty % 3", [2, 0, None, -1]),
        ("upper(name)", ["  APPLE ", "BANANA", None, "CHERRY"]),
        ("lower(name)", ["  apple ", "banana", None, "cherry"]),
        ("trim(name)", ["apple", "Banana", None, "cherry"]),
        ("length(name)", [8, 6, None, 6]),
        ("coalesce(discount, 0)", [Decimal("0"), Decimal("0.5"), Decimal("0"), Decimal("1")]),
        ("coalesce(status, name, 'none')", ["open", "open", "closed", "cherry"]),
        ("abs(qty)", [2, 0, None, 7]),
        ("concat(name, '#', qty)", ["  apple #2", "Banana#0", "#", "cherry#-7"]),
        ("substr(status, 2, 2)", ["pe", "pe", "lo", None]),
        ("substr(status, 3)", ["en", "en", "osed", None]),
        ("CAST(qty AS BIGINT) * 1000000000000", [2000000000000, 0, None, -7000000000000]),
        ("CAST(order_id AS TEXT)", ["1", "1", "2", "3"]),
        ("CAST(order_id AS DECIMAL(5,1))", [Decimal("1.0"), Decimal("1.0"), Decimal("2.0"), Decimal("3.0")]),
        ("TRUE", [True] * 4),
        ("2.5", [Decimal("2.5")] * 4),
    ],
)
def test_derive_expression(expr, expected):
    assert derive(expr) == expected


def test_round_halves_away_from_zero():
    assert derive("round(unit_price * 1.5, 1)") == [Decimal("1.9"), Decimal("3.0"), Decimal("4.7"), None]
    assert derive("round(qty * -0.5)") == [Decimal("-1"), Decimal("0"), None, Decimal("4")]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("qty IN (2, -7)", [True, False, None, True]),
        ("qty IN (2, NULL)", [True, None, None, None]),
        ("qty NOT IN (2)", [False, True, None, True]),
        ("qty BETWEEN 0 AND 2", [True, True, None, False]),
        ("name LIKE '%an%'", [False, True, None, False]),
        ("name NOT LIKE 'c%'", [True, True, None, False]),
        ("discount IS NULL", [True, False, True, False]),
        ("discount IS NOT NULL", [False, True, False, True]),
        ("flag OR qty > 0", [True, False, None, True]),
        ("flag AND NULL", [None, False, None, None]),
        ("qty <> 0", [True, False, None, True]),
        ("qty < 0 OR qty > 1", [True, False, None, True]),
        ("qty <= 0", [False, True, None, True]),
        ("unit_price = 2", [False, True, False, None]),
    ],
)
def test_derive_predicate_three_valued(expr, expected):
    assert derive(expr) == expected


def test_case_when_searched_and_simple():
    assert derive("CASE WHEN qty > 0 THEN 'pos' WHEN qty < 0 THEN 'neg' ELSE 'other' END") == [
        "pos",
        "other",
        "other",
        "neg",
    ]
    assert derive("CASE status WHEN 'open' THEN 1 WHEN 'closed' THEN 2.5 END") == [
        Decimal("1.0"),
        Decimal("1.0"),
        Decimal("2.5"),
        None,
    ]


def test_derive_with_declared_type_casts_result():
    compiled, result = run(
        derive=[{"name": "total", "expr": "round(qty * unit_price, 2)", "type": "decimal(12,2)"}]
    )
    assert compiled.output_schema.column("total") == ColumnSchema(name="total", type="decimal(12,2)")
    assert result.column("total").type == pa.decimal128(12, 2)


def test_derive_can_use_earlier_derived_and_replace_a_column():
    compiled, result = run(
        derive=[
            {"name": "gross", "expr": "qty * unit_price"},
            {"name": "net", "expr": "gross - coalesce(discount, 0)"},
            {"name": "name", "expr": "upper(trim(name))"},
        ]
    )
    assert [c.name for c in compiled.output_schema.columns][-2:] == ["gross", "net"]
    assert result.column("net").to_pylist() == [Decimal("2.50"), Decimal("-0.50"), None, None]
    assert result.column("name").to_pylist() == ["APPLE", "BANANA", None, "CHERRY"]


def test_select_rename_cast_in_documented_order_and_key_carried():
    compiled, result = run(
        filter="qty IS NOT NULL",
        derive=[{"name": "total", "expr": "qty * unit_price"}],
        select=["line_no", "order_id", "total", "shipped"],
        rename={"order_id": "oid", "total": "amount"},
        cast={"amount": "float64", "line_no": "int64"},
    )
    assert compiled.output_schema.primary_key == ("oid", "line_no")
    assert [(c.name, c.type, c.nullable) for c in compiled.output_schema.columns] == [
        ("line_no", "int64", False),
        ("oid", "int64", False),
        ("amount", "float64", True),
        ("shipped", "date", True),
    ]
    assert result.to_pydict() == {
        "line_no": [1, 2, 1],
        "oid": [1, 1, 3],
        "amount": [2.5, 0.0, None],
        "shipped": [date(2024, 1, 5), None, date(2024, 2, 1)],
    }


def test_apply_conforms_compatible_input_types_and_ignores_extra_columns():
    compiled = compile_transform(TransformSpec(derive=[{"name": "u", "expr": "upper(name)"}]), SCHEMA)
    data = dict(ROWS, extra=[1, 2, 3, 4])
    arrays = {k: pa.array(v) for k, v in data.items()}
    arrays["name"] = pa.array(ROWS["name"], pa.large_string())
    result = compiled.apply(pa.RecordBatch.from_pydict(arrays))
    assert "extra" not in result.schema.names
    assert result.column("u").to_pylist() == ["  APPLE ", "BANANA", None, "CHERRY"]


def test_empty_batch_and_all_filtered_batch():
    compiled = compile_transform(
        TransformSpec(filter="qty > 100", derive=[{"name": "t", "expr": "qty * 2"}]), SCHEMA
    )
    assert compiled.apply(batch()).num_rows == 0
    assert compiled.apply(batch({k: [] for k in ROWS})).num_rows == 0


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"filter": "nope > 1"}, "nope"),
        ({"filter": "qty +"}, "qty +"),
        ({"filter": "qty"}, "not a boolean"),
        ({"filter": "total > 1", "derive": [{"name": "total", "expr": "qty"}]}, "total"),
        ({"derive": [{"name": "x", "expr": "(SELECT 1)"}]}, "SELECT"),
        ({"derive": [{"name": "x", "expr": "*"}]}, "*"),
        ({"derive": [{"name": "x", "expr": "foo(qty)"}]}, "foo"),
        ({"derive": [{"name": "x", "expr": "sqrt(qty)"}]}, "SQRT"),
        ({"derive": [{"name": "x", "expr": "t.qty"}]}, "t.qty"),
        ({"derive": [{"name": "x", "expr": "qty; DROP TABLE x"}]}, "exactly one"),
        ({"derive": [{"name": "x", "expr": "qty IN (SELECT 1)"}]}, "SELECT"),
        ({"derive": [{"name": "x", "expr": "qty IN (line_no)"}]}, "literals"),
        ({"derive": [{"name": "x", "expr": "name LIKE status"}]}, "LIKE"),
        ({"derive": [{"name": "x", "expr": "flag IS TRUE"}]}, "IS NULL"),
        ({"derive": [{"name": "x", "expr": "TRIM(LEADING 'a' FROM name)"}]}, "unsupported"),
        ({"derive": [{"name": "x", "expr": "round(qty, line_no)"}]}, "integer literal"),
        ({"derive": [{"name": "x", "expr": "substr(name, 0, 2)"}]}, "start"),
        ({"derive": [{"name": "x", "expr": "unit_price % 2"}]}, "integer"),
        ({"derive": [{"name": "x", "expr": "qty = name"}]}, "incompatible"),
        ({"derive": [{"name": "x", "expr": "upper(qty)"}]}, "upper"),
        ({"derive": [{"name": "x", "expr": "CAST(qty AS DECIMAL)"}]}, "DECIMAL"),
        ({"derive": [{"name": "x", "expr": "CAST(qty AS INTERVAL)"}]}, "INTERVAL"),
        ({"derive": [{"name": "x", "expr": "shipped > 'not a date'"}]}, "not a date"),
        ({"derive": [{"name": "x", "expr": "NULL"}]}, "give it a 'type'"),
        ({"derive": [{"name": "x", "expr": "flag", "type": "date"}]}, "'x'"),
        ({"select": ["order_id", "line_no", "missing"]}, "missing"),
        ({"select": ["qty"]}, "order_id"),
        ({"rename": {"missing": "m"}}, "missing"),
        ({"rename": {"qty": "name"}}, "name"),
        ({"select": ["order_id", "line_no"], "rename": {"qty": "q"}}, "qty"),
        ({"cast": {"missing": "int64"}}, "missing"),
        ({"rename": {"qty": "q"}, "cast": {"qty": "int64"}}, "qty"),
        ({"cast": {"flag": "date"}}, "flag"),
    ],
)
def test_invalid_transform_is_refused_up_front(spec, named):
    with pytest.raises(TransformError) as info:
        compile_transform(TransformSpec(**spec), SCHEMA)
    assert named in str(info.value)
    assert isinstance(info.value, Terminal)


def test_error_fields_name_the_column_or_expression():
    with pytest.raises(TransformError) as info:
        compile_transform(TransformSpec(filter="nope > 1"), SCHEMA)
    assert info.value.fields == {"expression": "nope > 1", "column": "nope"}


@pytest.mark.parametrize(
    ("spec", "rows", "named"),
    [
        ({"cast": {"status": "int64"}}, ROWS, "status"),
        (
            {"derive": [{"name": "big", "expr": "CAST(order_id AS BIGINT) * 9223372036854775807"}]},
            ROWS,
            "big",
        ),
        ({"derive": [{"name": "d", "expr": "unit_price * 1000", "type": "decimal(3,0)"}]}, ROWS, "d"),
    ],
)
def test_value_failures_at_apply_time_name_the_column(spec, rows, named):
    compiled = compile_transform(TransformSpec(**spec), SCHEMA)
    with pytest.raises(TransformError) as info:
        compiled.apply(batch(rows))
    assert named in str(info.value)


def test_apply_refuses_batch_missing_a_column():
    compiled = compile_transform(TransformSpec(), SCHEMA)
    partial = pa.RecordBatch.from_pydict({k: v for k, v in ROWS.items() if k != "flag"})
    with pytest.raises(TransformError, match="'flag'"):
        compiled.apply(partial)


@pytest.mark.parametrize(
    "logical",
    [
        "bool",
        "int16",
        "int32",
        "int64",
        "float32",
        "float64",
        "string",
        "binary",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "decimal(12,2)",
        "decimal(50,10)",
    ],
)
def test_arrow_type_round_trips(logical):
    assert logical_type(arrow_type(logical)) == logical


def test_arrow_type_specifics():
    assert arrow_type("decimal(12,2)") == pa.decimal128(12, 2)
    assert arrow_type("timestamp") == pa.timestamp("us")
    assert arrow_type("timestamptz") == pa.timestamp("us", tz="UTC")
    assert arrow_type("date") == pa.date32()
    assert arrow_type("time") == pa.time64("us")
    assert arrow_type("json") == pa.string()
    with pytest.raises(ValueError):
        arrow_type("money")
    with pytest.raises(ValueError):
        logical_type(pa.list_(pa.int64()))


# ---- property: filter + derive agree with a plain-Python reference ----------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PROP_SCHEMA = TableSchema(
    table="t",
    columns=(
        ColumnSchema(name="a", type="int64"),
        ColumnSchema(name="b", type="int64"),
        ColumnSchema(name="s", type="string"),
    ),
)


def _and(p, q):
    if p is False or q is False:
        return False
    return None if p is None or q is None else True


def _or(p, q):
    if p is True or q is True:
        return True
    return None if p is None or q is None else False


def _strict(fn):
    return lambda *xs: None if any(x is None for x in xs) else fn(*xs)


def _div(x, y):
    if x is None or y is None or y == 0:
        return None
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _mod(x, y):
    q = _div(x, y)
    return None if q is None else x - q * y


def _case(c, x, y):
    return x if c is True else y


small_int = st.integers(-6, 6)

int_leaves = st.one_of(
    st.sampled_from([("a", lambda r: r["a"]), ("b", lambda r: r["b"])]),
    st.just(("length(s)", lambda r: None if r["s"] is None else len(r["s"]))),
    small_int.map(lambda n: (str(n), lambda r, n=n: n)),
)


def _int_nodes(children):
    def binary(op, fn):
        return st.tuples(children, children).map(
            lambda p: (f"({p[0][0]} {op} {p[1][0]})", lambda r, p=p: fn(p[0][1](r), p[1][1](r)))
        )

    return st.one_of(
        binary("+", _strict(lambda x, y: x + y)),
        binary("-", _strict(lambda x, y: x - y)),
        binary("*", _strict(lambda x, y: x * y)),
        binary("/", _div),
        binary("%", _mod),
        children.map(lambda c: (f"abs({c[0]})", lambda r, c=c: _strict(abs)(c[1](r)))),
        st.tuples(children, children).map(
            lambda p: (
                f"coalesce({p[0][0]}, {p[1][0]})",
                lambda r, p=p: p[0][1](r) if p[0][1](r) is not None else p[1][1](r),
            )
        ),
    )


int_exprs = st.recursive(int_leaves, _int_nodes, max_leaves=6)

CMP = {
    "=": lambda x, y: x == y,
    "<>": lambda x, y: x != y,
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}

bool_leaves = st.one_of(
    st.tuples(int_exprs, st.sampled_from(sorted(CMP)), int_exprs).map(
        lambda t: (f"{t[0][0]} {t[1]} {t[2][0]}", lambda r, t=t: _strict(CMP[t[1]])(t[0][1](r), t[2][1](r)))
    ),
    int_exprs.map(lambda e: (f"{e[0]} IS NULL", lambda r, e=e: e[1](r) is None)),
    st.tuples(int_exprs, small_int, small_int).map(
        lambda t: (
            f"{t[0][0]} BETWEEN {t[1]} AND {t[2]}",
            lambda r, t=t: _strict(lambda x: t[1] <= x <= t[2])(t[0][1](r)),
        )
    ),
    st.tuples(int_exprs, st.lists(small_int, min_size=1, max_size=3)).map(
        lambda t: (
            f"{t[0][0]} IN ({', '.join(map(str, t[1]))})",
            lambda r, t=t: _strict(lambda x: x in t[1])(t[0][1](r)),
        )
    ),
    st.sampled_from(["x%", "%y", "_"]).map(
        lambda pat: (
            f"s LIKE '{pat}'",
            lambda r, pat=pat: (
                None
                if r["s"] is None
                else {"x%": r["s"].startswith("x"), "%y": r["s"].endswith("y"), "_": len(r["s"]) == 1}[pat]
            ),
        )
    ),
)


def _bool_nodes(children):
    return st.one_of(
        st.tuples(children, children).map(
            lambda p: (f"({p[0][0]} AND {p[1][0]})", lambda r, p=p: _and(p[0][1](r), p[1][1](r)))
        ),
        st.tuples(children, children).map(
            lambda p: (f"({p[0][0]} OR {p[1][0]})", lambda r, p=p: _or(p[0][1](r), p[1][1](r)))
        ),
        children.map(lambda c: (f"NOT ({c[0]})", lambda r, c=c: None if c[1](r) is None else not c[1](r))),
    )


bool_exprs = st.recursive(bool_leaves, _bool_nodes, max_leaves=4)

case_exprs = st.tuples(bool_exprs, int_exprs, int_exprs).map(
    lambda t: (
        f"CASE WHEN {t[0][0]} THEN {t[1][0]} ELSE {t[2][0]} END",
        lambda r, t=t: _case(t[0][1](r), t[1][1](r), t[2][1](r)),
    )
)

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "a": st.none() | st.integers(-50, 50),
            "b": st.none() | st.integers(-50, 50),
            "s": st.none() | st.text(alphabet="xyz", max_size=3),
        }
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, predicate=bool_exprs, value=st.one_of(int_exprs, case_exprs), flag=bool_exprs)
def test_filter_and_derive_agree_with_python_reference(rows, predicate, value, flag):
    spec = TransformSpec(
        filter=predicate[0],
        derive=[
            {"name": "v", "expr": value[0], "type": "int64"},
            {"name": "f", "expr": flag[0], "type": "bool"},
        ],
    )
    compiled = compile_transform(spec, PROP_SCHEMA)
    data = {k: [r[k] for r in rows] for k in ("a", "b", "s")}
    result = compiled.apply(pa.RecordBatch.from_pydict(data, schema=arrow_schema(PROP_SCHEMA)))
    expected = [dict(r, v=value[1](r), f=flag[1](r)) for r in rows if predicate[1](r) is True]
    assert result.to_pylist() == expected


def test_integer_literals_next_to_decimals_take_only_their_own_digits() -> None:
    """`coalesce(amount, 0) * 2` on decimal(10,2): SQL gives decimal(12,2); no 38-digit overflow."""
    schema = TableSchema(
        table="t",
        columns=(
            ColumnSchema(name="id", type="int64", nullable=False),
            ColumnSchema(name="amount", type="decimal(10,2)", nullable=True),
        ),
        primary_key=("id",),
    )
    spec = TransformSpec(derive=(DeriveColumn(name="twice", expr="coalesce(amount, 0) * 2 + 1000"),))
    compiled = compile_transform(spec, schema)
    batch = pa.record_batch(
        {
            "id": pa.array([1, 2], pa.int64()),
            "amount": pa.array([Decimal("1.50"), None], pa.decimal128(10, 2)),
        }
    )
    out = compiled.apply(batch)
    assert out.column("twice").to_pylist() == [Decimal("1003.00"), Decimal("1000.00")]
    assert [c.type for c in compiled.output_schema.columns][-1] == "decimal(13,2)"
