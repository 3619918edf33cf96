"""BASELINE (raw 2688-d cosine) versus FINETUNED (256-d encoder + popularity prior) on held-out books.

Held-out books are queries; the index is the whole catalog, as the server would search it.
Because the split is by author, every same-author relevant book is one the encoder never saw.
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.embedding import normalise, query_vectors
from smartlib_core.encoder_model import BookEncoder
from smartlib_training import ranking
from smartlib_training.relations import author_key, group_members, series_key

K = 10
TEXT_QUERY_GENRES = 30
LATENCY_QUERIES = 200

TextEncoder = Callable[[Sequence[str]], np.ndarray]

# Metric keys in report order; "higher is better" for all except the cost rows.
QUALITY_METRICS = (
    "ndcg@10", "series_recall@10", "author_recall@10", "genre_query_precision@10", "ndcg@10_no_description",
)
COST_METRICS = ("search_ms_p50", "search_ms_mean", "index_mb")


@dataclasses.dataclass(frozen=True)
class Approach:
    name: str
    index_vectors: np.ndarray  # (n, d) unit rows: the searched space
    encode_queries: Callable[[np.ndarray], np.ndarray]  # (q, 2688) -> (q, d) unit rows
    priors: np.ndarray  # (n,) popularity priors, used with `weight`
    weight: float
    oversample: int


def baseline_approach(vectors: np.ndarray) -> Approach:
    return Approach("baseline", normalise(vectors.astype(np.float32)), normalise, np.zeros(len(vectors), np.float32), 0.0, 1)


def finetuned_approach(model: BookEncoder, books: Sequence[Book], vectors: np.ndarray, weight: float, oversample: int) -> Approach:
    priors = ranking.popularity_priors(np.array([b.list_rank for b in books]), np.array([b.num_ratings for b in books]))
    return Approach("finetuned", model.encode_numpy(vectors), model.encode_numpy, priors, weight, oversample)


def _flat_index(matrix: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(np.ascontiguousarray(matrix, dtype=np.float32))
    return index


def search(approach: Approach, index, queries: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Top-k row ids per query in the served order; `exclude` drops each query's own row."""
    m = min(index.ntotal, k * approach.oversample + (1 if exclude is not None else 0))
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), m)
    if exclude is not None:
        ids = np.where(ids == exclude[:, None], -1, ids)
    top, _ = ranking.rerank(scores, ids, approach.priors, approach.weight, k)
    return top


def _genre_matrix(books: Sequence[Book]) -> tuple[np.ndarray, dict[str, int]]:
    vocab: dict[str, int] = {}
    for b in books:
        for g in b.genres:
            vocab.setdefault(g, len(vocab))
    m = np.zeros((len(books), max(len(vocab), 1)), dtype=np.float32)
    for i, b in enumerate(books):
        for g in set(b.genres):
            m[i, vocab[g]] = 1.0
    return m, vocab


def _ndcg(top: np.ndarray, queries: np.ndarray, genres: np.ndarray, k: int) -> float:
    """Mean nDCG@k with relevance = Jaccard of genre sets; queries without genres are skipped."""
    sizes = genres.sum(axis=1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    values = []
    for start in range(0, len(queries), 512):
        q = queries[start : start + 512]
        inter = genres[q] @ genres.T
        jac = inter / np.maximum(sizes[q, None] + sizes[None, :] - inter, 1.0)
        jac[np.arange(len(q)), q] = 0.0  # a book is not its own recommendation
        ideal = -np.sort(-jac, axis=1)[:, :k] @ discounts
        t = top[start : start + 512]
        gained = np.where(t >= 0, np.take_along_axis(jac, np.maximum(t, 0), axis=1), 0.0) @ discounts[: t.shape[1]]
        ok = (sizes[q] > 0) & (ideal > 0)
        values.extend((gained[ok] / ideal[ok]).tolist())
    return float(np.mean(values)) if values else float("nan")


def _recall(top: np.ndarray, queries: np.ndarray, mates: list[np.ndarray], k: int) -> float:
    """Mean of |top-k ∩ mates| / min(|mates|, k) over queries that have any mate."""
    values = []
    for row, q in enumerate(queries):
        if len(mates[q]):
            hits = np.isin(top[row], mates[q]).sum()
            values.append(hits / min(len(mates[q]), k))
    return float(np.mean(values)) if values else float("nan")


def _latency(approach: Approach, index, queries: np.ndarray, k: int) -> tuple[float, float]:
    import faiss

    faiss.omp_set_num_threads(1)  # single queries are steadier and faster on one thread
    times = []
    for row in queries[:LATENCY_QUERIES]:
        start = time.perf_counter()
        search(approach, index, row[None, :], k)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), float(np.mean(times))


def evaluate_approach(approach: Approach, books: Sequence[Book], test_idx: np.ndarray,
                      text_queries: np.ndarray | None, text_genres: Sequence[str], k: int = K) -> dict[str, float]:
    index = _flat_index(approach.index_vectors)
    held = np.asarray(test_idx, dtype=np.int64)
    top = search(approach, index, approach.index_vectors[held], k, exclude=held)
    genres, _ = _genre_matrix(books)
    metrics = {
        "ndcg@10": _ndcg(top, held, genres, k),
        "series_recall@10": _recall(top, held, group_members([series_key(b) for b in books]), k),
        "author_recall@10": _recall(top, held, group_members([author_key(b) for b in books]), k),
    }
    no_desc = np.array([not books[i].description for i in held])
    metrics["ndcg@10_no_description"] = _ndcg(top[no_desc], held[no_desc], genres, k) if no_desc.any() else float("nan")
    if text_queries is not None and len(text_genres):
        sub = _flat_index(approach.index_vectors[held])
        sub_approach = dataclasses.replace(approach, priors=approach.priors[held])
        hits = search(sub_approach, sub, approach.encode_queries(text_queries), k)
        precisions = []
        for genre, row in zip(text_genres, hits, strict=True):
            found = [held[i] for i in row if i >= 0]
            precisions.append(sum(genre in books[i].genres for i in found) / k)
        metrics["genre_query_precision@10"] = float(np.mean(precisions))
    p50, mean = _latency(approach, index, approach.index_vectors[held], k)
    metrics["search_ms_p50"] = p50
    metrics["search_ms_mean"] = mean
    metrics["index_mb"] = index.ntotal * index.d * 4 / 2**20
    return metrics


def common_genres(books: Sequence[Book], n: int = TEXT_QUERY_GENRES) -> list[str]:
    counts = Counter(g for b in books for g in b.genres)
    return [g for g, _ in counts.most_common(n)]


def evaluate(books: Sequence[Book], vectors: np.ndarray, model: BookEncoder, test_idx: np.ndarray,
             ranking_weight: float, oversample: int, text_encoder: TextEncoder | None = None) -> dict[str, dict[str, float]]:
    """Scores both approaches on the held-out books.

    Args:
        text_encoder: MiniLM-style texts -> (n, 384) unit vectors for the "<genre> books"
            queries; None skips that metric (e.g. when the embedder is unavailable).

    Returns:
        {"baseline": {...}, "finetuned": {...}} keyed by QUALITY_METRICS and COST_METRICS.
    """
    if len(test_idx) == 0:
        raise ValueError("no held-out books to evaluate on")
    genres = common_genres(books)
    texts = query_vectors([f"{g} books" for g in genres], text_encoder) if text_encoder is not None else None
    return {
        "baseline": evaluate_approach(baseline_approach(vectors), books, test_idx, texts, genres),
        "finetuned": evaluate_approach(finetuned_approach(model, books, vectors, ranking_weight, oversample),
                                       books, test_idx, texts, genres),
    }
