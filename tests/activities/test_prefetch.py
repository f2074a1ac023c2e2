from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from activities.prefetch import prefetch


def test_prefetch_yields_everything_in_order() -> None:
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_prefetch_reads_on_another_thread_and_ahead_of_the_consumer() -> None:
    produced: list[int] = []
    threads: set[str] = set()
    ready = threading.Event()

    def source() -> Iterator[int]:
        for i in range(5):
            threads.add(threading.current_thread().name)
            produced.append(i)
            if i == 1:
                ready.set()
            yield i

    it = prefetch(source(), depth=1)
    assert next(it) == 0
    assert ready.wait(5)  # item 1 was read while the consumer still held item 0
    assert threads == {"vsc-prefetch"}
    assert list(it) == [1, 2, 3, 4]


def test_prefetch_reraises_source_errors_after_the_good_items() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise ValueError("boom at 2")

    it = prefetch(source())
    assert next(it) == 1
    with pytest.raises(ValueError, match="boom at 2"):
        next(it)


def test_stopping_early_closes_the_source_on_its_thread() -> None:
    closed_on: list[str] = []

    def source() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed_on.append(threading.current_thread().name)

    it = prefetch(source(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert closed_on == ["vsc-prefetch"]
