"""Group commit: writers that arrive while a transaction is committing share the next one.

RecommendForUser logs one exposure per call, and each was its own transaction: on SQLite with
synchronous=FULL that is one fsync per call, and calls queued behind each other's fsync (the
bench's RecommendForUser phase spent half its wall time in commit). Here the first caller
writes whatever is pending in one transaction while later callers wait; when it is done, one of
them writes everything that piled up meanwhile. Every caller still returns only after its own
row is committed, so a recommendation_id is never handed out before its exposure is durable,
and a caller alone writes at once, without waiting for company. `submit_async` queues a row
for callers that must not block (RecommendForUser answered on the event loop): the same batches,
the same commit before the caller's future is resolved, so its reply still leaves after its row
is committed.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class _Ticket(Generic[T]):
    __slots__ = ("item", "done", "error", "future")

    def __init__(self, item: T, future: Future | None = None):
        self.item = item
        self.done = False
        self.error: BaseException | None = None
        self.future = future  # submit_async's: resolved once the item is committed


class GroupCommit(Generic[T]):
    """`write(items)` runs in one transaction for every item submitted while the last one ran."""

    def __init__(self, write: Callable[[Sequence[T]], None], max_batch: int = 256):
        self._write = write
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[_Ticket[T]] = []
        self._writing = False
        self._writer: threading.Thread | None = None

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
                self._write_pending()
        if ticket.error is not None:
            raise ticket.error

    def submit_async(self, item: T) -> Future:
        """Queues `item` and returns at once; the future's result is set (None) once it is
        committed, or its exception to what `write` raised. A writer thread, started on first
        use, writes what is pending when no submitting thread does, so the caller (the event
        loop) never waits for a transaction and never hands itself to a worker."""
        future: Future = Future()
        with self._cond:
            self._pending.append(_Ticket(item, future))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="smartlib-group-commit", daemon=True)
                self._writer.start()
            self._cond.notify_all()
        return future

    def _write_forever(self) -> None:
        with self._cond:
            while True:
                while self._writing or not self._pending:
                    self._cond.wait()
                self._write_pending()

    def _write_pending(self) -> None:
        """Writes the pending batch with the lock released; called and returns with it held."""
        batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
        self._writing = True
        self._cond.release()
        error: BaseException | None = None
        try:
            self._write([t.item for t in batch])
        except BaseException as exc:  # every caller in the batch gets it
            error = exc
        finally:
            for t in batch:  # (a future's callbacks run here, outside the lock)
                if t.future is not None:
                    if error is None:
                        t.future.set_result(None)
                    else:
                        t.future.set_exception(error)
            self._cond.acquire()
            for t in batch:
                t.done, t.error = True, error
            self._writing = False
            self._cond.notify_all()
