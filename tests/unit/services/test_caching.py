"""AnswerCaching: keys, invalidation by version, stampede protection and fail-open, on both backends."""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import uuid

import pytest
import redis

from smartlib_core.domain import Approach, Book, BookFilter
from smartlib_core.errors import BookNotFound
from smartlib_server.adapters.cache import InProcessCache, RedisCache, redis_breaker, redis_client
from smartlib_server.adapters.catalog_store import open_store
from smartlib_server.services.caching import AnswerCaching, request_digest

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def environment():
    """A unique environment name, so this test's Redis keys are its own; deleted afterwards."""
    env = f"test-{uuid.uuid4().hex[:12]}"
    yield env
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"smartlib:{env}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _redis_cache() -> RedisCache:
    # Generous timeouts: these tests check behaviour, not latency, on a shared noisy machine.
    return RedisCache(redis_client(REDIS_URL, connect_timeout_s=1, timeout_s=1), redis_breaker())


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_caching(request, environment):
    """Factory: make_caching(**options) -> AnswerCaching over the parametrised backend.

    With Redis, each call gets its own client, like separate server processes would.
    """
    made = []

    def make(**options) -> AnswerCaching:
        cache = InProcessCache() if request.param == "memory" else _redis_cache()
        made.append(cache)
        return AnswerCaching(cache, environment=environment, **options)

    yield make
    for cache in made:
        cache.close()


class Counting:
    """A compute function that counts its calls and can take its time."""

    def __init__(self, value: bytes = b"answer", delay: float = 0.0):
        self.value, self.delay = value, delay
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return self.value


def _burst(n: int, fn) -> list:
    """Runs fn() from n threads released at the same moment; returns results or exceptions."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # collected and asserted by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


# --- keys --------------------------------------------------------------------------------------


def test_requests_that_mean_the_same_share_a_digest():
    a = {"book_id": "b1", "k": 10, "approach": Approach.BASELINE,
         "filter": BookFilter(include_genres=frozenset({"fantasy", "horror"}))}
    b = {"filter": BookFilter(include_genres=frozenset({"horror", "fantasy"})), "k": 10,
         "approach": "baseline", "book_id": "b1"}
    assert request_digest(a) == request_digest(b)


@pytest.mark.parametrize("other", [
    {"book_id": "b1", "k": 11},
    {"book_id": "b2", "k": 10},
    {"book_id": "b1", "k": 10, "approach": "finetuned"},
    {"book_id": "B1", "k": 10},
    {"book_id": " b1", "k": 10},  # may fail validation where "b1" succeeds: never merged
    {"book_id": "b1", "k": 10, "filter": BookFilter(min_avg_rating=4.0)},
])
def test_requests_that_differ_get_different_digests(other):
    assert request_digest({"book_id": "b1", "k": 10}) != request_digest(other)


def test_a_digest_refuses_values_it_cannot_canonicalise():
    with pytest.raises(TypeError):
        request_digest({"x": object()})


def test_keys_are_namespaced_by_environment_kind_and_every_version():
    caching = AnswerCaching(InProcessCache(), environment="prod")
    base = dict(index_version=41, model_version="baseline:minilm")
    key = caching.key("similar_books", {"book_id": "b1"}, **base)
    assert key.kind == "similar_books"
    assert str(key).startswith("smartlib:prod:answer:f1:similar_books:i41:m")
    variants = {
        caching.key("similar_books", {"book_id": "b1"}, index_version=42, model_version="baseline:minilm"),
        caching.key("similar_books", {"book_id": "b1"}, index_version=41, model_version="finetuned:v2"),
        caching.key("similar_books", {"book_id": "b1"}, **base, catalog_id="db-2"),
        caching.key("search_by_text", {"book_id": "b1"}, **base),
        AnswerCaching(InProcessCache(), environment="staging").key("similar_books", {"book_id": "b1"}, **base),
    }
    assert key not in variants and len(variants) == 5
    with pytest.raises(ValueError):
        caching.key("Similar Books", {}, **base)
    with pytest.raises(ValueError):
        AnswerCaching(InProcessCache(), environment="a:b")


# --- get_or_compute ------------------------------------------------------------------------------


def test_a_cold_request_computes_and_the_next_one_hits(make_caching):
    caching = make_caching()
    compute = Counting(b"\x00bytes\xff")
    key = caching.key("get_book", {"id": "b1"}, index_version=1, model_version="m")
    assert caching.get_or_compute(key, compute) == b"\x00bytes\xff"
    assert caching.get_or_compute(key, compute) == b"\x00bytes\xff"
    assert compute.calls == 1
    stats = caching.stats()
    assert (stats.hits, stats.misses, stats.errors) == (1, 1, {})
    assert stats.hit_ratio == 0.5


def test_errors_from_compute_reach_every_waiting_caller_and_are_not_cached(make_caching):
    caching = make_caching()
    calls = []

    def failing() -> bytes:
        calls.append(1)
        time.sleep(0.1)
        raise BookNotFound("b404")

    key = caching.key("get_book", {"id": "b404"}, index_version=1, model_version="m")
    results = _burst(20, lambda i: caching.get_or_compute(key, failing))
    assert all(isinstance(r, BookNotFound) for r in results)
    assert len(calls) == 1
    assert caching.get_or_compute(key, Counting(b"found now")) == b"found now"


def test_compute_must_return_bytes(make_caching):
    caching = make_caching()
    with pytest.raises(TypeError):
        caching.get_or_compute(caching.key("get_book", {}, index_version=1, model_version="m"), lambda: "text")


def test_a_hundred_identical_cold_requests_compute_once(make_caching):
    caching = make_caching()
    compute = Counting(b"slow answer", delay=0.05)
    key = caching.key("similar_books", {"book_id": "b1", "k": 10}, index_version=7, model_version="m")
    results = _burst(100, lambda i: caching.get_or_compute(key, compute))
    assert results == [b"slow answer"] * 100
    assert compute.calls == 1, compute.calls
    stats = caching.stats()
    assert stats.hits + stats.misses + stats.waited + stats.coalesced == 100


@pytest.mark.redis
def test_a_burst_spread_over_four_processes_computes_once(environment):
    """Four AnswerCaching instances with their own Redis connections stand for four server
    processes: single-flight alone would compute four times; the Redis lock makes it one."""
    instances = [AnswerCaching(_redis_cache(), environment=environment) for _ in range(4)]
    compute = Counting(b"shared", delay=0.1)
    key = instances[0].key("search_by_text", {"query": "dragons", "k": 5}, index_version=3, model_version="m")
    results = _burst(100, lambda i: instances[i % 4].get_or_compute(key, compute))
    assert results == [b"shared"] * 100
    assert compute.calls == 1, compute.calls
    assert sum(c.stats().waited for c in instances) >= 1  # some process was served by another's compute
    for c in instances:
        c.cache.close()


@pytest.mark.redis
def test_an_answer_stored_between_the_lookup_and_the_lock_is_not_computed_again(environment):
    """The race behind "compute once": another process stores the answer and releases its lock
    after this one's lookup missed but before it takes the lock."""
    caching = AnswerCaching(_redis_cache(), environment=environment)
    key = caching.key("similar_books", {"book_id": "b1"}, index_version=1, model_version="m")
    acquire = caching.cache.acquire

    def other_process_finishes_first(lock_key, token, ttl):
        caching.cache.set(key.value, b"answered elsewhere", 60)
        return acquire(lock_key, token, ttl)

    caching.cache.acquire = other_process_finishes_first
    compute = Counting(b"computed here")
    assert caching.get_or_compute(key, compute) == b"answered elsewhere"
    assert compute.calls == 0
    caching.cache.close()


@pytest.mark.redis
def test_a_process_stops_waiting_for_a_lock_holder_that_never_answers(environment):
    caching = AnswerCaching(_redis_cache(), environment=environment, wait_s=0.15)
    key = caching.key("get_book", {"id": "b1"}, index_version=1, model_version="m")
    assert caching.cache.acquire(key.value + ":lock", b"a crashed process", 10)
    started = time.perf_counter()
    assert caching.get_or_compute(key, Counting(b"computed here")) == b"computed here"
    assert 0.15 <= time.perf_counter() - started < 1.0
    assert caching.cache.get(key.value) == b"computed here"
    caching.cache.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_dead_redis_never_fails_a_request_and_errors_are_counted():
    cache = RedisCache(redis_client(f"redis://127.0.0.1:{_closed_port()}/0"), redis_breaker(failure_threshold=3))
    caching = AnswerCaching(cache, environment="test")
    compute = Counting(b"computed")
    for i in range(10):
        key = caching.key("get_book", {"id": f"b{i % 2}"}, index_version=1, model_version="m")
        assert caching.get_or_compute(key, compute) == b"computed"
    stats = caching.stats()
    assert compute.calls == 10 and stats.hits == 0
    assert stats.errors == {"connection": 3, "circuit_open": 7}  # one failed call per request at most
    cache.close()


# --- invalidation ----------------------------------------------------------------------------


def test_no_answer_survives_a_write_or_a_model_switch(make_caching, tmp_path):
    """AnswerCaching.key's version parts over the real SQLite catalog store: a key built from the
    store version read before computing, and from the model, never serves a stale answer. That the
    servicers build their keys this way is checked over gRPC in test_answer_cache_api.py."""
    store = open_store("", tmp_path / "catalog.sqlite3")
    caching = make_caching()
    computes = []

    def get_book(book_id: str, model: str = "m1") -> dict:
        key = caching.key("get_book", {"id": book_id}, index_version=store.version(), model_version=model)

        def compute() -> bytes:
            computes.append(book_id)
            book = store.get_books([book_id]).get(book_id)
            if book is None:
                raise BookNotFound(book_id)
            return json.dumps(dataclasses.asdict(book)).encode()

        return json.loads(caching.get_or_compute(key, compute))

    try:
        store.upsert_books([Book(id="b1", title="Old Title", authors=("Ann",)), Book(id="b2", title="Other", authors=("Bo",))])
        assert get_book("b1")["title"] == "Old Title"
        assert get_book("b1")["title"] == "Old Title" and len(computes) == 1  # a hit

        store.upsert_books([Book(id="b1", title="Old Title", authors=("Ann",), description="now described")])
        assert get_book("b1")["description"] == "now described"

        assert get_book("b2")["title"] == "Other"
        store.delete_book("b2")
        with pytest.raises(BookNotFound):
            get_book("b2")

        before = len(computes)
        get_book("b1", model="m2")  # a model switch: nothing from m1 is served
        assert len(computes) == before + 1
    finally:
        store.close()


# --- metrics ---------------------------------------------------------------------------------


def test_outcomes_and_errors_reach_the_prometheus_counters():
    from smartlib_server.metrics import ServerMetrics

    metrics = ServerMetrics()

    def sample(name, **labels) -> float:
        return metrics.registry.get_sample_value(name, labels) or 0.0

    caching = AnswerCaching(InProcessCache(), environment="test", metrics=metrics)
    key = caching.key("similar_books", {"book_id": "b1"}, index_version=1, model_version="m")
    for _ in range(3):
        caching.get_or_compute(key, Counting())
    assert sample("smartlib_cache_misses_total", backend="memory", kind="similar_books") == 1
    assert sample("smartlib_cache_hits_total", backend="memory", kind="similar_books") == 2

    dead = RedisCache(redis_client(f"redis://127.0.0.1:{_closed_port()}/0"), redis_breaker())
    failing = AnswerCaching(dead, environment="test", metrics=metrics)
    failing.get_or_compute(failing.key("get_book", {"id": "b1"}, index_version=1, model_version="m"), Counting())
    assert sample("smartlib_cache_errors_total", backend="redis", operation="get") == 1
    assert sample("smartlib_cache_misses_total", backend="redis", kind="get_book") == 1
    dead.close()


@pytest.mark.redis
def test_the_lookup_bench_compares_both_backends_and_leaves_no_keys():
    from smartlib_bench.cache_bench import bench_cache_lookup

    result = bench_cache_lookup(REDIS_URL, n=50, value_bytes=1024, rounds=1)
    assert result["lookups_per_path"] == 50
    assert result["redis_get_p50_us"] > result["memory_get_p50_us"] > 0  # a network round trip vs a dict
    assert result["get_ratio_redis_to_memory"] > 1
    leftovers = list(redis.Redis.from_url(REDIS_URL).scan_iter(match="smartlib:bench-*"))
    assert leftovers == []


def test_get_or_compute_now_answers_only_when_nothing_would_wait(make_caching):
    """The event-loop path: in-process hits and non-blocking computations; None otherwise."""
    caching = make_caching()
    key = caching.key("similar_books", {"book_id": "b1"}, index_version=1, model_version="m")
    calls: list[str] = []

    def compute() -> bytes:
        calls.append("computed")
        return b"answer"

    if caching.cache.shared:  # Redis: every call is a network wait, so never on the loop
        assert caching.get_or_compute_now(key, compute) is None
        assert calls == []
        return
    assert caching.get_or_compute_now(key, lambda: None) is None  # compute would block
    assert caching.cache.get(key.value) is None  # and nothing was stored for it
    assert caching.get_or_compute_now(key, compute) == b"answer"
    assert caching.get_or_compute_now(key, compute) == b"answer"  # now a hit
    assert calls == ["computed"]
    assert (caching.stats().hits, caching.stats().misses) == (1, 1)

    other = caching.key("similar_books", {"book_id": "b2"}, index_version=1, model_version="m")
    entered, release = threading.Event(), threading.Event()

    def slow() -> bytes:
        entered.set()
        release.wait(5)
        return b"slow"

    worker = threading.Thread(target=caching.get_or_compute, args=(other, slow))
    worker.start()
    try:
        assert entered.wait(5)
        # An identical request is computing on a thread: joining it would wait.
        assert caching.get_or_compute_now(other, compute) is None
        assert calls == ["computed"]
    finally:
        release.set()
        worker.join()
    assert caching.get_or_compute_now(other, compute) == b"slow"


def test_serialised_requests_are_digested_by_their_bytes():
    from smartlib.v1 import books_pb2, recommend_service_pb2 as rs

    def encoded(**fields) -> bytes:
        return rs.SimilarBooksRequest(**fields).SerializeToString(deterministic=True)

    same = encoded(book_id="b1", k=10, filter=books_pb2.BookFilter(exclude_ids=["x"]))
    assert request_digest(same) == request_digest(encoded(book_id="b1", k=10, filter=books_pb2.BookFilter(exclude_ids=["x"])))
    assert request_digest(same) != request_digest(encoded(book_id="b1", k=10, filter=books_pb2.BookFilter(exclude_ids=["y"])))
    assert request_digest(same) != request_digest(encoded(book_id="b1", k=11))
