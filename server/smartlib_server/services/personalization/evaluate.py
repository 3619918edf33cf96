"""Offline evaluation of RecommendForUser on simulated readers of the 10k catalog.

There are no real interaction logs, so readers are simulated with a known taste structure:
- each reader favours 1 to 3 genres (drawn by how common they are as a main genre);
- each reader belongs to one of 30 hidden "reading circles" (random partitions of the catalog)
  and picks books of their circle 4x more often: a pattern only other readers reveal, which
  content vectors cannot see, standing in for the word of mouth that real co-reading has;
- after a book, a reader sometimes (30 %) continues with the same author;
- 15 % of picks are noise: any book, by popularity; half of those end in a dislike.
Picks are weighted by popularity (sqrt of the rating count). Every pick is a READ, half of them
also a LIKE.

Protocol: all events get global timestamps; the first 80 % of time trains the CF model (through
the real InteractionStore and CFTrainer on SQLite), and each test reader's liked/read books after
the cut are the hold-out. Metrics: hit rate@10 and nDCG@10 (binary relevance).
A second run gives held-out readers (unknown to CF) 0, 1, 5 and 50 interactions and measures
the blend on their last 10 books.

Usage: python -m smartlib_server.services.personalization.evaluate [--cache DIR] [--users N]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from smartlib_core.domain import Approach, Book, BookFilter
from smartlib_core.embedding import DIM, normalise
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import sqlite_database
from smartlib_server.csv_source import load_file
from smartlib_server.domain.personalization import BlendWeights, Interaction, InteractionKind
from smartlib_server.services.personalization.blend import ContentView, blend, signals
from smartlib_server.services.personalization.cf import CFTrainer
from smartlib_server.services.personalization.popularity import GENERIC_GENRES, CatalogPriors
from smartlib_server.services.recommend.vector_index import VectorIndex

DEFAULT_CSV = Path(__file__).resolve().parents[5] / "shared" / "data" / "goodreads_best_books_10k.csv"
CONFIGS = {
    "popularity-only": BlendWeights(content=0.0, cf=0.0, popularity=1.0, prior=0.0),
    "content-only": BlendWeights(content=1.0, cf=0.0, popularity=0.0, prior=0.0),
    "cf-only": BlendWeights(content=0.0, cf=1.0, popularity=0.0, prior=0.0),
    "blend": BlendWeights(),
}


@dataclasses.dataclass(frozen=True)
class Reader:
    user_id: str
    genres: tuple[str, ...]
    circle: int
    events: tuple[Interaction, ...]  # in time order


def load_catalog(csv: Path, cache: Path | None) -> tuple[list[Book], np.ndarray]:
    """Books and their unit 2688-d vectors (from `cache` when it holds this catalog's vectors)."""
    books = [book for _, book in load_file(csv)[0]]
    ids = np.array([b.id for b in books])
    if cache and (cache / "ids.npy").exists() and (cache / "vectors.npy").exists():
        cached_ids = np.load(cache / "ids.npy")
        if cached_ids.shape == ids.shape and (cached_ids == ids).all():
            return books, normalise(np.load(cache / "vectors.npy"))
    from smartlib_core.embedding import MiniLMTextEncoder, assemble, book_fields

    vectors = assemble([book_fields(b) for b in books], MiniLMTextEncoder(bf16=True))
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / "ids.npy", ids)
        np.save(cache / "vectors.npy", vectors)
    return books, normalise(vectors)


class Simulator:
    def __init__(self, books: list[Book], seed: int, circles: int = 30):
        self.rng = np.random.default_rng(seed)
        self.books = books
        self.n = len(books)
        self.popularity = np.sqrt(np.array([max(b.num_ratings, 1) for b in books], dtype=np.float64))
        self.circle_of = self.rng.integers(0, circles, self.n)
        self.circles = circles
        self.by_author: dict[str, list[int]] = {}
        for i, b in enumerate(books):
            self.by_author.setdefault(b.authors[0], []).append(i)
        genre_sets = [{g.lower() for g in b.genres} - GENERIC_GENRES for b in books]
        main = Counter(b.main_genre.lower() for b in books if b.main_genre and b.main_genre.lower() not in GENERIC_GENRES)
        self.main_genres = [g for g, c in main.most_common() if c >= 20]
        weights = np.array([main[g] for g in self.main_genres], dtype=np.float64)
        self.main_weights = weights / weights.sum()
        self.genre_match = {g: np.array([g in s for s in genre_sets], dtype=np.float64) for g in self.main_genres}

    def reader(self, user_id: str, length: int) -> tuple[str, tuple[str, ...], int, list[tuple[int, InteractionKind]]]:
        rng = self.rng
        genres = tuple(rng.choice(self.main_genres, size=rng.integers(1, 4), replace=False, p=self.main_weights))
        circle = int(rng.integers(0, self.circles))
        match = sum(self.genre_match[g] for g in genres)
        taste = self.popularity * (0.05 + match) * np.where(self.circle_of == circle, 4.0, 1.0)
        taste /= taste.sum()
        noise = self.popularity / self.popularity.sum()
        picked: set[int] = set()
        events: list[tuple[int, InteractionKind]] = []
        last = None
        while len(picked) < length:
            noisy = rng.random() < 0.15
            if last is not None and not noisy and rng.random() < 0.3:
                same = [i for i in self.by_author[self.books[last].authors[0]] if i not in picked]
                book = int(rng.choice(same)) if same else int(rng.choice(self.n, p=taste))
            else:
                book = int(rng.choice(self.n, p=noise if noisy else taste))
            if book in picked:
                continue
            picked.add(book)
            last = book
            if noisy and rng.random() < 0.5:
                events.append((book, InteractionKind.DISLIKE))
                continue
            events.append((book, InteractionKind.READ))
            if rng.random() < 0.5:
                events.append((book, InteractionKind.LIKE))
        return user_id, genres, circle, events


def simulate(sim: Simulator, users: int, min_len: int, max_len: int, prefix: str, horizon_ms: int) -> list[Reader]:
    """Readers whose events are spread over [0, horizon): a global clock for the temporal split."""
    readers = []
    for u in range(users):
        user_id, genres, circle, picks = sim.reader(f"{prefix}{u}", int(sim.rng.integers(min_len, max_len + 1)))
        stamps = np.sort(sim.rng.integers(1_000_000_000_000, 1_000_000_000_000 + horizon_ms, len(picks)))
        events = tuple(
            Interaction(user_id, sim.books[b].id, kind, 0, int(ts)) for (b, kind), ts in zip(picks, stamps, strict=True)
        )
        readers.append(Reader(user_id, genres, circle, events))
    return readers


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, b in enumerate(ranked[:10]) if b in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0


def positives(events) -> set[str]:
    return {e.book_id for e in events if e.kind in (InteractionKind.READ, InteractionKind.LIKE)}


def score(results: list[tuple[list[str], set[str]]]) -> dict[str, float]:
    hits = [bool(set(r[:10]) & rel) for r, rel in results]
    return {
        "hit_rate@10": round(float(np.mean(hits)), 4),
        "ndcg@10": round(float(np.mean([ndcg_at_10(r, rel) for r, rel in results])), 4),
        "users": len(results),
    }


def evaluate_configs(cases, configs, view, model, priors) -> dict[str, dict]:
    """Scores each weighting on the same cases; the per-user signals are computed once."""
    results: dict[str, list] = {name: [] for name in configs}
    for before, after in cases:
        sig = signals(before, 40, view, model, priors)
        for name, weights in configs.items():
            items = blend(sig, 10, BookFilter(), view, model, priors, weights, before)
            results[name].append(([i.book.id for i in items], after))
    return {name: score(r) for name, r in results.items()}


def run(csv: Path, cache: Path | None, users: int, test_users: int, seed: int, configs: dict | None = None) -> dict:
    configs = configs or CONFIGS
    started = time.perf_counter()
    books, vectors = load_catalog(csv, cache)
    by_id = {b.id: b for b in books}
    index = VectorIndex(DIM)
    index.upsert([b.id for b in books], vectors)
    view = ContentView(by_id, index, Approach.BASELINE, "baseline:eval", "eval")
    priors = CatalogPriors(by_id, "eval")
    sim = Simulator(books, seed)
    horizon = 365 * 24 * 3600 * 1000
    readers = simulate(sim, users, 8, 60, "u", horizon)
    cut = int(np.quantile([e.timestamp_ms for r in readers for e in r.events], 0.8))

    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite_database(Path(tmp) / "eval.sqlite3")
        store = InteractionStore(db)
        store.add([e for r in readers for e in r.events if e.timestamp_ms < cut])
        trainer = CFTrainer(store)
        t0 = time.perf_counter()
        trainer.refresh()
        train_seconds = time.perf_counter() - t0
        model = trainer.model
        db.close()

    cases = []
    for r in readers:
        before = [e for e in r.events if e.timestamp_ms < cut]
        after = positives(e for e in r.events if e.timestamp_ms >= cut) - {e.book_id for e in before}
        if len(before) >= 2 and after:
            cases.append((before, after))
    cases = cases[:test_users]
    temporal = evaluate_configs(cases, configs, view, model, priors)

    # Cold start to warm: new readers (unknown to CF) with 0, 1, 5 and 50 interactions.
    fresh = simulate(sim, test_users // 2, 60, 60, "new", horizon)
    curve: dict[str, dict[str, dict]] = {}
    reasons: Counter = Counter()
    for n in (0, 1, 5, 50):
        results: dict[str, list] = {name: [] for name in configs}
        genre_share: dict[str, list] = {name: [] for name in configs}
        for r in fresh:
            held = {e.book_id for e in r.events[-15:] if e.kind in (InteractionKind.READ, InteractionKind.LIKE)}
            history = _first_books(r.events[: len(r.events) - 15], n)
            sig = signals(history, 40, view, model, priors)
            for name, weights in configs.items():
                items = blend(sig, 10, BookFilter(), view, model, priors, weights, history)
                results[name].append(([i.book.id for i in items], held))
                genre_share[name].append(np.mean([bool({g.lower() for g in i.book.genres} & set(r.genres)) for i in items]))
                if name == "blend":
                    reasons.update(i.reason.split(" ")[0] for i in items)
        curve[str(n)] = {
            name: {**score(results[name]), "in_taste_genres": round(float(np.mean(genre_share[name])), 3)} for name in configs
        }
    return {
        "catalog_books": len(books),
        "simulated_readers": users,
        "train_events": int(sum(e.timestamp_ms < cut for r in readers for e in r.events)),
        "cf_model": {"version": model.version, "books": len(model), "users": model.users, "train_seconds": round(train_seconds, 2)},
        "temporal_holdout": temporal,
        "by_history_length": curve,
        "blend_reason_kinds": dict(reasons),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _first_books(events, n: int) -> list[Interaction]:
    """The events of the reader's first n distinct books."""
    keep: list[str] = []
    for e in events:
        if e.book_id not in keep:
            if len(keep) == n:
                break
            keep.append(e.book_id)
    return [e for e in events if e.book_id in set(keep)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--cache", type=Path, help="folder caching the catalog's 2688-d vectors (ids.npy, vectors.npy)")
    parser.add_argument("--users", type=int, default=3000, help="simulated readers for CF training")
    parser.add_argument("--test-users", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.csv, args.cache, args.users, args.test_users, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
