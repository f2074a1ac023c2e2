"""Claim-check buffer: chunks written as they are produced, read back only if authentic and unexpired."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from activities.buffer._backend import ObjectBackend
from activities.buffer._format import (
    MAX_HEADER_BYTES,
    WRITE_ID_BYTES,
    ChunkHeader,
    HeaderError,
    chunk_aad,
    decode_header,
    decode_table,
    encode_table,
    is_valid_run_id,
    object_key,
    to_micros,
)
from activities.crypto import Keyring, check_tenant, open_sealed, seal
from activities.errors import (
    BufferExpiredError,
    BufferIntegrityError,
    BufferNotFoundError,
    DecryptionFailedError,
    InvalidInputError,
    QuotaExceededError,
    SchemaMismatchError,
)
from workflows.types import BufferRef, ChunkRef, TableSchema

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime; injectable so tests can freeze and advance it."""

AuditHook = Callable[[str, Mapping[str, str]], None]
"""Receives ``(event, fields)`` once per chunk that fails integrity checks."""

INTEGRITY_EVENT = "buffer.integrity_failure"
DEFAULT_TTL = timedelta(hours=24)


def _system_clock() -> datetime:
    return datetime.now(UTC)


class BufferWriter:
    """Seals and stores one chunk per :meth:`write`; holds only chunk references, never rows.

    Obtain one from :meth:`BufferStore.open_writer`.
    """

    def __init__(
        self,
        *,
        backend: ObjectBackend,
        keyring: Keyring,
        tenant: str,
        run_id: str,
        table_schema: TableSchema,
        start_seq: int,
        created_at: datetime,
        expires_at: datetime,
        chunks: tuple[ChunkRef, ...] = (),
    ) -> None:
        self._backend = backend
        self._keyring = keyring
        self._tenant = tenant
        self._run_id = run_id
        self._schema = table_schema
        self._names = [c.name for c in table_schema.columns]
        self._seq = start_seq
        self._created_at = created_at
        self._expires_at = expires_at
        self._chunks: list[ChunkRef] = list(chunks)

    def write(self, batch: pa.RecordBatch | pa.Table) -> ChunkRef:
        """Encode, encrypt and store ``batch`` as the next chunk.

        Args:
            batch: Rows whose column names match the writer's table schema, in order.

        Returns:
            The chunk's reference (key, seq, rows, size, sha256, write id, key id).

        Raises:
            SchemaMismatchError: The batch's columns differ from the table schema.
            QuotaExceededError: The store refused the chunk (tenant over its buffer quota); the
                chunks this writer wrote are deleted first, so the cut-short extract neither
                gets loaded nor keeps holding the quota.
        """
        if batch.schema.names != self._names:
            raise SchemaMismatchError(
                f"table {self._schema.table!r}: batch columns {batch.schema.names} "
                f"do not match schema columns {self._names}",
                table=self._schema.table,
            )
        payload = encode_table(batch)
        key = self._keyring.current(self._tenant)
        header = ChunkHeader(
            key_id=key.key_id,
            nonce=b"",
            created_at=self._created_at,
            expires_at=self._expires_at,
            write_id=secrets.token_hex(WRITE_ID_BYTES),
        )
        aad = chunk_aad(tenant=self._tenant, run_id=self._run_id, seq=self._seq, header=header)
        nonce, ciphertext = seal(key.key, payload, aad)
        blob = dataclasses.replace(header, nonce=nonce).encode() + ciphertext
        name = object_key(tenant=self._tenant, run_id=self._run_id, seq=self._seq, write_id=header.write_id)
        try:
            self._backend.put(name, blob)
        except QuotaExceededError:
            for written in self._chunks:
                self._backend.delete(written.key)
            self._chunks.clear()
            raise
        chunk = ChunkRef(
            key=name,
            seq=self._seq,
            rows=batch.num_rows,
            size=len(blob),
            sha256=hashlib.sha256(blob).hexdigest(),
            write_id=header.write_id,
            key_id=key.key_id,
        )
        self._chunks.append(chunk)
        self._seq += 1
        return chunk

    def finish(self) -> BufferRef:
        """Return the claim check for every chunk written so far (also usable as heartbeat state).

        ``key_id`` is the first chunk's key (empty when nothing was written); each chunk
        records its own key because the keyring may rotate mid-run.
        """
        return BufferRef(
            tenant=self._tenant,
            run_id=self._run_id,
            table_schema=self._schema,
            key_id=(self._chunks[0].key_id or "") if self._chunks else "",
            created_at=self._created_at,
            expires_at=self._expires_at,
            chunks=tuple(self._chunks),
        )


class BufferStore:
    """Encrypted, expiring claim-check store over an :class:`ObjectBackend`.

    Args:
        backend: Where sealed objects live (directory or S3).
        keyring: Source of the tenant data keys.
        ttl: Lifetime of every chunk; authenticated, so it cannot be extended by editing objects.
        clock: Current time (aware); injectable for tests.
        on_integrity_failure: Audit hook called once per chunk that fails verification.
    """

    def __init__(
        self,
        *,
        backend: ObjectBackend,
        keyring: Keyring,
        ttl: timedelta = DEFAULT_TTL,
        clock: Clock = _system_clock,
        on_integrity_failure: AuditHook | None = None,
    ) -> None:
        if ttl <= timedelta(0):
            raise InvalidInputError("buffer ttl must be positive", ttl=ttl)
        self._backend = backend
        self._keyring = keyring
        self._ttl = ttl
        self._clock = clock
        self._audit = on_integrity_failure

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise InvalidInputError("buffer clock returned a naive datetime; it must be timezone-aware")
        return now.astimezone(UTC)

    def open_writer(
        self,
        *,
        tenant: str,
        run_id: str,
        table_schema: TableSchema,
        start_seq: int = 0,
        resume: BufferRef | None = None,
    ) -> BufferWriter:
        """Start a buffer for one table of one run; all its chunks share one expiry.

        Args:
            tenant: Owning tenant; selects the data key namespace.
            run_id: Workflow run the chunks belong to (a key component).
            table_schema: Schema every written batch must match.
            start_seq: First chunk sequence number (an activity resuming after chunk k passes k+1).
            resume: A ref heartbeated by an earlier attempt: the writer keeps its chunks and times
                (they are bound into each chunk's associated data) and continues after its last seq.

        Raises:
            InvalidInputError: Malformed tenant, run id or sequence number.
        """
        check_tenant(tenant)
        if not is_valid_run_id(run_id):
            raise InvalidInputError(f"run id {run_id!r} is not a safe key component", run_id=run_id)
        if start_seq < 0:
            raise InvalidInputError("start_seq must be >= 0", start_seq=start_seq)
        if resume is not None:
            if (resume.tenant, resume.run_id) != (tenant, run_id):
                raise InvalidInputError(
                    "a resumed buffer must belong to the same tenant and run", run_id=run_id
                )
            return BufferWriter(
                backend=self._backend,
                keyring=self._keyring,
                tenant=tenant,
                run_id=run_id,
                table_schema=table_schema,
                start_seq=resume.chunks[-1].seq + 1 if resume.chunks else start_seq,
                created_at=resume.created_at,
                expires_at=resume.expires_at,
                chunks=resume.chunks,
            )
        created_at = self._now()
        return BufferWriter(
            backend=self._backend,
            keyring=self._keyring,
            tenant=tenant,
            run_id=run_id,
            table_schema=table_schema,
            start_seq=start_seq,
            created_at=created_at,
            expires_at=created_at + self._ttl,
        )

    def read(self, ref: BufferRef, *, tenant: str) -> Iterator[pa.RecordBatch]:
        """Yield the buffer's rows chunk by chunk; a chunk is yielded only after it verified.

        Args:
            ref: The claim check.
            tenant: The caller's own tenant (from its context, never from ``ref``).

        Raises:
            BufferIntegrityError: Tenant mismatch, or a chunk was altered, moved or rolled back.
            BufferExpiredError: The buffer is past its authenticated expiry.
            BufferNotFoundError: A chunk object is missing.
        """
        for chunk in ref.chunks:
            yield from self.read_chunk(ref, chunk, tenant=tenant).to_batches()

    def read_chunk(self, ref: BufferRef, chunk: ChunkRef, *, tenant: str) -> pa.Table:
        """Verify, decrypt and decode one chunk (activities resume chunk by chunk).

        Raises:
            BufferIntegrityError: See :meth:`read`; the audit hook has been called once.
            BufferExpiredError: Past expiry per the injected clock.
            BufferNotFoundError: The object is missing.
        """

        def refuse(reason: str) -> BufferIntegrityError:
            fields = {
                "tenant": ref.tenant,
                "caller_tenant": tenant,
                "run_id": ref.run_id,
                "seq": str(chunk.seq),
                "key": chunk.key,
                "reason": reason,
            }
            if self._audit is not None:
                self._audit(INTEGRITY_EVENT, fields)
            return BufferIntegrityError(f"buffer chunk {chunk.key!r} refused: {reason}", **fields)

        if tenant != ref.tenant:
            raise refuse("caller tenant differs from the buffer's tenant")
        layout = object_key(tenant=ref.tenant, run_id=ref.run_id, seq=chunk.seq, write_id=chunk.write_id)
        if chunk.key != layout:
            raise refuse("object key does not match tenant, run, seq and write id")
        if self._now() >= ref.expires_at:
            raise BufferExpiredError(
                f"buffer chunk {chunk.key!r} expired at {ref.expires_at.isoformat()}",
                key=chunk.key,
                expires_at=ref.expires_at.isoformat(),
            )
        blob = self._backend.get(chunk.key)
        if len(blob) != chunk.size or not hmac.compare_digest(hashlib.sha256(blob).hexdigest(), chunk.sha256):
            raise refuse("sha256 or size differs from the claim check")
        try:
            header, offset = decode_header(blob)
        except HeaderError as exc:
            raise refuse(f"malformed header ({exc})") from None
        key_id = chunk.key_id or ref.key_id
        expected = (key_id, chunk.write_id, to_micros(ref.created_at), to_micros(ref.expires_at))
        found = (header.key_id, header.write_id, to_micros(header.created_at), to_micros(header.expires_at))
        if found != expected:
            raise refuse("header fields differ from the claim check")
        data_key = self._keyring.get(tenant, key_id)
        aad = chunk_aad(tenant=tenant, run_id=ref.run_id, seq=chunk.seq, header=header)
        try:
            payload = open_sealed(data_key.key, header.nonce, blob[offset:], aad, context=chunk.key)
        except DecryptionFailedError:
            raise refuse("authentication tag mismatch") from None
        table = decode_table(payload)
        if table.num_rows != chunk.rows:
            raise refuse("row count differs from the claim check")
        return table

    def delete(self, ref: BufferRef) -> None:
        """Delete every chunk of ``ref`` (missing ones are ignored)."""
        for chunk in ref.chunks:
            self._backend.delete(chunk.key)

    def purge_run(self, *, tenant: str, run_id: str) -> int:
        """Delete every object of one run, including orphans of failed attempts; returns the count."""
        check_tenant(tenant)
        if not is_valid_run_id(run_id):
            raise InvalidInputError(f"run id {run_id!r} is not a safe key component", run_id=run_id)
        deleted = 0
        for info in self._backend.list(f"{tenant}/{run_id}/"):
            self._backend.delete(info.key)
            deleted += 1
        return deleted

    def sweep(self, now: datetime | None = None) -> int:
        """Delete every expired object and return how many were deleted.

        Expiry comes from each object's header. An attacker who edits a header can only make
        the sweeper delete early or late; reads stay refused either way, and the S3 lifecycle
        rule bounds "late". Objects whose header cannot be parsed go once ``ttl`` has passed
        since they were last modified.

        Args:
            now: Time to sweep at; defaults to the store's clock.
        """
        at = (now or self._now()).astimezone(UTC)
        deleted = 0
        for info in self._backend.list(""):
            try:
                header, _ = decode_header(self._backend.get(info.key, length=MAX_HEADER_BYTES))
                expired = header.expires_at <= at
            except HeaderError:
                expired = info.last_modified + self._ttl <= at
            except BufferNotFoundError:
                continue  # deleted concurrently
            if expired:
                self._backend.delete(info.key)
                deleted += 1
        return deleted
