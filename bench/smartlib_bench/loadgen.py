"""A closed-loop gRPC load generator, run as its own process so it never shares the server's GIL.

    python -m smartlib_bench.loadgen ADDRESS KIND CONCURRENCY SECONDS [ARG]

KIND is `empty` (grpc.health.v1 Check: the cheapest RPC the server answers), `similar_hit`
(SimilarBooks, k=10, cycling over the first 20 ids in ARG, comma-separated: after warm-up every
call is a cache hit), `similar_miss` (the same with a distinct excluded id per call, so the
answer cache never helps), `similar_deep` (a miss with k=30, which a FINETUNED server answers
with a search rather than from its neighbour table) `similar_varied` (SimilarBooks on a random book of ARG, k between 5 and 20,
one random catalog id excluded: every request distinct) or `text_miss` (SearchByText with a
distinct query per call, from smartlib_bench.queries), or `personal` (RecommendForUser for a
random one of 200 readers with histories of 3 to 28 interactions over books of ARG, k and an
excluded id varied as in `similar_varied`, and after some answers the reader's click or like on
a shown book recorded, as a backend would: see `_personal`). APPROACH comes from the
environment. Prints one JSON line.

Replies stay bytes: on two cores the generator shares the CPU with the server, so it does no
work the measurement does not need (parsing a reply of ten books costs about 6 us; the
generator's CPU per SimilarBooks call fell from ~245 to ~225 us without it). The warm-up parses
its replies and checks them instead, so a server that answers wrongly, or with fewer books than
asked for, fails the run rather than looking fast.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import sys
import time

import grpc
from grpc_health.v1 import health_pb2

from smartlib.v1 import books_pb2, interaction_service_pb2 as ints, recommend_service_pb2 as rs
from smartlib_bench.queries import QUERIES

RUN = os.urandom(4).hex()  # in every miss key: a later run on the same server must not hit this one's answers


def _unary(channel: grpc.aio.Channel, method: str):
    """A unary call to `method` that sends a message and returns the reply's bytes unparsed."""
    return channel.unary_unary(method, request_serializer=_serialize, response_deserializer=None)


def _serialize(message) -> bytes:
    return message.SerializeToString()


def _call_factory(channel: grpc.aio.Channel, kind: str, arg: str):
    """The call for `kind`, and a check of one parsed reply."""
    if kind == "empty":
        check = _unary(channel, "/grpc.health.v1.Health/Check")
        request = health_pb2.HealthCheckRequest(service="")

        def serving(reply) -> bool:
            return health_pb2.HealthCheckResponse.FromString(reply).status == health_pb2.HealthCheckResponse.SERVING
        return lambda: check(request), serving
    approach = int(os.environ.get("APPROACH", "1"))
    k = 30 if kind == "similar_deep" else 10

    def full(reply) -> bool:
        return len(rs.RecommendResponse.FromString(reply).items) == k
    if kind == "similar_hit":
        similar = _unary(channel, "/smartlib.v1.RecommendService/SimilarBooks")
        hot = itertools.cycle(arg.split(",")[:20])
        return lambda: similar(rs.SimilarBooksRequest(book_id=next(hot), k=k, approach=approach)), full
    if kind in ("similar_miss", "similar_deep"):
        similar = _unary(channel, "/smartlib.v1.RecommendService/SimilarBooks")
        ids = itertools.cycle(arg.split(","))
        counter = itertools.count()

        def similar_miss():
            # A never-matching excluded id makes every request a cache miss. k=10 like the hit
            # case; k=30 reads 128 candidates, deeper than the neighbour table, so it searches.
            flt = books_pb2.BookFilter(exclude_ids=[f"bench-{RUN}-{next(counter)}"])
            return similar(rs.SimilarBooksRequest(book_id=next(ids), k=k, approach=approach, filter=flt))
        return similar_miss, full
    if kind == "similar_varied":
        similar = _unary(channel, "/smartlib.v1.RecommendService/SimilarBooks")
        ids = arg.split(",")

        def similar_varied(rng: random.Random, k: int, flt):
            return similar(rs.SimilarBooksRequest(book_id=rng.choice(ids), k=k, approach=approach, filter=flt))
        return _varied(similar_varied, ids, random.Random(RUN))
    if kind == "personal":
        return _personal(channel, arg.split(","))
    if kind == "text_miss":
        search = _unary(channel, "/smartlib.v1.RecommendService/SearchByText")
        counter = itertools.count()
        return lambda: search(rs.SearchByTextRequest(
            query=f"{QUERIES[(n := next(counter)) % len(QUERIES)]} {RUN} {n}", k=k, approach=approach)), full
    raise SystemExit(f"unknown kind {kind}")


PERSONAL_USERS = 200
PERSONAL_LIKES = 3
CLICK_RATE = 0.1  # answers followed by a click on one shown book (a generous CTR for a home page)
LIKE_RATE = 0.03  # answers followed by a like of one shown book


def _personal(channel: grpc.aio.Channel, ids: list[str]):
    """RecommendForUser for a random one of PERSONAL_USERS readers (histories recorded by
    `_setup` before the warm-up), varied as `similar_varied` is, so the two rows of the bench
    compare like with like. Every call stores an exposure, as the served path does. After
    CLICK_RATE of the answers the reader clicks one of the shown books and after LIKE_RATE likes
    one, recorded with the answer's recommendation_id, so the reader's next call ranks a changed
    history: the cost a served backend pays, not only the kept ordering's. The recording is
    awaited by the same worker outside the call's latency, and only RecommendForUser calls count
    towards req/s; the server's CPU for the recordings is spent in the run all the same."""
    recommend = _unary(channel, "/smartlib.v1.RecommendService/RecommendForUser")
    record = _unary(channel, "/smartlib.v1.InteractionService/RecordInteractions")
    users: dict[asyncio.Task, str] = {}  # the worker -> the user of its call in flight

    def personal(rng: random.Random, k: int, flt):
        user = f"bench-{RUN}-{rng.randrange(PERSONAL_USERS)}"
        users[asyncio.current_task()] = user
        return recommend(rs.RecommendForUserRequest(user_id=user, k=k, filter=flt))
    call, valid = _varied(personal, ids, random.Random(RUN + "-personal"))
    rng = random.Random(RUN + "-interactions")

    async def after(reply: bytes) -> None:
        user = users[asyncio.current_task()]
        draw = rng.random()
        if draw >= CLICK_RATE + LIKE_RATE:
            return
        response = rs.RecommendResponse.FromString(reply)
        if not response.items:
            return
        kind = ints.INTERACTION_KIND_CLICK if draw < CLICK_RATE else ints.INTERACTION_KIND_LIKE
        book = rng.choice(response.items).book.id
        await record(ints.RecordInteractionsRequest(interactions=[ints.Interaction(
            user_id=user, book_id=book, kind=kind, recommendation_id=response.recommendation_id)]))
    return call, valid, after


def _varied(ask, ids: list[str], rng: random.Random):
    """A call of `ask(rng, k, filter)` with k between 5 and 20 and one random id of `ids`
    excluded, so no two calls ask the same; and the warm-up's check that a reply has k items."""
    asked: dict[int, int] = {}  # call number -> k
    counter, checked = itertools.count(), itertools.count()

    def call():
        n = next(counter)
        asked[n] = rng.randint(5, 20)
        return ask(rng, asked[n], books_pb2.BookFilter(exclude_ids=[rng.choice(ids)]))
    return call, lambda reply: len(rs.RecommendResponse.FromString(reply).items) == asked[next(checked)]


async def _setup(channel: grpc.aio.Channel, kind: str, arg: str) -> None:
    if kind != "personal":
        return
    rng = random.Random(RUN)
    ids = arg.split(",")
    record = channel.unary_unary("/smartlib.v1.InteractionService/RecordInteractions",
                                 request_serializer=_serialize, response_deserializer=ints.RecordInteractionsResponse.FromString)
    for u in range(PERSONAL_USERS):  # one request a reader: a batch holds at most 1,000
        reply = await record(ints.RecordInteractionsRequest(interactions=_history(rng, f"bench-{RUN}-{u}", ids)))
        if reply.rejected:
            raise SystemExit(f"personal: the server rejected a bench reader's history: {reply.rejected[0]}")


def _history(rng: random.Random, user: str, ids: list[str]) -> list:
    """A reader's history, oldest first: PERSONAL_LIKES likes, then 0-25 more events over other
    books (mostly clicks, then ratings of 1-5 stars, reads, a dislike or a dismissal), so the
    ranking folds ratings, recency and dislikes as it would for a reader who has been around."""
    books = rng.sample(ids, PERSONAL_LIKES + 25)
    events = [ints.Interaction(user_id=user, book_id=b, kind=ints.INTERACTION_KIND_LIKE) for b in books[:PERSONAL_LIKES]]
    for book in books[PERSONAL_LIKES:PERSONAL_LIKES + rng.randint(0, 25)]:
        kind = rng.choices(_HISTORY_KINDS, _HISTORY_SHARES)[0]
        rating = rng.randint(1, 5) if kind == ints.INTERACTION_KIND_RATE else 0
        events.append(ints.Interaction(user_id=user, book_id=book, kind=kind, rating=rating))
    return events


_HISTORY_KINDS = (ints.INTERACTION_KIND_CLICK, ints.INTERACTION_KIND_RATE, ints.INTERACTION_KIND_READ,
                  ints.INTERACTION_KIND_LIKE, ints.INTERACTION_KIND_DISLIKE, ints.INTERACTION_KIND_DISMISS)
_HISTORY_SHARES = (0.5, 0.2, 0.1, 0.1, 0.05, 0.05)


async def run(address: str, kind: str, concurrency: int, seconds: float, arg: str) -> dict:
    async with grpc.aio.insecure_channel(address) as channel:
        await _setup(channel, kind, arg)
        call, valid, *rest = _call_factory(channel, kind, arg)
        after = rest[0] if rest else None  # what a client does with an answer, untimed (see `_personal`)
        for _ in range(20):  # warm up connections and caches outside the measured window
            reply = await call()
            if not valid(reply):
                raise SystemExit(f"{kind}: the server's reply is not what was asked for")
            if after is not None:
                await after(reply)
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    reply = await call()
                    latencies.append(time.perf_counter() - start)
                    if after is not None:
                        await after(reply)
                except grpc.RpcError:
                    errors += 1

        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "kind": kind, "concurrency": concurrency, "calls": len(latencies), "errors": errors,
        "qps": len(latencies) / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        # the generator's own CPU a call: on two cores it comes out of the server's share
        "client_cpu_ms_per_call": 1000 * cpu / max(len(latencies) + errors, 1),
    }


def main() -> None:
    address, kind, concurrency, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    arg = sys.argv[5] if len(sys.argv) > 5 else ""
    print(json.dumps(asyncio.run(run(address, kind, concurrency, seconds, arg))))


if __name__ == "__main__":
    main()
