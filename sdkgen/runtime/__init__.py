"""The runtime host of generated SDKs: wasmtime sandbox, egress allow-list, credentials, limits, audit.

Usage (one ``SdkHost`` per worker process)::

    host = SdkHost(audit=sink)
    sdk = host.load(precompiled_bytes, engine_key=ENGINE_KEY)
    response = host.call(sdk=sdk, operation=op, args={"order_id": 7}, target=target)
"""

from sdkgen.runtime._auth import GUEST_FORBIDDEN_HEADERS, OAuth2Tokens, RawResponse
from sdkgen.runtime._egress import (
    ConnectStats,
    DialGuard,
    EgressPolicy,
    Origin,
    Resolver,
    address_refusal,
    guarded_transport,
    origin_of,
    system_resolver,
)
from sdkgen.runtime._host import HOST_INTERFACE, LoadedSdk, SdkHost
from sdkgen.runtime._limits import TICK_S, TokenBucket
from sdkgen.runtime._pagination import items_of, iter_items, next_link
from sdkgen.runtime._target import (
    ApiResponse,
    AuditEvent,
    AuditSink,
    CallLimits,
    CallTarget,
    ListAuditSink,
    NullAuditSink,
)

__all__ = [
    # host
    "SdkHost",
    "LoadedSdk",
    "HOST_INTERFACE",
    # boundary models
    "CallTarget",
    "CallLimits",
    "ApiResponse",
    # audit
    "AuditEvent",
    "AuditSink",
    "ListAuditSink",
    "NullAuditSink",
    # egress
    "EgressPolicy",
    "Origin",
    "Resolver",
    "DialGuard",
    "ConnectStats",
    "origin_of",
    "address_refusal",
    "guarded_transport",
    "system_resolver",
    # auth and limits
    "OAuth2Tokens",
    "RawResponse",
    "GUEST_FORBIDDEN_HEADERS",
    "TokenBucket",
    "TICK_S",
    # pagination
    "iter_items",
    "items_of",
    "next_link",
]
