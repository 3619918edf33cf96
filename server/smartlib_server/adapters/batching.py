"""Dynamic batching, the way TorchServe and Triton do it: concurrent callers share one forward pass.

A caller's items join a bounded queue; one worker thread takes everything waiting (up to
`max_batch` items), runs it as one call and hands each caller its rows. A batch leaves as soon
as it is full, or `max_wait_s` after its oldest item arrived, so a lone request waits at most
the window. While a batch runs, new requests pile up and leave together as the next one: under
load the batch grows by itself, even with a window of 0.

A full queue refuses new work with ResourceExhausted, like admission does for RPCs: waiting
longer would only move the queue into the callers' deadlines.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from smartlib_core.errors import ResourceExhausted
from smartlib_server import deadlines
from smartlib_server.adapters.inference import PendingRows

log = logging.getLogger(__name__)


class _Job:
    __slots__ = ("items", "future", "arrived")

    def __init__(self, items: list) -> None:
        self.items = items
        self.future: Future = Future()
        self.arrived = time.monotonic()


class DynamicBatcher:
    """Runs `run(items) -> (len(items), d) array` over the items of concurrent `submit` calls.

    Args:
        run: the model call; rows come back in the order of the items given.
        name: the label of this batcher in metrics ("query", "book", "encoder").
        max_batch: items per call at most; a single request larger than this runs alone.
        max_wait_s: how long the oldest waiting item may wait for company.
        max_queue: items waiting at most; beyond it `submit` raises ResourceExhausted.
        observe: called with (name, items in the batch, seconds the oldest item waited).
    """

    def __init__(
        self, run: Callable[[list], np.ndarray], name: str, *, max_batch: int = 64, max_wait_s: float = 0.002,
        max_queue: int = 1024, observe: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.run, self.name = run, name
        self.max_batch, self.max_wait_s, self.max_queue = max_batch, max_wait_s, max_queue
        self.observe = observe
        self._jobs: deque[_Job] = deque()
        self._queued = 0  # items in self._jobs
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"smartlib-batch-{name}", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence) -> np.ndarray:
        """The rows of `items`, computed in a batch shared with concurrent callers.

        Raises:
            ResourceExhausted: the queue already holds `max_queue` items.
            DeadlineExceeded: the caller's deadline passed while waiting.
            Whatever `run` raised for the batch holding these items.
        """
        return self.start(items).result()

    def start(self, items: Sequence) -> PendingRows:
        """Queues `items` and returns at once; `result()` waits for their rows (raising as
        `submit` does), so the caller can work while its items wait for a batch.

        Raises:
            ResourceExhausted: the queue already holds `max_queue` items.
        """
        job = _Job(list(items))
        with self._cond:
            if self._closed:
                raise RuntimeError(f"the {self.name} batcher is closed")
            if self._queued and self._queued + len(job.items) > self.max_queue:
                raise ResourceExhausted(f"the {self.name} embedding queue is full; retry shortly", retry_after=0.2)
            self._jobs.append(job)
            self._queued += len(job.items)
            self._cond.notify()
        return PendingRows(wait=lambda: self._wait(job), future=job.future)

    def _wait(self, job: _Job) -> np.ndarray:
        left = deadlines.remaining()
        try:
            return job.future.result(timeout=None if left is None else max(left, 0.001))
        except TimeoutError:
            job.future.cancel()  # still queued: the worker skips it
            raise deadlines.DeadlineExceeded(f"deadline exceeded waiting for the {self.name} batch") from None

    @property
    def queued(self) -> int:
        """Items waiting for a batch (for the metrics scrape; a snapshot, no lock)."""
        return self._queued

    @property
    def alive(self) -> bool:
        """Whether the worker thread still runs (False once closed, or if it died)."""
        return self._thread.is_alive()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _take(self) -> list[_Job] | None:
        """The next batch: waits for a first job, then until the batch is full or its window ends."""
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if self._closed and not self._jobs:
                return None
            window_ends = self._jobs[0].arrived + self.max_wait_s
            while self._queued < self.max_batch and not self._closed:
                left = window_ends - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, size = [], 0
            while self._jobs and (not batch or size + len(self._jobs[0].items) <= self.max_batch):
                job = self._jobs.popleft()
                self._queued -= len(job.items)
                if job.future.set_running_or_notify_cancel():  # False: its caller gave up
                    batch.append(job)
                    size += len(job.items)
            return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            if batch:
                self._run(batch)

    def _run(self, batch: list[_Job]) -> None:
        items = [item for job in batch for item in job.items]
        waited = time.monotonic() - batch[0].arrived
        try:
            rows = self.run(items)
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the failure
            for job in batch:
                job.future.set_exception(exc)
            return
        if self.observe is not None:
            try:
                self.observe(self.name, len(items), waited)
            except Exception:  # noqa: BLE001 - metrics never fail a batch
                log.exception("batch metrics failed")
        start = 0
        for job in batch:
            job.future.set_result(rows[start : start + len(job.items)])
            start += len(job.items)
