"""The encrypted claim-check buffer: the one owner of the buffer object format and its stores.

Activities write chunks as they extract (``BufferStore.open_writer``) and hand workflows a
``BufferRef``; loaders read it back with ``BufferStore.read`` / ``read_chunk``.
"""

from activities.buffer._backend import ObjectBackend, ObjectInfo
from activities.buffer._directory import DirectoryBackend
from activities.buffer._format import FORMAT_VERSION, MAGIC, ChunkHeader, decode_header, object_key
from activities.buffer._s3 import LIFECYCLE_RULE_ID, S3Backend
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
    "S3Backend",
    "LIFECYCLE_RULE_ID",
    # object format
    "ChunkHeader",
    "decode_header",
    "object_key",
    "MAGIC",
    "FORMAT_VERSION",
]
