"""The SearchByText profile's arithmetic: thread CPU grouped and divided per request, and stage
timers that count a stage's own thread CPU, not time it spends blocked."""
from __future__ import annotations

import threading
import time
import types

import pytest

from smartlib_bench import search_profile


def test_threads_are_grouped_and_divided_per_request():
    before = {1: 10.0, 2: 1.0, 3: 2.0, 4: 5.0}
    after = {1: 10.5, 2: 1.2, 3: 2.3, 4: 5.0, 5: 0.1}  # 5 started during the run
    names = {1: "MainThread", 2: "smartlib-worker_0", 3: "smartlib-worker_1", 4: "smartlib-cf-trainer"}
    assert search_profile.breakdown(before, after, names, calls=100) == pytest.approx(
        {"MainThread": 5.0, "smartlib-worker": 5.0, "native": 1.0})


def test_a_stage_counts_its_own_cpu_not_its_waits(monkeypatch):
    module = types.ModuleType("fake_stages")

    class Work:
        def spin(self, seconds):
            end = time.thread_time() + seconds
            while time.thread_time() < end:
                pass

        def sleep(self, seconds):
            threading.Event().wait(seconds)
    module.Work = Work
    monkeypatch.setitem(__import__("sys").modules, "fake_stages", module)
    totals = search_profile.install([("fake_stages", "Work.spin", "spin"), ("fake_stages", "Work.sleep", "sleep")])
    Work().spin(0.05)
    Work().sleep(0.2)
    assert totals["spin"][1] == 1 and totals["spin"][0] >= 0.05
    assert totals["sleep"][1] == 1 and totals["sleep"][0] < 0.05


def test_batches_are_counted_by_size_for_the_named_batcher_only(monkeypatch):
    import numpy as np

    from smartlib_server.adapters.batching import DynamicBatcher

    monkeypatch.setattr(DynamicBatcher, "_run", DynamicBatcher._run)  # restored after the test
    sizes = search_profile.count_batches("query")
    rows = lambda items: np.zeros((len(items), 1), dtype=np.float32)  # noqa: E731
    queries, books = DynamicBatcher(rows, "query", max_wait_s=0.0), DynamicBatcher(rows, "book", max_wait_s=0.0)
    try:
        queries.submit(["a", "b", "c"])
        queries.submit(["d"])
        books.submit(["e", "f"])
    finally:
        queries.close()
        books.close()
    assert sizes == {3: 1, 1: 1}
