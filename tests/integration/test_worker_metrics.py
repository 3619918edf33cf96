"""The gauges behind the stalled-worker and replica-lag alerts (docker/prometheus/alerts.yml):
each follows the real thread or change follower it reports on."""
from __future__ import annotations

import threading
import time

import numpy as np

from smartlib.v1 import catalog_service_pb2 as cs, catalog_service_pb2_grpc
from smartlib_server.adapters.batching import DynamicBatcher
from smartlib_server.adapters.catalog_store import sqlite_store
from smartlib_server.metrics import ServerMetrics


def _until(predicate, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "not true in time"
        time.sleep(0.02)


def test_a_batcher_reports_its_queue_and_its_thread():
    metrics = ServerMetrics()
    gate, entered = threading.Event(), threading.Event()

    def model(items):
        entered.set()
        gate.wait(10)
        return np.zeros((len(items), 2), dtype=np.float32)

    batcher = DynamicBatcher(model, "query", max_batch=1, max_wait_s=0)
    metrics.watch_batcher("query", lambda: batcher.alive, lambda: batcher.queued)
    sample = metrics.registry.get_sample_value
    threads = [threading.Thread(target=batcher.submit, args=([n],)) for n in range(3)]
    try:
        threads[0].start()
        assert entered.wait(10)  # the first item runs; the next two wait behind it
        for thread in threads[1:]:
            thread.start()
        _until(lambda: sample("smartlib_inference_batch_queue_items", {"batcher": "query"}) == 2)
        assert sample("smartlib_worker_up", {"worker": "batcher_query"}) == 1
    finally:
        gate.set()
        for thread in threads:
            thread.join(10)
    _until(lambda: sample("smartlib_inference_batch_queue_items", {"batcher": "query"}) == 0)
    batcher.close()
    assert sample("smartlib_worker_up", {"worker": "batcher_query"}) == 0  # the thread is gone


def test_the_change_follower_reports_progress_and_the_warmer_its_thread(server, starter_settings):
    metrics = server.services.metrics
    sample = metrics.registry.get_sample_value
    assert sample("smartlib_worker_up", {"worker": "row_warmer"}) == 1  # started by load
    assert sample("smartlib_change_log_synced_timestamp_seconds") == 0  # nothing follows yet
    server.services.follow_changes(interval=0.05)
    _until(lambda: sample("smartlib_change_log_synced_timestamp_seconds") > 0)
    assert sample("smartlib_worker_up", {"worker": "change_follower"}) == 1
    before = sample("smartlib_change_log_applied_seq")
    assert before == server.services.index.version

    # A write moves the change log's head (read back through a second store on the same file);
    # the follower's next round records that this replica applied it.
    other = sqlite_store(starter_settings.sqlite_path)
    try:
        with server.channel() as channel:
            catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
            catalog.UpsertBooks(cs.UpsertBooksRequest(books=[{"title": "Follower Gauge", "authors": ["A. Writer"]}]),
                                timeout=60)
        head = other.version()
    finally:
        other.close()
    assert head > before
    _until(lambda: sample("smartlib_change_log_applied_seq") == head)
    synced = sample("smartlib_change_log_synced_timestamp_seconds")
    assert abs(time.time() - synced) < 5
    server.stop()  # closes the services: the follower and the warmer stop
    _until(lambda: sample("smartlib_worker_up", {"worker": "change_follower"}) == 0)
    assert sample("smartlib_worker_up", {"worker": "row_warmer"}) == 0


def test_the_memory_breaker_reports_an_unreachable_redis():
    """smartlib_memory_circuit_open (SmartlibMemoryRedisCircuitOpen) follows the breaker of the
    conversation memory's own Redis: here a port nobody listens on."""
    from smartlib_core.errors import SmartLibError
    from smartlib_server.app import build_conversation_memory
    from smartlib_server.config import Settings

    metrics = ServerMetrics()
    memory = build_conversation_memory(Settings(memory_redis_url="redis://127.0.0.1:1/0"), metrics)
    try:
        assert metrics.registry.get_sample_value("smartlib_memory_circuit_open") == 0
        for _ in range(10):
            try:
                memory.profile("reader-1")
            except SmartLibError:
                pass  # Unavailable: the call fails, and the breaker counts it
        assert metrics.registry.get_sample_value("smartlib_memory_circuit_open") == 1
    finally:
        memory.close()
