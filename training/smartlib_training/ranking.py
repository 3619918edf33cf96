"""The FINETUNED serving score: cosine in the 256-d space plus a mild popularity prior.

Readers' co-reading lists lean towards popular books, so a small bonus for list position and
rating count helps; a book without any popularity data gets no bonus, which keeps the ranking
purely content-based among such books. The server calls `rerank` on an oversampled candidate
set from the 256-d index; the weight travels in the model manifest.
"""
from __future__ import annotations

import functools
import math

import numpy as np

# log10 scales chosen so that both halves of the prior land in [0, 1] on Goodreads-sized data:
# list positions 0..9,999 and rating counts from ~100 to ~10M.
_RANK_DECADES = 4.0
_RATINGS_FLOOR_LOG10 = 2.0
_RATINGS_DECADES = 5.0

DEFAULT_WEIGHT = 0.05
DEFAULT_OVERSAMPLE = 5


@functools.lru_cache(maxsize=1 << 16)  # serving asks for the same books' priors on every request
def popularity_prior(list_rank: int, num_ratings: int) -> float:
    """A popularity score in [0, 1]; 0 when neither signal is known (list_rank < 0, num_ratings 0)."""
    parts = []
    if list_rank is not None and list_rank >= 0:
        parts.append(min(max(1.0 - math.log10(list_rank + 1) / _RANK_DECADES, 0.0), 1.0))
    if num_ratings and num_ratings > 0:
        parts.append(min(max((math.log10(num_ratings) - _RATINGS_FLOOR_LOG10) / _RATINGS_DECADES, 0.0), 1.0))
    return sum(parts) / len(parts) if parts else 0.0


def popularity_priors(list_ranks: np.ndarray, num_ratings: np.ndarray) -> np.ndarray:
    """Vectorised `popularity_prior` over a catalog: (n,) ints -> (n,) float32."""
    ranks = np.asarray(list_ranks, dtype=np.float64)
    ratings = np.asarray(num_ratings, dtype=np.float64)
    has_rank = ranks >= 0
    has_ratings = ratings > 0
    rank_part = np.clip(1.0 - np.log10(np.where(has_rank, ranks, 0) + 1) / _RANK_DECADES, 0.0, 1.0)
    ratings_part = np.clip((np.log10(np.where(has_ratings, ratings, 1)) - _RATINGS_FLOOR_LOG10) / _RATINGS_DECADES, 0.0, 1.0)
    total = np.where(has_rank, rank_part, 0.0) + np.where(has_ratings, ratings_part, 0.0)
    count = has_rank.astype(np.int64) + has_ratings.astype(np.int64)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)


def rerank(
    scores: np.ndarray, candidates: np.ndarray, priors: np.ndarray, weight: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Re-orders FAISS results by `cosine + weight * prior[candidate]` and keeps the best k.

    Args:
        scores: (q, m) cosine similarities as returned by an inner-product index.
        candidates: (q, m) row ids into `priors`; -1 marks FAISS padding and is dropped last.
        priors: (n,) popularity priors of the indexed rows (`popularity_priors`).
        weight: the prior's weight from the manifest; 0 keeps the cosine order.
        k: how many results to keep per query (at most m).

    Returns:
        (ids, combined scores), both (q, min(k, m)), best first; padding stays -1 / -inf.
    """
    scores = np.asarray(scores, dtype=np.float32)
    candidates = np.asarray(candidates, dtype=np.int64)
    valid = candidates >= 0
    bonus = np.where(valid, priors[np.where(valid, candidates, 0)], 0.0).astype(np.float32)
    combined = np.where(valid, scores + np.float32(weight) * bonus, -np.inf).astype(np.float32)
    keep = min(k, combined.shape[1])
    order = np.argsort(-combined, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(combined, order, axis=1)
