"""The AnswerCache contract, run against both backends: in-process and the real Redis."""
from __future__ import annotations

import socket
import time
import uuid

import pytest
import redis

from smartlib_server.adapters.cache import CacheUnavailable, InProcessCache, RedisCache, redis_breaker, redis_client
from smartlib_server.adapters.circuit_breaker import BreakerState

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix():
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    prefix = f"smartlib-test:{uuid.uuid4().hex[:12]}:"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis must run on 127.0.0.1:6379 for this test: {exc}")
    yield prefix
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def cache(request):
    """(cache, prefix): each backend, with keys namespaced for this test."""
    if request.param == "memory":
        backend = InProcessCache()
        yield backend, "k:"
    else:
        prefix = request.getfixturevalue("redis_prefix")
        # Generous timeouts here: this checks behaviour, not latency, on a shared noisy machine.
        backend = RedisCache(redis_client(REDIS_URL, connect_timeout_s=1, timeout_s=1), redis_breaker())
        yield backend, prefix
    backend.close()


def test_get_returns_exactly_the_bytes_set(cache):
    backend, p = cache
    value = bytes(range(256)) * 4  # every byte value, including NUL and non-UTF-8
    assert backend.get(p + "a") is None
    backend.set(p + "a", value, 10)
    assert backend.get(p + "a") == value
    assert backend.get(p + "b") is None


def test_set_replaces_the_previous_value(cache):
    backend, p = cache
    backend.set(p + "a", b"one", 10)
    backend.set(p + "a", b"two", 10)
    assert backend.get(p + "a") == b"two"


def test_large_values_round_trip(cache):
    backend, p = cache
    value = uuid.uuid4().bytes * 8192  # 128 KiB, larger than a socket read
    backend.set(p + "big", value, 10)
    assert backend.get(p + "big") == value


def test_entries_expire_after_their_ttl(cache):
    backend, p = cache
    # 1 s, not 50 ms: on the loaded 2-core host a 50 ms entry was gone before the first get.
    backend.set(p + "short", b"x", 1.0)
    backend.set(p + "long", b"y", 60)
    assert backend.get(p + "short") == b"x"
    deadline = time.monotonic() + 30
    while backend.get(p + "short") is not None:  # polled: no fixed sleep to outrun
        assert time.monotonic() < deadline, "the 1 s entry never expired"
        time.sleep(0.05)
    assert backend.get(p + "long") == b"y"


@pytest.mark.parametrize("ttl", [0, -1])
def test_every_entry_needs_a_positive_ttl(cache, ttl):
    backend, p = cache
    with pytest.raises(ValueError):
        backend.set(p + "a", b"x", ttl)
    with pytest.raises(ValueError):
        backend.acquire(p + "lock", b"t", ttl)


def test_a_lock_is_held_by_one_token_at_a_time(cache):
    backend, p = cache
    assert backend.acquire(p + "lock", b"first", 10) is True
    assert backend.acquire(p + "lock", b"second", 10) is False
    backend.release(p + "lock", b"second")  # not the holder: must not free it
    assert backend.acquire(p + "lock", b"second", 10) is False
    backend.release(p + "lock", b"first")
    assert backend.acquire(p + "lock", b"second", 10) is True


def test_a_lock_expires_when_its_holder_never_releases_it(cache):
    backend, p = cache
    assert backend.acquire(p + "lock", b"lost", 0.05)
    time.sleep(0.2)
    assert backend.acquire(p + "lock", b"next", 10)


def test_backend_labels(cache):
    backend, _ = cache
    assert (backend.backend, backend.shared) in {("memory", False), ("redis", True)}


# --- in-process only -------------------------------------------------------------------------


def test_in_process_evicts_the_least_recently_used_entry_by_count():
    backend = InProcessCache(max_entries=3)
    for key in "abc":
        backend.set(key, key.encode(), 10)
    assert backend.get("a") == b"a"  # "b" is now the least recently used
    backend.set("d", b"d", 10)
    assert backend.get("b") is None
    assert [backend.get(k) for k in "acd"] == [b"a", b"c", b"d"]
    assert len(backend) == 3


def test_in_process_stays_within_its_byte_budget():
    backend = InProcessCache(max_bytes=1000)
    for i in range(10):
        backend.set(f"k{i}", bytes(300), 10)
    assert len(backend) == 3  # 900 bytes; a fourth would pass 1000
    assert backend.get("k9") is not None and backend.get("k6") is None
    backend.set("huge", bytes(1001), 10)  # can never fit: refused without flushing the rest
    assert backend.get("huge") is None and len(backend) == 3


def test_in_process_expiry_follows_the_injected_clock():
    now = [100.0]
    backend = InProcessCache(clock=lambda: now[0])
    backend.set("a", b"x", 5)
    now[0] = 104.9
    assert backend.get("a") == b"x"
    now[0] = 105.0
    assert backend.get("a") is None and len(backend) == 0


# --- Redis only ------------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_stores_every_key_with_a_ttl(redis_prefix):
    backend = RedisCache(redis_client(REDIS_URL, timeout_s=1), redis_breaker())
    backend.set(redis_prefix + "a", b"x", 30)
    backend.acquire(redis_prefix + "lock", b"t", 2)
    raw = redis.Redis.from_url(REDIS_URL)
    assert 0 < raw.pttl(redis_prefix + "a") <= 30_000
    assert 0 < raw.pttl(redis_prefix + "lock") <= 2_000
    backend.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_down_raises_cache_unavailable_then_the_circuit_opens():
    breaker = redis_breaker(failure_threshold=3, reset_timeout_s=30)
    backend = RedisCache(redis_client(f"redis://127.0.0.1:{_closed_port()}/0"), breaker)
    kinds = []
    started = time.perf_counter()
    for _ in range(6):
        with pytest.raises(CacheUnavailable) as info:
            backend.get("x")
        kinds.append(info.value.kind)
    assert kinds == ["connection"] * 3 + ["circuit_open"] * 3
    assert breaker.state is BreakerState.OPEN
    assert time.perf_counter() - started < 1.0  # no redis-py retries with backoff
    with pytest.raises(CacheUnavailable):
        backend.set("x", b"v", 1)


def test_redis_client_has_tight_timeouts_and_no_retries():
    client = redis_client(REDIS_URL)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] <= 0.1 and kwargs["socket_connect_timeout"] <= 0.1
    assert client.connection_pool.make_connection().retry.get_retries() == 0
    assert client.auto_close_connection_pool  # close() drops the pool's sockets too
    client.close()
