"""Whole-answer caching for read RPCs: versioned keys, stampede protection, fail-open.

Invalidation is by key, never by deletion. Every key carries the serving index version (the
catalog change sequence number the index has applied; every upsert and delete bumps it) and the
model version, so after any write or model switch new requests build new keys and no earlier
answer can be read again; old entries simply age out by TTL or LRU. For this to hold, callers
read both versions from the same snapshot that computes the answer, and read them *before*
computing: an answer computed from newer data than its key says is merely fresh, never stale.

Stampede protection has two layers. In a process, identical concurrent requests share one
computation (single-flight). Across processes sharing Redis, the first process takes a short
lock and the others poll for its answer for at most `wait_s`, then compute themselves; so a
burst of identical cold requests computes once, or twice if a lock expires mid-computation.

The cache can never fail a request: every backend error is counted and the request is served
without the cache. Only errors from `compute` itself reach the caller.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from smartlib_core.tracing import traced
from smartlib_server.adapters.cache import AnswerCache, CacheUnavailable

if TYPE_CHECKING:
    from smartlib_server.metrics import ServerMetrics

log = logging.getLogger(__name__)

# Bump when the cached bytes change meaning (e.g. a different response message), so a rolling
# deploy never decodes an old layout.
KEY_FORMAT = 1
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def request_digest(request: Mapping[str, Any] | bytes) -> str:
    """sha256 of a request: of its bytes when it comes as bytes (a serialised protobuf request:
    every input is in them, and hashing them costs a fraction of canonicalising), else of the
    canonical JSON form of the mapping.

    Only differences that cannot change an answer are ignored: mapping order and set order.
    Enums become their values and dataclasses their fields. Strings are kept exactly, because
    validation sees the raw text (a padded query can be too long, an id with spaces unknown):
    merging " b1 " with "b1" would serve a cached success to a request that must fail. A
    caller that knows two spellings are equivalent normalises them before building the key.
    """
    if isinstance(request, bytes):
        return hashlib.sha256(request).hexdigest()
    canonical = json.dumps(_canonical(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, enum.Enum):
        return _canonical(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    raise TypeError(f"cannot build a cache key from a {type(value).__name__}")


@dataclasses.dataclass(frozen=True)
class AnswerKey:
    """A cache key and the answer type it belongs to (the `kind` metric label)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """Every request is exactly one of hits, misses, waited or coalesced."""

    hits: int  # answered from the cache
    misses: int  # computed here (absent from the cache, or the cache failed)
    waited: int  # answered from the cache after waiting on another process's computation
    coalesced: int  # answered by an identical request computing at the same time in this process
    errors: Mapping[str, int]  # backend failures by kind (timeout, connection, full, circuit_open, error)

    @property
    def hit_ratio(self) -> float:
        """Share of requests that did not compute."""
        served = self.hits + self.misses + self.waited + self.coalesced
        return (served - self.misses) / served if served else 0.0


class _Flight:
    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: bytes | None = None
        self.error: BaseException | None = None


class AnswerCaching:
    """What services call to cache an answer. Thread-safe; one per process.

    Args:
        cache: the backend (InProcessCache or RedisCache).
        environment: namespaces every key, so environments sharing a Redis never share answers.
        ttl_s: lifetime of a cached answer.
        lock_ttl_s: lifetime of the cross-process compute lock; longer than a slow computation.
        wait_s: how long a process waits for another process's computation before computing.
        poll_s: first poll interval while waiting; it doubles up to 25 ms.
        metrics: the server's ServerMetrics, if any. `smartlib_cache_hits_total` counts every
            answer not computed by its request (hits, waited, coalesced), `..._misses_total`
            every computation, `..._errors_total` failed backend calls by operation
            (get, set, lock).
    """

    def __init__(
        self,
        cache: AnswerCache,
        *,
        environment: str,
        ttl_s: float = 300.0,
        lock_ttl_s: float = 2.0,
        wait_s: float = 0.5,
        poll_s: float = 0.002,
        metrics: ServerMetrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not environment.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"environment must be letters, digits, - and _, got {environment!r}")
        if ttl_s <= 0 or lock_ttl_s <= 0 or wait_s < 0 or poll_s <= 0:
            raise ValueError("ttl_s, lock_ttl_s and poll_s must be positive and wait_s non-negative")
        self.cache = cache
        self.environment = environment
        self.ttl_s = ttl_s
        self.lock_ttl_s = lock_ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._metrics = metrics
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._counts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._series: dict[tuple[str, str], Any] = {}  # (outcome, kind) -> its counter's series; kinds are few
        self._last_warning = float("-inf")

    @property
    def namespace(self) -> str:
        """The prefix of every key this instance builds."""
        return f"smartlib:{self.environment}:answer:f{KEY_FORMAT}"

    def key(
        self, kind: str, request: Mapping[str, Any] | bytes, *, index_version: int, model_version: str, catalog_id: str = ""
    ) -> AnswerKey:
        """The cache key of one request.

        Args:
            kind: the answer type, e.g. "similar_books", "search_by_text", "get_book".
            request: every input that changes the answer: a mapping after defaults are
                applied (a resolved k and approach, not the raw proto with zeros), or the
                request's serialised bytes (spellings that differ then never share an entry).
            index_version: the change sequence number the serving index has applied.
            model_version: the model that answers, e.g. "finetuned:encoder:v7".
            catalog_id: identity of the catalog database, when it has one. Sequence numbers
                restart in a re-created database, so without it a fresh catalog could meet
                answers cached for an old one at the same version.
        """
        if not _KIND.match(kind):
            raise ValueError(f"kind must match {_KIND.pattern}, got {kind!r}")
        if index_version < 0:
            raise ValueError("index_version must be non-negative")
        model_tag = _model_tag(catalog_id, model_version)
        return AnswerKey(kind, f"{self.namespace}:{kind}:i{index_version}:m{model_tag}:{request_digest(request)}")

    @traced("cache")
    def get_or_compute(self, key: AnswerKey, compute: Callable[[], bytes], *, wait_s: float | None = None) -> bytes:
        """The cached answer for key, or compute() stored under it.

        Args:
            key: from `key()`.
            compute: builds the answer; called at most once per burst of identical requests
                in this process. Its exceptions reach every request that waited on it and
                nothing is cached.
            wait_s: overrides the cross-process wait, e.g. with the request's remaining deadline.

        Raises:
            Whatever compute() raises; never a cache error.
        """
        with self._lock:
            flight = self._flights.get(key.value)
            leader = flight is None
            if leader:
                flight = self._flights[key.value] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            self._count("coalesced", key.kind)
            assert flight.value is not None
            return flight.value
        try:
            flight.value = self._lookup_or_compute(key, compute, self.wait_s if wait_s is None else wait_s)
            return flight.value
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key.value]
            flight.done.set()

    @traced("cache")
    def get_or_compute_now(self, key: AnswerKey, compute: Callable[[], bytes | None]) -> bytes | None:
        """`get_or_compute` for a caller that must not block (the event loop): None whenever
        answering would wait, so the caller can fall back to `get_or_compute` on a thread.

        It answers only over an in-process cache (Redis means network waits) when no identical
        request is computing (joining it means waiting), from the cache or from `compute()`,
        which itself returns None when it would block. Its answer is stored as usual.
        """
        if self.cache.shared:
            return None
        with self._lock:
            if key.value in self._flights:
                return None
        cached = self.cache.get(key.value)  # in-process: a dict lookup that cannot fail
        if cached is not None:
            self._count("hits", key.kind)
            return cached
        value = compute()
        if value is None:
            return None
        self._count("misses", key.kind)
        self.cache.set(key.value, value, self.ttl_s)
        return value

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                hits=self._counts["hits"],
                misses=self._counts["misses"],
                waited=self._counts["waited"],
                coalesced=self._counts["coalesced"],
                errors=dict(self._errors),
            )

    def _lookup_or_compute(self, key: AnswerKey, compute: Callable[[], bytes], wait_s: float) -> bytes:
        try:
            cached = self.cache.get(key.value)
        except CacheUnavailable as exc:
            # One failed call per request at most: skip the lock and the store on a failing backend.
            self._error(exc, "get")
            self._count("misses", key.kind)
            return _run(compute)
        if cached is not None:
            self._count("hits", key.kind)
            return cached
        if not self.cache.shared:
            return self._compute_and_store(key, compute)
        lock_key = key.value + ":lock"
        token = os.urandom(16)
        try:
            locked = self.cache.acquire(lock_key, token, self.lock_ttl_s)
        except CacheUnavailable as exc:
            self._error(exc, "lock")
            self._count("misses", key.kind)
            return _run(compute)  # the backend is failing; storing would most likely fail too
        if not locked:
            cached = self._wait_for(key.value, wait_s)
            if cached is not None:
                self._count("waited", key.kind)
                return cached
            return self._compute_and_store(key, compute)
        try:
            # Another process may have stored the answer and released the lock between our get
            # and our acquire; without this second look both would compute.
            try:
                cached = self.cache.get(key.value)
            except CacheUnavailable as exc:
                self._error(exc, "get")
                cached = None
            if cached is not None:
                self._count("waited", key.kind)
                return cached
            return self._compute_and_store(key, compute)
        finally:
            try:
                self.cache.release(lock_key, token)
            except CacheUnavailable as exc:
                self._error(exc, "lock")  # the lock expires on its own

    def _compute_and_store(self, key: AnswerKey, compute: Callable[[], bytes]) -> bytes:
        self._count("misses", key.kind)
        value = _run(compute)
        try:
            self.cache.set(key.value, value, self.ttl_s)
        except CacheUnavailable as exc:
            self._error(exc, "set")
        return value

    def _wait_for(self, key: str, wait_s: float) -> bytes | None:
        deadline = self._clock() + wait_s
        interval = self.poll_s
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            self._sleep(min(interval, remaining))
            interval = min(interval * 2, 0.025)
            try:
                cached = self.cache.get(key)
            except CacheUnavailable as exc:
                self._error(exc, "get")
                return None
            if cached is not None:
                return cached

    def _count(self, outcome: str, kind: str) -> None:
        with self._lock:
            self._counts[outcome] += 1
        if self._metrics is not None:
            series = self._series.get((outcome, kind))
            if series is None:  # resolved once: `labels()` takes a lock and builds its key on every call
                counter = self._metrics.cache_misses if outcome == "misses" else self._metrics.cache_hits
                series = self._series[(outcome, kind)] = counter.labels(backend=self.cache.backend, kind=kind)
            series.inc()

    def _error(self, exc: CacheUnavailable, operation: str) -> None:
        now = self._clock()
        with self._lock:
            self._errors[exc.kind] += 1
            loud = now - self._last_warning >= 10.0
            if loud:
                self._last_warning = now
        if self._metrics is not None:
            self._metrics.cache_errors.labels(backend=self.cache.backend, operation=operation).inc()
        if loud:  # at most one line per 10 s: a dead Redis must not flood the log
            log.warning("answer cache (%s) failing, serving without it: %s", self.cache.backend, exc)


@functools.lru_cache(maxsize=256)  # a handful of catalog/model pairs, asked on every request
def _model_tag(catalog_id: str, model_version: str) -> str:
    return hashlib.sha256(f"{catalog_id}\0{model_version}".encode()).hexdigest()[:16]


def _run(compute: Callable[[], bytes]) -> bytes:
    value = compute()
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"compute() must return bytes, not {type(value).__name__}")
    return bytes(value)
