"""RecommendForUser's service-layer CPU a call on the bench's `personal` mix, in one process, no gRPC.

    python -m smartlib_bench.personal_cpu [--calls 4000] [--cf] [--profile]

The real PersonalRecommender, HistoryCache, InteractionService and ExperimentService (exposures
through the group commit) over SQLite in a temporary folder, and a synthetic 10k catalog whose
reader rows have the served shape (132 candidates a book, logits), a co-reading graph of 147
lists and, with --cf, a CF model trained on the readers' histories. The readers and their clicks
and likes are loadgen._personal's: 200 readers with 3 likes and 0-25 more events, a click after
10 % of the answers and a like after 3 %. Each call goes the way the servicer sends it: the event
loop's recommend_now, then recommend_for_user when it would block. Prints CPU a call
(time.process_time: every thread, the group commit's writer too) for the calls, the recordings
and the first calls after a change, and with --profile the top of a cProfile of the loop. What
gRPC and the event loop add is not here (personal_profile.py measures the served call).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Approach, Book, BookFilter
from smartlib_server.adapters.experiment_store import ExperimentStore
from smartlib_server.adapters.history_cache import HistoryCache
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import sqlite_database
from smartlib_server.domain.personalization import InteractionInput, InteractionKind as K
from smartlib_server.services.personalization.blend import ContentView, PersonalRecommender
from smartlib_server.services.personalization.cf import CFTrainer
from smartlib_server.services.personalization.experiments import ExperimentService
from smartlib_server.services.personalization.interactions import InteractionService
from smartlib_server.services.recommend import WouldBlock
from smartlib_server.services.recommend.vector_index import VectorIndex

BOOKS, ROW, USERS = 10_000, 132, 200
KINDS = (K.CLICK, K.RATE, K.READ, K.LIKE, K.DISLIKE, K.DISMISS)  # loadgen._HISTORY_KINDS
SHARES = (0.5, 0.2, 0.1, 0.1, 0.05, 0.05)


def catalog(rng: random.Random) -> dict[str, Book]:
    books = {}
    for i in range(BOOKS):
        series = f"series {i // 4}" if i % 5 == 0 else ""  # some series of several books
        books[f"b{i:05d}"] = Book(id=f"b{i:05d}", title=f"Book {i}", authors=(f"Author {i % 3000}",),
                                  genres=(rng.choice(("Fantasy", "History", "Romance", "Mystery")), "Fiction"),
                                  num_ratings=rng.randint(10, 10**6), list_rank=i, series_name=series)
    return books


def reader_rows(ids: list[str], rng: random.Random) -> dict[str, tuple[list[str], list[float]]]:
    rows = {}
    for book in ids:
        members = rng.sample(ids, ROW + 1)
        members = [b for b in members if b != book][:ROW]
        rows[book] = (members, sorted((rng.gauss(0, 2) for _ in members), reverse=True))
    return rows


def build(folder: Path, cf: bool, seed: int = 5):
    rng = random.Random(seed)
    books = catalog(rng)
    ids = list(books)
    rows = reader_rows(ids, rng)
    graph = CoReading.from_lists([rng.sample(ids[:3000], rng.randint(10, 40)) for _ in range(147)])
    index = VectorIndex(8)
    index.upsert(ids, np.random.default_rng(seed).normal(size=(len(ids), 8)).astype(np.float32))
    view = ContentView(books, index, Approach.FINETUNED, "finetuned:bench", 1)
    db = sqlite_database(folder / "catalog.sqlite3")
    store = InteractionStore(db)
    histories = HistoryCache(store)
    trainer = CFTrainer(store)
    experiments = ExperimentService(ExperimentStore(db, store))
    service = InteractionService(histories, lambda b: b if b in books else None, listeners=[experiments.on_interactions])
    recommender = PersonalRecommender(histories, lambda: trainer.model, experiments, lambda approach: view,
                                      pools=rows.get, pools_now=rows.get, co_reading=lambda: graph)
    users = [f"reader-{u}" for u in range(USERS)]
    bench_ids = rng.sample(ids, 3000)
    for user in users:  # loadgen._history
        sample = rng.sample(bench_ids, 28)
        items = [InteractionInput(user, b, K.LIKE) for b in sample[:3]]
        for book in sample[3:3 + rng.randint(0, 25)]:
            kind = rng.choices(KINDS, SHARES)[0]
            items.append(InteractionInput(user, book, kind, rng.randint(1, 5) if kind is K.RATE else 0))
        service.record(items)
    if cf:
        trainer.refresh()
    return recommender, service, users, bench_ids, db


def run(recommender, service, users, ids, calls: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    spent = {"calls": 0.0, "recordings": 0.0, "first calls": 0.0}
    counts = {"calls": 0, "recordings": 0, "first calls": 0, "on the loop": 0}
    changed: set[str] = set(users)  # every reader's first call ranks afresh
    for _ in range(calls):
        user = rng.choice(users)
        k, filt = rng.randint(5, 20), BookFilter(exclude_ids=frozenset([rng.choice(ids)]))
        started = time.process_time()
        try:
            result, committed = recommender.recommend_now(user, k, filt)
            committed.result()
            counts["on the loop"] += 1
        except WouldBlock:
            result = recommender.recommend_for_user(user, k, filt)
        took = time.process_time() - started
        spent["calls"] += took
        counts["calls"] += 1
        if user in changed:
            spent["first calls"] += took
            counts["first calls"] += 1
            changed.discard(user)
        draw = rng.random()
        if draw < 0.13 and result.items:
            kind = K.CLICK if draw < 0.1 else K.LIKE
            book = rng.choice(result.items).book.id
            started = time.process_time()
            service.record([InteractionInput(user, book, kind, recommendation_id=result.recommendation_id)])
            spent["recordings"] += time.process_time() - started
            counts["recordings"] += 1
            changed.add(user)
    return {"spent": spent, "counts": counts}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.personal_cpu", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--cf", action="store_true", help="train CF on the readers' histories first")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smartlib-personal-cpu-") as folder:
        recommender, service, users, ids, db = build(Path(folder), args.cf)
        run(recommender, service, users, ids, 400, seed=3)  # every reader ranked once: the served steady state
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        figures = run(recommender, service, users, ids, args.calls)
        if profiler:
            profiler.disable()
        db.close()
    spent, counts = figures["spent"], figures["counts"]
    per_call = 1000 * (spent["calls"] + spent["recordings"]) / counts["calls"]
    print(f"RecommendForUser, CPU a call with its share of the recordings: {per_call:.3f} ms "
          f"({counts['calls']} calls, {counts['on the loop']} on the loop)")
    for name in ("calls", "recordings", "first calls"):
        print(f"  {name}: {1000 * spent[name] / max(counts[name], 1):.3f} ms each ({counts[name]})")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumtime").print_stats(45)


if __name__ == "__main__":
    main()
