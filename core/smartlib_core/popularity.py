"""Popularity signals of a book: how far up the list it stands and how many readers rated it.

Readers' co-reading lists lean towards popular books, and towards books about as popular as the
one they started from, so both the ranking prior and the reader ranker's features start here.
A book without any popularity data gets neutral values, never a penalty it cannot argue with.

Two priors live here, on purpose:
- `popularity_prior` is the *ranking prior*: fixed Goodreads-sized scales (list positions
  0..9,999, 100 to 10M ratings), so a score added to a cosine (0.05 x prior in SimilarBooks and
  text search) means the same in a 300-book and a 1M-book catalog, and a weight tuned once holds.
- `catalog_popularity` is the *cold-start prior* of personalisation: scaled to the catalog at
  hand (the last list position scores 0, one rating already counts), because there it orders
  one catalog's books for a reader with no history, and `CatalogPriors` turns it into a
  percentile before blending, so only its order inside the catalog matters.
Folding them into one would move both the tuned SimilarBooks weights and the cold-start lists;
no evaluation has measured that yet, so both stay, named for what they do.
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


@functools.lru_cache(maxsize=1 << 16)  # serving asks for the same books' priors on every request
def popularity_prior(list_rank: int, num_ratings: int) -> float:
    """The ranking prior, in [0, 1]; 0 when neither signal is known (list_rank < 0, num_ratings 0)."""
    parts = []
    if list_rank is not None and list_rank >= 0:
        parts.append(min(max(1.0 - math.log10(list_rank + 1) / _RANK_DECADES, 0.0), 1.0))
    if num_ratings and num_ratings > 0:
        parts.append(min(max((math.log10(num_ratings) - _RATINGS_FLOOR_LOG10) / _RATINGS_DECADES, 0.0), 1.0))
    return sum(parts) / len(parts) if parts else 0.0


def catalog_popularity(list_rank: int, num_ratings: int, catalog_size: int) -> float:
    """The cold-start prior, in [0, 1]: the mean of the list position on a log scale relative to
    `catalog_size` and log10 of the rating count over 7 decades; 0 when neither is known."""
    parts = []
    if list_rank >= 0 and catalog_size > 1:
        parts.append(1.0 - math.log1p(list_rank) / math.log1p(catalog_size))
    if num_ratings > 0:
        parts.append(min(1.0, math.log10(1 + num_ratings) / 7.0))
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


def bayesian_rating(avg_rating: float, num_ratings: int, prior_mean: float = 3.9, prior_count: int = 1_000) -> float:
    """The average rating shrunk towards `prior_mean` as if `prior_count` readers had given it:
    4.8 from 12 readers says less than 4.3 from 2 million. 0 ratings gives the prior mean."""
    count = max(num_ratings, 0) if avg_rating > 0 else 0
    return (prior_mean * prior_count + avg_rating * count) / (prior_count + count)
