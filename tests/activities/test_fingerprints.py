"""The parity fingerprint: order-independent, and defined for every value a connector can return."""

from __future__ import annotations

import pyarrow as pa

from activities.fingerprints import fingerprint_batches


def batch(blobs: list[bytes | None], *, first_id: int = 0) -> pa.RecordBatch:
    ids = pa.array(range(first_id, first_id + len(blobs)), pa.int64())
    return pa.record_batch({"id": ids, "blob": pa.array(blobs, pa.binary())})


def test_binary_values_that_are_not_utf8_fingerprint_and_count() -> None:
    data = [b"\xff\x00\xfe", None, b"plain", b""]
    fp = fingerprint_batches([batch(data)])
    assert fp.rows == 4
    assert fingerprint_batches([batch(data[::-1])]).rows == 4


def test_one_changed_byte_changes_the_fingerprint_and_null_differs_from_empty() -> None:
    base = fingerprint_batches([batch([b"\xff\x00"])])
    assert fingerprint_batches([batch([b"\xfe\x00"])]) != base
    assert fingerprint_batches([batch([None])]) != fingerprint_batches([batch([b""])])


def test_row_order_and_batching_do_not_matter() -> None:
    rows = [b"\x01", b"\x02\xff", b"\x03"]
    whole = fingerprint_batches([batch(rows)])
    split = fingerprint_batches([batch(rows[1:], first_id=1), batch(rows[:1])])
    assert whole == split and whole.rows == 3
