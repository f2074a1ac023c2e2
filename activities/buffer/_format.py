"""The buffer object format: header, associated data, object keys and the Arrow IPC payload.

Object = header + AES-256-GCM ciphertext (tag appended). Header::

    magic "VSCB" | version u8 | key_id_len u8 | key_id | nonce (12) |
    created_at µs i64 | expires_at µs i64 | write_id (16)

The header is plaintext so the sweeper can read expiry without keys; every header field except
the nonce (an input of GCM itself) is also bound into the associated data, together with tenant,
run id and chunk seq, so no field can be edited and no object moved without failing the tag.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from activities.crypto import NONCE_BYTES, encode_aad

MAGIC = b"VSCB"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 4 + 1 + 1 + 255 + NONCE_BYTES + 8 + 8 + 16
_AAD_LABEL = "vsc-buffer-chunk"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
WRITE_ID_BYTES = 16
_SUFFIX = ".vsc"


class HeaderError(ValueError):
    """The bytes do not start with a well-formed buffer header."""


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch; the unit every stored and authenticated time uses."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """Inverse of :func:`to_micros`, as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=value)


def is_valid_run_id(run_id: str) -> bool:
    """True if ``run_id`` is a safe single key component."""
    return bool(_RUN_ID.match(run_id))


@dataclass(frozen=True)
class ChunkHeader:
    """Plaintext header fields of one stored chunk."""

    key_id: str
    nonce: bytes
    created_at: datetime
    expires_at: datetime
    write_id: str

    def encode(self) -> bytes:
        """Serialise to the on-disk layout."""
        key_id = self.key_id.encode("ascii")
        return b"".join(
            [
                MAGIC,
                struct.pack(">BB", FORMAT_VERSION, len(key_id)),
                key_id,
                self.nonce,
                struct.pack(">qq", to_micros(self.created_at), to_micros(self.expires_at)),
                bytes.fromhex(self.write_id),
            ]
        )


def decode_header(data: bytes) -> tuple[ChunkHeader, int]:
    """Parse a header from the start of ``data``.

    Returns:
        The header and the offset where the ciphertext begins.

    Raises:
        HeaderError: Wrong magic or version, or the data ends inside the header.
    """
    if data[:4] != MAGIC:
        raise HeaderError("bad magic")
    if len(data) < 6:
        raise HeaderError("truncated header")
    version, key_len = struct.unpack_from(">BB", data, 4)
    if version != FORMAT_VERSION:
        raise HeaderError(f"unsupported format version {version}")
    pos = 6 + key_len
    end = pos + NONCE_BYTES + 16 + WRITE_ID_BYTES
    if len(data) < end:
        raise HeaderError("truncated header")
    try:
        key_id = data[6:pos].decode("ascii")
    except UnicodeDecodeError:
        raise HeaderError("key id is not ascii") from None
    nonce = data[pos : pos + NONCE_BYTES]
    created, expires = struct.unpack_from(">qq", data, pos + NONCE_BYTES)
    write_id = data[end - WRITE_ID_BYTES : end].hex()
    try:
        times = from_micros(created), from_micros(expires)
    except OverflowError:
        raise HeaderError("timestamp out of range") from None
    return ChunkHeader(key_id, nonce, times[0], times[1], write_id), end


def chunk_aad(*, tenant: str, run_id: str, seq: int, header: ChunkHeader) -> bytes:
    """Associated data binding a chunk to its tenant, run, position, write and lifetime.

    The header's nonce is not part of it: GCM authenticates the nonce by construction.
    """
    return encode_aad(
        _AAD_LABEL,
        FORMAT_VERSION,
        tenant,
        run_id,
        seq,
        header.write_id,
        header.key_id,
        to_micros(header.created_at),
        to_micros(header.expires_at),
    )


def object_key(*, tenant: str, run_id: str, seq: int, write_id: str) -> str:
    """The one place that lays out buffer object keys: ``<tenant>/<run_id>/<seq:08d>-<write_id>.vsc``."""
    return f"{tenant}/{run_id}/{seq:08d}-{write_id}{_SUFFIX}"


def encode_table(data: pa.Table | pa.RecordBatch) -> bytes:
    """Arrow IPC stream with zstd-compressed buffers: columnar, compact, self-describing."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, data.schema, options=options) as writer:
        if isinstance(data, pa.RecordBatch):
            writer.write_batch(data)
        else:
            writer.write_table(data)
    return sink.getvalue().to_pybytes()


def decode_table(payload: bytes) -> pa.Table:
    """Inverse of :func:`encode_table`."""
    return pa.ipc.open_stream(pa.BufferReader(payload)).read_all()
