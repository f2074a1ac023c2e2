"""The agent's outbound tunnel to the gateway (protocol: docs/agent-protocol.md)."""

from mini_connector.tunnel.backoff import Backoff
from mini_connector.tunnel.client import TunnelClient, TunnelOptions
from mini_connector.tunnel.mux import Mux
from mini_connector.tunnel.protocol import (
    CLOSE_AUTH,
    CLOSE_REVOKED,
    CONNECT_PATH,
    ENROLL_PATH,
    Frame,
    Kind,
    auth_message,
    check_gateway_url,
    decode_frame,
    encode_frame,
)
from mini_connector.tunnel.signer import InMemoryEd25519Signer, Signer, verify_signature

__all__ = [
    # Client
    "TunnelClient",
    "TunnelOptions",
    "Backoff",
    # Identity
    "Signer",
    "InMemoryEd25519Signer",
    "verify_signature",
    # Wire format
    "Mux",
    "Frame",
    "Kind",
    "encode_frame",
    "decode_frame",
    "auth_message",
    "check_gateway_url",
    "CONNECT_PATH",
    "ENROLL_PATH",
    "CLOSE_AUTH",
    "CLOSE_REVOKED",
]
