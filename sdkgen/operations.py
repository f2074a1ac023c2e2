"""Turn a loaded spec into the operations an SDK exposes, refusing (never crashing on) the rest.

Every path + method of the spec ends up in exactly one of ``ApiDescription.operations`` and
``ApiDescription.refused`` (with a reason). Choices made here:

- Parameters: path-level ones first, overridden by operation-level ones with the same name and
  location. ``Accept``, ``Content-Type`` and ``Authorization`` header parameters are dropped (the
  OpenAPI spec says to ignore them; the host sets those). Cookie parameters: an optional one is
  dropped, a required one refuses the operation (the host does not manage cookies).
- Path template and path parameters must match exactly, or the operation is refused.
- Request bodies: a JSON media type (``application/json``, ``*+json``, ``*/*``) becomes the body;
  an operation offering only other types (form, multipart, octet-stream) is refused if the body
  is required and generated without a body if it is optional.
- Response schema: the first 2xx response (in code order) with a JSON media type.
- Names: ``operationId`` (or ``<method>_<path>``) and parameter names go through
  ``sdkgen.naming``; parameters never take the name ``body``, which the SDK keeps for the request
  body.
"""

from __future__ import annotations

import re
from typing import Any

from sdkgen._schema_embed import bounded, is_marker, json_type, media_schema
from sdkgen.model import SAFE_METHODS, ApiDescription, Operation, Param, ParamLocation, Refusal, RequestBody
from sdkgen.naming import NameScope
from sdkgen.spec import LoadedSpec

__all__ = ["METHODS", "PARAM_RESERVED", "describe"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAM_RESERVED = frozenset({"body"})
"""Names a parameter identifier never takes (the generated function uses them itself)."""

_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_TEMPLATE_VAR = re.compile(r"\{([^{}/]*)\}")
_MAX_SUMMARY = 500
_MAX_DESCRIPTION = 2_000
_MAX_SERVERS = 20


class _Refused(Exception):
    """One operation cannot be generated; the message is the reason shown to the user."""


def _short(text: Any) -> str:
    value = str(text)
    return repr(value if len(value) <= 60 else value[:57] + "...")


def describe(spec: LoadedSpec) -> ApiDescription:
    """The operations of a loaded spec, and the ones refused with why.

    Args:
        spec: The output of ``sdkgen.spec.load_spec``.

    Returns:
        The description the renderer, the diff and the console work from.
    """
    doc = spec.document
    components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    default_security = _security_names(doc.get("security"))
    ops: list[Operation] = []
    refused: list[Refusal] = []
    op_names = NameScope()
    paths = doc.get("paths")
    for path, item in (paths if isinstance(paths, dict) else {}).items():
        if not isinstance(item, dict) or is_marker(item):
            refused.append(Refusal(method="*", path=str(path), reason="the path item is not an object"))
            continue
        for method in METHODS:
            if method not in item:
                continue
            try:
                ops.append(
                    _operation(
                        path=str(path),
                        method=method,
                        item=item,
                        names=op_names,
                        default_security=default_security,
                    )
                )
            except _Refused as exc:
                refused.append(Refusal(method=method.upper(), path=str(path), reason=str(exc)))
            except Exception as exc:  # noqa: BLE001 (one odd operation must not sink the others)
                refused.append(
                    Refusal(
                        method=method.upper(),
                        path=str(path),
                        reason=f"could not be read ({type(exc).__name__})",
                    )
                )
    return ApiDescription(
        title=spec.title,
        version=spec.version,
        openapi=spec.openapi,
        spec_sha256=spec.sha256,
        servers=_servers(doc.get("servers")),
        security_schemes={
            str(name): bounded(scheme, max_depth=5)
            for name, scheme in (schemes.items() if isinstance(schemes, dict) else ())
            if isinstance(scheme, dict)
        },
        operations=tuple(ops),
        refused=tuple(refused),
    )


def _operation(
    *,
    path: str,
    method: str,
    item: dict[str, Any],
    names: NameScope,
    default_security: tuple[str, ...] | None,
) -> Operation:
    op = item[method]
    if not isinstance(op, dict) or is_marker(op):
        raise _Refused("the operation is not an object")
    if not path.startswith("/"):
        raise _Refused("the path does not start with '/'")
    params = _params(path=path, path_params=item.get("parameters"), op_params=op.get("parameters"))
    body = _body(op.get("requestBody"))
    raw_id = op.get("operationId")
    op_id = names.claim(
        raw_id if isinstance(raw_id, str) and raw_id.strip() else f"{method}_{path}", fallback="operation"
    )
    security = _security_names(op.get("security")) if "security" in op else default_security
    summary = op.get("summary") or op.get("description") or ""
    return Operation(
        op_id=op_id,
        method=method.upper(),
        path=path,
        summary=str(summary)[:_MAX_SUMMARY],
        params=params,
        body=body,
        response_schema=_response_schema(op.get("responses")),
        read_only=method.upper() in SAFE_METHODS,
        security=security or (),
    )


def _params(*, path: str, path_params: Any, op_params: Any) -> tuple[Param, ...]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for source in (path_params, op_params):
        if source is None:
            continue
        if not isinstance(source, list):
            raise _Refused("'parameters' is not a list")
        for index, param in enumerate(source):
            if not isinstance(param, dict) or is_marker(param):
                raise _Refused(f"parameter #{index} is not a Parameter object")
            name, location = param.get("name"), param.get("in")
            if not isinstance(name, str) or not isinstance(location, str):
                raise _Refused(f"parameter #{index} has no 'name' or 'in'")
            merged[(name, location)] = param
    template_vars = _TEMPLATE_VAR.findall(path)
    declared = {name for name, location in merged if location == "path"}
    for var in template_vars:
        if var not in declared:
            raise _Refused(f"path parameter {_short(var)} of the template is not declared")
    for name in sorted(declared - set(template_vars)):
        raise _Refused(f"path parameter {_short(name)} is not in the path template")
    scope = NameScope(reserved=PARAM_RESERVED)
    out: list[Param] = []
    for (name, location), param in merged.items():
        required = bool(param.get("required", False)) or location == "path"
        if location == "cookie":
            if required:
                raise _Refused(f"required cookie parameter {_short(name)} is not supported")
            continue
        if location == "header" and name.lower() in _IGNORED_HEADERS:
            continue
        if location not in ("path", "query", "header"):
            raise _Refused(f"parameter {_short(name)} has an unknown location {_short(location)}")
        schema = param.get("schema")
        if schema is None:
            found = media_schema(param.get("content"))
            schema = found[1] if found else {}
        description = param.get("description")
        out.append(
            Param(
                name=name,
                ident=scope.claim(name, fallback="param"),
                location=ParamLocation(location),
                required=required,
                json_type=json_type(schema),
                schema=bounded(schema),
                description=str(description)[:_MAX_DESCRIPTION] if isinstance(description, str) else "",
            )
        )
    return tuple(out)


def _body(request_body: Any) -> RequestBody | None:
    if request_body is None:
        return None
    if not isinstance(request_body, dict) or is_marker(request_body):
        raise _Refused("'requestBody' is not a Request Body object")
    required = bool(request_body.get("required", False))
    found = media_schema(request_body.get("content"))
    if found is None:
        if not required:
            return None
        content = request_body.get("content")
        kinds = ", ".join(str(k)[:60] for k in list(content)[:5]) if isinstance(content, dict) else "none"
        raise _Refused(f"the required request body is not JSON (content types: {kinds})")
    media_type, schema = found
    content_type = "application/json" if "*" in media_type else media_type.split(";", 1)[0].strip()
    return RequestBody(required=required, content_type=content_type, schema=bounded(schema))


def _response_schema(responses: Any) -> dict[str, Any] | None:
    if not isinstance(responses, dict):
        return None
    for code in sorted(str(c) for c in responses):
        if not (len(code) == 3 and code.startswith("2")):
            continue
        response = responses.get(code)
        if not isinstance(response, dict):
            continue
        found = media_schema(response.get("content"))
        if found is not None:
            schema = bounded(found[1])
            return schema if isinstance(schema, dict) else {}
    return None


def _security_names(requirements: Any) -> tuple[str, ...] | None:
    if not isinstance(requirements, list):
        return None
    names: list[str] = []
    for requirement in requirements:
        if isinstance(requirement, dict):
            names.extend(str(name) for name in requirement if str(name) not in names)
    return tuple(names)


def _servers(servers: Any) -> tuple[str, ...]:
    if not isinstance(servers, list):
        return ()
    urls = [s["url"] for s in servers if isinstance(s, dict) and isinstance(s.get("url"), str)]
    return tuple(url[:2048] for url in urls[:_MAX_SERVERS])
