"""Group commit: concurrent writers share transactions, each returns only once its own item is written."""
from __future__ import annotations

import threading
import time

import pytest

from smartlib_server.adapters.group_commit import GroupCommit


class SlowLog:
    """A 'transaction' that takes a while, as an fsync does, and records what each one wrote."""

    def __init__(self, seconds: float = 0.02, fail: bool = False):
        self.seconds, self.fail = seconds, fail
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()

    def write(self, items):
        time.sleep(self.seconds)
        if self.fail:
            raise OSError("disk full")
        with self.lock:
            self.batches.append(list(items))


def run_writers(writer: GroupCommit, count: int) -> tuple[dict[int, float], dict[int, BaseException]]:
    returned, errors = {}, {}
    start = threading.Barrier(count)

    def one(i: int) -> None:
        start.wait()
        try:
            writer.submit(i)
            returned[i] = time.monotonic()
        except BaseException as exc:
            errors[i] = exc
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return returned, errors


def test_concurrent_writers_share_commits_and_each_item_is_written_once_before_its_caller_returns():
    log = SlowLog()
    written_at: dict[int, float] = {}
    original = log.write

    def write(items):
        original(items)
        for i in items:
            written_at[i] = time.monotonic()
    writer = GroupCommit(write)
    returned, errors = run_writers(writer, 16)
    assert not errors and sorted(returned) == list(range(16))
    assert sorted(i for batch in log.batches for i in batch) == list(range(16))
    assert len(log.batches) < 16  # they shared: far fewer transactions than writers
    assert all(written_at[i] <= returned[i] for i in range(16))


def test_a_lone_writer_writes_at_once():
    log = SlowLog(seconds=0.0)
    writer = GroupCommit(log.write)
    for i in range(3):
        writer.submit(i)
    assert log.batches == [[0], [1], [2]]


def test_a_failed_transaction_fails_every_caller_in_it_and_the_writer_goes_on():
    log = SlowLog(fail=True)
    writer = GroupCommit(log.write)
    returned, errors = run_writers(writer, 6)
    assert not returned and len(errors) == 6 and all(isinstance(e, OSError) for e in errors.values())
    log.fail = False
    writer.submit(99)
    assert log.batches == [[99]]


def test_a_batch_cap_still_writes_every_callers_item():
    log = SlowLog(seconds=0.01)
    writer = GroupCommit(log.write, max_batch=2)
    returned, errors = run_writers(writer, 9)
    assert not errors and sorted(returned) == list(range(9))
    assert max(len(b) for b in log.batches) <= 2
    assert sorted(i for b in log.batches for i in b) == list(range(9))


@pytest.mark.parametrize("count", [1, 2])
def test_small_counts(count):
    log = SlowLog(seconds=0.0)
    returned, errors = run_writers(GroupCommit(log.write), count)
    assert not errors and len(returned) == count


def test_async_items_resolve_only_once_written_and_share_batches_with_waiting_writers():
    log = SlowLog(seconds=0.02)
    written: set[int] = set()
    original = log.write

    def write(items):
        original(items)
        written.update(items)
    writer = GroupCommit(write)
    seen_at_resolution: dict[int, bool] = {}
    futures = []
    for i in range(100, 130):
        future = writer.submit_async(i)
        future.add_done_callback(lambda f, i=i: seen_at_resolution.__setitem__(i, i in written))
        futures.append(future)
    returned, errors = run_writers(writer, 8)  # waiting callers at the same time
    for future in futures:
        assert future.result(timeout=10) is None
    assert not errors and sorted(returned) == list(range(8))
    assert seen_at_resolution == {i: True for i in range(100, 130)}
    assert sorted(i for b in log.batches for i in b) == [*range(8), *range(100, 130)]
    assert len(log.batches) < 38


def test_an_async_item_of_a_failed_transaction_gets_the_error():
    log = SlowLog(seconds=0.0, fail=True)
    writer = GroupCommit(log.write)
    with pytest.raises(OSError):
        writer.submit_async(1).result(timeout=10)
    log.fail = False
    assert writer.submit_async(2).result(timeout=10) is None and log.batches == [[2]]
