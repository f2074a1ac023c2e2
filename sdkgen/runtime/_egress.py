"""The egress allow-list: which URLs a guest (or the host on its behalf) may reach, and where they connect.

Two checks, both mandatory:

1. ``EgressPolicy.check_url`` looks at the URL alone, before anything touches the network:
   scheme http/https only, no userinfo, a canonical host (IDNA, lower case, trailing dot stripped,
   no alternative IPv4 spellings such as ``2130706433`` or ``0x7f.1``), and an exact origin match
   (scheme + host + port, default ports filled in). IP literals are classified right away.
2. ``GuardedBackend.connect_tcp`` runs when httpcore opens a connection: it resolves the name ONCE
   with the injected resolver, refuses if ANY address is outside the policy, and dials the checked
   IP literal, so a second, rebinding answer is never asked for. TLS SNI and the Host header keep the
   name because httpcore takes them from the URL, not from the backend.

Private addresses (loopback, RFC 1918, 100.64/10, fc00::/7) are allowed only for origins in
``private_origins``: the API's own origin when a LOCAL API runs on the tenant's agent, plus an
explicit operator list. Link-local (169.254/16 with the cloud metadata address, fe80::/10),
unspecified, multicast and reserved addresses are refused always.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from activities.errors import EgressDeniedError

Resolver = Callable[[str, int], list[str]]
"""Maps (host name, port) to the IP addresses to try, as strings."""

DialGuard = Callable[[str, int], None]
"""Called with (ip, port) just before each TCP dial; may raise to refuse (tests count and fence with it)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (``getaddrinfo``), TCP addresses only, in the order given."""
    seen: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        ip = str(sockaddr[0])
        if ip not in seen:
            seen.append(ip)
    return seen


@dataclass(frozen=True, order=True)
class Origin:
    """Scheme, canonical host and explicit port: what the allow-list compares, exactly."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _canonical_host(raw: str) -> str:
    """The host as compared and sent: lower case, no trailing dot; refuses odd IPv4 spellings and junk."""
    host = raw.lower()
    if host.endswith("."):
        host = host[:-1]
    if ":" in host:  # an IPv6 literal (httpx has already removed the brackets)
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise EgressDeniedError("malformed IPv6 address in URL") from None
    try:
        canonical = str(ipaddress.IPv4Address(host))
    except ValueError:
        canonical = ""
    if canonical:
        return canonical
    try:
        # inet_aton accepts what getaddrinfo would quietly accept: 2130706433, 0177.0.0.1, 0x7f.1.
        alt = ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        alt = None
    if alt is not None:
        raise EgressDeniedError(f"non-canonical IPv4 address form refused (it means {alt})", address=str(alt))
    if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
        raise EgressDeniedError("malformed host name in URL")
    return host


def origin_of(url: str | httpx.URL) -> Origin:
    """The canonical origin of ``url``; refuses schemes other than http/https, userinfo and bad ports.

    Raises:
        EgressDeniedError: The URL can never be allowed, whatever the allow-list.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise EgressDeniedError("malformed URL") from None
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise EgressDeniedError(f"scheme {scheme!r} refused: only http and https", scheme=scheme)
    if parsed.userinfo:
        raise EgressDeniedError("URLs with userinfo (user@host) are refused")
    if not parsed.raw_host:
        raise EgressDeniedError("URL without a host")
    host = _canonical_host(parsed.raw_host.decode("ascii", "replace"))
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise EgressDeniedError("port out of range")
    return Origin(scheme, host, port)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress, *, private_ok: bool) -> str | None:
    """Why ``ip`` may not be dialled, or None when it may.

    Args:
        ip: The address, IPv4 or IPv6.
        private_ok: Whether loopback / private / shared / unique-local space is allowed here.
    """
    inner = embedded_ipv4(ip)
    if inner is not None:
        why = address_refusal(inner, private_ok=private_ok)
        return None if why is None else f"{why} (embedded in {ip})"
    if ip.is_link_local:
        return "link-local address (cloud metadata range) refused"
    if ip.is_unspecified:
        return "unspecified address refused"
    if ip.is_multicast:
        return "multicast address refused"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "broadcast address refused"
    if ip.is_reserved:
        return "reserved address refused"
    private = ip.is_loopback or ip.is_private or ip in _CGNAT or not ip.is_global
    if private and not private_ok:
        return "private or loopback address refused for this API"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """The origins a call may reach and which of them may resolve to private addresses.

    Attributes:
        origins: The allow-list; normally just the API's own origin.
        private_origins: Origins allowed to resolve to private space (never link-local).
    """

    origins: frozenset[Origin]
    private_origins: frozenset[Origin] = frozenset()

    @classmethod
    def for_origins(cls, urls: Iterable[str], *, private: Iterable[str] = ()) -> EgressPolicy:
        """A policy allowing the origins of ``urls``; ``private`` lists those that may be private."""
        allowed = frozenset(origin_of(u) for u in urls)
        return cls(origins=allowed, private_origins=frozenset(origin_of(u) for u in private) & allowed)

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """Refuse ``url`` unless its origin is on the list; returns the normalized URL to send.

        Raises:
            EgressDeniedError: Outside the allow-list or never allowed (scheme, userinfo, IP form).
        """
        parsed = url if isinstance(url, httpx.URL) else _parse(url)
        origin = origin_of(parsed)
        if origin not in self.origins:
            raise EgressDeniedError(f"origin {origin} is not on the API's allow-list", origin=str(origin))
        try:
            ip: IPAddress | None = ipaddress.ip_address(origin.host)
        except ValueError:
            ip = None
        if ip is not None:
            why = address_refusal(ip, private_ok=origin in self.private_origins)
            if why:
                raise EgressDeniedError(why, origin=str(origin))
        return parsed.copy_with(host=origin.host)

    def private_ok(self, host: str, port: int) -> bool:
        """Whether (host, port) belongs to an origin allowed to be private (either scheme)."""
        return any(o.host == host and o.port == port for o in self.private_origins)

    def allows_host(self, host: str, port: int) -> bool:
        """Whether some allowed origin has this host and port (the connect-time re-check)."""
        return any(o.host == host and o.port == port for o in self.origins)


def _parse(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise EgressDeniedError("malformed URL") from None


@dataclass
class ConnectStats:
    """Counts of what the guarded backend did; tests assert on them, operators may export them."""

    resolutions: int = 0
    dials: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str) -> None:
        """Add one to counter ``name``."""
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that resolves once, checks every address and dials the checked IP.

    Args:
        policy: The allow-list of the client this backend serves.
        resolver: Name resolution (default: the system's); injected in tests.
        dial_guard: Optional hook run before each dial.
        stats: Counters shared with the owner.
    """

    def __init__(
        self,
        *,
        policy: EgressPolicy,
        resolver: Resolver,
        dial_guard: DialGuard | None,
        stats: ConnectStats,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._dial_guard = dial_guard
        self._stats = stats
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host`` once, refuse unless every address passes, then dial the first that answers."""
        name = host.lower().rstrip(".")
        if not self._policy.allows_host(name, port):
            self._stats.bump("refused")
            raise EgressDeniedError("connection outside the API's allow-list refused")
        private_ok = self._policy.private_ok(name, port)
        try:
            addresses = [ipaddress.ip_address(name)]
        except ValueError:
            self._stats.bump("resolutions")
            try:
                addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolver(name, port)]
            except (OSError, ValueError) as exc:
                raise httpcore.ConnectError(
                    f"could not resolve the API's host: {type(exc).__name__}"
                ) from None
        if not addresses:
            raise httpcore.ConnectError("the API's host resolved to no address")
        for ip in addresses:
            why = address_refusal(ip, private_ok=private_ok)
            if why:
                self._stats.bump("refused")
                raise EgressDeniedError(f"host resolves to a refused address: {why}", address=str(ip))
        last: Exception | None = None
        for ip in addresses:
            if self._dial_guard is not None:
                try:
                    self._dial_guard(str(ip), port)
                except OSError as exc:
                    last = httpcore.ConnectError(f"dial refused: {type(exc).__name__}")
                    continue
            self._stats.bump("dials")
            try:
                return self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        """Never: unix sockets are not an egress path."""
        raise EgressDeniedError("unix sockets are refused")

    def sleep(self, seconds: float) -> None:
        """Delegate (httpcore uses it for retries)."""
        self._inner.sleep(seconds)


def guarded_transport(
    policy: EgressPolicy,
    *,
    ssl_context: ssl.SSLContext,
    resolver: Resolver = system_resolver,
    dial_guard: DialGuard | None = None,
    stats: ConnectStats | None = None,
) -> httpx.HTTPTransport:
    """An httpx transport whose every connection is opened by :class:`GuardedBackend` under ``policy``.

    The one way this codebase builds an outbound client that must respect an allow-list: the
    runtime's SDK clients, the console's spec fetch and the agent's spec fetch.
    """
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    backend = GuardedBackend(
        policy=policy, resolver=resolver, dial_guard=dial_guard, stats=stats or ConnectStats()
    )
    # httpx has no public hook for the network backend; its pool is replaced with one that has ours.
    transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend)
    return transport
