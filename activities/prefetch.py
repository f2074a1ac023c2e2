"""Read ahead of the consumer on a helper thread, so extract and load overlap.

A sync step alternates "read a batch" and "write a batch" on one thread, so its wall time is
the sum of both; reading the next batch while the current one is written makes it closer to
the larger of the two. Drivers release the GIL while they wait on the network and Arrow
releases it while it parses, so a thread is enough.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(source: Iterator[T], *, depth: int = 1, name: str = "vsc-prefetch") -> Generator[T, None, None]:
    """Yield the items of ``source`` while a thread fetches up to ``depth`` items ahead.

    Exceptions raised by ``source`` are re-raised in the consumer at the point they occurred.
    Stopping early (``close()`` on the returned generator, or an exception in the consumer)
    stops the reader and closes ``source`` on the reader's own thread, where it was running.

    Args:
        source: The iterator to read ahead of; it is consumed only by the helper thread.
        depth: How many items may wait for the consumer; memory holds at most ``depth + 2``.
        name: Thread name, for debugging.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            offer(_Failure(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=run, name=name, daemon=True)
    reader.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()
