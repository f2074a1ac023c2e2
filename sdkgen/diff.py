"""Breaking-change detection between two versions of an API, as a caller of its SDK sees them.

A change is breaking when a call that worked against the old SDK can fail, or return data
the caller cannot rely on, against the new one. Operations are matched by id, method and
path together (the id is what workflows call; a changed method or path is a different
operation), so such a change reads as a removal plus an addition. Parameters are matched by
identifier, the name callers pass.

Decisions:

- ``param_removed`` is breaking: the new SDK refuses unknown arguments, so a caller still
  sending it fails (silently dropping it could change what the call means).
- ``param_type_changed`` is breaking unless the new type is ``any`` or widens integer to number.
- Response changes compare ``type`` and ``properties`` (and array ``items``) recursively to
  ``MAX_DEPTH``: a removed field or a type the caller has not seen is breaking, an added field
  or a narrowed type is not. ``allOf``/``oneOf``/``anyOf`` are not compared.
- Any change of the security schemes or of an operation's security is breaking: credentials
  registered for the old version may no longer be accepted.
- A server list change is informative only: the registration's base URL decides where calls go.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from sdkgen.model import ApiDescription, Operation, Param, RequestBody

MAX_DEPTH = 8
"""How deep response schemas are compared; the loader bounds them anyway."""


class ChangeKind(StrEnum):
    """What changed."""

    OPERATION_REMOVED = "operation_removed"
    OPERATION_ADDED = "operation_added"
    PARAM_ADDED_REQUIRED = "param_added_required"
    PARAM_ADDED_OPTIONAL = "param_added_optional"
    PARAM_REMOVED = "param_removed"
    PARAM_TYPE_CHANGED = "param_type_changed"
    PARAM_BECAME_REQUIRED = "param_became_required"
    PARAM_BECAME_OPTIONAL = "param_became_optional"
    PARAM_MOVED = "param_moved"
    BODY_ADDED_REQUIRED = "body_added_required"
    BODY_ADDED_OPTIONAL = "body_added_optional"
    BODY_REMOVED = "body_removed"
    BODY_BECAME_REQUIRED = "body_became_required"
    BODY_BECAME_OPTIONAL = "body_became_optional"
    BODY_TYPE_CHANGED = "body_type_changed"
    BODY_FIELD_BECAME_REQUIRED = "body_field_became_required"
    RESPONSE_REMOVED = "response_removed"
    RESPONSE_ADDED = "response_added"
    RESPONSE_FIELD_REMOVED = "response_field_removed"
    RESPONSE_FIELD_ADDED = "response_field_added"
    RESPONSE_TYPE_CHANGED = "response_type_changed"
    AUTH_CHANGED = "auth_changed"
    SERVER_CHANGED = "server_changed"


class ApiChange(BaseModel):
    """One difference; ``operation`` is empty for API-wide changes."""

    model_config = ConfigDict(frozen=True)

    kind: ChangeKind
    breaking: bool
    operation: str = ""
    detail: str


class ApiDiff(BaseModel):
    """All differences of ``new`` against ``old``, in a stable order."""

    model_config = ConfigDict(frozen=True)

    changes: tuple[ApiChange, ...] = ()

    @property
    def breaking(self) -> bool:
        """Whether any change can break an existing caller."""
        return any(c.breaking for c in self.changes)


def _change(kind: ChangeKind, breaking: bool, operation: str, detail: str) -> ApiChange:
    return ApiChange(kind=kind, breaking=breaking, operation=operation, detail=detail)


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    """The schema's types; None means any (no ``type``)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list) and all(isinstance(k, str) for k in kind):
        return frozenset(kind)
    return None


def _show(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def _field(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _response_changes(op_id: str, old: Any, new: Any, where: str, depth: int) -> list[ApiChange]:
    if depth > MAX_DEPTH or not isinstance(old, dict) or not isinstance(new, dict):
        return []
    label = where or "the response"
    old_t, new_t = _types(old), _types(new)
    if old_t != new_t:
        # the caller receives: a type it has not seen (or "any") breaks it, a narrower one does not
        breaking = new_t is None or (old_t is not None and not new_t <= old_t)
        detail = f"{label} was {_show(old_t)}, now {_show(new_t)}"
        return [_change(ChangeKind.RESPONSE_TYPE_CHANGED, breaking, op_id, detail)]
    changes: list[ApiChange] = []
    old_props, new_props = old.get("properties"), new.get("properties")
    if isinstance(old_props, dict) and isinstance(new_props, dict):
        for name in sorted(old_props.keys() - new_props.keys()):
            changes.append(
                _change(ChangeKind.RESPONSE_FIELD_REMOVED, True, op_id, f"{_field(where, name)} removed")
            )
        for name in sorted(new_props.keys() - old_props.keys()):
            changes.append(
                _change(ChangeKind.RESPONSE_FIELD_ADDED, False, op_id, f"{_field(where, name)} added")
            )
        for name in sorted(old_props.keys() & new_props.keys()):
            changes += _response_changes(
                op_id, old_props[name], new_props[name], _field(where, name), depth + 1
            )
    elif isinstance(old_props, dict) and old_props:  # the new schema promises no fields at all
        for name in sorted(old_props):
            changes.append(
                _change(ChangeKind.RESPONSE_FIELD_REMOVED, True, op_id, f"{_field(where, name)} removed")
            )
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        changes += _response_changes(op_id, old["items"], new["items"], f"{where}[]", depth + 1)
    return changes


def _param_changes(op_id: str, old: tuple[Param, ...], new: tuple[Param, ...]) -> list[ApiChange]:
    olds, news = {p.ident: p for p in old}, {p.ident: p for p in new}
    changes: list[ApiChange] = []
    for ident in sorted(olds.keys() - news.keys()):
        changes.append(_change(ChangeKind.PARAM_REMOVED, True, op_id, f"parameter {ident} removed"))
    for ident in sorted(news.keys() - olds.keys()):
        p = news[ident]
        kind = ChangeKind.PARAM_ADDED_REQUIRED if p.required else ChangeKind.PARAM_ADDED_OPTIONAL
        changes.append(
            _change(kind, p.required, op_id, f"{'required' if p.required else 'optional'} {ident} added")
        )
    for ident in sorted(olds.keys() & news.keys()):
        a, b = olds[ident], news[ident]
        if a.json_type != b.json_type:
            breaking = b.json_type != "any" and not (a.json_type == "integer" and b.json_type == "number")
            detail = f"{ident} was {a.json_type}, now {b.json_type}"
            changes.append(_change(ChangeKind.PARAM_TYPE_CHANGED, breaking, op_id, detail))
        if a.required != b.required:
            kind = ChangeKind.PARAM_BECAME_REQUIRED if b.required else ChangeKind.PARAM_BECAME_OPTIONAL
            changes.append(
                _change(kind, b.required, op_id, f"{ident} is now {'required' if b.required else 'optional'}")
            )
        if (a.location, a.name) != (b.location, b.name):
            # the SDK sends it where the new spec says; the caller's code does not change
            detail = f"{ident} moved from {a.location.value} {a.name} to {b.location.value} {b.name}"
            changes.append(_change(ChangeKind.PARAM_MOVED, False, op_id, detail))
    return changes


def _body_changes(op_id: str, old: RequestBody | None, new: RequestBody | None) -> list[ApiChange]:
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        kind = ChangeKind.BODY_ADDED_REQUIRED if new.required else ChangeKind.BODY_ADDED_OPTIONAL
        return [
            _change(kind, new.required, op_id, f"{'required' if new.required else 'optional'} body added")
        ]
    if new is None:
        return [_change(ChangeKind.BODY_REMOVED, True, op_id, "the body was removed")]
    changes: list[ApiChange] = []
    if old.required != new.required:
        kind = ChangeKind.BODY_BECAME_REQUIRED if new.required else ChangeKind.BODY_BECAME_OPTIONAL
        changes.append(
            _change(
                kind, new.required, op_id, f"the body is now {'required' if new.required else 'optional'}"
            )
        )
    old_t, new_t = _types(old.schema_), _types(new.schema_)
    if old_t != new_t or old.content_type != new.content_type:
        # the caller sends: a type or media type that no longer admits what it sends breaks it
        breaking = old.content_type != new.content_type or not (
            new_t is None or (old_t is not None and old_t <= new_t)
        )
        detail = f"the body was {old.content_type} {_show(old_t)}, now {new.content_type} {_show(new_t)}"
        changes.append(_change(ChangeKind.BODY_TYPE_CHANGED, breaking, op_id, detail))
    old_req, new_req = old.schema_.get("required", []), new.schema_.get("required", [])
    if isinstance(old_req, list) and isinstance(new_req, list):
        for name in sorted({str(n) for n in new_req} - {str(n) for n in old_req}):
            changes.append(
                _change(
                    ChangeKind.BODY_FIELD_BECAME_REQUIRED, True, op_id, f"body field {name} is now required"
                )
            )
    return changes


def _operation_changes(old: Operation, new: Operation) -> list[ApiChange]:
    op_id = new.op_id
    changes = _param_changes(op_id, old.params, new.params) + _body_changes(op_id, old.body, new.body)
    if old.response_schema is not None and new.response_schema is None:
        changes.append(_change(ChangeKind.RESPONSE_REMOVED, True, op_id, "no JSON response any more"))
    elif old.response_schema is None and new.response_schema is not None:
        changes.append(_change(ChangeKind.RESPONSE_ADDED, False, op_id, "now has a JSON response schema"))
    else:
        changes += _response_changes(op_id, old.response_schema, new.response_schema, "", 0)
    if set(old.security) != set(new.security):
        before, after = sorted(old.security) or "the API default", sorted(new.security) or "the API default"
        detail = f"security was {before}, now {after}"
        changes.append(_change(ChangeKind.AUTH_CHANGED, True, op_id, detail))
    return changes


def diff_apis(old: ApiDescription, new: ApiDescription) -> ApiDiff:
    """Every change from ``old`` to ``new``: API-wide first, then by operation id."""
    changes: list[ApiChange] = []
    for name in sorted(old.security_schemes.keys() | new.security_schemes.keys()):
        before, after = old.security_schemes.get(name), new.security_schemes.get(name)
        if before != after:
            what = "added" if before is None else "removed" if after is None else "changed"
            changes.append(_change(ChangeKind.AUTH_CHANGED, True, "", f"security scheme {name} {what}"))
    if old.servers != new.servers:
        detail = f"servers were {list(old.servers)}, now {list(new.servers)}"
        changes.append(_change(ChangeKind.SERVER_CHANGED, False, "", detail))
    olds = {(o.op_id, o.method, o.path): o for o in old.operations}
    news = {(o.op_id, o.method, o.path): o for o in new.operations}
    for key in sorted(olds.keys() | news.keys()):
        op_id, method, path = key
        if key not in news:
            changes.append(_change(ChangeKind.OPERATION_REMOVED, True, op_id, f"{method} {path} removed"))
        elif key not in olds:
            changes.append(_change(ChangeKind.OPERATION_ADDED, False, op_id, f"{method} {path} added"))
        else:
            changes += _operation_changes(olds[key], news[key])
    return ApiDiff(changes=tuple(changes))


def _printable(text: str) -> str:
    # spec text reaches a terminal: no escape sequences or line breaks of its own
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def render_report(diff: ApiDiff) -> str:
    """The text ``vsc api diff`` prints: a summary line, then breaking changes first."""
    if not diff.changes:
        return "no changes\n"
    breaking = [c for c in diff.changes if c.breaking]
    other = [c for c in diff.changes if not c.breaking]
    lines = [f"{len(breaking)} breaking, {len(other)} other change(s)"]
    for change in breaking + other:
        flag = "BREAKING" if change.breaking else "ok      "
        where = f"{change.operation}: " if change.operation else ""
        lines.append(_printable(f"{flag} {change.kind.value:<28} {where}{change.detail}"))
    return "\n".join(lines) + "\n"
