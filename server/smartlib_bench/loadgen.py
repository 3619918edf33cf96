"""A closed-loop gRPC load generator, run as its own process so it never shares the server's GIL.

    python -m smartlib_bench.loadgen ADDRESS KIND CONCURRENCY SECONDS [ARG]

KIND is `empty` (grpc.health.v1 Check: the cheapest RPC the server answers), `similar_hit`
(SimilarBooks, k=10, cycling over the first 20 ids in ARG, comma-separated: after warm-up every
call is a cache hit), `similar_miss` (the same with a distinct excluded id per call, so the
answer cache never helps), `similar_deep` (a miss with k=30, which a FINETUNED server answers
with a search rather than from its neighbour table) or `text_miss` (SearchByText with a distinct query per call). APPROACH comes from the
environment. Prints one JSON line.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from smartlib.v1 import books_pb2, recommend_service_pb2 as rs, recommend_service_pb2_grpc

RUN = os.urandom(4).hex()  # in every miss key: a later run on the same server must not hit this one's answers
QUERIES = ["space opera about galactic empires", "a cozy village mystery", "dragons and magic schools", "a war memoir"]


def _call_factory(channel: grpc.aio.Channel, kind: str, arg: str):
    if kind == "empty":
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        return lambda: stub.Check(request)
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    approach = int(os.environ.get("APPROACH", "1"))
    if kind == "similar_hit":
        hot = itertools.cycle(arg.split(",")[:20])
        return lambda: recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=next(hot), k=10, approach=approach))
    if kind in ("similar_miss", "similar_deep"):
        ids = itertools.cycle(arg.split(","))
        counter = itertools.count()
        k = 10 if kind == "similar_miss" else 30

        def similar_miss():
            # A never-matching excluded id makes every request a cache miss. k=10 like the hit
            # case; k=30 reads 128 candidates, deeper than the neighbour table, so it searches.
            flt = books_pb2.BookFilter(exclude_ids=[f"bench-{RUN}-{next(counter)}"])
            return recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=next(ids), k=k, approach=approach, filter=flt))
        return similar_miss
    if kind == "text_miss":
        counter = itertools.count()
        return lambda: recommend.SearchByText(rs.SearchByTextRequest(
            query=f"{QUERIES[(n := next(counter)) % len(QUERIES)]} {RUN} {n}", k=10, approach=approach))
    raise SystemExit(f"unknown kind {kind}")


async def run(address: str, kind: str, concurrency: int, seconds: float, arg: str) -> dict:
    async with grpc.aio.insecure_channel(address) as channel:
        call = _call_factory(channel, kind, arg)
        for _ in range(20):  # warm up connections and caches outside the measured window
            await call()
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    await call()
                    latencies.append(time.perf_counter() - start)
                except grpc.RpcError:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "kind": kind, "concurrency": concurrency, "calls": len(latencies), "errors": errors,
        "qps": len(latencies) / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
    }


def main() -> None:
    address, kind, concurrency, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    arg = sys.argv[5] if len(sys.argv) > 5 else ""
    print(json.dumps(asyncio.run(run(address, kind, concurrency, seconds, arg))))


if __name__ == "__main__":
    main()
