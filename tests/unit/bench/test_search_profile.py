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


def test_the_timeline_splits_each_request_between_its_marks_in_time_order():
    from smartlib_bench import search_timeline

    pool = {"servicer_in": 0.000, "submit": 0.001, "worker_in": 0.003, "search_in": 0.003, "queued": 0.004,
            "taken": 0.010, "embedded": 0.030, "resumed": 0.032, "search_out": 0.036, "worker_out": 0.036,
            "loop_resumed": 0.040, "servicer_out": 0.041}
    loop = {"servicer_in": 1.000, "queued": 1.001, "taken": 1.005, "embedded": 1.025, "awoken": 1.027,
            "resumed": 1.028, "servicer_out": 1.031}
    cut = {"servicer_in": 2.0, "queued": 2.001}  # the round ended before it did: left out
    # the loop path handing its ranking to a worker: "submit" comes after the embedding
    handed = {"servicer_in": 3.000, "queued": 3.001, "taken": 3.005, "embedded": 3.025, "awoken": 3.027,
              "submit": 3.028, "worker_in": 3.030, "resumed": 3.030, "worker_out": 3.034, "loop_resumed": 3.036,
              "servicer_out": 3.036}
    summary = search_timeline.summary({"a": pool, "b": loop, "c": cut, "d": handed})
    steps = {label: round(figures["mean_ms"], 6) for label, figures in summary["steps"].items()}
    assert summary["requests"] == 3
    assert steps["queue: waiting for a pass"] == pytest.approx(14 / 3)  # (6 + 4 + 4) / 3
    assert steps["embedding pass"] == pytest.approx(20.0)
    assert steps["hand-off: loop -> worker"] == pytest.approx(2.0)  # 2 and 2
    assert steps["hand-off: worker -> loop"] == pytest.approx(3.0)  # 4 and 2
    assert steps["hand-off: batcher -> loop"] == pytest.approx(2.0) and steps["loop: ranking, reply bytes"] == pytest.approx(3.0)
    assert steps["loop: after the embedding"] == pytest.approx(1.0)  # awoken -> submit
    assert summary["whole_ms"]["mean_ms"] == pytest.approx(36.0)  # (41 + 31 + 36) / 3
