"""Group commit: writers that arrive while a transaction is committing share the next one.

RecommendForUser logs one exposure per call, and each was its own transaction: on SQLite with
synchronous=FULL that is one fsync per call, and calls queued behind each other's fsync (the
bench's RecommendForUser phase spent half its wall time in commit). Here the first caller
writes whatever is pending in one transaction while later callers wait; when it is done, one of
them writes everything that piled up meanwhile. Every caller still returns only after its own
row is committed, so a recommendation_id is never handed out before its exposure is durable,
and a caller alone writes at once, without waiting for company.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Ticket(Generic[T]):
    __slots__ = ("item", "done", "error")

    def __init__(self, item: T):
        self.item = item
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """`write(items)` runs in one transaction for every item submitted while the last one ran."""

    def __init__(self, write: Callable[[Sequence[T]], None], max_batch: int = 256):
        self._write = write
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[_Ticket[T]] = []
        self._writing = False

    def submit(self, item: T) -> None:
        """Returns once `item` is committed.

        Raises:
            whatever `write` raised for the batch that held `item`.
        """
        ticket = _Ticket(item)
        with self._cond:
            self._pending.append(ticket)
            while not ticket.done:
                if self._writing:
                    self._cond.wait()
                    continue
                # This caller writes what is pending (its own row among it, unless a batch's cap
                # leaves it for the next round, which it then writes too).
                batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                self._writing = True
                self._cond.release()
                error: BaseException | None = None
                try:
                    self._write([t.item for t in batch])
                except BaseException as exc:  # every caller in the batch gets it
                    error = exc
                finally:
                    self._cond.acquire()
                    for t in batch:
                        t.done, t.error = True, error
                    self._writing = False
                    self._cond.notify_all()
        if ticket.error is not None:
            raise ticket.error
