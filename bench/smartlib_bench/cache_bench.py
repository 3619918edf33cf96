"""Benchmark: what one cache lookup costs in Redis against the in-process cache.

Both are measured in the same run, interleaved in rounds, so the ratio is fair on a noisy
shared machine. `make bench` calls `bench_cache_lookup`; `python -m
smartlib_bench.cache_bench [redis_url]` prints the same numbers as JSON.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable

import redis

from smartlib_server.adapters.cache import AnswerCache, InProcessCache, RedisCache, redis_breaker, redis_client
from smartlib_server.services.caching import AnswerCaching


def bench_cache_lookup(redis_url: str, *, n: int = 2000, value_bytes: int = 8192, rounds: int = 5) -> dict[str, float]:
    """Times cache hits: the raw backend get() and the full AnswerCaching.get_or_compute path.

    Args:
        redis_url: the Redis to measure; its keys live under a random prefix and are deleted.
        n: lookups per backend per round.
        value_bytes: size of the cached answer (a 10-item RecommendResponse is ~5-10 KiB).
        rounds: alternations between the backends.

    Returns:
        Latencies in microseconds (p50, p99, mean for each path) and the Redis/in-process
        ratios of the medians, plus the cost of building one key.

    Raises:
        CacheUnavailable: Redis cannot be reached (the caller may report the benchmark skipped).
    """
    value = os.urandom(value_bytes)
    env = f"bench-{uuid.uuid4().hex[:8]}"
    # The serving timeouts would turn a scheduler hiccup into an error; measure, don't fail.
    redis_cache = RedisCache(redis_client(redis_url, connect_timeout_s=1, timeout_s=1), redis_breaker())
    memory_cache = InProcessCache()
    cachings = {name: AnswerCaching(c, environment=env, ttl_s=600) for name, c in
                (("redis", redis_cache), ("memory", memory_cache))}
    key = cachings["redis"].key("similar_books", {"book_id": "bench", "k": 10}, index_version=1, model_version="bench")
    samples: dict[str, list[float]] = {f"{b}_{p}": [] for b in ("redis", "memory") for p in ("get", "hit")}
    try:
        for caching in cachings.values():
            caching.cache.set(key.value, value, 600)  # raises here when Redis is unreachable
        for _ in range(rounds):
            for name, caching in cachings.items():
                samples[f"{name}_get"] += _time(lambda c=caching.cache: c.get(key.value), n)
                samples[f"{name}_hit"] += _time(lambda c=caching: c.get_or_compute(key, _never), n)
        key_cost = _time(lambda: cachings["memory"].key(
            "search_by_text", {"query": "space opera about galactic empires", "k": 10}, index_version=1, model_version="m"),
            n)
    finally:
        _cleanup(redis_cache, cachings["redis"].namespace)
        redis_cache.close()
    out: dict[str, float] = {"value_bytes": value_bytes, "lookups_per_path": n * rounds}
    for path, values in samples.items():
        values.sort()
        out[f"{path}_p50_us"] = _us(statistics.median(values))
        out[f"{path}_p99_us"] = _us(values[int(len(values) * 0.99)])
        out[f"{path}_mean_us"] = _us(statistics.fmean(values))
    out["get_ratio_redis_to_memory"] = round(out["redis_get_p50_us"] / out["memory_get_p50_us"], 1)
    out["hit_ratio_redis_to_memory"] = round(out["redis_hit_p50_us"] / out["memory_hit_p50_us"], 1)
    out["key_build_p50_us"] = _us(statistics.median(key_cost))
    return out


def _time(fn: Callable[[], object], n: int) -> list[float]:
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return timings


def _never() -> bytes:
    raise AssertionError("the benchmark answer was not cached")


def _cleanup(cache: AnswerCache, namespace: str) -> None:
    client = cache._client  # noqa: SLF001 - benchmark housekeeping on our own adapter
    try:
        keys = list(client.scan_iter(match=namespace + ":*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # unreachable: nothing was stored, and the caller sees the original error


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SMARTLIB_REDIS_URL") or "redis://127.0.0.1:6379/0"
    print(json.dumps(bench_cache_lookup(url), indent=2))
