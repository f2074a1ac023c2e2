"""The encrypted claim-check buffer: the one owner of the buffer object format and its stores.

Activities write chunks as they extract (``BufferStore.open_writer``) and hand workflows a
``BufferRef``; loaders read it back with ``BufferStore.read`` / ``read_chunk``. The S3 backend
is in :mod:`activities.buffer.s3`, imported only by the cloud side: the agent needs no AWS SDK.
"""

from activities.buffer._backend import ObjectBackend, ObjectInfo
from activities.buffer._directory import DirectoryBackend
from activities.buffer._format import FORMAT_VERSION, MAGIC, ChunkHeader, decode_header, object_key
from activities.buffer._quota import BufferQuota, QuotaBackend, buffer_usage
from activities.buffer._store import DEFAULT_TTL, INTEGRITY_EVENT, AuditHook, BufferStore, BufferWriter, Clock

__all__ = [
    # store
    "BufferStore",
    "BufferWriter",
    "Clock",
    "AuditHook",
    "DEFAULT_TTL",
    "INTEGRITY_EVENT",
    # backends
    "ObjectBackend",
    "ObjectInfo",
    "DirectoryBackend",
    # quota
    "BufferQuota",
    "QuotaBackend",
    "buffer_usage",
    # object format
    "ChunkHeader",
    "decode_header",
    "object_key",
    "MAGIC",
    "FORMAT_VERSION",
]
