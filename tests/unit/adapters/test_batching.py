"""DynamicBatcher: concurrent callers share a call, each gets its own rows, the queue is bounded,
and a lone request waits no longer than the window."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from smartlib_core.errors import ResourceExhausted
from smartlib_server import deadlines
from smartlib_server.adapters.batching import DynamicBatcher


class GatedModel:
    """Returns each item as a row [item, 10 * item]; the first call blocks until `release`."""

    def __init__(self, gate_first: bool = True) -> None:
        self.batches: list[list] = []
        self.gate = threading.Event()
        if not gate_first:
            self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items: list) -> np.ndarray:
        self.batches.append(list(items))
        self.entered.set()
        self.gate.wait(10)
        return np.array([[x, 10 * x] for x in items], dtype=np.float32)


def _wait_for(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition never became true"
        time.sleep(0.005)


def _submit_in_thread(batcher: DynamicBatcher, items: list, results: dict, key) -> threading.Thread:
    def run():
        try:
            results[key] = batcher.submit(items)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[key] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.fixture
def make_batcher():
    made: list[DynamicBatcher] = []

    def make(model, **options) -> DynamicBatcher:
        batcher = DynamicBatcher(model, "test", **options)
        made.append(batcher)
        return batcher

    yield make
    for batcher in made:
        batcher.close()


def test_requests_waiting_behind_a_running_batch_leave_together_each_with_its_own_rows(make_batcher):
    model = GatedModel()
    batcher = make_batcher(model, max_batch=64, max_wait_s=0.0)
    results: dict = {}
    first = _submit_in_thread(batcher, [1], results, "first")
    assert model.entered.wait(10)
    threads = [_submit_in_thread(batcher, [10 * i, 10 * i + 1], results, i) for i in range(1, 4)]
    _wait_for(lambda: batcher._queued == 6)
    model.gate.set()
    for thread in (first, *threads):
        thread.join(10)
    assert model.batches[0] == [1]
    assert len(model.batches) == 2 and sorted(model.batches[1]) == [10, 11, 20, 21, 30, 31]
    for i in range(1, 4):
        np.testing.assert_array_equal(results[i], [[10 * i, 100 * i], [10 * i + 1, 100 * i + 10]])


def test_a_batch_never_holds_more_than_max_batch_items(make_batcher):
    model = GatedModel()
    batcher = make_batcher(model, max_batch=4, max_wait_s=0.0)
    results: dict = {}
    threads = [_submit_in_thread(batcher, [0], results, "first")]
    assert model.entered.wait(10)
    threads += [_submit_in_thread(batcher, [i, i], results, i) for i in range(1, 5)]
    _wait_for(lambda: batcher._queued == 8)
    model.gate.set()
    for thread in threads:
        thread.join(10)
    assert [len(b) for b in model.batches] == [1, 4, 4]
    assert all(not isinstance(r, Exception) for r in results.values())


def test_a_lone_request_waits_the_window_and_no_longer(make_batcher):
    """The batcher's own measure of the wait (arrival to the model call) is the window, within
    0.1 s: enough for a thread to wake on a loaded machine, far less than a second window."""
    waits: list[float] = []
    window = 0.2
    batcher = make_batcher(GatedModel(gate_first=False), max_batch=64, max_wait_s=window,
                           observe=lambda name, items, waited: waits.append(waited))
    rows = batcher.submit([3])
    np.testing.assert_array_equal(rows, [[3, 30]])
    [waited] = waits
    assert window <= waited <= window + 0.1


def test_a_full_batch_leaves_without_waiting_for_the_window(make_batcher):
    waits: list[float] = []
    batcher = make_batcher(GatedModel(gate_first=False), max_batch=2, max_wait_s=30.0,
                           observe=lambda name, items, waited: waits.append(waited))
    batcher.submit([1, 2])  # would hang for 30 s if a full batch waited for the window
    assert waits and waits[0] < 10


def test_a_full_queue_refuses_with_resource_exhausted(make_batcher):
    model = GatedModel()
    batcher = make_batcher(model, max_batch=64, max_wait_s=0.0, max_queue=3)
    results: dict = {}
    threads = [_submit_in_thread(batcher, [0], results, "running")]
    assert model.entered.wait(10)
    threads.append(_submit_in_thread(batcher, [1, 2, 3], results, "queued"))
    _wait_for(lambda: batcher._queued == 3)
    with pytest.raises(ResourceExhausted):
        batcher.submit([4])
    model.gate.set()
    for thread in threads:
        thread.join(10)
    np.testing.assert_array_equal(results["queued"][:, 0], [1, 2, 3])


def test_a_failing_batch_fails_every_caller_in_it(make_batcher):
    gate = threading.Event()
    calls: list[list] = []

    def model(items):
        calls.append(items)
        if len(calls) == 1:
            gate.wait(10)
            return np.zeros((len(items), 1), np.float32)
        raise ValueError("model broke")

    batcher = make_batcher(model, max_batch=64, max_wait_s=0.0)
    results: dict = {}
    threads = [_submit_in_thread(batcher, [0], results, "first")]
    _wait_for(lambda: len(calls) == 1)
    threads += [_submit_in_thread(batcher, [i], results, i) for i in (1, 2)]
    _wait_for(lambda: batcher._queued == 2)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert isinstance(results[1], ValueError) and isinstance(results[2], ValueError)
    assert len(calls) == 2


def test_a_caller_past_its_deadline_gives_up_and_its_items_are_skipped(make_batcher):
    model = GatedModel()
    batcher = make_batcher(model, max_batch=64, max_wait_s=0.0)
    results: dict = {}
    first = _submit_in_thread(batcher, [0], results, "first")
    assert model.entered.wait(10)
    with deadlines.bound(0.05), pytest.raises(deadlines.DeadlineExceeded):
        batcher.submit([99])
    model.gate.set()
    first.join(10)
    np.testing.assert_array_equal(batcher.submit([5]), [[5, 50]])
    assert all(99 not in batch for batch in model.batches)
