"""Real reading behaviour: "readers also enjoyed" lists, the metrics over them, and folds.

The behaviour file (see shared/data/README.md) holds one query book per line with the books
readers paired it with, keyed by the catalog CSV's list position and carrying title and author.
A book merged with another edition at import is found by its title and author instead.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.text import dedupe_key

K = 10
BOOTSTRAP_SAMPLES = 1_000
FOLDS = 5


@dataclasses.dataclass(frozen=True)
class BehaviourQuery:
    query: int  # row of the query book in the catalog arrays
    relevant: tuple[int, ...]  # rows readers paired with it, in the page's order


def default_behaviour_path(data_dir: Path) -> Path:
    return data_dir / "goodreads_similar_dev.jsonl"


def load_behaviour(path: Path, books: Sequence[Book]) -> list[BehaviourQuery]:
    """Queries whose book is in `books`, each with its paired books that are in `books` too.

    Raises:
        ValueError: a line is not a JSON object with "query" and "similar" (names the line).
    """
    by_position = {b.list_rank: i for i, b in enumerate(books) if b.list_rank >= 0}
    by_key = {dedupe_key(b.title, b.authors[0] if b.authors else ""): i for i, b in enumerate(books)}

    def find(ref: dict) -> int | None:
        key = dedupe_key(str(ref.get("title", "")), str(ref.get("author", "")))
        row = by_position.get(ref.get("row", -1))
        if row is not None and dedupe_key(books[row].title, books[row].authors[0] if books[row].authors else "") == key:
            return row
        return by_key.get(key)

    queries = []
    with Path(path).open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                query, similar = record["query"], record["similar"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a behaviour record ({exc})") from None
            row = find(query)
            if row is None:
                continue
            relevant = [r for r in dict.fromkeys(find(s) for s in similar) if r is not None and r != row]
            if relevant:
                queries.append(BehaviourQuery(row, tuple(relevant)))
    return queries


# -- metrics: each takes the ranked rows for one query and its relevant rows ----------------------
def recall_at(ranked: Sequence[int], relevant: Sequence[int], k: int = K) -> float:
    """Share of the relevant books in the top k, out of as many as could fit (min(|relevant|, k))."""
    return len(set(ranked[:k]) & set(relevant)) / min(len(relevant), k)


def ndcg_at(ranked: Sequence[int], relevant: Sequence[int], k: int = K) -> float:
    rel = set(relevant)
    gain = sum(1.0 / np.log2(i + 2) for i, r in enumerate(ranked[:k]) if r in rel)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(rel), k)))
    return gain / ideal


def reciprocal_rank(ranked: Sequence[int], relevant: Sequence[int], k: int = K) -> float:
    """1 / position of the first relevant book within the top k, 0 when none is there."""
    rel = set(relevant)
    return next((1.0 / (i + 1) for i, r in enumerate(ranked[:k]) if r in rel), 0.0)


METRICS: dict[str, Callable[[Sequence[int], Sequence[int]], float]] = {
    "recall@10": recall_at, "ndcg@10": ndcg_at, "mrr@10": reciprocal_rank,
}


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A mean over queries with a bootstrap 95 % interval (resampling query books)."""

    mean: float
    low: float
    high: float
    queries: int

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "queries": self.queries}

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def estimate(values: Sequence[float], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Estimate:
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(float(values.mean()), float(low), float(high), len(values))


def score_rankings(rankings: Sequence[Sequence[int]], queries: Sequence[BehaviourQuery]) -> dict[str, Estimate]:
    """Every metric over aligned (ranking, query) pairs, with its interval."""
    return {name: estimate([metric(ranked, q.relevant) for ranked, q in zip(rankings, queries, strict=True)])
            for name, metric in METRICS.items()}


def folds(count: int, n_folds: int = FOLDS, seed: int = 0) -> list[np.ndarray]:
    """Query indices split into `n_folds` disjoint test folds (shuffled with `seed`)."""
    if count < n_folds:
        raise ValueError(f"{count} queries cannot make {n_folds} folds")
    order = np.random.default_rng(seed).permutation(count)
    return [np.sort(order[f::n_folds]) for f in range(n_folds)]
