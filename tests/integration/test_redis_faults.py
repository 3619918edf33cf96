"""Redis faults never fail a request: a frozen Redis (SIGSTOP) and a full one (maxmemory with
noeviction), each on a redis-server of our own, never the shared one on 6379."""
from __future__ import annotations

import dataclasses
import functools
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from smartlib_server.adapters.cache import RedisCache, redis_breaker, redis_client
from smartlib_server.adapters.circuit_breaker import BreakerState
from smartlib_server.adapters.memory.redis_store import RedisConversationMemory
from smartlib_server.services.caching import AnswerCaching

pytestmark = pytest.mark.redis

DEADLINE_S = 0.25  # the per-request budget the cache must stay well inside


class RedisProcess:
    """A redis-server child process that a test may freeze, thaw and fill."""

    def __init__(self, workdir) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.admin = redis.Redis.from_url(self.url, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.admin.ping()
                break
            except redis.ConnectionError as exc:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from exc
                time.sleep(0.05)

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.thaw()  # a stopped process cannot handle SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.admin.close()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server must be installed for the Redis fault tests")
    server = RedisProcess(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@dataclasses.dataclass
class Call:
    started: float
    latency: float
    error: BaseException | None


def _drive(call: Callable[[int], None], threads: int, phases: list[tuple[float, Callable[[], None]]]) -> list[Call]:
    """Runs call(i) in a loop from `threads` threads; each phase runs its action, then lasts its
    duration. Returns every call made."""
    calls: list[Call] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(seed: int) -> None:
        i = seed
        while not stop.is_set():
            started = time.perf_counter()
            error = None
            try:
                call(i)
            except BaseException as exc:  # counted; the assertion on failures reports them
                error = exc
            with lock:
                calls.append(Call(started, time.perf_counter() - started, error))
            i += threads

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    try:
        for duration, action in phases:
            action()
            time.sleep(duration)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=30)
    return calls


def _p99(calls: list[Call]) -> float:
    latencies = sorted(c.latency for c in calls)
    return latencies[int(len(latencies) * 0.99)]


def _nothing() -> None:
    pass


def test_a_frozen_redis_fails_no_request_and_the_hit_rate_recovers(own_redis):
    # Production settings: 50 ms timeouts, the default breaker.
    cache = RedisCache(redis_client(own_redis.url), redis_breaker())
    caching = AnswerCaching(cache, environment="faults", ttl_s=60)
    hot = [caching.key("similar_books", {"book_id": f"b{i}", "k": 10}, index_version=1, model_version="m") for i in range(20)]

    def compute() -> bytes:
        time.sleep(0.002)  # about one FAISS search and conversion
        return b"x" * 2048

    marks: dict[str, tuple[float, object]] = {}

    def mark(name: str, action: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            action()
            marks[name] = (time.perf_counter(), caching.stats())
        return run

    calls = _drive(
        lambda i: caching.get_or_compute(hot[i % len(hot)], compute),
        threads=8,
        phases=[(1.5, mark("warm", _nothing)), (2.0, mark("frozen", own_redis.freeze)),
                (1.5, mark("thawed", own_redis.thaw)), (1.5, mark("recovered", _nothing))],
    )
    end = caching.stats()
    failures = [c.error for c in calls if c.error is not None]
    assert failures == []
    assert _p99(calls) < DEADLINE_S, f"p99 {_p99(calls) * 1000:.1f} ms"
    assert end.errors.get("timeout", 0) >= 1 and end.errors.get("circuit_open", 0) >= 1, end.errors

    def hit_ratio(since: str, until) -> float:
        # hits among the lookups made in the window (identical concurrent requests coalesce
        # without a lookup whether Redis is up or not, so they would blur the picture)
        before, after = marks[since][1], until
        return (after.hits - before.hits) / (after.hits + after.misses - before.hits - before.misses)

    frozen_ratio = hit_ratio("frozen", marks["thawed"][1])
    recovered_ratio = hit_ratio("recovered", end)
    print(f"\n{len(calls)} calls, p99 {_p99(calls) * 1000:.1f} ms, max {max(c.latency for c in calls) * 1000:.1f} ms; "
          f"hit ratio frozen {frozen_ratio:.2f}, after thaw {recovered_ratio:.2f}; errors {dict(end.errors)}")
    assert frozen_ratio < 0.2  # the freeze really took the cache away
    assert recovered_ratio > 0.9
    assert cache.breaker.state is BreakerState.CLOSED
    cache.close()


def test_conversation_memory_on_a_frozen_redis_degrades_to_no_memory(own_redis):
    memory = RedisConversationMemory(redis_client(own_redis.url), redis_breaker(), environment="faults")
    memory.append_turn("s", {"role": "user", "text": "books like Dune"})
    memory.remember("u", liked=["dune"])
    own_redis.freeze()
    try:
        started = time.perf_counter()
        for _ in range(20):
            memory.append_turn("s", {"role": "user", "text": "more"})
            assert memory.recent_turns("s", 10) == []
            assert memory.profile("u").is_empty
        assert time.perf_counter() - started < 1.0  # the breaker opened after a few timeouts
    finally:
        own_redis.thaw()
    assert memory.stats().get("timeout", 0) >= 1 and memory.stats().get("circuit_open", 0) >= 1
    time.sleep(1.1)  # the breaker's reset timeout; then memory is back, with what it had
    turns = memory.recent_turns("s", 10)
    # A write that timed out may still land once Redis thaws: it was already in the socket.
    assert turns[0] == {"role": "user", "text": "books like Dune"}
    assert all(t == {"role": "user", "text": "more"} for t in turns[1:])
    assert memory.profile("u").liked == ("dune",)
    memory.close()


def test_a_full_redis_fails_no_request_and_still_serves_hits(own_redis):
    cache = RedisCache(redis_client(own_redis.url), redis_breaker())
    caching = AnswerCaching(cache, environment="faults", ttl_s=60)
    memory = RedisConversationMemory(redis_client(own_redis.url), redis_breaker(), environment="faults")
    warm = caching.key("get_book", {"id": "hot"}, index_version=1, model_version="m")
    caching.get_or_compute(warm, lambda: b"hot answer")
    memory.append_turn("s", {"text": "before"})

    own_redis.admin.config_set("maxmemory-policy", "noeviction")
    own_redis.admin.config_set("maxmemory", 1)  # bytes: every write is now refused
    with pytest.raises(redis.OutOfMemoryError):
        own_redis.admin.set("probe", b"x")

    computed = []

    def cold_answer(i: int) -> bytes:
        computed.append(i)
        return b"cold answer"

    for i in range(50):
        cold = caching.key("get_book", {"id": f"cold{i}"}, index_version=1, model_version="m")
        assert caching.get_or_compute(cold, functools.partial(cold_answer, i)) == b"cold answer"
        assert caching.get_or_compute(warm, lambda: b"recomputed") == b"hot answer"
        memory.append_turn("s", {"text": f"during {i}"})
        memory.remember("u", liked=[f"b{i}"])
    stats = caching.stats()
    assert computed == list(range(50)) and stats.hits == 50
    assert stats.errors.get("full", 0) >= 50, stats.errors  # refused stores, counted
    assert cache.breaker.state is BreakerState.CLOSED  # a full Redis still answers reads
    assert memory.recent_turns("s", 10) == [{"text": "before"}]
    assert memory.stats() == {"full": 100}  # 50 turns and 50 profile updates dropped, counted
    cache.close()
    memory.close()


def test_recommend_rpcs_survive_a_frozen_redis(make_server, starter_settings, own_redis):
    """The same freeze, end to end: SimilarBooks over gRPC with the answer cache in Redis."""
    import grpc

    from smartlib.v1 import catalog_service_pb2, catalog_service_pb2_grpc, recommend_service_pb2, recommend_service_pb2_grpc

    server = make_server(dataclasses.replace(starter_settings, redis_url=own_redis.url))
    caching = server.services.caching
    assert caching is not None and caching.cache.backend == "redis"
    rpc_deadline_s = 1.0
    with server.channel() as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        ids = [b.id for b in catalog.ListBooks(catalog_service_pb2.ListBooksRequest(page_size=20)).books]
        stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        marks = {}

        def mark(name: str, action: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                action()
                marks[name] = caching.stats()
            return run

        calls = _drive(
            lambda i: stub.SimilarBooks(recommend_service_pb2.SimilarBooksRequest(book_id=ids[i % len(ids)], k=10),
                                        timeout=rpc_deadline_s),
            threads=8,
            phases=[(1.5, _nothing), (2.0, mark("frozen", own_redis.freeze)),
                    (1.5, mark("thawed", own_redis.thaw)), (2.0, mark("recovered", _nothing))],
        )
    end = caching.stats()
    failures = [c.error for c in calls if c.error is not None]
    assert failures == [], [f.code() if isinstance(f, grpc.RpcError) else f for f in failures[:5]]
    assert _p99(calls) < rpc_deadline_s

    def lookup_hit_ratio(before, after) -> float:
        return (after.hits - before.hits) / (after.hits + after.misses - before.hits - before.misses)

    frozen, recovered = lookup_hit_ratio(marks["frozen"], marks["thawed"]), lookup_hit_ratio(marks["recovered"], end)
    print(f"\n{len(calls)} RPCs, p99 {_p99(calls) * 1000:.1f} ms; hit ratio frozen {frozen:.2f}, "
          f"recovered {recovered:.2f}; errors {dict(end.errors)}")
    assert end.errors.get("timeout", 0) >= 1 and frozen < 0.2
    assert recovered > 0.9
