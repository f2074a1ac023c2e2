"""The declarative transform a flow applies between extract and load: data, never code.

A spec travels in workflow inputs and histories, so it is a frozen pydantic model holding
only names and expression *text*. Expressions are parsed and checked against the real input
schema by ``activities.transform.compile_transform``; this module validates only what it can
know without a schema (identifiers, duplicates, empty strings).

Steps run in a fixed order, and each step sees the names produced by the steps before it:

1. ``filter``: keep rows where the boolean expression is TRUE (NULL counts as false, as in SQL
   ``WHERE``). It sees the input columns.
2. ``derive``: add (or replace) columns from expressions, in list order; a later expression
   may use an earlier derived column.
3. ``select``: keep only these columns, in this order (all columns when omitted).
4. ``rename``: old name -> new name.
5. ``cast``: convert columns to logical types; keys are the names *after* ``rename``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from workflows.types import Frozen, Identifier, LogicalType

_MAX_EXPR = 4000


class DeriveColumn(Frozen):
    """One computed column.

    ``type`` is optional: without it the column gets the type the expression produces;
    with it the result is cast, which is how a sink gets a stable ``decimal(12,2)``.
    """

    name: Identifier
    expr: str = Field(min_length=1, max_length=_MAX_EXPR)
    type: LogicalType | None = None


class TransformSpec(Frozen):
    """A row filter plus column derive/select/rename/cast, applied in that documented order."""

    filter: str | None = Field(default=None, min_length=1, max_length=_MAX_EXPR)
    derive: tuple[DeriveColumn, ...] = ()
    select: tuple[Identifier, ...] | None = None
    rename: dict[Identifier, Identifier] = Field(default_factory=dict)
    cast: dict[Identifier, LogicalType] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_names(self) -> TransformSpec:
        _no_duplicates("derive", [d.name for d in self.derive])
        if self.select is not None:
            if not self.select:
                raise ValueError("select must name at least one column")
            _no_duplicates("select", list(self.select))
        _no_duplicates("rename target", list(self.rename.values()))
        return self

    @property
    def is_identity(self) -> bool:
        """True when the spec changes nothing, so a flow can skip the transform step."""
        return not (self.filter or self.derive or self.select is not None or self.rename or self.cast)


def _no_duplicates(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} names column {name!r} twice")
        seen.add(name)
