"""The answer cache: opaque bytes by key, each with a TTL, in-process (TTL LRU) or in Redis.

Both backends raise `CacheUnavailable` for any backend trouble and nothing else, so the one
place that decides what a failure means is services/caching.py (it counts the error and serves
the request without the cache). Values are bytes, never pickles: a shared Redis must not be a
way to run code in the server.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from smartlib_core.tracing import traced
from smartlib_server.adapters.circuit_breaker import BreakerState, CircuitBreaker, CircuitOpen

if TYPE_CHECKING:
    import redis

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The backend could not serve this call; `kind` is a short label for metrics."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"cache unavailable ({kind}){': ' + detail if detail else ''}")
        self.kind = kind  # timeout | connection | full | circuit_open | error


class AnswerCache(Protocol):
    """Bytes by key with a TTL, plus a tiny lock so one process computes a cold answer."""

    backend: str  # "memory" or "redis", for metrics and logs
    shared: bool  # True when other server processes see the same entries

    def get(self, key: str) -> bytes | None:
        """The live value, or None when absent or expired.

        Raises:
            CacheUnavailable: the backend did not answer.
        """
        ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Stores value for ttl_s seconds (> 0), replacing any previous value.

        Raises:
            CacheUnavailable: the backend did not store it (down, slow or full).
        """
        ...

    def acquire(self, key: str, token: bytes, ttl_s: float) -> bool:
        """Takes the lock `key` for ttl_s seconds if nobody holds it; True when taken.

        Raises:
            CacheUnavailable: the backend did not answer.
        """
        ...

    def release(self, key: str, token: bytes) -> None:
        """Drops the lock `key` if `token` still holds it (an expired lock may be someone else's).

        Raises:
            CacheUnavailable: the backend did not answer.
        """
        ...

    def close(self) -> None: ...


class InProcessCache:
    """A thread-safe TTL LRU bounded by entry count and by total value bytes."""

    backend = "memory"
    shared = False

    def __init__(
        self,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # oldest use first
        self._bytes = 0
        self._locks: dict[str, tuple[float, bytes]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: str) -> bytes | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        _check_ttl(ttl_s)
        value = bytes(value)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if len(value) > self.max_bytes:
                return  # could never fit; storing it would only flush everything else
            self._entries[key] = (self._clock() + ttl_s, value)
            self._bytes += len(value)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def acquire(self, key: str, token: bytes, ttl_s: float) -> bool:
        _check_ttl(ttl_s)
        now = self._clock()
        with self._lock:
            held = self._locks.get(key)
            if held is not None and held[0] > now:
                return False
            if len(self._locks) > 4 * self.max_entries:  # only leaked (never released) locks pile up
                self._locks = {k: v for k, v in self._locks.items() if v[0] > now}
            self._locks[key] = (now + ttl_s, bytes(token))
            return True

    def release(self, key: str, token: bytes) -> None:
        with self._lock:
            held = self._locks.get(key)
            if held is not None and held[1] == token:
                del self._locks[key]

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
            self._locks.clear()
            self._bytes = 0

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= len(value)


# Deletes the lock only while it still holds our token, in one atomic step.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisCache:
    """The answer cache in Redis. Every call goes through the circuit breaker.

    Only connection errors and timeouts count against the breaker: a full Redis (OOM on write)
    still answers reads, so it must not switch off the whole cache.
    """

    backend = "redis"
    shared = True

    def __init__(self, client: redis.Redis, breaker: CircuitBreaker):
        self._client = client
        self._breaker = breaker
        self._release = client.register_script(_RELEASE_LUA)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def get(self, key: str) -> bytes | None:
        return self._call(lambda: self._client.get(key))

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        _check_ttl(ttl_s)
        self._call(lambda: self._client.set(key, bytes(value), px=_ms(ttl_s)))

    def acquire(self, key: str, token: bytes, ttl_s: float) -> bool:
        _check_ttl(ttl_s)
        return bool(self._call(lambda: self._client.set(key, bytes(token), px=_ms(ttl_s), nx=True)))

    def release(self, key: str, token: bytes) -> None:
        self._call(lambda: self._release(keys=[key], args=[bytes(token)]))

    def close(self) -> None:
        self._client.close()

    def _call(self, fn: Callable[[], T]) -> T:
        return call_redis(self._breaker, fn, CacheUnavailable)


@traced("redis")
def call_redis(breaker: CircuitBreaker, fn: Callable[[], T], error: Callable[[str, str], Exception]) -> T:
    """Runs one Redis call through `breaker`, turning every Redis failure into `error(kind, detail)`."""
    import redis  # here, not at the top: a server without Redis never imports it (0.2 s of a start's CPU)

    try:
        return breaker.call(fn, is_failure=_breaks_circuit)
    except CircuitOpen as exc:
        raise error("circuit_open", str(exc)) from None
    except redis.OutOfMemoryError as exc:
        raise error("full", str(exc)) from None
    except redis.TimeoutError as exc:
        raise error("timeout", str(exc)) from None
    except redis.ConnectionError as exc:
        raise error("connection", str(exc)) from None
    except redis.RedisError as exc:
        raise error("error", f"{exc.__class__.__name__}: {exc}") from None


def _breaks_circuit(exc: BaseException) -> bool:
    # An answer (even an error reply such as OOM or READONLY) proves the server is reachable;
    # an exhausted local pool says nothing about the server.
    import redis
    from redis.exceptions import MaxConnectionsError

    if isinstance(exc, MaxConnectionsError):
        return False
    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError))


def redis_client(
    url: str,
    *,
    connect_timeout_s: float = 0.05,
    timeout_s: float = 0.05,
    max_connections: int = 64,
) -> redis.Redis:
    """A client for the serving path: tight timeouts and no retries.

    redis-py 8 retries failed calls 10 times with backoff by default, which would turn one dead
    Redis into seconds of waiting per request; here the breaker decides when to try again.

    Args:
        url: redis:// or rediss:// URL; the path selects the database.
        connect_timeout_s: TCP connect timeout.
        timeout_s: read/write timeout of every command.
        max_connections: connections kept per process; more concurrent calls get a
            ConnectionError at once instead of opening sockets without bound.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = redis.ConnectionPool.from_url(
        url,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        max_connections=max_connections,
        health_check_interval=0,
    )
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # close() then drops the sockets, as from_url() does
    return client


def redis_breaker(
    name: str = "redis",
    failure_threshold: int = 5,
    reset_timeout_s: float = 1.0,
    on_state_change: Callable[[BreakerState, BreakerState], None] | None = None,
) -> CircuitBreaker:
    """The breaker used for Redis: a short reset, since a trial call costs at most one timeout.

    Args:
        on_state_change: (old, new) after each transition, e.g. to set the
            `smartlib_cache_circuit_open` gauge.
    """
    return CircuitBreaker(
        name, failure_threshold=failure_threshold, reset_timeout_s=reset_timeout_s, on_state_change=on_state_change
    )


def _check_ttl(ttl_s: float) -> None:
    if not ttl_s > 0:
        raise ValueError(f"ttl_s must be positive, got {ttl_s!r}")


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
