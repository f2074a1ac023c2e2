"""Schemas of the codec server: Temporal's codec-server JSON (``{"payloads": [...]}``), both ways.

Metadata values and data are base64, as protobuf JSON renders ``bytes``; the same models describe
what the Temporal CLI and Web UI send and what they get back.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from console_api.api.schemas._common import Moment, Request

MAX_PAYLOADS = 1000


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("must be standard base64 (with padding)") from None
    return value


Base64 = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$", description="Base64 of raw bytes"),
    AfterValidator(_base64),
]


class CodecPayload(BaseModel):
    """One Temporal ``Payload``: metadata (encoding, key id, tenant ...) and data, all base64."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[Annotated[str, Field(min_length=1, max_length=256)], Base64] = Field(
        default_factory=dict, max_length=64
    )
    data: Base64 = ""


class CodecPayloads(Request):
    """A batch of payloads to encode or decode (the codec-server protocol's body and answer)."""

    payloads: list[CodecPayload] = Field(max_length=MAX_PAYLOADS)


class CodecSessionPublic(BaseModel):
    """A codec session started for this browser (its token is only in the HttpOnly cookie)."""

    tenant: str
    expires_at: Moment
