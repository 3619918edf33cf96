"""Builds every book's reader-ranked SimilarBooks row before anyone asks for it.

A first-time row costs 2.3-3 ms of ranking (services/recommend/reader_rows.py) and must leave the event
loop for a worker thread; a kept row answers in microseconds on the loop. A mix of requests
over thousands of books therefore spent most of its time on first-time rows. This warmer builds
them ahead, on one daemon thread, most popular books first (they are asked about most):

- it starts once the server serves a catalog with an active encoder and reader ranker;
- a write or a swap (a new catalog version, a new index object) starts the rows afresh
  (services/recommend/similar_rows.py), so the warmer starts over once the version has stayed put for
  `settle_s`: a burst of writes costs one pass, not one per write;
- it runs at the lowest OS priority (nice 19), and while other threads of the process use CPU
  (requests being served) it sleeps after each row as long as the row took, so it takes at most
  half of one core and the GIL; on an idle server it builds rows back to back;
- it builds through RecommendService.build_reader_row, the very code a request runs, so an
  answer from a warmed row is the answer an on-demand row gives.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable

from smartlib_core.domain import Book
from smartlib_server.periodic import PeriodicWorker
from smartlib_server.services.recommend.service import RecommendService
from smartlib_server.services.recommend.vector_index import configure_faiss

log = logging.getLogger(__name__)

# Row sets are bounded (SimilarRows.max_rows); warming stops this far below the bound so that
# requests for other pool sizes do not fill it and empty every warmed row at once.
BOUND_HEADROOM = 0.25


@dataclasses.dataclass(frozen=True)
class WarmProgress:
    """Where the warmer stands for the catalog version it last looked at."""

    version: int = -1  # catalog version of the pass; -1 before the first
    built: int = 0  # rows this pass built (rows already kept are skipped, not counted)
    total: int = 0  # books the pass covers
    done: bool = False  # the pass went through all `total` books at `version`
    seconds: float = 0.0  # how long the finished pass took


def popularity_order(books: list[Book]) -> list[str]:
    """Book ids, most asked-about first: by list rank (1 is best), then by rating count."""
    ranked = sorted(books, key=lambda b: (b.list_rank < 0, max(b.list_rank, 0), -b.num_ratings, b.id))
    return [b.id for b in ranked]


class RowWarmer:
    """One background thread that keeps every book's reader row built.

    Args:
        recommend: the service whose rows are warmed.
        settle_s: how long the catalog version must stay put before a pass starts.
        poll_s: how often the thread looks at the version and the index.
        on_built: called after each row the warmer built (a metrics counter).
        on_pending: called with the books a pass has still to cover (a metrics gauge).
        duty: the share of its time the thread may spend building while the server is busy
            (0 < duty <= 1); it sleeps the rest, after each row.
        clock: the monotonic clock that times settling (tests pass one they advance).
    """

    def __init__(
        self, recommend: RecommendService, *, settle_s: float = 1.0, poll_s: float = 0.1,
        on_built: Callable[[], None] | None = None, on_pending: Callable[[int], None] | None = None,
        duty: float = 0.5, clock: Callable[[], float] = time.monotonic,
    ):
        if not 0 < duty <= 1:
            raise ValueError("duty must be in (0, 1]")
        self.recommend = recommend
        self.duty = duty
        self.settle_s = settle_s
        self.poll_s = poll_s
        self._on_built = on_built or (lambda: None)
        self._on_pending = on_pending or (lambda n: None)
        self._worker = PeriodicWorker(self._round, poll_s, "smartlib-row-warmer", on_start=self._on_thread_start,
                                      after_failure_s=1.0, failed="building reader rows ahead failed")
        self.progress = WarmProgress()
        self.rounds = 0  # times the thread has looked at the catalog; tests wait on it, not on sleeps
        self._clock = clock
        self._done = None  # (target, rows generation) of the last finished pass
        self._seen, self._since = None, clock()  # the target last looked at, and since when

    def start(self) -> None:
        """Starts the thread; a second call, or one after stop(), does nothing."""
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stops the thread and waits for it (one row at most, a few milliseconds)."""
        self._worker.stop(timeout)

    @property
    def running(self) -> bool:
        return self._worker.is_alive()

    def is_warm(self) -> bool:
        """Whether a finished pass covers the catalog version and index served now, and no row
        it built has been dropped since."""
        done = self._done
        return done is not None and _same(done[0], self._target()) and done[1] == self.recommend.rows.generation

    def _target(self):
        """(index, version) the rows belong to now; None when no reader ranker answers."""
        service = self.recommend
        version = service.index.version
        state = service.index.state
        if not service.index.ready.is_set() or state.finetuned is None or state.finetuned.ranker is None:
            return None
        return state.finetuned.index, version

    def _on_thread_start(self) -> None:
        _lower_priority()
        # OpenMP's thread count is per calling thread: without this, the first search here
        # starts a second OpenMP thread that spins between searches (8.6 s of CPU in 10 s).
        configure_faiss(1)
        self._seen, self._since = None, self._clock()

    def _round(self) -> None:
        """One look at the catalog; a failure is logged by the worker and retried a second later."""
        try:
            target = self._target()
            now = self._clock()
            if not _same(target, self._seen):
                self._seen, self._since = target, now  # something changed: wait for it to settle
                return
            if target is None or now - self._since < self.settle_s:
                return
            if self.is_warm():
                return  # and no row was dropped since
            if self._pass(target):
                self._done = target, self.recommend.rows.generation
        finally:
            self.rounds += 1

    def _pass(self, target) -> bool:
        """Builds the row of every book at `target`; False when stopped or the target moved."""
        started = time.perf_counter()
        service = self.recommend
        order = popularity_order(list(service.index.state.books.values()))
        order = order[: int(service.rows.max_rows * (1 - BOUND_HEADROOM))]
        built = 0
        pacer = Pacer(self.duty)
        self.progress = WarmProgress(target[1], 0, len(order))
        for position, book_id in enumerate(order):
            if position % 64 == 0:
                self._on_pending(len(order) - position)
            if self._worker.stopping or not _same(self._target(), target):
                return False  # the rows start afresh; the main loop waits for the catalog to settle
            began = time.perf_counter()
            if service.build_reader_row(book_id):
                built += 1
                self._on_built()
                self.progress = WarmProgress(target[1], built, len(order))
                self._worker.sleep(pacer.pause(time.perf_counter() - began))  # 0 still lets other threads in
        seconds = time.perf_counter() - started
        if built:  # rows restored from SMARTLIB_HOME/derived are stored already
            self.recommend.store_reader_rows(*target)
        self._on_pending(0)
        self.progress = WarmProgress(target[1], built, len(order), True, seconds)
        log.info("built %d reader rows ahead in %.1fs (catalog version %d)", built, seconds, target[1])
        return True


def cpu_clocks() -> tuple[float, float, float]:
    """(wall seconds, this process's CPU seconds, the calling thread's CPU seconds)."""
    return time.perf_counter(), time.process_time(), time.thread_time()


class Pacer:
    """How long to sleep after a row: `work_s` x (1 / duty - 1) when the process's other threads
    used CPU since the last call (more than `busy_share` of the time that passed), else 0.
    Process CPU time minus this thread's CPU time is what the others used; `clocks` reads the
    three (tests pass their own, so stray threads of the test process cannot sway them)."""

    def __init__(self, duty: float, busy_share: float = 0.05,
                 clocks: Callable[[], tuple[float, float, float]] = cpu_clocks):
        self.duty = duty
        self.busy_share = busy_share
        self._clocks = clocks
        self._mark = clocks()

    def pause(self, work_s: float) -> float:
        mark = self._clocks()
        (wall0, process0, own0), self._mark = self._mark, mark
        others = (mark[1] - process0) - (mark[2] - own0)
        busy = others > self.busy_share * (mark[0] - wall0)
        return work_s * (1 / self.duty - 1) if busy else 0.0


def _same(a, b) -> bool:
    """Targets compare by index identity and version (an index is not comparable by value)."""
    if a is None or b is None:
        return a is b
    return a[0] is b[0] and a[1] == b[1]


def _lower_priority() -> None:
    """Nice 19 for this thread alone (Linux applies setpriority to a thread id); best effort."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
