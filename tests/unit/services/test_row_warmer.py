"""RowWarmer's schedule, against a stand-in service: most popular first, one pass per settled
catalog version, a new pass when rows are dropped, and a clean stop."""
from __future__ import annotations

import threading
import time

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.recommend.row_warmer import Pacer, RowWarmer, popularity_order
from smartlib_server.services.recommend.similar_rows import SimilarRows


class FakeIndex:
    def __init__(self, books):
        self.version = 1
        self.ready = threading.Event()
        self.ready.set()
        self.state = FakeState(books)


class FakeState:
    def __init__(self, books):
        self.books = {b.id: b for b in books}
        self.finetuned = FakeModel()


RANKER = object()


class FakeModel:
    def __init__(self, ranker=RANKER):
        self.ranker = ranker
        self.index = object()


class FakeService:
    """Records every row it builds as (version, book id); a row is kept per version."""

    def __init__(self, books):
        self.index = FakeIndex(books)
        self.rows = SimilarRows()
        self.built: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def store_reader_rows(self, index, version: int) -> int:
        return 0  # the real service stores them in SMARTLIB_HOME/derived (test_stored_rows.py)

    def build_reader_row(self, book_id: str) -> bool:
        with self.lock:
            key = (self.index.version, book_id)
            if key in self.built:
                return False
            self.built.append(key)
            return True


BOOKS = [Book(id=f"b{i}", title=f"Book {i}", authors=("A",), list_rank=r, num_ratings=n)
         for i, (r, n) in enumerate([(3, 10), (-1, 900), (1, 5), (-1, 50), (2, 7)])]


@pytest.fixture
def service():
    return FakeService(BOOKS)


@pytest.fixture
def warmer(service):
    built = []
    warmer = RowWarmer(service, settle_s=0.3, poll_s=0.01, on_built=lambda: built.append(1))
    warmer.built_calls = built
    yield warmer
    warmer.stop()


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def paused(service):
    """A warmer whose settling clock stands still until the test advances it."""
    clock = FakeClock()
    warmer = RowWarmer(service, settle_s=1.0, poll_s=0.005, clock=clock)
    yield warmer, clock
    warmer.stop()


def next_rounds(warmer: RowWarmer, count: int) -> None:
    """Waits until the warmer's thread has ended `count` more rounds of looking at the catalog."""
    target = warmer.rounds + count
    wait_for(lambda: warmer.rounds >= target)


def settle(warmer: RowWarmer, clock: FakeClock) -> None:
    """Lets the warmer see the catalog as it is now, then lets the settle time pass."""
    next_rounds(warmer, 2)
    clock.advance(warmer.settle_s)


def wait_for(condition, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.01)


def test_popular_books_come_first():
    assert popularity_order(BOOKS) == ["b2", "b4", "b0", "b1", "b3"]  # ranked 1-3, then by ratings


def test_one_pass_builds_every_row_most_popular_first(service, warmer):
    warmer.start()
    wait_for(warmer.is_warm)
    assert service.built == [(1, b) for b in ("b2", "b4", "b0", "b1", "b3")]
    assert len(warmer.built_calls) == 5 and warmer.progress.done and warmer.progress.total == 5


def test_a_burst_of_writes_costs_one_pass_once_the_version_settles(service, paused):
    warmer, clock = paused
    warmer.start()
    settle(warmer, clock)
    wait_for(warmer.is_warm)
    for version in range(2, 7):  # five writes, each well within the settle time of the last
        service.index.version = version
        next_rounds(warmer, 2)  # the warmer has seen this version (a round may have begun before it)
        clock.advance(warmer.settle_s / 2)
        next_rounds(warmer, 1)  # and looked at it again, half settled: no pass
    settle(warmer, clock)
    wait_for(warmer.is_warm)
    assert sorted({v for v, _ in service.built}) == [1, 6]  # no pass at versions 2-5
    assert len(service.built) == 10


def test_dropped_rows_are_built_again(service, warmer):
    warmer.start()
    wait_for(warmer.is_warm)
    service.rows.generation += 1  # what SimilarRows does when its bound empties the rows
    service.built.clear()
    wait_for(lambda: warmer.is_warm() and len(service.built) == 5)


@pytest.mark.parametrize("model", [None, FakeModel(ranker=None)], ids=["no encoder", "an encoder without a ranker"])
def test_nothing_is_warmed_without_a_reader_ranker(service, paused, model):
    warmer, clock = paused
    service.index.state.finetuned = model
    warmer.start()
    settle(warmer, clock)
    next_rounds(warmer, 2)  # a round that began after settling has ended: a pass would have run in it
    assert service.built == [] and not warmer.is_warm() and warmer.progress.total == 0


def test_stop_ends_the_thread_and_start_after_stop_does_nothing(service, warmer):
    warmer.start()
    assert warmer.running
    warmer.stop()
    assert not warmer.running
    warmer.start()
    assert not warmer.running


def test_the_pacer_yields_only_while_other_threads_use_cpu():
    # (wall, process CPU, this thread's CPU) at each call: the pacer sees only these readings.
    readings = iter([
        (0.0, 0.0, 0.0),
        (1.0, 0.9, 0.9),  # a busy second, all of it this thread's own: no pause
        (2.0, 2.4, 1.4),  # others used 1.0 s of CPU: pause work x (1 / duty - 1)
        (3.0, 2.94, 1.9),  # others used 0.04 s, below 5 % of the second: no pause
        (4.0, 3.5, 2.4),  # others used 0.06 s, above it
    ])
    pacer = Pacer(duty=0.25, clocks=lambda: next(readings))
    assert pacer.pause(0.003) == 0.0
    assert pacer.pause(0.003) == pytest.approx(0.009)
    assert pacer.pause(0.003) == 0.0
    assert pacer.pause(0.003) == pytest.approx(0.009)
