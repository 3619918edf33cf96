"""SearchByText's work without gRPC: the server's own query batcher, and the whole search
service, driven from threads inside the bench process (issue 25: "the same batcher's
throughput without gRPC is reported beside it, so the serving overhead is visible").

Every query is distinct (a run id and a counter, as the load generator's `text_miss`), so the
query cache never answers. Closed loop, like the load generator: each of `concurrency`
threads sends its next query when the last returns.
"""
from __future__ import annotations

import itertools
import os
import threading
import time

from smartlib_bench.queries import QUERIES
from smartlib_core.domain import BookFilter


def closed_loop(call, concurrency: int, seconds: float) -> dict:
    """req/s, p50 and p99 of `call(n)` from `concurrency` threads for `seconds`."""
    counter = itertools.count()
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            call(next(counter))
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")
    return {"concurrency": concurrency, "calls": len(latencies), "qps": len(latencies) / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def run(services, seconds: float, concurrencies=(8, 32)) -> dict:
    """{"query_batcher_c8": ..., "search_service_c8": ...} for each concurrency."""
    run_id = os.urandom(4).hex()

    def text(n: int) -> str:
        return f"{QUERIES[n % len(QUERIES)]} inproc {run_id} {n}"

    def embed(n: int) -> None:
        services.inference.embed_queries([text(n)])

    no_filter = BookFilter()

    def search(n: int) -> None:  # the default route, FINETUNED where there is an encoder
        services.recommend.search_by_text(text(n), 10, None, no_filter)

    closed_loop(embed, 8, min(seconds, 1.0))  # untimed warm-up
    results = {}
    for concurrency in concurrencies:
        results[f"query_batcher_c{concurrency}"] = closed_loop(embed, concurrency, seconds)
        results[f"search_service_c{concurrency}"] = closed_loop(search, concurrency, seconds)
    return results
